"""Prints the table of Benchmarks/compare-heads.sh from its JSON lines (standard library only)."""
import json
import sys

from common import fmt, get, print_loads, ratio

rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
epochs = [r for r in rows if r.get("what") == "heads_mlp_train_epoch"]
ours = {r["threads"]: r for r in epochs if r["impl"] == "clipcore"}
ref = {r["threads"]: r for r in epochs if r["impl"] == "pytorch"}
loads = [r for r in rows if r.get("what") == "load"]
parts = {r.get("threads", 0): r for r in rows if r.get("what") == "heads_mlp_breakdown"}
any_row = next(iter(ours.values()), None) or next(iter(ref.values()), {})

print(f"mlp head (768 → 1024 → GELU → dropout 0.1 → 512 → LayerNorm → L2, two towers), symmetric InfoNCE (T 0.07), "
      f"AdamW lr 1e-4, {any_row.get('pairs', '?')} random pairs, batch {any_row.get('batch', '?')} "
      f"({any_row.get('steps', '?')} steps an epoch), fp32")
if ours:
    o = next(iter(ours.values()))
    print(f"OpenBLAS kernel: {o['blas']}; clipcore kernels: {o['kernels']}; CPU flags: {o['cpu_flags']}")
if ref:
    r = next(iter(ref.values()))
    print(f"PyTorch {r['torch']} (BLAS {r['blas']}, CPU capability {r['cpu_capability']})")
print_loads(loads)
print()

print(f"{'threads':>7} | {'clipcore':>9} {'PyTorch':>9} | {'ratio':>6} | {'s/epoch clipcore':>16} {'PyTorch':>8} | "
      f"{'CPU s/epoch clipcore':>20} {'PyTorch':>8} | {'RSS clipcore':>12} {'PyTorch':>8} | {'loss clipcore':>13} {'PyTorch':>8}")
print(f"{'':>7} | {'epochs/s':^19} | {'':>6} | {'wall, median':^25} | {'all threads':^29} | {'peak MB':^21} | {'last batch':^22}")
for t in sorted(set(ours) | set(ref)):
    o, p = get(ours, t, "per_s"), get(ref, t, "per_s")
    print(f"{t:>7} | {fmt(o, '9.4f')} {fmt(p, '9.4f')} | {fmt(ratio(o, p), '5.2f')}× | "
          f"{fmt(get(ours, t, 'sec'), '16.2f')} {fmt(get(ref, t, 'sec'), '8.2f')} | "
          f"{fmt(get(ours, t, 'cpu_sec'), '20.2f')} {fmt(get(ref, t, 'cpu_sec'), '8.2f')} | "
          f"{fmt(get(ours, t, 'peak_rss_mb'), '12.0f')} {fmt(get(ref, t, 'peak_rss_mb'), '8.0f')} | "
          f"{fmt(get(ours, t, 'loss'), '13.4f')} {fmt(get(ref, t, 'loss'), '8.4f')}")
for t in sorted(set(ours) | set(ref)):
    print(f"  {t} thread(s), each timed epoch (s): clipcore {get(ours, t, 'epoch_secs')}, PyTorch {get(ref, t, 'epoch_secs')}")
for t, b in sorted(parts.items()):
    shares = ", ".join(f"{k[:-6]} {100 * v:.0f}%" for k, v in b.items() if k.endswith("_share"))
    print(f"clipcore, {t} thread(s), {b['step_ms']:.1f} ms a step: {shares}")
