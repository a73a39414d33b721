#!/usr/bin/env bash
# On a GPU: SIGTERM a Swin-T run mid-epoch, rerun it, and compare with an uninterrupted run (logs to $OUT).
OUT=${OUT:-gpu-resume}; mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1; d=/tmp/r; mkdir -p $d
python3 -m iqa make-synthetic $d/syn --n 200 --seed 0 >/dev/null
cat > $d/run.yaml <<EOC
name: resume
model: {name: swin_hyperiqa, size: tiny}
data: {root: $d/syn, cache_dir: $d/cache, train_patches: 20, test_crops: "random:10"}
train: {epochs: 3, batch_size: 64, lr: 1.0e-4, label_scale: 0.01, patience: null, device: cuda, log_every: 5}
EOC
s=$(date +%s.%N); python3 -m iqa train $d/run.yaml --out $d/full > $OUT/full.txt 2>&1; echo "full rc=$? $(python3 -c "print(round($(date +%s.%N)-$s,1))") s"
python3 -m iqa train $d/run.yaml --out $d/cut > $OUT/cut1.txt 2>&1 & p=$!
until grep -q "epoch 2/3 step 10/" $d/cut/train.log 2>/dev/null; do sleep 0.1; done; kill -TERM $p; wait $p; echo "interrupted rc=$?"
grep -h "signal\|resumed" $d/cut/train.log
python3 -m iqa train $d/run.yaml --out $d/cut > $OUT/cut2.txt 2>&1; echo "resumed rc=$?"
grep -h "resumed" $d/cut/train.log
python3 -c "
import json; a=json.load(open('$d/full/metrics.json')); b=json.load(open('$d/cut/metrics.json'))
for k,m in (('uninterrupted',a),('interrupted+resumed',b)): print(k, {x: round(v,6) for x,v in m['test'].items() if x!='n_images'}, 'best_epoch', m['best_epoch'], m['provenance']['gpu_model'])"
cp $d/cut/train.log $OUT/cut_train.log
