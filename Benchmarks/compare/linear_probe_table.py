"""Prints the linear-probe table of Benchmarks/compare-eval.sh from its JSON lines (standard library only)."""
import json
import sys

from common import fmt, print_loads

rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
fits = [r for r in rows if str(r.get("what", "")).startswith("linear_probe_")]
ours = {r["threads"]: r for r in fits if r.get("impl") == "clipcore"}
ref = {}
for r in fits:
    if r.get("impl") == "sklearn":
        ref.setdefault(r["threads"], {})[r["dtype"]] = r
loads = [r for r in rows if r.get("what") == "load" and not r["before"].startswith("kmeans")]
if not fits:
    sys.exit(0)

first = fits[0]
print(f"linear probe: {first['what']} (multinomial logistic regression, L-BFGS, C {first['C']}, tol 1e-4, from zero)")
if ours:
    o = next(iter(ours.values()))
    print(f"clipcore: OpenBLAS kernel {o['blas']}, kernels {o['kernels']}")
if ref:
    r = next(iter(next(iter(ref.values())).values()))
    print(f"scikit-learn {r['sklearn']} (BLAS {r['blas']})")
print_loads(loads)
print()
best = min((r["sec"] for d in ref.values() for r in d.values()), default=None)
print(f"{'threads':>7} | {'clipcore s':>10} {'sklearn f32':>11} {'f64':>8} | {'ratio':>6} {'vs best':>7} | {'iterations':>10} {'sklearn':>7} | "
      f"{'accuracy':>8} {'sklearn':>7} | {'objective':>9} {'sklearn':>9} | {'CPU s':>8} {'sklearn':>8}")
for t in sorted(set(ours) | set(ref)):
    o, s = ours.get(t, {}), ref.get(t, {})
    s32, s64 = s.get("float32", {}), s.get("float64", {})
    fastest = min((x for x in (s32, s64) if x), key=lambda x: x["sec"], default={})
    ratio = fastest["sec"] / o["sec"] if o and fastest else None
    print(f"{t:>7} | {fmt(o.get('sec'), '10.2f')} {fmt(s32.get('sec'), '11.2f')} {fmt(s64.get('sec'), '8.2f')} | "
          f"{fmt(ratio, '5.2f')}× {fmt(best / o['sec'] if o and best else None, '6.2f')}× | {fmt(o.get('iterations'), '10d')} {fmt(fastest.get('iterations'), '7d')} | "
          f"{fmt(o.get('accuracy'), '8.4f')} {fmt(fastest.get('accuracy'), '7.4f')} | "
          f"{fmt(o.get('objective'), '9.6f')} {fmt(fastest.get('objective'), '9.6f')} | "
          f"{fmt(o.get('cpu_sec'), '8.2f')} {fmt(fastest.get('cpu_sec'), '8.2f')}")
print("ratio: scikit-learn's faster run (float32 or float64 features) over clipcore's at the same thread count, wall seconds")
print("of one fit; vs best: scikit-learn's fastest run at any thread count over clipcore's; CPU s: all threads")
