import json
import re
from pathlib import Path

from iqa.core import layout
from iqa.core.layout import RESULTS
from iqa.core.vocab import TableBuild
from iqa.data.dataset import LABEL_FILES
from iqa.study import catalogue
from iqa.config import ConfigError
from iqa.training.pack import packs, score_packs
from iqa.study.spec import adaptive_splits, cross_dataset_jobs, expand as expand_study, generated_label_file, rehearse, synthetic_datasets
from iqa.study.adaptive import cut, first_look, walk

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
    # pack name -> run ids trained by one job (iqa/training/pack.py); an adaptive study packs its first k0 splits
    PACKS = packs(first_look(config, STUDY), config.get("packing"))
except ConfigError as e:
    raise ValueError(f"invalid study config: {e}") from None
ALONE = sorted(set(STUDY.runs) - {rid for rids in PACKS.values() for rid in rids})
SYNTHETIC = synthetic_datasets(config, STUDY)  # root -> {n, seed, mix} of every dataset the workflow generates
CROSS_DATASET = cross_dataset_jobs(config, STUDY)
SCORE_PACKS = score_packs(STUDY, CROSS_DATASET, config.get("packing"))  # name -> (dataset, run ids)
SCORED_ALONE = sorted({rid for _, rid in CROSS_DATASET} - {rid for _, rids in SCORE_PACKS.values() for rid in rids})


def job_resources(kind, runtime=None):
    """What every job of this kind asks the scheduler for: the study's `resources.<kind>` (GPUs, minutes,
    memory, and SLURM keys such as slurm_partition, constraint or gres), packs included. Declared in the
    study, not through the profile's set-resources, which names single rules and misses the pack rules."""
    spec = {k: v for k, v in RESOURCES[kind].items() if k != "threads"}
    return {**spec, "runtime": runtime or spec["runtime"]}


ADAPTIVE = adaptive_splits(config)  # (looks schedule, margin) of `splits: {adaptive: ...}`, else None


def trained_study():
    """The study cut to the splits each experiment trains: all of them, or in an adaptive study those its
    looks asked for. The looks are checkpoints (workflow/rules/adaptive.smk): Snakemake re-evaluates an
    input function that calls this each time one is written."""
    if not ADAPTIVE:
        return STUDY
    return cut(STUDY, walk(config, STUDY, read_look)[0])


def read_look(j):
    return json.loads(Path(checkpoints.look.get(look=j).output[0]).read_text())


def look_input(wildcards):
    """What look j reads: the first j splits of every experiment that trained to it, and the look before."""
    j = int(wildcards.look)
    splits, taken = walk(config, STUDY, read_look, before=j)
    study = cut(STUDY, splits)
    rids = sorted({rid for e, n in splits.items() if n == j for rid in study.run_ids(e)})
    return run_metrics(rids) + [str(layout.look_file(RESULTS, k)) for k in taken[-1:]]


def deferred(inputs, *args):
    """A rule's input: the list itself in a fixed study (the DAG known at parse time, as ever); in an
    adaptive one a function, called after the looks it needs."""
    return (lambda wildcards: inputs(*args)) if ADAPTIVE else inputs(*args)


# Every path below comes from iqa/core/layout.py, as strings (Snakemake patterns where a name is a wildcard).


def table_files(exts=layout.TABLE_FILES):
    return [str(layout.table_file(RESULTS, t, ext)) for t in TABLES for ext in exts]


def caption(kind, name):
    """The output's own caption, written by aggregation from iqa/study/catalogue.py (absolute: the report reads
    it from the working directory, not from this rules folder)."""
    return str(layout.caption_file(RESULTS, kind, name).absolute())


def figure_files(exts=layout.FIGURE_FILES):
    return [str(layout.figure_file(RESULTS, f, ext)) for f in FIGURES for ext in exts]


def numbers_files():
    return [str(layout.numbers_file(RESULTS, name)) for name in layout.NUMBERS_FILES]


def run_metrics(rids=None):
    """The metrics.json of these runs (default: every run the study declares): what marks a run finished."""
    return [str(layout.run_file(RESULTS, rid)) for rid in (sorted(STUDY.runs) if rids is None else rids)]


def trained_metrics():
    """The metrics.json of every run the study trains: all of them, or in an adaptive study those its looks
    asked for (so only in an input function, or through `deferred`)."""
    return run_metrics(sorted(trained_study().runs))


def complexity_files():
    return [str(layout.complexity_file(RESULTS, e)) for e in (config.get("complexity") or {}).get("experiments", [])]


def score_metrics(jobs=None):
    """The metrics.json of these (dataset, run id) scores (default: every cross-dataset score)."""
    return [str(layout.score_file(RESULTS, name, rid)) for name, rid in (CROSS_DATASET if jobs is None else jobs)]


def log_path(job, *names):
    """A job's log: results/logs/{job}/{names...}.log."""
    return str(layout.log_file(RESULTS, job, *names))


def table_runs(table):
    """The metrics of every run one table reads, plus its scores (what `check_runs` checks for it); in an
    adaptive study the splits each experiment trains (`trained_study`: only in an input function)."""
    experiments = catalogue.experiments_behind(config, table)
    study = trained_study()
    files = run_metrics(sorted({rid for e in experiments for rid in study.run_ids(e)}))
    return files + (score_metrics() if table_spec(table).build == TableBuild.CROSS_DATASET else [])


def table_input(table):
    """What one table reads: its runs and scores, or complexity measurements, and label files."""
    measured = complexity_files() if table_spec(table).build == TableBuild.COMPLEXITY else []
    return table_runs(table) + measured + label_files(table)


def table_spec(table):
    return next(t for t in catalogue.tables(config) if t.name == table)


def label_files(table):
    """The main table's label-noise ceiling reads each dataset's rating distributions: the generated label
    file, or a real release's when it is there (without it no run trains, and the pre-flight check says so)."""
    if table != catalogue.CEILING_TABLE:
        return []
    roots = sorted({STUDY.experiments[e].data.root for e in catalogue.experiments_behind(config, table)})
    return [f for root in roots for f in _generated(root) or release_label_file(root)]


def release_label_file(root):
    return [str(Path(root) / name) for name, _ in LABEL_FILES if (Path(root) / name).is_file()][:1]


def check_input(wildcards):
    """What `check_runs` checks: every run and score (`all`), or one table's."""
    if wildcards.part == "all":
        return trained_metrics() + score_metrics()
    return table_runs(wildcards.part)


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

    trained = dict(zip(run_metrics(), sorted(STUDY.runs)))
    scored = dict(zip(score_metrics(), CROSS_DATASET))
    outputs = [str(f) for j in workflow.dag.needrun_jobs() for f in j.output]  # packs: many per job
    train = [trained[f] for f in outputs if f in trained]
    scores = [scored[f] for f in outputs if f in scored]
    need = needs(config, STUDY, train, scores, parallel=workflow.nodes or workflow.cores or 1)
    need.data = {root: spec for root, spec in need.data.items() if root not in SYNTHETIC}
    problems = check(config, STUDY, RESULTS, need)
    if problems:
        raise SystemExit("\n".join(f"iqa check: {p}" for p in problems))


def aggregate_now():
    """After a failure: tables naming the missing runs; a run failing its check leaves the last good ones."""
    import sys

    from iqa.core.errors import DataError
    from iqa.results.aggregate import aggregate

    try:
        aggregate(config, RESULTS, strict=bool(config.get("strict")))
    except DataError as e:
        print(f"tables not rebuilt, the last good ones kept: {e}", file=sys.stderr)
