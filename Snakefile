# Ablation study of HyperIQA -> Swin-HyperIQA: trains every declared run, then regenerates every
# table and figure under results/. See README.md; the study itself is declared in config.yaml.
from snakemake.utils import min_version, validate

min_version("8.0")


configfile: "config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/complexity.smk"
include: "workflow/rules/aggregate.smk"


localrules:
    all,
    synthetic_data,
    aggregate,
    paper,


rule all:
    input:
        # Asked for directly: after a --keep-going failure the tables exist (onerror writes them),
        # and only this makes a plain rerun train the runs that are still missing.
        run_metrics(),
        score_metrics(),
        complexity_files(),
        "results/runs.csv",
        table_files(),
        figure_files(),
        expand("results/{name}", name=catalogue.NUMBERS_FILES),
        "results/paper.pdf",


onerror:
    # With --keep-going, failed runs must not hide the finished ones: build the tables anyway;
    # their notes list every missing run.
    aggregate_now()
