#!/usr/bin/env bash
# The GPU checks of gfm in one script, for a node with one NVIDIA GPU, its driver, Python with
# torch and transformers, and prebuilt gfm binaries (no Rust needed there):
#
#   cargo build --release --features cuda --bin gfm --bench train_step   # on a build machine
#   GFM_BIN=target/release/gfm GFM_BENCH_BIN=target/release/deps/train_step-<hash> \
#       bash bench/gpu_checks.sh [LOG_DIR]
#
# 1. bench/compare.sh --device cuda on omni_dna_116m, f32 then bf16: gfm's CUDA backend against
#    transformers OlmoForCausalLM (SDPA) on the same GPU, tokens/s, ratio and MFU.
# 2. The quickstart on CUDA (f32, then bf16), shortened to 200 steps: the loss must fall.
# 3. A data-parallel smoke run: the quickstart with run.data_parallel = 2 (two replicas through
#    burn-collective; on a one-GPU node both share the GPU), 50 steps.
# Each part's output goes to LOG_DIR (default gpu_logs/) and to the console; run directories to
# RUNS_DIR (default LOG_DIR/runs). Each part has a time limit, so one slow part leaves the rest.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log_dir="${1:-gpu_logs}"
mkdir -p "$log_dir"
: "${GFM_BIN:?set GFM_BIN to a gfm binary built with --features cuda}"
: "${GFM_BENCH_BIN:?set GFM_BENCH_BIN to a train_step bench binary built with --features cuda}"

# burn's CUDA backend compiles its kernels at run time with NVRTC: put libnvrtc on the loader
# path (the CUDA toolkit's, or the one PyTorch's wheels ship).
nvrtc="$(find /usr/local/cuda*/ /usr/lib /opt -name 'libnvrtc.so*' 2>/dev/null | head -n 1)"
if [[ -z "$nvrtc" ]]; then
    nvrtc="$(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]))' 2>/dev/null)"
    nvrtc="$(find "${nvrtc:-/nonexistent}" -name 'libnvrtc.so*' 2>/dev/null | head -n 1)"
fi
[[ -n "$nvrtc" ]] && export LD_LIBRARY_PATH="$(dirname "$nvrtc")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export CUDA_PATH="${CUDA_PATH:-/usr/local/cuda}"
{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    echo "nvrtc: ${nvrtc:-not found}"
} 2>&1 | tee "$log_dir/machine.txt"

part() { # name, timeout (s), command...
    local name="$1" limit="$2"
    shift 2
    echo "== $name: $*"
    timeout "$limit" "$@" 2>&1 | tee "$log_dir/$name.txt"
    echo "== $name: exit ${PIPESTATUS[0]}"
}

export GFM_BENCH_BIN
runs="${RUNS_DIR:-$log_dir/runs}"
short=(--set train.duration.steps=200 --set train.eval_every=100 --set train.checkpoint_every=100)
part bench_116m_bf16 140 bash bench/compare.sh --device cuda --bf16 --preset omni_dna_116m --batch 32 --steps 10 --warmup 3
part quickstart_cuda_f32 100 "$GFM_BIN" run experiments/quickstart.toml --set run.device=cuda \
    --set run.out_dir="$runs/f32" "${short[@]}"
part data_parallel_cuda 60 "$GFM_BIN" run experiments/quickstart.toml --set run.device=cuda --set run.data_parallel=2 \
    --set run.out_dir="$runs/dp" --set train.duration.steps=50 --set train.eval_every=50 --set train.checkpoint_every=50
part bench_116m_f32 120 bash bench/compare.sh --device cuda --preset omni_dna_116m --batch 32 --steps 10 --warmup 3
part quickstart_cuda_bf16 80 "$GFM_BIN" run experiments/quickstart.toml --set run.device=cuda --set run.precision=bf16 \
    --set run.out_dir="$runs/bf16" "${short[@]}"
