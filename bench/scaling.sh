#!/usr/bin/env bash
# How cost grows: runs bench/compare.sh for the 20M preset at every (seq, batch) pair and prints a
# markdown table of gfm and PyTorch tokens/s, step time, peak memory and the ratio. Each pair is
# one compare.sh invocation (both sides back to back on the same machine). See bench/README.md.
#
#   bash bench/scaling.sh [--preset omni_dna_20m] [--threads 2] [--steps 3] [--warmup 1]
#                         [--seqs "128 250 512 1024"] [--batches "1 4 16"]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
preset=omni_dna_20m threads=2 steps=3 warmup=1 seqs="128 250 512 1024" batches="1 4 16"
while [[ $# -gt 0 ]]; do
    [[ $# -ge 2 ]] || { echo "scaling.sh: $1 needs a value" >&2; exit 1; }
    case "$1" in
        --preset) preset="$2" ;;
        --threads) threads="$2" ;;
        --steps) steps="$2" ;;
        --warmup) warmup="$2" ;;
        --seqs) seqs="$2" ;;
        --batches) batches="$2" ;;
        *) echo "scaling.sh: unknown argument $1" >&2; exit 1 ;;
    esac
    shift 2
done
# "<name> preset ... | median step <s> s | <N> tokens/s | ... | peak RSS <G> GiB" -> "s N G"
fields() { awk -v n="$1" '$1 == n && $2 == "preset" { for (i = 1; i <= NF; i++) { if ($i == "step") s = $(i + 1); if ($i == "tokens/s") t = $(i - 1); if ($i == "RSS") m = $(i + 1) } print s, t, m }'; }
echo "| seq | batch | gfm tokens/s | gfm s/step | gfm peak GiB | PyTorch tokens/s | PyTorch s/step | PyTorch peak GiB | gfm/PyTorch |"
echo "|---|---|---|---|---|---|---|---|---|"
for seq in $seqs; do
    for batch in $batches; do
        out="$(bash bench/compare.sh --preset "$preset" --batch "$batch" --seq "$seq" --steps "$steps" --warmup "$warmup" --threads "$threads" 2>/dev/null | sed -n '/== summary/,$p')"
        read -r gs gt gm <<<"$(fields flex <<<"$out")"
        read -r ps pt pm <<<"$(fields pytorch <<<"$out")"
        ratio="$(awk -v g="$gt" -v p="$pt" 'BEGIN { if (p > 0) printf "%.2f", g / p; else print "n/a" }')"
        echo "| $seq | $batch | $gt | $gs | $gm | $pt | $ps | $pm | $ratio |"
    done
done
