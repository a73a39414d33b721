rule synthetic_data:
    output:
        f"{STUDY.base['data']['root']}/koniq10k_distributions_sets.csv",
    params:
        n=((config.get("dataset") or {}).get("synthetic") or {}).get("n", 300),
        seed=((config.get("dataset") or {}).get("synthetic") or {}).get("seed", 0),
    log:
        "results/logs/synthetic_data.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/synthetic_data.py"
