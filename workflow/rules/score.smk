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
    threads: RESOURCES["threads"]
    resources:
        gpu=RESOURCES["gpu"],
        runtime=RESOURCES["runtime"],
        mem_mb=RESOURCES["mem_mb"],
    conda:
        "../../environment.yml"
    script:
        "../scripts/score.py"
