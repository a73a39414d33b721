rule score:
    input:
        run="results/runs/{run_id}/metrics.json",
        data=score_data_input,
    output:
        "results/scores/{dataset}/{run_id}/metrics.json",
    wildcard_constraints:
        run_id="|".join(re.escape(rid) for rid in SCORED_ALONE) or "(?!)",  # the others are scored in packs
    params:
        spec=lambda wildcards: config["cross_dataset"]["datasets"][wildcards.dataset],
    log:
        "results/logs/score/{dataset}/{run_id}.log",
    threads: RESOURCES["score"]["threads"]
    resources:
        gpu=RESOURCES["score"]["gpu"],
        runtime=RESOURCES["score"]["runtime"],
        mem_mb=RESOURCES["score"]["mem_mb"],
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
            runs=[f"results/runs/{rid}/metrics.json" for rid in rids],
            data=_generated(config["cross_dataset"]["datasets"][dataset]["root"]),
        output:
            [f"results/scores/{dataset}/{rid}/metrics.json" for rid in rids],
        params:
            spec=config["cross_dataset"]["datasets"][dataset],
        log:
            [f"results/logs/score/{dataset}/{rid}.log" for rid in rids],
        threads: RESOURCES["score"]["threads"]
        resources:
            gpu=RESOURCES["score"]["gpu"],
            runtime=config["packing"].get("runtime", RESOURCES["score"]["runtime"] * len(rids)),
            mem_mb=RESOURCES["score"]["mem_mb"],
        conda:
            "../../environment.yml"
        script:
            "../scripts/score_pack.py"
