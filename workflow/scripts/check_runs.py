"""Snakemake job: the runs and cross-dataset scores of one table (or `all`) checked against their own
records, before the table or aggregate job that reads them.

A job of its own so that a tampered run stops the workflow before the aggregate job starts: Snakemake
deletes a job's outputs when it starts it, and the tables, figures and numbers of the last good
aggregation must stay. Writes each run's and score's status.
"""
import json
import sys
from pathlib import Path

from iqa.core.errors import DataError
from iqa.core.files import atomic_write
from iqa.core.layout import RESULTS
from iqa.study import catalogue
from iqa.results.aggregate import check_runs
from iqa.study.spec import expand

console = sys.stderr
sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)
cfg = snakemake.config  # noqa: F821
part = snakemake.wildcards.part  # noqa: F821
needed = None if part == "all" else {rid for e in catalogue.experiments_behind(cfg, part)
                                     for rid in expand(cfg).run_ids(e)}
try:
    study, runs, scores = check_runs(cfg, RESULTS, strict=bool(cfg.get("strict")), needed=needed)
except DataError as e:
    print(e)
    print(f"check_runs: {e}", file=console)  # the one line on the console, not only in the log
    sys.exit(1)
status = {"runs": {rid: r["status"] for rid, r in runs.items() if needed is None or rid in needed},
          "scores": {f"{name}/{rid}": s["status"] for (name, rid), s in scores.items()}}
out = Path(snakemake.output[0])  # noqa: F821
atomic_write(out, lambda tmp: tmp.write_text(json.dumps(status, indent=2)))
