COMPLEXITY = (config.get("complexity") or {}).get("experiments", [])
# With `packing`, one job measures every model (one start-up); without it, a job per model.
COMPLEXITY_PACKED = bool(config.get("packing")) and len(COMPLEXITY) > 1


rule complexity:
    output:
        str(layout.complexity_file(RESULTS, "{experiment}")),
    wildcard_constraints:
        experiment="(?!)" if COMPLEXITY_PACKED else "[^/]+",
    params:
        models=lambda wildcards: [STUDY.experiments[wildcards.experiment].model.to_dict()],
        spec=config.get("complexity"),
    log:
        log_path("complexity", "{experiment}"),
    threads: RESOURCES["complexity"]["threads"]
    resources:
        **job_resources("complexity"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/complexity.py"


if COMPLEXITY_PACKED:

    rule complexity_pack:
        output:
            complexity_files(),
        params:
            models=[STUDY.experiments[e].model.to_dict() for e in COMPLEXITY],
            spec=config.get("complexity"),
        log:
            log_path("complexity", "all"),
        threads: RESOURCES["complexity"]["threads"]
        resources:
            **job_resources("complexity", runtime=RESOURCES["complexity"]["runtime"] * len(COMPLEXITY)),
        conda:
            "../../environment.yml"
        script:
            "../scripts/complexity.py"
