#!/usr/bin/env bash
# A small study (synthetic data, nano models, 3 training jobs asking for one GPU each) through
# Snakemake's SLURM executor on a one-node localhost cluster; checks every run finished under
# its own SLURM job. Daemons are stopped on exit, whatever happens.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'bash "$repo/.ci/slurm/stop.sh" || true' EXIT
bash "$repo/.ci/slurm/start.sh"

"$repo/.venv/bin/python" - "$repo/config.yaml" "$work/config.yaml" <<'PY'
import sys, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
cfg["dataset"] = {"synthetic": {"n": 60, "seed": 3}}
cfg["splits"] = [0]
cfg["resources"]["train"].update(gpu=1, runtime=10, mem_mb=1000)
cfg["base"]["train"]["epochs"] = 1
cfg["experiments"] = {k: cfg["experiments"][k] for k in ("C3", "C2", "C1")}
cfg["sweeps"] = {}
for section in ("factorial", "cross_dataset", "complexity", "sota"):
    cfg.pop(section, None)
cfg["tables"] = {"main": ["C1", "C3"], "ablation": ["C1", "C2", "C3"], "best_of": "C3"}
yaml.safe_dump(cfg, open(sys.argv[2], "w"))
PY

start=$(date +%s)
(cd "$work" && PATH="$repo/.venv/bin:$PATH" snakemake -s "$repo/Snakefile" \
    --workflow-profile "$repo/profiles/slurm-ci" --verbose > "$work/snakemake.log" 2>&1) || {
  tail -60 "$work/snakemake.log"; exit 1; }
echo "SLURM grid finished in $(( $(date +%s) - start )) s"
grep -m1 -o "sbatch .*--gpus=1" "$work/snakemake.log" | cut -c1-400 || true

"$repo/.venv/bin/python" - "$work" <<'PY'
import json, pathlib, sys
runs = sorted(pathlib.Path(sys.argv[1], "results", "runs").glob("*/metrics.json"))
ids = [json.loads(p.read_text())["provenance"]["slurm_job_id"] for p in runs]
assert len(runs) == 3, f"expected 3 finished runs, got {len(runs)}"
assert all(ids) and len(set(ids)) == 3, f"SLURM job ids not distinct: {ids}"
assert pathlib.Path(sys.argv[1], "results", "tables", "ablation.csv").is_file()
print(f"3 runs finished under SLURM jobs {ids}")
PY
