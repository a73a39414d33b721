rule aggregate:
    input:
        run_metrics(),
        score_metrics(),
        complexity_files(),
    output:
        "results/runs.csv",
        # each table and figure in the report with its own caption from iqa/catalogue.py
        [
            report(f"results/tables/{t}.csv", category="Tables", caption=caption("tables", t))
            for t in TABLES
        ],
        [f for f in table_files() if not f.endswith(".csv")],
        [
            report(f"results/figures/{f}.png", category="Figures", caption=caption("figures", f))
            for f in FIGURES
        ],
        expand("results/figures/{figure}.pdf", figure=FIGURES),
        catalogue.caption_files(config),
        expand("results/{name}", name=catalogue.NUMBERS_FILES),
    log:
        "results/logs/aggregate.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/aggregate.py"


rule paper:
    input:
        [f for f in table_files() if f.endswith(".paper.tex")],
        expand("results/figures/{figure}.pdf", figure=FIGURES),
        expand("results/{name}", name=catalogue.NUMBERS_FILES),
    output:
        report("results/paper.pdf", category="Paper", caption="../report/paper.rst"),
    log:
        "results/logs/paper.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/paper.py"
