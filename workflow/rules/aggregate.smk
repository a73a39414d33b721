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


# One job per table, from only the runs behind it: `snakemake results/tables/ablation.csv` trains just
# those. A rule each, so that each table reaches the report with its own caption.
for _table in TABLES:

    rule:
        name:
            f"table_{_table}"
        input:
            f"results/checks/{_table}.json",
            deferred(table_input, _table),
        output:
            report(f"results/tables/{_table}.csv", category="Tables", caption=caption("tables", _table)),
            [f"results/tables/{_table}.{ext}" for ext in catalogue.TABLE_FILES if ext != "csv"],
            catalogue.caption_file("tables", _table),
        params:
            table=_table,
        localrule: True
        log:
            f"results/logs/table/{_table}.log",
        conda:
            "../../environment.yml"
        script:
            "../scripts/table.py"


rule aggregate:
    input:
        "results/checks/all.json",
        deferred(run_metrics),
        score_metrics(),
        complexity_files(),
        table_files(),
    output:
        "results/runs.csv",
        # each figure in the report with its own caption from iqa/study/catalogue.py
        [
            report(f"results/figures/{f}.png", category="Figures", caption=caption("figures", f))
            for f in FIGURES
        ],
        expand("results/figures/{figure}.pdf", figure=FIGURES),
        [catalogue.caption_file("figures", f) for f in FIGURES],
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


rule experiment:
    # One experiment on every split, by name: `snakemake results/experiments/C3.json`.
    input:
        lambda wildcards: expand("results/runs/{run_id}/metrics.json", run_id=trained_study().run_ids(wildcards.experiment)),
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
