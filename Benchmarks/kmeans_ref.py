"""faiss-python reference of `SpeedBench kmeans`: k-means seconds with faiss.Kmeans.

The same data and settings as Benchmarks/SpeedBench/KMeansBench.swift: `--points` × `--dim` float32
rows made by a counter hash (splitmix64; bit-identical to the Swift side, whose checksum both print),
`--clusters` centroids, `--iterations` iterations, seed 1234, one run (nredo 1), faiss's default
sampling (at most 256 points per centroid train), then every point's nearest centroid (the index's
search, as KMeans.fit returns assignments). Recent faiss stops once the objective no longer changes
(on this data after 9 of 20 iterations; clipcore's KMeans skips the search of such iterations, with
the same result); `--all-iterations` switches that off (early_stop_threshold -1) so that faiss runs
all 20 searches. The JSON line says how many iterations ran. One warm-up run, then `--reps` timed runs; sec is the
median. Prints one JSON line, as SpeedBench does.

Usage: python kmeans_ref.py [--points 50000] [--dim 512] [--clusters 100] [--iterations 20] [--reps 3] [--threads N]
                            [--all-iterations]
Run from the venv of Benchmarks/compare-kmeans.sh (faiss-cpu).
"""

import argparse
import json
import os
import resource
import statistics
import time

import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def unit(counter):
    """splitmix64 of each counter, top 24 bits as a float32 in [0, 1) (exact)."""
    z = counter.astype(np.uint64) + GOLDEN
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(40)).astype(np.float32) * np.float32(1.0 / 16777216.0)).astype(np.float32)


def data(points, dim, clusters):
    """Row i: centre (i mod clusters) + noise; centres and noise uniform from the hash, in float32."""
    centres = unit(np.arange(clusters * dim, dtype=np.uint64) + np.uint64(1 << 40)) * np.float32(2) - np.float32(1)
    centres = centres.reshape(clusters, dim)
    noise = unit(np.arange(points * dim, dtype=np.uint64)) * np.float32(2) - np.float32(1)
    x = centres[np.arange(points) % clusters] + np.float32(0.5) * noise.reshape(points, dim)
    return np.ascontiguousarray(x, dtype=np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=50_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--clusters", type=int, default=100)
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--all-iterations", action="store_true", help="no early stop: run every iteration")
    args = ap.parse_args()
    import faiss
    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    x = data(args.points, args.dim, args.clusters)

    def run():
        extra = {}
        if args.all_iterations and hasattr(faiss.ClusteringParameters(), "early_stop_threshold"):
            extra["early_stop_threshold"] = -1.0
        km = faiss.Kmeans(args.dim, args.clusters, niter=args.iterations, nredo=1, seed=1234, verbose=False, **extra)
        km.train(x)
        _, ids = km.index.search(x, 1)
        return km, ids

    run()
    secs = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        km, ids = run()
        secs.append(time.perf_counter() - t0)
    sec = statistics.median(secs)
    print(json.dumps({
        "what": f"kmeans_n{args.points}_d{args.dim}_k{args.clusters}_it{args.iterations}", "impl": "faiss-python" + ("-all-iterations" if args.all_iterations else ""),
        "faiss": faiss.__version__, "threads": args.threads or faiss.omp_get_max_threads(), "sec": round(sec, 4),
        "secs": [round(s, 4) for s in secs], "objective": float(km.obj[-1]), "iterations_run": len(km.obj), "clusters_used": int(len(np.unique(ids))),
        "checksum": float(x.astype(np.float64).sum()),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}))


if __name__ == "__main__":
    main()
