#!/usr/bin/env bash
# MMIDAS: gfm against the original AllenInstitute/MMIDAS PyTorch code on the same data shape and
# schedule, in one invocation on one machine. Prints both JSON lines and the ratios (above 1: gfm
# is faster). See bench/README.md.
#
#   bash bench/mmidas_compare.sh --src ../MMIDAS [--threads 2] [--genes 20000] [--categories 12]
#                                [--min-categories 8] [--batch 1000] [--epochs 1] [--epochs-per-round 1]
#   GFM_BENCH_BIN=target/release/deps/mmidas-<hash> runs a prebuilt gfm side; PYTHON=... the interpreter.
#
# --src DIR       a clone of https://github.com/AllenInstitute/MMIDAS (not part of gfm).
# --threads N     both sides use N threads (RAYON_NUM_THREADS, torch.set_num_threads). Default 2.
# gfm's arms read 1,280 and 1,536 dims; the original needs one size for every arm and reads
# (1,280 + 1,536) / 2 = 1,408 in both, the same multiply-adds in the first and last layers.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
src="" threads=2 genes=20000 categories=12 min_categories=8 batch=1000 epochs=1 per_round=1
while [[ $# -gt 0 ]]; do
    [[ $# -ge 2 ]] || { echo "mmidas_compare.sh: $1 needs a value" >&2; exit 1; }
    case "$1" in
        --src) src="$2" ;;
        --threads) threads="$2" ;;
        --genes) genes="$2" ;;
        --categories) categories="$2" ;;
        --min-categories) min_categories="$2" ;;
        --batch) batch="$2" ;;
        --epochs) epochs="$2" ;;
        --epochs-per-round) per_round="$2" ;;
        *) echo "mmidas_compare.sh: unknown argument $1" >&2; exit 1 ;;
    esac
    shift 2
done
[[ -n "$src" && -f "$src/mmidas/cpl_mixvae.py" ]] || { echo "mmidas_compare.sh: --src must be a clone of AllenInstitute/MMIDAS" >&2; exit 1; }

# GFM_BENCH_BIN=<path>: a prebuilt `mmidas` bench binary instead of `cargo bench` (as compare.sh).
if [[ -n "${GFM_BENCH_BIN:-}" ]]; then gfm_cmd=("$GFM_BENCH_BIN"); else gfm_cmd=(cargo bench --bench mmidas --); fi
gfm_line=$(RAYON_NUM_THREADS="$threads" "${gfm_cmd[@]}" --genes "$genes" --dims 1280,1536 \
    --categories "$categories" --min-categories "$min_categories" --batch "$batch" --epochs "$epochs" \
    --epochs-per-round "$per_round" | grep '^{')
echo "$gfm_line"
rounds=$((categories - min_categories))
ref_line=$("$PYTHON" bench/reference/mmidas_original.py --src "$src" --threads "$threads" --genes "$genes" --dim 1408 \
    --categories "$categories" --batch "$batch" --epochs "$epochs" --epochs-prune "$per_round" \
    --prune-rounds "$rounds" | grep '^{')
echo "$ref_line"
"$PYTHON" - "$gfm_line" "$ref_line" <<'PY'
import json, sys
g, r = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"plain training: gfm {g['s_per_epoch']:.2f} s/epoch, original {r['s_per_epoch']:.2f} s/epoch -> ratio {r['s_per_epoch'] / g['s_per_epoch']:.2f}")
print(f"prune run ({g['prune_rounds']} rounds): gfm {g['prune_run_s']:.1f} s, original {r['prune_run_s']:.1f} s -> ratio {r['prune_run_s'] / g['prune_run_s']:.2f}")
PY
