rule complexity:
    output:
        "results/complexity/{experiment}.json",
    params:
        model=lambda wildcards: STUDY.experiments[wildcards.experiment]["model"],
        spec=config.get("complexity"),
    log:
        "results/logs/complexity/{experiment}.log",
    threads: RESOURCES["threads"]
    resources:
        gpu=RESOURCES["gpu"],
        runtime=30,
        mem_mb=RESOURCES["mem_mb"],
    conda:
        "../../environment.yml"
    script:
        "../scripts/complexity.py"
