#!/usr/bin/env python3
"""One training step of gfm's OLMo decoder in PyTorch: the reference for bench/train_step.rs.

Builds the same model as `src/model/olmo.rs` for a preset of `src/config/presets.rs`, trains it on
the same deterministic token windows with the same optimizer, and prints one line in the field
layout of bench/train_step.rs, so that `bench/compare.sh` can divide the two.

    python3 bench/reference/olmo_step.py [--preset omni_dna_20m] [--batch 4] [--seq 250]
        [--steps 10] [--warmup 2] [--threads N] [--device cpu|cuda] [--bf16] [--impl hf|fused]
    python3 bench/reference/olmo_step.py --preset tiny --parity   # hf and fused give equal logits

The model (OLMo v0.6 as used by Omni-DNA; allenai/OLMo `olmo/model.py`):
pre-norm blocks, no biases, LayerNorm without affine (RMSNorm with a scale for omni_dna_300m),
eps 1e-5, split-half RoPE with theta 1e4, causal scaled-dot-product attention, SwiGLU with
hidden 4·d_model, a final norm, output tied to the embedding; normal init with std 0.02.

Two implementations of it:
  hf     transformers `OlmoForCausalLM` (default). Separate q/k/v and gate/up projections: the
         same parameters and FLOPs as gfm's fused ones, in more, smaller matmuls.
  fused  written here to mirror gfm op for op: one [d, 3d] q/k/v projection and one [d, 2·hidden]
         value-then-gate projection, as the released Omni-DNA (`hf_olmo`) checkpoints store them.

The step: mean next-token cross-entropy over `batch` windows of `seq + 1` tokens (`seq` inputs),
backward, `torch.optim.AdamW(lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)` (gfm's
`TrainSection` defaults and the bench's learning rate), in f32, or with `--bf16` under
`torch.autocast(dtype=torch.bfloat16)` (gfm's `run.precision = "bf16"`). The clock is read after the
device is synchronised; the figure is the median over `--steps` steps after `--warmup` untimed ones.
FLOPs per token: 6·N + 12·layers·seq·d_model (PaLM appendix B; nanoGPT `estimate_mfu`), with N from
the same formula as gfm's `OlmoConfig::num_params`.
"""

import argparse
import math
import os
import platform
import resource
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    sys.exit("olmo_step.py needs PyTorch: pip install torch transformers")

# (n_layers, d_model, n_heads, norm): a copy of the table in src/config/presets.rs.
PRESETS = {
    "tiny": (2, 32, 2, "layer_norm_no_affine"),
    "omni_dna_20m": (8, 256, 8, "layer_norm_no_affine"),
    "omni_dna_60m": (8, 512, 8, "layer_norm_no_affine"),
    "omni_dna_116m": (12, 768, 16, "layer_norm_no_affine"),
    "omni_dna_300m": (16, 1024, 16, "rms_norm"),
    "omni_dna_700m": (16, 1536, 16, "layer_norm_no_affine"),
    "omni_dna_1b": (16, 2048, 16, "layer_norm_no_affine"),
}

# AdamW as gfm's `TrainSection::default()` configures it; the learning rate of bench/train_step.rs.
LR = 1e-4
BETAS = (0.9, 0.95)
ADAM_EPS = 1e-8
WEIGHT_DECAY = 0.1


def preset(name):
    """The model shape a preset names, as `gfm::config::presets::preset` expands it."""
    if name not in PRESETS:
        sys.exit(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    n_layers, d_model, n_heads, norm = PRESETS[name]
    tiny = name == "tiny"
    return dict(
        n_layers=n_layers,
        d_model=d_model,
        n_heads=n_heads,
        mlp_hidden=4 * d_model,
        vocab_size=256 if tiny else 4096,
        context=64 if tiny else 250,
        norm=norm,
        norm_eps=1e-5,
        rope_theta=10_000.0,
        init_std=0.02,
    )


def gfm_num_params(cfg):
    """gfm's `OlmoConfig::num_params` (src/model/config.rs), tied embeddings."""
    d, hidden, v = cfg["d_model"], cfg["mlp_hidden"], cfg["vocab_size"]
    norm = d if cfg["norm"] == "rms_norm" else 0
    block = 3 * d * d + d * d + d * 2 * hidden + hidden * d + 2 * norm
    return v * d + cfg["n_layers"] * block + norm


def train_flops_per_token(cfg, seq):
    """gfm's `OlmoConfig::train_flops_per_token`: 6·N + 12·layers·seq·d_model."""
    return 6.0 * gfm_num_params(cfg) + 12.0 * cfg["n_layers"] * seq * cfg["d_model"]


def make_norm(cfg):
    if cfg["norm"] == "rms_norm":
        return nn.RMSNorm(cfg["d_model"], eps=cfg["norm_eps"])  # x / sqrt(mean(x²) + eps) · w
    return nn.LayerNorm(cfg["d_model"], eps=cfg["norm_eps"], elementwise_affine=False, bias=False)


def build_hf(cfg):
    """transformers `OlmoForCausalLM` of the preset's shape, SDPA attention, tied output."""
    try:
        import transformers
    except ImportError:
        sys.exit("--impl hf needs transformers: pip install torch transformers (or use --impl fused)")
    hf_cfg = transformers.OlmoConfig(
        vocab_size=cfg["vocab_size"],
        hidden_size=cfg["d_model"],
        intermediate_size=cfg["mlp_hidden"],
        num_hidden_layers=cfg["n_layers"],
        num_attention_heads=cfg["n_heads"],
        num_key_value_heads=cfg["n_heads"],
        hidden_act="silu",
        # RoPE tables are computed per call; this only has to cover the longest --seq.
        max_position_embeddings=max(cfg["context"], 4096),
        rope_parameters={"rope_type": "default", "rope_theta": cfg["rope_theta"]},
        attention_bias=False,
        attention_dropout=0.0,
        clip_qkv=None,
        initializer_range=cfg["init_std"],
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,  # gfm's embedding has no padding row that skips its gradient
        use_cache=False,
        attn_implementation="sdpa",
    )
    model = transformers.OlmoForCausalLM(hf_cfg)
    if cfg["norm"] == "rms_norm":
        # HF Olmo only has the no-affine LayerNorm (eps fixed at 1e-5); omni_dna_300m uses RMSNorm.
        for layer in model.model.layers:
            layer.input_layernorm = make_norm(cfg)
            layer.post_attention_layernorm = make_norm(cfg)
        model.model.norm = make_norm(cfg)
    return model


def rope_tables(seq, head_dim, theta, device):
    """Split-half RoPE tables (src/model/rope.rs; HF `OlmoRotaryEmbedding`).

    # Shapes
    - returns (cos, sin), each [seq, head_dim]
    """
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32, device=device) / head_dim)
    angle = torch.arange(seq, dtype=torch.float32, device=device)[:, None] * inv_freq[None, :]
    angle = torch.cat([angle, angle], dim=-1)  # [seq, head_dim]
    return angle.cos(), angle.sin()


def apply_rope(x, cos, sin):
    """x · cos + rotate_half(x) · sin, with rotate_half([x1, x2]) = [-x2, x1].

    # Shapes
    - x: [batch, heads, seq, head_dim]; cos, sin: [seq, head_dim] → [batch, heads, seq, head_dim]
    """
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


class FusedBlock(nn.Module):
    """`OlmoBlock` of src/model/olmo.rs, parameter names included."""

    def __init__(self, cfg):
        super().__init__()
        d, hidden = cfg["d_model"], cfg["mlp_hidden"]
        self.n_heads = cfg["n_heads"]
        self.attn_norm = make_norm(cfg)
        self.att_proj = nn.Linear(d, 3 * d, bias=False)  # q, k, v along the output
        self.attn_out = nn.Linear(d, d, bias=False)
        self.ff_norm = make_norm(cfg)
        self.ff_proj = nn.Linear(d, 2 * hidden, bias=False)  # value half first, gate half second
        self.ff_out = nn.Linear(hidden, d, bias=False)

    def forward(self, x, cos, sin):
        """# Shapes
        - x: [batch, seq, d_model] → [batch, seq, d_model]; cos, sin: [seq, head_dim]
        """
        batch, seq, d = x.shape
        qkv = self.att_proj(self.attn_norm(x))  # [batch, seq, 3d]
        q, k, v = qkv.view(batch, seq, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)  # [batch, heads, seq, head_dim]
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.attn_out(att.transpose(1, 2).reshape(batch, seq, d))
        value, gate = self.ff_proj(self.ff_norm(x)).chunk(2, dim=-1)  # [batch, seq, hidden] each
        return x + self.ff_out(F.silu(gate) * value)


class FusedOlmo(nn.Module):
    """`OlmoModel` of src/model/olmo.rs with tied embeddings."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Parameter(torch.empty(cfg["vocab_size"], cfg["d_model"]))
        self.blocks = nn.ModuleList(FusedBlock(cfg) for _ in range(cfg["n_layers"]))
        self.ln_f = make_norm(cfg)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, mean=0.0, std=cfg["init_std"])

    def forward(self, ids):
        """# Shapes
        - ids: [batch, seq] → logits [batch, seq, vocab]
        """
        head_dim = self.cfg["d_model"] // self.cfg["n_heads"]
        cos, sin = rope_tables(ids.shape[1], head_dim, self.cfg["rope_theta"], ids.device)
        x = F.embedding(ids, self.wte)
        for block in self.blocks:
            x = block(x, cos, sin)
        return self.ln_f(x) @ self.wte.t()


def build(cfg, impl):
    if impl == "hf":
        model = build_hf(cfg)
        return model, lambda ids: model(input_ids=ids, use_cache=False).logits
    model = FusedOlmo(cfg)
    return model, model


def copy_hf_into_fused(hf, fused):
    """Load HF weights into the fused model: q, k, v stacked; up (value) before gate."""
    with torch.no_grad():
        fused.wte.copy_(hf.model.embed_tokens.weight)
        for layer, block in zip(hf.model.layers, fused.blocks):
            att = layer.self_attn
            block.att_proj.weight.copy_(torch.cat([att.q_proj.weight, att.k_proj.weight, att.v_proj.weight]))
            block.attn_out.weight.copy_(att.o_proj.weight)
            block.ff_proj.weight.copy_(torch.cat([layer.mlp.up_proj.weight, layer.mlp.gate_proj.weight]))
            block.ff_out.weight.copy_(layer.mlp.down_proj.weight)
            if has_weight(block.attn_norm):
                block.attn_norm.weight.copy_(layer.input_layernorm.weight)
                block.ff_norm.weight.copy_(layer.post_attention_layernorm.weight)
        if has_weight(fused.ln_f):
            fused.ln_f.weight.copy_(hf.model.norm.weight)


def has_weight(norm):
    return getattr(norm, "weight", None) is not None


def token_windows(batch, seq, vocab):
    """The windows of bench/train_step.rs: token t of window b is (7919·b + 104729·t) mod (vocab − 5) + 5.

    # Shapes
    - returns [batch, seq + 1] int64
    """
    b = torch.arange(batch, dtype=torch.int64)[:, None]
    t = torch.arange(seq + 1, dtype=torch.int64)[None, :]
    return (b * 7919 + t * 104_729) % (vocab - 5) + 5


def available_cpus():
    """CPUs this process may use: the affinity mask, capped by a cgroup v2 quota (as Rust's
    `std::thread::available_parallelism`, which bench/train_step.rs reports)."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()
        if quota != "max":
            n = min(n, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return n


def peak_rss_gib():
    """Peak resident memory of this process (getrusage `ru_maxrss`: KiB on Linux, bytes on macOS)."""
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kib = maxrss / 1024 if platform.system() == "Darwin" else maxrss
    return kib / (1024 * 1024)


def measured_bf16_peak_flops(device, n=8192, iters=20):
    """Achieved FLOP/s of an n×n×n bf16 matmul loop: the denominator of MFU."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for _ in range(iters):
        a @ b
    torch.cuda.synchronize(device)
    return 2.0 * n**3 * iters / (time.perf_counter() - t0)


def parity(cfg, seq):
    """Copy HF weights into the fused model and compare their logits on the bench's windows."""
    torch.manual_seed(0)
    hf, hf_forward = build(cfg, "hf")
    fused, _ = build(cfg, "fused")
    copy_hf_into_fused(hf, fused)
    ids = token_windows(2, seq, cfg["vocab_size"])[:, :-1]
    with torch.no_grad():
        diff = (hf_forward(ids) - fused(ids)).abs().max().item()
    print(f"parity: max |logits_hf - logits_fused| = {diff:.3e} on [2, {seq}]")
    return diff < 1e-4


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="omni_dna_20m", choices=list(PRESETS))
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=250)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads; default: CPUs available")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (torch.autocast, on cpu or cuda)")
    p.add_argument("--impl", default="hf", choices=["hf", "fused"])
    p.add_argument("--parity", action="store_true", help="check hf against fused logits and exit")
    args = p.parse_args()
    if args.steps < 1 or args.batch < 1 or args.seq < 1 or args.warmup < 0:
        p.error("--steps, --batch and --seq must be at least 1, --warmup at least 0")
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda, but torch.cuda.is_available() is False")
    return args


def main():
    args = parse()
    threads = args.threads or available_cpus()
    torch.set_num_threads(threads)
    cfg = preset(args.preset)
    if args.parity:
        sys.exit(0 if parity(cfg, args.seq) else 1)

    device = torch.device(args.device)
    versions = f"torch {torch.__version__}"
    if args.impl == "hf":
        import transformers

        versions += f", transformers {transformers.__version__}"
    print(f"olmo_step: {versions}, {threads} threads of {available_cpus()} available, "
          f"device {args.device}, impl {args.impl}, {'bf16 autocast' if args.bf16 else 'f32'}")

    torch.manual_seed(0)
    model, forward = build(cfg, args.impl)
    model.to(device).train()
    n_torch = sum(p.numel() for p in model.parameters())  # tied weights are listed once
    n_gfm = gfm_num_params(cfg)
    print(f"params: pytorch {n_torch} gfm num_params {n_gfm} ({'match' if n_torch == n_gfm else 'MISMATCH'})")
    if n_torch != n_gfm:
        sys.exit("the PyTorch model differs from gfm's; the comparison would be meaningless")

    optim = torch.optim.AdamW(model.parameters(), lr=LR, betas=BETAS, eps=ADAM_EPS, weight_decay=WEIGHT_DECAY)
    windows = token_windows(args.batch, args.seq, cfg["vocab_size"])  # host side, as gfm's LmBatch
    cuda = device.type == "cuda"

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    times = []
    for i in range(args.warmup + args.steps):
        sync()
        t0 = time.perf_counter()
        inputs = windows[:, :-1].to(device)  # [batch, seq]
        targets = windows[:, 1:].to(device)  # [batch, seq]
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=args.bf16):
            logits = forward(inputs)  # [batch, seq, vocab]
            loss = F.cross_entropy(logits.reshape(-1, cfg["vocab_size"]), targets.reshape(-1))
        loss.backward()
        optim.step()
        optim.zero_grad(set_to_none=True)
        sync()
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
    if not math.isfinite(loss.item()):
        sys.exit(f"loss is {loss.item()}: the step is broken")

    median = sorted(times)[len(times) // 2]  # the upper median, as bench/train_step.rs takes it
    tokens = args.batch * args.seq
    flops = train_flops_per_token(cfg, args.seq) * tokens
    # "pytorch" for the default CPU run; suffixes say what differs from it.
    name = "pytorch" + "-fused" * (args.impl == "fused") + "-cuda" * cuda + "-bf16" * args.bf16
    line = (
        f"{name:<22} preset {args.preset:<14} params {n_gfm:>11} batch {args.batch:>3} seq {args.seq} | "
        f"median step {median:.3f} s | {tokens / median:>9.0f} tokens/s | {flops / median / 1e9:>7.2f} GFLOP/s | "
        f"peak RSS {peak_rss_gib():.2f} GiB"
    )
    if cuda:
        peak = measured_bf16_peak_flops(device)
        line += f" | MFU {100 * flops / median / peak:.1f}% of measured bf16 matmul {peak / 1e12:.0f} TFLOP/s"
        line += f" | peak GPU mem {torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB"
    print(line)


if __name__ == "__main__":
    main()
