# Ablation study of HyperIQA -> Swin-HyperIQA: trains every declared run, then regenerates every
# table and figure under results/. See README.md; the study itself is declared in config.yaml.
from pathlib import Path

from snakemake.utils import min_version, validate

from iqa.study.spec import check_study, read_study

min_version("8.0")

# One line naming the line at fault and the fix (Snakemake's own reader says only "not valid YAML").
if not workflow.overwrite_configfiles and Path("config.yaml").is_file():
    read_study("config.yaml")


# The demo study, only when no study is given: Snakemake merges every --configfile over the Snakefile's
# own, so loading it always would leak the demo's experiments, controls and datasets into another study.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


# One line naming the key at fault and the fix (Snakemake's validate prints the whole schema), then
# Snakemake's validate fills in the schema's defaults.
check_study(config, " + ".join(map(str, workflow.configfiles)))
validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/complexity.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/adaptive.smk"


localrules:
    all,
    synthetic_data,
    experiment,
    check_runs,
    aggregate,
    paper,


rule all:
    input:
        # Asked for directly: after a --keep-going failure the tables exist (onerror writes them),
        # and only this makes a plain rerun train the runs that are still missing.
        deferred(trained_metrics),
        score_metrics(),
        complexity_files(),
        str(layout.runs_csv(RESULTS)),
        table_files(),
        figure_files(),
        numbers_files(),
        str(layout.paper_pdf(RESULTS)),


onstart:
    # Before the first job is submitted (never in a dry run): data, weights and disk, one line per problem.
    preflight_now()


onerror:
    # With --keep-going, failed runs must not hide the finished ones: build the tables anyway;
    # their notes list every missing run.
    aggregate_now()
