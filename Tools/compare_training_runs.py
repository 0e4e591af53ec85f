#!/usr/bin/env python3
"""Compares two training runs (scripts/test-mpi-training.sh): the losses of their train_log.jsonl,
update by update, and optionally float32 tensors of safetensors files, within a relative tolerance.
Standard library only.

    compare_training_runs.py LOG_A LOG_B [--rtol 1e-4] [--min-updates 20] [--from-update K]
                             [--tensors A.safetensors B.safetensors]...
Exits 1 naming the first difference past the tolerance."""
import argparse
import json
import struct
import sys


def losses(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            e = json.loads(line)
            if "update" in e and "loss" in e:
                out[e["update"]] = e["loss"]
    return out


def safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        a, b = info["data_offsets"]
        out[name] = struct.unpack("<%df" % ((b - a) // 4), data[a:b])
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("log_a")
    p.add_argument("log_b")
    p.add_argument("--rtol", type=float, default=1e-4)
    p.add_argument("--atol", type=float, default=1e-6)
    p.add_argument("--min-updates", type=int, default=1)
    p.add_argument("--from-update", type=int, default=1)
    p.add_argument("--tensors", nargs=2, action="append", default=[])
    p.add_argument("--tensor-rtol", type=float, default=None)
    # Attention's key bias has an exactly zero gradient (softmax ignores a shift common to all keys):
    # its "gradient" is rounding, which AdamW scales to full steps, so it is not compared.
    p.add_argument("--skip", action="append", default=["self_attn.k_proj.bias"],
                   help="skip tensors whose name ends with this")
    args = p.parse_args()
    a, b = losses(args.log_a), losses(args.log_b)
    keys = sorted(k for k in a if k >= args.from_update)
    if sorted(k for k in b if k >= args.from_update) != keys:
        sys.exit(f"updates differ: {args.log_a} has {len(keys)}, {args.log_b} {len([k for k in b if k >= args.from_update])}")
    if len(keys) < args.min_updates:
        sys.exit(f"only {len(keys)} updates, expected at least {args.min_updates}")
    worst = 0.0
    for k in keys:
        rel = abs(a[k] - b[k]) / max(abs(a[k]), 1e-12)
        worst = max(worst, rel)
        if abs(a[k] - b[k]) > args.rtol * abs(a[k]) + args.atol:
            sys.exit(f"update {k}: loss {a[k]} vs {b[k]} (relative {rel:.3g} > {args.rtol})")
    print(f"losses of {len(keys)} updates agree: worst relative difference {worst:.3g} (tolerance {args.rtol})")
    trtol = args.tensor_rtol if args.tensor_rtol is not None else args.rtol
    for fa, fb in args.tensors:
        ta, tb = safetensors(fa), safetensors(fb)
        if set(ta) != set(tb):
            sys.exit(f"{fa} and {fb} hold different tensors")
        worst, total, compared = 0.0, 0, 0
        for name in sorted(ta):
            if any(name.endswith(s) for s in args.skip):
                continue
            compared += 1
            x, y = ta[name], tb[name]
            if len(x) != len(y):
                sys.exit(f"{name}: {fa} holds {len(x)} values, {fb} {len(y)}")
            scale = max(max((abs(v) for v in x), default=0.0), 1e-6)
            d = max((abs(u - v) for u, v in zip(x, y)), default=0.0) / scale
            worst = max(worst, d)
            total += len(x)
            if d > trtol:
                sys.exit(f"{name}: {fa} and {fb} differ by {d:.3g} of the tensor's largest entry (> {trtol})")
        print(f"{compared} tensors ({total} values) agree: worst difference {worst:.3g} of a tensor's largest entry")


if __name__ == "__main__":
    main()
