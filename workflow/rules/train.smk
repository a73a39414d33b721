rule train:
    input:
        dataset_input,
    output:
        str(layout.run_file(RESULTS, "{run_id}")),
    wildcard_constraints:
        run_id="|".join(re.escape(rid) for rid in ALONE) or "(?!)",  # packed runs are their pack's
    params:
        run=lambda wildcards: STUDY.runs[wildcards.run_id].to_dict(),  # the dict form: params Snakemake records
    log:
        log_path("train", "{run_id}"),
    threads: RESOURCES["train"]["threads"]
    resources:
        **job_resources("train"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/train.py"


# One job per pack (study config `packing`): one process trains its runs, a step of each in turn, and
# writes each run's outputs and log as a job of its own would. Its runtime is `packing.runtime`, or the
# sum of its runs'.
for pack, rids in PACKS.items():

    rule:
        name:
            f"train_pack_{pack}"
        input:
            sorted({f for rid in rids for f in _generated(STUDY.runs[rid].data.root)}),
        output:
            run_metrics(rids),
        params:
            runs=[STUDY.runs[rid].to_dict() for rid in rids],
        log:
            [log_path("train_pack", pack)] + [log_path("train", rid) for rid in rids],
        threads: RESOURCES["train"]["threads"]
        resources:
            **job_resources("train", runtime=config["packing"].get("runtime", RESOURCES["train"]["runtime"] * len(rids))),
        conda:
            "../../environment.yml"
        script:
            "../scripts/train_pack.py"
