rule check_runs:
    # The runs (and scores) one table reads, or `all` of them, checked against their own records by a job
    # of its own: Snakemake deletes a job's outputs when it starts it, so a tampered run must stop the
    # workflow here, before a table or aggregate job starts, and the last good outputs stay.
    input:
        check_input,
    output:
        str(layout.check_file(RESULTS, "{part}")),
    wildcard_constraints:
        part="|".join(["all", *TABLES]),
    log:
        log_path("check_runs", "{part}"),
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
            str(layout.check_file(RESULTS, _table)),
            deferred(table_input, _table),
        output:
            report(str(layout.table_file(RESULTS, _table, "csv")), category="Tables", caption=caption("tables", _table)),
            [str(layout.table_file(RESULTS, _table, ext)) for ext in layout.TABLE_FILES if ext != "csv"],
            str(layout.caption_file(RESULTS, "tables", _table)),
        params:
            table=_table,
        localrule: True
        log:
            log_path("table", _table),
        conda:
            "../../environment.yml"
        script:
            "../scripts/table.py"


rule aggregate:
    input:
        str(layout.check_file(RESULTS, "all")),
        deferred(trained_metrics),
        score_metrics(),
        complexity_files(),
        table_files(),
    output:
        str(layout.runs_csv(RESULTS)),
        # each figure in the report with its own caption from iqa/study/catalogue.py
        [
            report(str(layout.figure_file(RESULTS, f, "png")), category="Figures", caption=caption("figures", f))
            for f in FIGURES
        ],
        figure_files(["pdf"]),
        [str(layout.caption_file(RESULTS, "figures", f)) for f in FIGURES],
        numbers_files(),
    log:
        log_path("aggregate"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/aggregate.py"


rule paper:
    input:
        table_files([layout.PAPER_TEX]),
        figure_files(["pdf"]),
        numbers_files(),
    output:
        report(str(layout.paper_pdf(RESULTS)), category="Paper", caption="../report/paper.rst"),
    log:
        log_path("paper"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/paper.py"


rule experiment:
    # One experiment on every split, by name: `snakemake results/experiments/C3.json`.
    input:
        lambda wildcards: run_metrics(trained_study().run_ids(wildcards.experiment)),
    output:
        str(layout.experiment_file(RESULTS, "{experiment}")),
    wildcard_constraints:
        experiment="|".join(map(re.escape, STUDY.cells)) or "(?!)",
    log:
        log_path("experiment", "{experiment}"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/experiment.py"
