"""Timing of the original AllenInstitute/MMIDAS PyTorch code (`cpl_mixVAE`) on random data of the
gene-embedding shape, the reference beside `cargo bench --bench mmidas`.

None of the original code is in gfm: clone it next to the project and pass its path,
    git clone https://github.com/AllenInstitute/MMIDAS ../MMIDAS   # measured at commit 0963ca7
    pip install torch numpy matplotlib
    python bench/reference/mmidas_original.py --src ../MMIDAS --threads 2
The original feeds every arm the same input size. gfm's arms read 1,280 (NT) and 1,536 (ESM3)
dims; here both arms read (1,280 + 1,536) / 2 = 1,408 dims, which costs the first and last layers
exactly the multiply-adds of the two real sizes. Everything else (hidden 100, latent 10, 4 hidden
layers per encoder and decoder, batch norm, Gumbel-softmax, Adam lr 1e-3) is the original's.

Prints one JSON line: seconds per epoch of plain training, and the wall time of a prune run
(`--prune-rounds` rounds of `--epochs-prune` epochs each, after `--epochs` epochs).
"""
import argparse
import json
import os
import platform
import sys
import tempfile
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--src", required=True, help="a clone of github.com/AllenInstitute/MMIDAS")
    p.add_argument("--genes", type=int, default=20000)
    p.add_argument("--dim", type=int, default=1408)
    p.add_argument("--categories", type=int, default=50)
    p.add_argument("--state-dim", type=int, default=2)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--epochs-prune", type=int, default=1)
    p.add_argument("--prune-rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    sys.path.insert(0, os.path.abspath(a.src))
    import matplotlib
    matplotlib.use("Agg")
    import numpy as np
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    from mmidas.cpl_mixvae import cpl_mixVAE

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    data = torch.randn(a.genes, a.dim)
    idx = torch.arange(a.genes)
    train = DataLoader(TensorDataset(data, idx), batch_size=a.batch, shuffle=True, drop_last=True)
    valid = DataLoader(TensorDataset(data[:a.batch], idx[:a.batch]), batch_size=a.batch)

    def model(folder):
        m = cpl_mixVAE(saving_folder=folder, device=torch.device("cpu"), save_flag=True)
        os.makedirs(os.path.join(folder, "model"), exist_ok=True)
        m.init_model(n_categories=a.categories, state_dim=a.state_dim, input_dim=a.dim, fc_dim=100, lowD_dim=10,
                     x_drop=0.25, lam=1, n_arm=2, temp=1.0, tau=0.005, beta=1.0)
        return m

    with tempfile.TemporaryDirectory() as tmp:
        m = model(tmp)
        t0 = time.perf_counter()
        m.train(train, valid, n_epoch=a.epochs, n_epoch_p=0, lr=1e-3)
        plain = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        m = model(tmp)
        t0 = time.perf_counter()
        m.train(train, valid, n_epoch=a.epochs, n_epoch_p=a.epochs_prune, lr=1e-3, min_con=0.99, max_prun_it=a.prune_rounds)
        prune = time.perf_counter() - t0

    print(json.dumps({
        "impl": "AllenInstitute/MMIDAS cpl_mixVAE (PyTorch)",
        "torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version(),
        "threads": a.threads, "genes": a.genes, "dim_per_arm": a.dim, "categories": a.categories,
        "batch": a.batch, "epochs": a.epochs,
        "s_per_epoch": plain / a.epochs, "epochs_per_s": a.epochs / plain,
        "prune_rounds": a.prune_rounds, "epochs_prune": a.epochs_prune, "prune_run_s": prune,
    }))


if __name__ == "__main__":
    main()
