"""scikit-learn reference of `SpeedBench linear-probe`: one LogisticRegression(C, solver="lbfgs") fit on
synthetic embedding-like features, timed.

`--write FILE` makes the data set (deterministic, seed 31) and saves it as safetensors (train_x, train_y,
test_x, test_y; float32 features, int64 labels), the file both programs read. The features are L2-normalised
rows: a direction every row shares, plus `--signal` times the row's class centre (a random unit vector),
plus isotropic Gaussian noise of norm about 1; class sizes are unequal (weights uniform in [0.5, 1.5]),
as in Tools/fixtures/linear_probe.py.

`--data FILE` fits scikit-learn's LogisticRegression(C=--c, tol=--tol, max_iter=--max-iter) on train and
scores test; prints one JSON line, as SpeedBench does: seconds of the fit (wall and CPU, all threads), iterations, test accuracy,
the objective at the solution (mean cross-entropy + |W|^2 / (2 C n), float64), the BLAS in use.
`--float64` hands scikit-learn float64 features (it keeps float32 input as float32).

Usage: python linear_probe_ref.py --write FILE [--train 50000] [--test 10000] [--dim 512] [--classes 100]
       python linear_probe_ref.py --data FILE [--c 1.0] [--threads N] [--float64]
Run from the venv of Benchmarks/compare-eval.sh (scikit-learn 1.9.1).
"""

import argparse
import sys
import json
import resource
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Tools"))
from fixtures.linear_probe import features  # the fixture's generator: embedding-like class clusters  # noqa: E402


def write(args):
    from safetensors.numpy import save_file
    rng = np.random.default_rng(31)
    x, y = features(rng, args.train + args.test, args.dim, args.classes, args.signal)
    save_file({"train_x": x[:args.train], "train_y": y[:args.train], "test_x": x[args.train:], "test_y": y[args.train:]},
              args.write, metadata={"generator": "Benchmarks/linear_probe_ref.py --write", "signal": repr(args.signal)})


def objective(x, y, coef, intercept, c):
    z = x.astype(np.float64) @ coef.T.astype(np.float64) + intercept
    m = z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z - m).sum(axis=1)) + m[:, 0]
    return float(np.mean(lse - z[np.arange(len(y)), y]) + (coef.astype(np.float64) ** 2).sum() / (2 * c * len(y)))


def fit(args):
    import sklearn
    from safetensors.numpy import load_file
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_info, threadpool_limits
    data = load_file(args.data)
    xtr, ytr, xte, yte = data["train_x"], data["train_y"], data["test_x"], data["test_y"]
    if args.float64:
        xtr, xte = xtr.astype(np.float64), xte.astype(np.float64)
    with threadpool_limits(limits=args.threads):
        t0, c0 = time.perf_counter(), time.process_time()
        model = LogisticRegression(C=args.c, tol=args.tol, max_iter=args.max_iter).fit(xtr, ytr)
        sec, cpu = time.perf_counter() - t0, time.process_time() - c0
        accuracy = float(model.score(xte, yte))
    blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
    print(json.dumps({
        "what": f"linear_probe_n{len(ytr)}_d{xtr.shape[1]}_k{len(model.classes_)}", "impl": "sklearn",
        "dtype": str(xtr.dtype), "threads": args.threads, "C": args.c, "sec": round(sec, 4), "cpu_sec": round(cpu, 4),
        "iterations": int(model.n_iter_[0]), "accuracy": accuracy,
        "objective": objective(xtr, ytr, model.coef_, model.intercept_, args.c),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "blas": blas[0].get("internal_api", "?") + " " + str(blas[0].get("architecture", "?")) if blas else "?",
        "sklearn": sklearn.__version__}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--write")
    ap.add_argument("--data")
    ap.add_argument("--train", type=int, default=50_000)
    ap.add_argument("--test", type=int, default=10_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--classes", type=int, default=100)
    ap.add_argument("--signal", type=float, default=0.16)
    ap.add_argument("--c", type=float, default=1.0)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--max-iter", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--float64", action="store_true")
    args = ap.parse_args()
    if args.write:
        write(args)
    elif args.data:
        fit(args)
    else:
        ap.error("--write FILE or --data FILE")


if __name__ == "__main__":
    main()
