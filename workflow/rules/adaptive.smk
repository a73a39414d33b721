# An adaptive study (`splits: {adaptive: ...}`, iqa/study/adaptive.py): after the splits a look needs, a
# checkpoint writes which experiments train on; the input functions that call `trained_study()` are then
# re-evaluated and ask for those experiments' next splits. The runs are the fixed study's run ids, so
# resume, SLURM and audit work as ever. A local job: it reads a few metrics.json files.
if ADAPTIVE:

    checkpoint look:
        input:
            look_input,
        output:
            str(layout.look_file(RESULTS, "{look}")),
        params:  # what a look decides by: a change in either takes the looks again (the runs stay)
            design=config["splits"]["adaptive"],
            tables=config.get("tables"),
        wildcard_constraints:
            look="|".join(map(str, ADAPTIVE[0].looks)),
        localrule: True
        log:
            log_path("look", "{look}"),
        conda:
            "../../environment.yml"
        script:
            "../scripts/look.py"
