rule table:
    # One table from only the runs behind it: `snakemake results/tables/ablation.csv` trains just those.
    input:
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
