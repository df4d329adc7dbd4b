#!/usr/bin/env bash
# gfm against PyTorch on the same training step: runs bench/train_step.rs (cargo bench) and
# bench/reference/olmo_step.py with the same arguments, then prints both lines and the ratio of
# their tokens/s (above 1: gfm is faster). See bench/README.md.
#
#   bash bench/compare.sh [--preset omni_dna_20m] [--batch 4] [--seq 250] [--steps 10] [--warmup 2]
#                         [--threads N] [--impl hf|fused] [--device cpu|cuda] [--bf16]
#
# --preset, --batch, --seq, --steps, --warmup, --device, --bf16 go to both benchmarks.
# --device cuda   gfm's CUDA backend (built with --features cuda, added to CARGO_FLAGS here)
#                 against PyTorch on the same GPU; both lines then carry the MFU against a bf16
#                 matmul peak each side measures on that GPU.
# --bf16          bf16 autocast on both sides (gfm run.precision = "bf16"; torch.autocast).
# --threads N     both sides use N threads: torch.set_num_threads(N) and RAYON_NUM_THREADS=N for
#                 gfm (burn-flex and its gemm run on rayon's global pool). Default: every CPU
#                 available to the process, which is what both sides take when not told.
# --impl hf|fused the PyTorch model: transformers OlmoForCausalLM (default) or the fused one.
# Environment:    PYTHON (default python3); CARGO_FLAGS, e.g. "--features ndarray" (one ratio
#                 is printed per gfm backend); GFM_BENCH_BIN, a train_step binary built
#                 elsewhere (`cargo bench --no-run` prints its path), run instead of cargo on a
#                 machine without Rust, e.g. a GPU node.
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
        --device)
            [[ $# -ge 2 && ( "$2" == cpu || "$2" == cuda ) ]] || die "--device needs cpu or cuda"
            shared_args+=("$1" "$2")
            [[ "$2" == cuda ]] && CARGO_FLAGS="${CARGO_FLAGS:-} --features cuda"
            shift 2
            ;;
        --bf16)
            shared_args+=("$1")
            shift
            ;;
        -h | --help)
            sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            die "unknown argument $1 (accepted: --preset --batch --seq --steps --warmup --threads --impl --device --bf16)"
            ;;
    esac
done

# Fail before the (long) Rust build if the reference cannot run.
command -v "$PYTHON" >/dev/null || die "$PYTHON not found; install Python 3, then: pip install torch transformers"
"$PYTHON" -c 'import torch, transformers' 2>/dev/null \
    || die "$PYTHON cannot import torch and transformers; install them: pip install torch transformers"
if [[ -n "${GFM_BENCH_BIN:-}" ]]; then
    [[ -x "$GFM_BENCH_BIN" ]] || die "GFM_BENCH_BIN=$GFM_BENCH_BIN is not an executable file"
else
    command -v cargo >/dev/null || die "cargo not found; install Rust from https://rustup.rs (or set GFM_BENCH_BIN)"
fi

if [[ -n "$threads" ]]; then
    export RAYON_NUM_THREADS="$threads"
    python_args+=(--threads "$threads")
fi

out_dir="$(mktemp -d)"
trap 'rm -rf "$out_dir"' EXIT

if [[ -n "${GFM_BENCH_BIN:-}" ]]; then
    echo "== gfm: $GFM_BENCH_BIN ${shared_args[*]:-}"
    "$GFM_BENCH_BIN" "${shared_args[@]}" | tee "$out_dir/gfm.txt"
else
    echo "== gfm: cargo bench ${CARGO_FLAGS:+$CARGO_FLAGS }--bench train_step -- ${shared_args[*]:-}"
    # shellcheck disable=SC2086 # CARGO_FLAGS is a list of words on purpose
    cargo bench ${CARGO_FLAGS:-} --bench train_step -- "${shared_args[@]}" | tee "$out_dir/gfm.txt"
fi

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
