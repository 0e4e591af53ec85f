"""PyTorch reference of `SpeedBench heads-mlp`: epochs of projection-head training per second.

The same head, loss, optimizer and data sizes as Benchmarks/SpeedBench/HeadsBench.swift: two towers
(Linear(768, 1024) -> GELU -> Dropout(0.1) -> Linear(1024, 512) -> LayerNorm(512) -> F.normalize),
symmetric InfoNCE at temperature 0.07, AdamW (lr 1e-4, weight decay 0.01 on matrices, none on biases
and norms), `--pairs` random pairs (unit-normalised Gaussian rows), shuffled batches of `--batch`
with the last partial batch dropped. One warm-up epoch, then `--epochs` timed epochs; per_s is
epochs per second of the median epoch; cpu_sec is the
process's CPU time per timed epoch (all threads). Prints one JSON line, as SpeedBench does.

Usage: python heads_ref.py [--pairs 100000] [--batch 512] [--epochs 3] [--threads N]
Run from the venv of Benchmarks/compare-heads.sh (torch CPU).
"""

import argparse
import json
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Tower(nn.Module):
    def __init__(self, dim_in, hidden, dim_out, dropout):
        super().__init__()
        self.fc1 = nn.Linear(dim_in, hidden)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, dim_out)
        self.norm = nn.LayerNorm(dim_out)

    def forward(self, x):
        return F.normalize(self.norm(self.fc2(self.drop(F.gelu(self.fc1(x))))), dim=-1)


class Heads(nn.Module):
    def __init__(self, dim=768, hidden=1024, out=512, dropout=0.1):
        super().__init__()
        self.image_head = Tower(dim, hidden, out, dropout)
        self.text_head = Tower(dim, hidden, out, dropout)

    def forward(self, images, texts):
        return self.image_head(images), self.text_head(texts)


def info_nce(zi, zt, temperature):
    logits = zi @ zt.t() / temperature
    labels = torch.arange(zi.shape[0])
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dim = 768
    images = F.normalize(torch.randn(args.pairs, dim), dim=-1)
    texts = F.normalize(torch.randn(args.pairs, dim), dim=-1)
    heads = Heads(dim=dim)
    decay = [p for p in heads.parameters() if p.dim() >= 2]
    plain = [p for p in heads.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": plain, "weight_decay": 0.0}],
                                  lr=1e-4)
    heads.train()
    steps = args.pairs // args.batch
    last = [0.0]

    def epoch():
        order = torch.randperm(args.pairs)
        for s in range(steps):
            idx = order[s * args.batch:(s + 1) * args.batch]
            optimizer.zero_grad()
            zi, zt = heads(images[idx], texts[idx])
            loss = info_nce(zi, zt, 0.07)
            loss.backward()
            optimizer.step()
        last[0] = loss.item()

    epoch()
    warm_loss = last[0]
    times = []
    cpu0 = time.process_time()
    for _ in range(max(1, args.epochs)):
        t0 = time.perf_counter()
        epoch()
        times.append(time.perf_counter() - t0)
    sec = statistics.median(times)
    cpu_sec = (time.process_time() - cpu0) / len(times)
    cfg = torch.__config__.show()
    print(json.dumps({
        "what": "heads_mlp_train_epoch", "impl": "pytorch", "pairs": args.pairs, "batch": args.batch, "steps": steps,
        "threads": torch.get_num_threads(), "epochs": len(times), "sec": round(sec, 4), "per_s": round(1 / sec, 4),
        "steps_per_s": round(steps / sec, 2), "epoch_secs": [round(t, 3) for t in times],
        "cpu_sec": round(cpu_sec, 4),
        "loss_after_warmup": round(warm_loss, 5), "loss": round(last[0], 5),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "torch": torch.__version__, "mkl": torch.backends.mkl.is_available(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "blas": "MKL" if "BLAS_INFO=mkl" in cfg else "other",
    }), flush=True)


if __name__ == "__main__":
    main()
