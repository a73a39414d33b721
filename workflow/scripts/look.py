"""Snakemake checkpoint job: one look of an adaptive study (iqa/study/adaptive.py). Reads the test SRCC of
the runs behind every still unresolved comparison, checked as the tables check them, and writes each
comparison's repeated interval and the experiments that train on to the next look."""
import json
import sys
from pathlib import Path

from iqa.core import layout
from iqa.core.files import atomic_write
from iqa.core.layout import RESULTS
from iqa.core.vocab import Metric
from iqa.results.aggregate import check_runs
from iqa.study.adaptive import take_look
from iqa.study.spec import expand

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)
cfg = snakemake.config  # noqa: F821
j = int(snakemake.wildcards.look)  # noqa: F821
inputs = [Path(f) for f in snakemake.input]  # noqa: F821
needed = {p.parent.name for p in inputs if p.name == layout.METRICS}
previous = [json.loads(p.read_text()) for p in inputs if p.parent == layout.looks_dir(RESULTS)]
_, runs, _ = check_runs(cfg, RESULTS, strict=bool(cfg.get("strict")), needed=needed)
unusable = sorted(rid for rid in needed if not runs[rid]["usable"])
if unusable:
    sys.exit(f"look {j}: run(s) {', '.join(unusable)} not usable ({runs[unusable[0]]['status']}); rerun them")
srcc = {rid: runs[rid]["metrics"]["test"][Metric.SRCC] for rid in needed}
record = take_look(cfg, expand(cfg), j, srcc, previous[0] if previous else None)
for c in record["comparisons"]:
    print(f"{c['family']}: {c['name']}: {c['status']} after {c['splits']} splits")
print(f"look {j}: " + (f"{', '.join(record['more']) or 'no experiment'} train on to {record['next']} splits"
                      if record["next"] else "the last look"))
out = Path(snakemake.output[0])  # noqa: F821
atomic_write(out, lambda tmp: tmp.write_text(json.dumps(record, indent=2)))
