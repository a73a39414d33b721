rule score:
    input:
        run=str(layout.run_file(RESULTS, "{run_id}")),
        data=score_data_input,
    output:
        str(layout.score_file(RESULTS, "{dataset}", "{run_id}")),
    wildcard_constraints:
        run_id="|".join(re.escape(rid) for rid in SCORED_ALONE) or "(?!)",  # the others are scored in packs
    params:
        spec=lambda wildcards: config["cross_dataset"]["datasets"][wildcards.dataset],
    log:
        log_path("score", "{dataset}", "{run_id}"),
    threads: RESOURCES["score"]["threads"]
    resources:
        **job_resources("score"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/score.py"


# A dataset's scores of one experiment's runs in one job (study config `packing`): Python starts once.
for pack, (dataset, rids) in SCORE_PACKS.items():

    rule:
        name:
            f"score_pack_{pack}"
        input:
            runs=run_metrics(rids),
            data=_generated(config["cross_dataset"]["datasets"][dataset]["root"]),
        output:
            score_metrics([(dataset, rid) for rid in rids]),
        params:
            spec=config["cross_dataset"]["datasets"][dataset],
        log:
            [log_path("score", dataset, rid) for rid in rids],
        threads: RESOURCES["score"]["threads"]
        resources:
            **job_resources("score", runtime=config["packing"].get("runtime", RESOURCES["score"]["runtime"] * len(rids))),
        conda:
            "../../environment.yml"
        script:
            "../scripts/score_pack.py"
