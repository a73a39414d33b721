rule synthetic_data:
    output:
        f"{STUDY.base['data']['root']}/koniq10k_distributions_sets.csv",
    params:
        root=STUDY.base["data"]["root"],
        n=config.get("dataset", {}).get("synthetic", {}).get("n", 300),
        seed=config.get("dataset", {}).get("synthetic", {}).get("seed", 0),
    log:
        "results/logs/synthetic_data.log",
    shell:
        "iqa make-synthetic {params.root} --n {params.n} --seed {params.seed} > {log} 2>&1"
