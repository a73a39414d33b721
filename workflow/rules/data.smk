rule synthetic_data:
    # The demo's data, or a rehearsal's datasets in their release layouts: the label file marks it done.
    output:
        "{root}/{label_file}",
    wildcard_constraints:
        root="|".join(map(re.escape, SYNTHETIC)) or "(?!)",
        label_file="|".join(sorted({re.escape(generated_label_file(s)) for s in SYNTHETIC.values()})) or "(?!)",
    params:
        spec=lambda wildcards: SYNTHETIC[wildcards.root],
    log:
        log_path("synthetic_data", "{root}", "{label_file}"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/synthetic_data.py"
