import re
from pathlib import Path

from iqa.study import catalogue
from iqa.config import ConfigError
from iqa.training.pack import packs, score_packs
from iqa.study.spec import cross_dataset_jobs, expand as expand_study, generated_label_file, rehearse, synthetic_datasets

# A study with a `rehearsal:` section runs at its toy scale everywhere (rules, scripts, aggregation).
config.update(rehearse(config))

# Every run of the study is fully validated here, before any job starts (torch is not imported).
try:
    STUDY = expand_study(config)
except (ConfigError, ValueError) as e:
    raise ValueError(f"invalid study config: {e}") from None

TABLES = [t.name for t in catalogue.tables(config)]
FIGURES = [f.name for f in catalogue.figures(config)]
RESOURCES = config["resources"]  # per job kind: train, score, complexity
try:
    PACKS = packs(STUDY, config.get("packing"))  # pack name -> run ids trained by one job (iqa/training/pack.py)
except ConfigError as e:
    raise ValueError(f"invalid study config: {e}") from None
ALONE = sorted(set(STUDY.runs) - {rid for rids in PACKS.values() for rid in rids})
SYNTHETIC = synthetic_datasets(config, STUDY)  # root -> {n, seed, mix} of every dataset the workflow generates
CROSS_DATASET = cross_dataset_jobs(config, STUDY)
SCORE_PACKS = score_packs(STUDY, CROSS_DATASET, config.get("packing"))  # name -> (dataset, run ids)
SCORED_ALONE = sorted({rid for _, rid in CROSS_DATASET} - {rid for _, rids in SCORE_PACKS.values() for rid in rids})


def table_files():
    return expand("results/tables/{table}.{ext}", table=TABLES, ext=catalogue.TABLE_FILES)


def caption(kind, name):
    """The output's own caption, written by aggregation from iqa/study/catalogue.py (absolute: the report reads
    it from the working directory, not from this rules folder)."""
    return str(Path(catalogue.caption_file(kind, name)).absolute())


def figure_files():
    return expand("results/figures/{figure}.{ext}", figure=FIGURES, ext=catalogue.FIGURE_FILES)


def run_metrics():
    return expand("results/runs/{run_id}/metrics.json", run_id=sorted(STUDY.runs))


def complexity_files():
    return expand("results/complexity/{experiment}.json", experiment=(config.get("complexity") or {}).get("experiments", []))


def score_metrics():
    return [f"results/scores/{name}/{rid}/metrics.json" for name, rid in CROSS_DATASET]


def table_input(table):
    """The metrics of every run one table reads, plus its scores or complexity measurements."""
    experiments = catalogue.experiments_behind(config, table)
    rids = sorted({rid for e in experiments for rid in STUDY.run_ids(e)})
    files = expand("results/runs/{run_id}/metrics.json", run_id=rids)
    spec = next(t for t in catalogue.tables(config) if t.name == table)
    if spec.build == "cross_dataset":
        files += score_metrics()
    if spec.build == "complexity":
        files += complexity_files()
    return files


def check_input(wildcards):
    """What `check_runs` checks: every run and score (`all`), or one table's."""
    if wildcards.part == "all":
        return run_metrics() + score_metrics()
    return [f for f in table_input(wildcards.part) if "/complexity/" not in f]


def _generated(root):
    return [f"{root}/{generated_label_file(SYNTHETIC[root])}"] if root in SYNTHETIC else []


def dataset_input(wildcards):
    """The generated label file when the run's data is synthetic; real data is not a rule's job."""
    return _generated(STUDY.runs[wildcards.run_id].data.root)


def score_data_input(wildcards):
    return _generated(config["cross_dataset"]["datasets"][wildcards.dataset]["root"])


def preflight_now():
    """Data, weights and disk for the jobs this invocation will run, checked before any is submitted;
    datasets the workflow generates itself are checked by making them."""
    from iqa.study.preflight import check, needs

    outputs = [Path(f).parts for j in workflow.dag.needrun_jobs() for f in j.output]  # packs: many per job
    train = [p[2] for p in outputs if p[:2] == ("results", "runs") and p[-1] == "metrics.json"]
    scores = [(p[2], p[3]) for p in outputs if p[:2] == ("results", "scores") and p[-1] == "metrics.json"]
    need = needs(config, STUDY, train, scores, parallel=workflow.nodes or workflow.cores or 1)
    need.data = {root: spec for root, spec in need.data.items() if root not in SYNTHETIC}
    problems = check(config, STUDY, "results", need)
    if problems:
        raise SystemExit("\n".join(f"iqa check: {p}" for p in problems))


def aggregate_now():
    """After a failure: tables naming the missing runs; a run failing its check leaves the last good ones."""
    import sys

    from iqa.core.errors import DataError
    from iqa.results.aggregate import aggregate

    try:
        aggregate(config, "results", strict=bool(config.get("strict")))
    except DataError as e:
        print(f"tables not rebuilt, the last good ones kept: {e}", file=sys.stderr)
