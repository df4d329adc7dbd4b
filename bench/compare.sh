#!/usr/bin/env bash
# gfm against PyTorch on the same training step: runs bench/train_step.rs (cargo bench) and
# bench/reference/olmo_step.py with the same arguments, then prints both lines and the ratio of
# their tokens/s (above 1: gfm is faster). See bench/README.md.
#
#   bash bench/compare.sh [--preset omni_dna_20m] [--batch 4] [--seq 250] [--steps 10] [--warmup 2]
#                         [--threads N] [--impl hf|fused]
#
# --preset, --batch, --seq, --steps, --warmup go to both benchmarks.
# --threads N     both sides use N threads: torch.set_num_threads(N) and RAYON_NUM_THREADS=N for
#                 gfm (burn-flex and its gemm run on rayon's global pool). Default: every CPU
#                 available to the process, which is what both sides take when not told.
# --impl hf|fused the PyTorch model: transformers OlmoForCausalLM (default) or the fused one.
# Environment:    PYTHON (default python3); CARGO_FLAGS, e.g. "--features x86-v4" or
#                 "--features ndarray" (one ratio is printed per gfm backend).
#
# CPU only: bench/train_step.rs times gfm's CPU backends. For PyTorch on a GPU run
# `python3 bench/reference/olmo_step.py --device cuda [--bf16]` directly.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"

die() {
    echo "compare.sh: $*" >&2
    exit 1
}

shared_args=()
python_args=()
threads=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --preset | --batch | --seq | --steps | --warmup)
            [[ $# -ge 2 ]] || die "$1 needs a value"
            shared_args+=("$1" "$2")
            shift 2
            ;;
        --threads)
            [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || die "--threads needs a positive integer"
            threads="$2"
            shift 2
            ;;
        --impl)
            [[ $# -ge 2 ]] || die "--impl needs hf or fused"
            python_args+=("$1" "$2")
            shift 2
            ;;
        --device | --bf16)
            die "$1: gfm's bench is CPU only; run python3 bench/reference/olmo_step.py $1 ... by itself"
            ;;
        -h | --help)
            sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            die "unknown argument $1 (accepted: --preset --batch --seq --steps --warmup --threads --impl)"
            ;;
    esac
done

# Fail before the (long) Rust build if the reference cannot run.
command -v "$PYTHON" >/dev/null || die "$PYTHON not found; install Python 3, then: pip install torch transformers"
"$PYTHON" -c 'import torch, transformers' 2>/dev/null \
    || die "$PYTHON cannot import torch and transformers; install them: pip install torch transformers"
command -v cargo >/dev/null || die "cargo not found; install Rust from https://rustup.rs"

if [[ -n "$threads" ]]; then
    export RAYON_NUM_THREADS="$threads"
    python_args+=(--threads "$threads")
fi

out_dir="$(mktemp -d)"
trap 'rm -rf "$out_dir"' EXIT

echo "== gfm: cargo bench ${CARGO_FLAGS:+$CARGO_FLAGS }--bench train_step -- ${shared_args[*]:-}"
# shellcheck disable=SC2086 # CARGO_FLAGS is a list of words on purpose
cargo bench ${CARGO_FLAGS:-} --bench train_step -- "${shared_args[@]}" | tee "$out_dir/gfm.txt"

echo "== pytorch: $PYTHON bench/reference/olmo_step.py ${shared_args[*]:-} ${python_args[*]:-}"
"$PYTHON" bench/reference/olmo_step.py "${shared_args[@]}" "${python_args[@]}" | tee "$out_dir/pytorch.txt"

# A result line is "<name> preset ... | <N> tokens/s | ..."; print "<name> <N>" for each.
tokens_per_s() {
    awk '$2 == "preset" { for (i = 2; i <= NF; i++) if ($i == "tokens/s") print $1, $(i - 1) }' "$1"
}
gfm_results="$(tokens_per_s "$out_dir/gfm.txt")"
pytorch_result="$(tokens_per_s "$out_dir/pytorch.txt" | head -n 1)"
[[ -n "$gfm_results" ]] || die "no result line in the output of cargo bench (above)"
[[ -n "$pytorch_result" ]] || die "no result line in the output of olmo_step.py (above)"
pytorch_tps="${pytorch_result#* }"

cpu_model="$(awk -F': *' '/^(model name|Model|cpu model)[[:space:]]*:/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
echo
echo "== summary"
echo "machine: $(hostname) | ${cpu_model:-unknown CPU} | nproc $(nproc) | threads ${threads:-all available}"
grep -h ' preset ' "$out_dir/gfm.txt" "$out_dir/pytorch.txt"
while read -r name tps; do
    awk -v g="$tps" -v p="$pytorch_tps" -v n="$name" -v r="${pytorch_result%% *}" \
        'BEGIN { if (p > 0) printf "ratio gfm/pytorch tokens/s = %.2f (%s / %s)\n", g / p, n, r
                else printf "ratio gfm/pytorch tokens/s = n/a (%s reported 0 tokens/s)\n", r }'
done <<<"$gfm_results"
