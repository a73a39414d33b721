rule complexity:
    output:
        "results/complexity/{experiment}.json",
    params:
        model=lambda wildcards: STUDY.experiments[wildcards.experiment]["model"],
        spec=config.get("complexity"),
    log:
        "results/logs/complexity/{experiment}.log",
    threads: RESOURCES["complexity"]["threads"]
    resources:
        gpu=RESOURCES["complexity"]["gpu"],
        runtime=RESOURCES["complexity"]["runtime"],
        mem_mb=RESOURCES["complexity"]["mem_mb"],
    conda:
        "../../environment.yml"
    script:
        "../scripts/complexity.py"
