#!/usr/bin/env bash
# The nontata recipe study (experiments/README.md, "Which recipe choices matter"): the
# nontata_single recipe with one option changed at a time, on the same split; the choice is made
# on the best validation MCC (200 validation sequences), the test split is reported beside it.
# Needs a quickstart run (checkpoints/quickstart) and a release build. Writes runs under
# $OUT (default /tmp/nontata_study), reuses variants that finished, and prints one Markdown row
# per variant.
# Usage: bash experiments/study/nontata_recipe.sh [variant ...]
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/nontata_study}
GFM=${GFM:-target/release/gfm}
declare -A VARIANTS=(
  [base]=""
  [steps_300]="train.duration.steps=300"
  [steps_1200]="train.duration.steps=1200"
  [steps_2400]="train.duration.steps=2400"
  [lr_3e-4]="train.lr=3e-4"
  [lr_3e-3]="train.lr=3e-3"
  [neftune_off]="sft.neftune_alpha=0.0"
  [replicate_1]="finetune.replicate=1"
  [replicate_3]="finetune.replicate=3"
  [context_64_left]="model.context=64"
  [context_64_right]="model.context=64 finetune.truncation=dna_right"
  [seed_8]="seed=8"
  [seed_9]="seed=9"
  [steps_1200_replicate_1]="train.duration.steps=1200 finetune.replicate=1"
  [steps_1200_replicate_1_seed_8]="train.duration.steps=1200 finetune.replicate=1 seed=8"
)
ORDER=(base seed_8 seed_9 steps_300 steps_1200 steps_2400 lr_3e-4 lr_3e-3 neftune_off replicate_1 replicate_3 context_64_left context_64_right)
[ $# -gt 0 ] && ORDER=("$@")
echo "| variant | change | best valid MCC (step) | test accuracy | test MCC | test AUROC | wall |"
echo "|---|---|---|---|---|---|---|"
for v in "${ORDER[@]}"; do
  sets=(--set "run.out_dir=$OUT" --set "name=$v")
  for kv in ${VARIANTS[$v]}; do sets+=(--set "$kv"); done
  if ! ls "$OUT/$v"/*/eval/results.toml >/dev/null 2>&1; then
    "$GFM" run experiments/nontata_single.toml "${sets[@]}" > "$OUT.$v.log" 2>&1 \
      || { echo "| $v | ${VARIANTS[$v]} | failed (see $OUT.$v.log) | | | | |"; continue; }
  fi
  run=$(ls -d "$OUT/$v"/*/ | tail -1)
  python3 - "$run" "$v" "${VARIANTS[$v]:-(nontata_single as shipped)}" <<'PY'
import re, sys, tomllib
run, name, change = sys.argv[1:4]
log = open(f"{run}/train.log").read()
vals = [(float(m.group(2)), int(m.group(1))) for m in re.finditer(r"step (\d+) valid/mean_mcc=([-0-9.eE]+)", log)]
best = max(vals, key=lambda v: (v[0], -v[1])) if vals else (float("nan"), 0)
t = tomllib.load(open(f"{run}/eval/results.toml", "rb"))["tasks"][0]
rec = tomllib.load(open(f"{run}/record.toml", "rb"))
print(f"| {name} | {change} | {best[0]:.4f} ({best[1]}) | {t['accuracy']:.4f} | {t['mcc']:.4f} | {t.get('auroc', float('nan')):.4f} | {rec['wall_time_s']:.0f} s |")
PY
done
