#!/usr/bin/env bash
# GPU figures for the complexity table of the paper's models (about 2 minutes on one H200).
# Runs from the repository root with the machine's own torch + timm (PYTHONPATH, no install).
# Everything it measures goes to $OUT (default ./gpu-check), so a killed run keeps what it had.
set -uo pipefail
out=${OUT:-gpu-check}
mkdir -p "$out"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
{
    date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    $py -c "import torch, timm; print('torch', torch.__version__, 'timm', timm.__version__)"; nproc
    grep -m1 "model name" /proc/cpuinfo
} 2>&1 | tee "$out/machine.txt"

# Complexity: the original HyperIQA (C0) and the seed head's full model at each Swin size, fp32 and bf16.
tmp=$(mktemp -d)
for m in "hyperiqa_resnet50 base original --no-multiscale --no-attention" \
         "swin_hyperiqa tiny seed --multiscale --attention" \
         "swin_hyperiqa small seed --multiscale --attention" \
         "swin_hyperiqa base seed --multiscale --attention"; do
    set -- $m
    for prec in fp32 bf16; do
        $py -m iqa complexity --model "$1" --size "$2" --head "$3" "$4" "$5" --device cuda --precision $prec \
            --batch 64 --out "$tmp/$1-$2-$prec.json" 2>&1 | tail -1
    done
done
$py - "$tmp" "$out/complexity.json" <<'EOF'
import json, pathlib, sys
found = {p.stem: json.loads(p.read_text()) for p in sorted(pathlib.Path(sys.argv[1]).glob("*.json"))}
pathlib.Path(sys.argv[2]).write_text(json.dumps(found, indent=2))
for name, f in found.items():
    print(f"{name:32s} {f['parameters']:>11,} params {f['gflops']:7.2f} GFLOPs "
          f"{f['latency_ms']:7.2f} ms @1 {f['throughput_images_per_s']:9.1f} img/s @{f['throughput_batch']}")
EOF
