rule train:
    input:
        dataset_input,
    output:
        "results/runs/{run_id}/metrics.json",
    params:
        run=lambda wildcards: STUDY.runs[wildcards.run_id],
    log:
        "results/logs/train/{run_id}.log",
    threads: RESOURCES["train"]["threads"]
    resources:
        gpu=RESOURCES["train"]["gpu"],
        runtime=RESOURCES["train"]["runtime"],
        mem_mb=RESOURCES["train"]["mem_mb"],
    conda:
        "../../environment.yml"
    script:
        "../scripts/train.py"
