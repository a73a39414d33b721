#!/usr/bin/env bash
# GPU figures for the complexity table, `iqa plan` and `iqa reproduce` (about 4 minutes on one H200).
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

# 1. Complexity: the original HyperIQA (C0) and the seed head's full model at each Swin size.
for m in "hyperiqa_resnet50 base original --no-multiscale --no-attention" \
         "swin_hyperiqa tiny seed --multiscale --attention" \
         "swin_hyperiqa small seed --multiscale --attention" \
         "swin_hyperiqa base seed --multiscale --attention"; do
    set -- $m
    for prec in fp32 bf16; do
        $py -m iqa complexity --model "$1" --size "$2" --head "$3" "$4" "$5" --device cuda --precision $prec \
            --batch 64 --out "$out/complexity-$1-$2-$prec.json" 2>&1 | tail -1
    done
done
$py - "$out" <<'EOF'
import json, pathlib, sys
for p in sorted(pathlib.Path(sys.argv[1]).glob("complexity-*.json")):
    f = json.loads(p.read_text())
    print(f"{p.stem:44s} {f['parameters']:>11,} params {f['gflops']:7.2f} GFLOPs "
          f"{f['latency_ms']:7.2f} ms @1 {f['throughput_images_per_s']:9.1f} img/s @{f['throughput_batch']}")
EOF

# 2. A real Swin-B run with the paper config's recipe (seed head, fp32, 224 px, 20 patches per image):
#    its measured training throughput is what `iqa plan` turns into GPU-hours.
data=$(mktemp -d)
$py -m iqa make-synthetic "$data/synthetic" --n 300 --seed 0 > /dev/null
cat > "$data/swinb.yaml" <<EOF
name: swinb_fp32
model: {name: swin_hyperiqa, size: base, head: seed}
data: {root: $data/synthetic, cache_dir: $data/cache, resize: [384, 512]}
train: {epochs: 2, batch_size: 32, lr: 5.0e-7, lr_min: 1.0e-6, grad_clip: 1.0, precision: fp32, device: cuda}
EOF
$py -m iqa train "$data/swinb.yaml" --out "$data/swinb" 2>&1 | grep -v "^epoch .* step" | tail -4
cp "$data/swinb/metrics.json" "$out/swinb-metrics.json"

# 3. The demo's C3 run of split 0, on this GPU (fp32) and on this machine's CPU: the differences to the
#    same run on the development CPU are what `iqa reproduce` has to tolerate across devices.
$py -m iqa make-synthetic "$data/demo" --n 600 --seed 0 > /dev/null
$py - "$data" "$out" <<'EOF'
import json, sys, pathlib, yaml, torch
from iqa.study import expand
from iqa.train import train
data, out = map(pathlib.Path, sys.argv[1:])
study = expand(yaml.safe_load(open("config.yaml")))
cfg = study.runs[study.run_ids("C3")[0]]
cfg["data"].update(root=str(data / "demo"), cache_dir=str(data / "cache"))
for device in ("cuda", "cpu"):
    torch.set_num_threads(1)
    run = {**cfg, "train": {**cfg["train"], "device": device, "precision": "fp32"}}
    m = train(run, data / f"demo-{device}")
    (out / f"demo-c3-s0-{device}.json").write_text(json.dumps({k: m[k] for k in ("test", "val", "best_epoch")}))
    print(device, m["test"]["srcc"], m["test"]["plcc"], m["best_epoch"])
EOF
