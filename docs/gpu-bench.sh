#!/usr/bin/env bash
# The GPU figures of docs/benchmarks.md, in one go (about 5 minutes on one H100/H200).
# Runs from the repository root with the machine's own torch + timm (PYTHONPATH, no install).
# Logs go to $OUT (default: ./gpu-bench) so they survive a killed run.
set -uo pipefail
out=${OUT:-gpu-bench}
mkdir -p "$out"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
py=${PYTHON:-python3}

step() {  # step NAME COMMAND...: run, log to $out/NAME.txt, keep going on failure
    local name=$1; shift
    echo "==== $name: $*"
    ( time "$@" ) 2>&1 | tee "$out/$name.txt"
}

{
    date -u; nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
    $py -c "import torch, timm, torchvision; print('torch', torch.__version__, 'timm', timm.__version__, 'torchvision', torchvision.__version__)"
    nproc
} 2>&1 | tee "$out/machine.txt"

# Swin-B train step vs the bare backbone at batch 64, bf16 (the issue's 0.80 target)
step swin_base $py -m iqa bench --model swin_hyperiqa --size base --device cuda --batch 64 --steps 20
# the same with ColorJitter in the input pipeline (batched on the GPU)
step swin_base_jitter $py -m iqa bench --model swin_hyperiqa --size base --device cuda --batch 64 --steps 20 --color-jitter
# C0: the original architecture
step resnet50 $py -m iqa bench --model hyperiqa_resnet50 --size base --device cuda --batch 64 --steps 20

# one real run end to end on CUDA: cache on the GPU, bf16, fused AdamW, checkpoints, test
data=$(mktemp -d)
$py -m iqa make-synthetic "$data/synthetic" --n 300 --seed 0 > /dev/null
cat > "$data/run.yaml" <<EOF
name: gpu_smoke
model: {name: swin_hyperiqa, size: tiny}
data: {root: $data/synthetic, cache_dir: $data/cache, train_patches: 10, test_crops: "random:10"}
train: {epochs: 4, batch_size: 64, lr: 1.0e-4, lr_ratio: 10, label_scale: 0.01, patience: null, device: cuda}
EOF
step train_tiny $py -m iqa train "$data/run.yaml" --out "$data/run"
cp "$data/run/metrics.json" "$data/run/history.csv" "$out/" 2>/dev/null

# torch.compile last: its compile time is the least predictable
step swin_base_compile timeout 240 $py -m iqa bench --model swin_hyperiqa --size base --device cuda --batch 64 --steps 20 --compile
grep -h "train step / bare backbone\|speedup vs\|(c) train step\|bare backbone forward" "$out"/swin_base*.txt
