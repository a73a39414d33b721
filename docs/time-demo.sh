#!/usr/bin/env bash
# Wall and CPU time (user + sys of snakemake and every job it ran) of the demo workflow, from a clean
# state: no results/, no generated data, no .snakemake/ (what a fresh clone runs). Run it from the
# repository root, once per checkout to compare, back to back on a quiet machine:
#   bash docs/time-demo.sh            # CORES=2 by default; extra arguments go to snakemake
# Snakemake's output goes to time-demo.log; the last line printed is the measurement.
set -euo pipefail
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
py=${PYTHON:-.venv/bin/python}
rm -rf results data/synthetic data/synthetic_shifted .snakemake
"$py" - "${CORES:-2}" "$@" <<'PY'
import resource, subprocess, sys, time

cmd = [sys.executable, "-m", "snakemake", "--cores", sys.argv[1], *sys.argv[2:]]
t0 = time.time()
with open("time-demo.log", "w") as log:  # snakemake's own lines: which job failed, if one does
    rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
wall = time.time() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"demo: exit {rc}, wall {wall:.1f} s, cpu {ru.ru_utime + ru.ru_stime:.1f} s "
      f"(user {ru.ru_utime:.1f}, sys {ru.ru_stime:.1f}), {sys.argv[1]} cores")
sys.exit(rc)
PY
