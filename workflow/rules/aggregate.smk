rule check_runs:
    # The runs (and scores) one table reads, or `all` of them, checked against their own records by a job
    # of its own: Snakemake deletes a job's outputs when it starts it, so a tampered run must stop the
    # workflow here, before a table or aggregate job starts, and the last good outputs stay.
    input:
        check_input,
    output:
        "results/checks/{part}.json",
    wildcard_constraints:
        part="|".join(["all", *TABLES]),
    log:
        "results/logs/check_runs/{part}.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/check_runs.py"


rule table:
    # One table from only the runs behind it: `snakemake results/tables/ablation.csv` trains just those.
    input:
        "results/checks/{table}.json",
        table_input,
    output:
        report("results/tables/{table}.csv", category="Tables", caption="../report/tables.rst"),
        "results/tables/{table}.md",
        "results/tables/{table}.tex",
        "results/tables/{table}.provenance.json",
    wildcard_constraints:
        table="|".join(TABLES) or "(?!)",
    log:
        "results/logs/table/{table}.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/table.py"


rule aggregate:
    input:
        "results/checks/all.json",
        run_metrics(),
        score_metrics(),
        complexity_files(),
        table_files(),
    output:
        "results/runs.csv",
        [
            report(f, category="Figures", caption="../report/figures.rst")
            for f in expand("results/figures/{figure}.png", figure=FIGURES)
        ],
        expand("results/figures/{figure}.pdf", figure=FIGURES),
        expand("results/{name}", name=catalogue.NUMBERS_FILES),
    log:
        "results/logs/aggregate.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/aggregate.py"


rule experiment:
    # One experiment on every split, by name: `snakemake results/experiments/C3.json`.
    input:
        lambda wildcards: expand("results/runs/{run_id}/metrics.json", run_id=STUDY.run_ids(wildcards.experiment)),
    output:
        "results/experiments/{experiment}.json",
    wildcard_constraints:
        experiment="|".join(map(re.escape, STUDY.cells)) or "(?!)",
    log:
        "results/logs/experiment/{experiment}.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/experiment.py"
