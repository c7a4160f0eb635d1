#!/usr/bin/env bash
# The seeded comparison of noise kinds reported in docs/results.md ("Noise kinds (uniform against Gaussian)").
# A small honest setup: a 2-layer Llama (hidden 64) pretrained briefly here on the plain-text fixtures, then
# plain fine-tuning against uniform and Gaussian NEFTune noise (alpha 5) on Alpaca-format data, three seeds.
# Usage: eng/evidence/noise_kinds.sh OUT_DIR   (runs under nice -n 15; resumable: run it again to continue)
set -euo pipefail
OUT=${1:?output folder}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
F=$REPO/../shared/fixtures
mkdir -p "$OUT"
NEFTUNE="nice -n 15 dotnet ${NEFTUNE_DLL:-$REPO/src/Microsoft.ML.NEFTune.Cli/bin/Release/net10.0/neftune.dll}"
cd "$OUT"
[ -f base/config.json ] || $NEFTUNE init -t "$F/tokenizers/llama2/tokenizer.model" --hidden-size 64 --layers 2 --heads 4 \
  --max-position-embeddings 256 --seed 1 -o base --force
[ -f pretrain/config.json ] || $NEFTUNE train -m base -d "$F/data/wiki_demo.txt" "$F/data/c4_demo.jsonl" --format text \
  --noise-alpha 0 --max-steps 80 --batch-size 16 --lr 3e-3 --warmup-ratio 0.02 --max-length 128 --packing \
  --val-split 0.05 --seed 1 --eval-steps 60 --save-steps 60 --logging-steps 10 -o pretrain --quiet
[ -f alpaca_train.json ] || /usr/bin/python3 -c "
import json, random
d = json.load(open('$F/data/alpaca_en_demo.json')); i = list(range(len(d))); random.Random(1).shuffle(i)
json.dump([d[k] for k in sorted(i[:100])], open('alpaca_val.json', 'w'), indent=1)
json.dump([d[k] for k in sorted(i[100:260])], open('alpaca_train.json', 'w'), indent=1)"
$NEFTUNE compare --model pretrain --data alpaca_train.json --val-data alpaca_val.json \
  --alphas 0,5 --noise-kinds uniform,gaussian --seeds 1,2,3 --epochs 2 --batch-size 8 --lr 1e-3 --max-length 128 \
  --eval-steps 20 --save-steps 20 --logging-steps 10 --generate 8 --max-new-tokens 48 --quiet --out compare-kinds
