rule check_runs:
    input:
        run_metrics(),
        score_metrics(),
    output:
        "results/checks/runs.json",
    log:
        "results/logs/check_runs.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/check_runs.py"


rule aggregate:
    input:
        "results/checks/runs.json",  # a tampered run stops the workflow here, the last good tables kept
        run_metrics(),
        score_metrics(),
        complexity_files(),
    output:
        "results/runs.csv",
        [
            report(f, category="Tables", caption="../report/tables.rst")
            for f in expand("results/tables/{table}.csv", table=TABLES)
        ],
        [f for f in table_files() if not f.endswith(".csv")],
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
