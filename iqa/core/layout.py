"""Where a study's outputs live: every folder and file name under results/, defined once.

The workflow's rules and scripts and every module of the library take their paths from here. Each path
function takes the results folder first (`RESULTS` is the workflow's) and returns a Path; a Snakemake
rule passes a wildcard such as "{run_id}" for a name and gets its pattern. tests/test_layout.py fails
when another module spells one of these names itself.

    results/runs/{run_id}/           a training run: RUN_FILES, metrics.json, checkpoint.pt, train.log
    results/scores/{dataset}/{run_id}/  a run's model scored on another dataset: predictions.csv,
                                     metrics.json
    results/complexity/{experiment}.json
    results/tables/{table}.{ext}     ext in TABLE_FILES
    results/figures/{figure}.{ext}   ext in FIGURE_FILES
    results/captions/{tables,figures}/{name}.rst
    results/numbers.tex, numbers.json, runs.csv, study.json, paper.pdf (compiled in results/paper/)
    results/checks/{part}.json, experiments/{name}.json, logs/{job}/.../{name}.log
    results/looks/{look}.json        an adaptive study's look after {look} splits (iqa/study/adaptive.py)
"""
from __future__ import annotations

from pathlib import Path

RESULTS = "results"  # the workflow's results folder, relative to the working directory

# A run's folder (a training run or a cross-dataset score).
METRICS = "metrics.json"  # the run's record, written last: only a finished run has one
PREDICTIONS = "predictions.csv"
HISTORY = "history.csv"
MODEL = "model.safetensors"
CHECKPOINT = "checkpoint.pt"  # resumes an interrupted run; deleted once it finishes (train.keep_checkpoint)
TRAIN_LOG = "train.log"
RUN_FILES = (PREDICTIONS, HISTORY, MODEL)  # what metrics.json records the SHA-256 of

# The forms of each table and figure: a table's full record, its provenance sidecar (every cell traced to
# its runs) and its paper form (iqa.results.paperform).
RECORD_FILES = ("csv", "md", "tex")
PROVENANCE = "provenance.json"
PAPER_TEX, PAPER_MD = "paper.tex", "paper.md"
PAPER_FILES = (PAPER_TEX, PAPER_MD)
TABLE_FILES = (*RECORD_FILES, PROVENANCE, *PAPER_FILES)
FIGURE_FILES = ("pdf", "png")
NUMBERS_TEX, NUMBERS_JSON = "numbers.tex", "numbers.json"  # every quoted number (iqa.results.quoted)
NUMBERS_FILES = (NUMBERS_TEX, NUMBERS_JSON)
PAPER = "paper"  # results/paper/paper.tex compiles into results/paper.pdf


def runs_dir(results: str | Path) -> Path:
    return Path(results) / "runs"


def run_dir(results: str | Path, run_id: str) -> Path:
    return runs_dir(results) / run_id


def run_file(results: str | Path, run_id: str, name: str = METRICS) -> Path:
    """A file of a training run's folder: its metrics.json unless `name` says which."""
    return run_dir(results, run_id) / name


def score_ref(dataset: str, run_id: str) -> str:
    """A cross-dataset score's folder relative to results/: how table provenance names it among run ids."""
    return f"scores/{dataset}/{run_id}"


def score_dir(results: str | Path, dataset: str, run_id: str) -> Path:
    return Path(results) / score_ref(dataset, run_id)


def score_file(results: str | Path, dataset: str, run_id: str, name: str = METRICS) -> Path:
    """A file of a cross-dataset score's folder: its metrics.json unless `name` says which."""
    return score_dir(results, dataset, run_id) / name


def record_dir(results: str | Path, ref: str) -> Path:
    """The folder of a table cell's run: a training run id, or a `score_ref` for a cross-dataset score."""
    return Path(results) / ref if "/" in ref else run_dir(results, ref)


def complexity_ref(experiment: str) -> str:
    """An experiment's complexity measurements relative to results/ (as table provenance names them)."""
    return f"complexity/{experiment}.json"


def complexity_file(results: str | Path, experiment: str) -> Path:
    return Path(results) / complexity_ref(experiment)


def tables_dir(results: str | Path) -> Path:
    return Path(results) / "tables"


def table_file(results: str | Path, table: str, ext: str) -> Path:
    return tables_dir(results) / f"{table}.{ext}"


def figures_dir(results: str | Path) -> Path:
    return Path(results) / "figures"


def figure_file(results: str | Path, figure: str, ext: str) -> Path:
    return figures_dir(results) / f"{figure}.{ext}"


def caption_file(results: str | Path, kind: str, name: str) -> Path:
    """An output's caption for the Snakemake report; `kind` is tables or figures (a table and a figure may
    share a name)."""
    return Path(results) / "captions" / kind / f"{name}.rst"


def numbers_file(results: str | Path, name: str = NUMBERS_JSON) -> Path:
    return Path(results) / name


def runs_csv(results: str | Path) -> Path:
    return Path(results) / "runs.csv"


def study_json(results: str | Path) -> Path:
    """The expanded study (base, cells, factorial) that aggregation saves for audits."""
    return Path(results) / "study.json"


def paper_source(results: str | Path) -> Path:
    """The document's LaTeX: pdflatex compiles it in its own folder, writing its .log and .pdf beside it."""
    return Path(results) / PAPER / f"{PAPER}.tex"


def paper_pdf(results: str | Path) -> Path:
    return Path(results) / f"{PAPER}.pdf"


def check_file(results: str | Path, part: str) -> Path:
    """The status of the runs one table reads (`part`: the table, or all)."""
    return Path(results) / "checks" / f"{part}.json"


def experiment_file(results: str | Path, experiment: str) -> Path:
    return Path(results) / "experiments" / f"{experiment}.json"


def looks_dir(results: str | Path) -> Path:
    return Path(results) / "looks"


def look_file(results: str | Path, look: int | str) -> Path:
    """An adaptive study's look after `look` splits: which comparisons are resolved, who trains on."""
    return looks_dir(results) / f"{look}.json"


def log_file(results: str | Path, job: str, *names: str) -> Path:
    """A workflow job's log: results/logs/{job}.log, or results/logs/{job}/{names...}.log."""
    *folders, last = (job, *names)
    return Path(results).joinpath("logs", *folders) / f"{last}.log"
