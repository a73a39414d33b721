rule synthetic_data:
    output:
        "{root}/koniq10k_distributions_sets.csv",
    wildcard_constraints:
        root="|".join(SYNTHETIC) or "(?!)",
    params:
        spec=lambda wildcards: SYNTHETIC[wildcards.root],
    log:
        "results/logs/synthetic_data/{root}.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/synthetic_data.py"
