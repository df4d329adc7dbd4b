#!/usr/bin/env bash
# The nontata recipe study (experiments/README.md, "Which recipe choices matter"): the
# nontata_single recipe with one option changed at a time, on the same split; the choice is made
# on the best validation MCC (200 validation sequences), the test split is reported beside it.
# Needs a quickstart run (checkpoints/quickstart) and a release build. Writes runs under
# $OUT (default /tmp/nontata_study) and prints one Markdown row per variant.
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
)
ORDER=(base seed_8 seed_9 steps_300 steps_1200 steps_2400 lr_3e-4 lr_3e-3 neftune_off replicate_1 replicate_3 context_64_left context_64_right)
[ $# -gt 0 ] && ORDER=("$@")
echo "| variant | change | best valid MCC (step) | test accuracy | test MCC | test AUROC | wall |"
echo "|---|---|---|---|---|---|---|"
for v in "${ORDER[@]}"; do
  sets=(--set "run.out_dir=$OUT" --set "name=$v")
  for kv in ${VARIANTS[$v]}; do sets+=(--set "$kv"); done
  start=$(date +%s)
  "$GFM" run experiments/nontata_single.toml "${sets[@]}" > "$OUT.$v.log" 2>&1 || { echo "| $v | ${VARIANTS[$v]} | failed (see $OUT.$v.log) | | | | |"; continue; }
  wall=$(( $(date +%s) - start ))
  run=$(ls -d "$OUT/$v"/*/ | tail -1)
  best=$(grep -E "^step [0-9]+ \| nontata/mcc" "$run/train.log" | awk '{for(i=1;i<=NF;i++) if($i=="mean_mcc") print $(i+1), $2}' | sort -k1,1gr -k2,2n | head -1)
  read -r acc mcc auroc < <(python3 -c "
import tomllib,sys
t=tomllib.load(open('$run/eval/results.toml','rb'))['tasks'][0]
print(f\"{t['accuracy']:.4f} {t['mcc']:.4f} {t.get('auroc', float('nan')):.4f}\")")
  echo "| $v | ${VARIANTS[$v]:-(nontata_single as shipped)} | ${best% *} (${best#* }) | $acc | $mcc | $auroc | ${wall} s |"
done
