#!/usr/bin/env bash
# Packing and precision on a GPU, in one go (about 8 minutes on one H200): Swin-B at the seed's batch 32 alone and
# packed, in fp32, TF32 and bf16, with the MFU of each; a packed training run against the same runs
# trained alone (CUDA streams, within `iqa reproduce`'s tolerance); then the paper grid's GPU-hours per
# option from these measurements. Runs from the repository root with the machine's torch + timm
# (PYTHONPATH, no install). Logs and the throughput file go to $OUT (default ./gpu-pack).
set -uo pipefail
out=${OUT:-gpu-pack}
mkdir -p "$out"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
tp=$out/throughput.json
cp docs/throughput-h200.json "$tp"  # ResNet-50, Swin-T/S figures the grid also needs; Swin-B entries are added

step() {  # step NAME COMMAND...: run, log to $out/NAME.txt, keep going on failure
    local name=$1; shift
    echo "==== $name: $*"
    ( time "$@" ) 2>&1 | tee "$out/$name.txt"
}

{
    date -u; nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
    $py -c "import torch, timm; print('torch', torch.__version__, 'timm', timm.__version__)"
} 2>&1 | tee "$out/machine.txt"

bench() {  # bench PRECISION PACK: Swin-B, batch 32, 20 timed steps; the figures go into $tp
    step "swin_base_$1_pack$2" timeout 150 $py -m iqa bench --model swin_hyperiqa --size base --device cuda \
        --batch 32 --steps 20 --images 16 --precision "$1" --pack "$2" --json "$tp"
}
for precision in fp32 tf32 bf16; do bench $precision 1; done
for precision in bf16 tf32; do bench $precision 4; done
bench bf16 8
bench fp32 4

# A pack of 3 short Swin-T runs against the same runs alone: same numbers within tolerance, time of each.
step pack_vs_alone timeout 240 $py - <<'EOF'
import tempfile, time
from pathlib import Path
from iqa import config
from iqa.training.pack import train_pack
from iqa.data.synthetic import make_synthetic
from iqa.training.train import train

tmp = Path(tempfile.mkdtemp())
root = make_synthetic(tmp / "data", 300, seed=0)
cfgs = [config.load(None, {"name": f"pack{k}", "seed": k, "model": {"name": "swin_hyperiqa", "size": "tiny"},
                           "data": {"root": str(root), "cache_dir": str(tmp / "cache"), "train_patches": 8,
                                    "split_index": k, "test_crops": "random:8", "color_jitter": True},
                           "train": {"epochs": 3, "batch_size": 32, "lr": 1e-4, "label_scale": 0.01,
                                     "patience": None, "device": "cuda", "precision": "bf16"}})
        for k in range(3)]
import torch
from iqa.data.parts import load_parts
load_parts(cfgs[0], torch.device("cpu"))  # the decoded-image cache, built once before either is timed
tic = time.time(); alone = [train(c, tmp / f"alone{k}") for k, c in enumerate(cfgs)]; t_alone = time.time() - tic
tic = time.time(); packed = train_pack(cfgs, [tmp / f"pack{k}" for k in range(3)]); t_pack = time.time() - tic
for a, p in zip(alone, packed):
    print(f"{a['run_id']}: test SRCC alone {a['test']['srcc']:.4f} packed {p['test']['srcc']:.4f} "
          f"(diff {p['test']['srcc'] - a['test']['srcc']:+.4f}); val SRCC {a['val']['srcc']:.4f} {p['val']['srcc']:.4f}")
print(f"3 runs alone, one after another: {t_alone:.1f} s; packed: {t_pack:.1f} s ({t_alone / t_pack:.2f}x)")
EOF

# The paper grid's GPU-hours per option, from the figures just measured (Swin-B) and the file's others.
step plan $py -m iqa plan config/koniq10k.yaml --bench-json "$tp" --images 10073 --pack 1 4 5 8
# torch.compile last (its compile time is the least predictable): does it win at batch 32 in bf16?
step swin_base_bf16_compile timeout 240 $py -m iqa bench --model swin_hyperiqa --size base --device cuda \
    --batch 32 --steps 20 --images 16 --precision bf16 --compile
grep -h "^(c) train step" "$out"/swin_base_*.txt
