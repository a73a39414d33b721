rule score:
    input:
        run="results/runs/{run_id}/metrics.json",
        data=score_data_input,
    output:
        "results/scores/{dataset}/{run_id}/metrics.json",
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
