#!/usr/bin/env bash
# The paper study rehearsed end to end: config/koniq10k.yaml at the scale of config/rehearsal.yaml, from
# the repository root as the README gives it, in a scratch copy of the tree. Checks that every table and
# figure the paper config declares came out.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
git -C "$repo" ls-files -z | (cd "$repo" && xargs -0 cp --parents -t "$work")
cd "$work"
start=$(date +%s)
PATH="$repo/.venv/bin:$PATH" PYTHONPATH="$repo" snakemake --configfile config/koniq10k.yaml config/rehearsal.yaml \
    --cores 2 > rehearsal.log 2>&1 || { tail -80 rehearsal.log; exit 1; }
echo "rehearsal of config/koniq10k.yaml finished in $(( $(date +%s) - start )) s"
grep -A14 "^Job stats" rehearsal.log | head -14
"$repo/.venv/bin/python" - <<'PY'
from pathlib import Path

from iqa.study import catalogue
from iqa.study.spec import load_study, rehearse

cfg = rehearse(load_study(["config/koniq10k.yaml", "config/rehearsal.yaml"]))
missing = [f for f in catalogue.files(cfg) if not Path(f).is_file()]
assert not missing, f"rehearsal did not write {missing}"
print(f"rehearsal wrote all {len(catalogue.tables(cfg))} tables and {len(catalogue.figures(cfg))} figures:",
      ", ".join(t.name for t in catalogue.tables(cfg)), "|", ", ".join(f.name for f in catalogue.figures(cfg)))
PY
