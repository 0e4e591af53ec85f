"""Prints the table of Benchmarks/compare-text.sh from its JSON lines (standard library only)."""
import json
import sys

from common import fmt, get, print_loads, ratio

rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
mine = [r for r in rows if r.get("what", "").startswith("sentence_encode") and "ref" not in r]
ours = {r["threads"]: r for r in mine if "variant" not in r}
pooled = {r["threads"]: r for r in mine if r.get("variant") == "buffer_cache"}
st = {r["threads"]: r for r in rows if r.get("ref") == "sentence-transformers"}
ort = {r["threads"]: r for r in rows if r.get("ref") == "onnxruntime"}
diffs = {r["threads"]: r for r in rows if r.get("what") == "embedding_diff"}
loads = [r for r in rows if r.get("what") == "load"]
parts = {r["threads"]: r for r in rows if r.get("what") == "text_breakdown"}
any_row = next(iter(ours.values()), None) or next(iter(st.values()), {})

print(f"all-MiniLM-L6-v2, {any_row.get('n', '?')} captions, batch {any_row.get('batch', '?')}, sorted by length "
      f"(longest first, as sentence-transformers), max_seq_length {any_row.get('max_seq_length', '?')}, fp32")
if ours:
    o = next(iter(ours.values()))
    print(f"OpenBLAS kernel: {o['blas']}; clipcore kernels: {o['kernels']}; CPU flags: {o['cpu_flags']}")
for refs in (st, ort):
    if refs:
        print(f"{next(iter(refs.values()))['ref']}: {next(iter(refs.values()))['versions']}")
print_loads(loads)
print()

print(f"{'threads':>7} | {'clipcore':>9} {'ST':>9} {'ORT':>9} | {'vs ST':>6} {'vs ORT':>7} | "
      f"{'RSS clipcore':>12} {'RSS ST':>7} {'RSS ORT':>8} | {'max|Δ| to ST':>12} {'ORT max|Δ|':>10}")
print(f"{'':>7} | {'sentences/s':^29} | {'':^14} | {'peak MB':^29} |")
for t in sorted(set(ours) | set(st) | set(ort)):
    o, s, x = get(ours, t, "per_s"), get(st, t, "per_s"), get(ort, t, "per_s")
    d = get(diffs, t, "max_abs_diff")
    print(f"{t:>7} | {fmt(o, '9.1f')} {fmt(s, '9.1f')} {fmt(x, '9.1f')} | {fmt(ratio(o, s), '5.2f')}× {fmt(ratio(o, x), '6.2f')}× | "
          f"{fmt(get(ours, t, 'peak_rss_mb'), '12.0f')} {fmt(get(st, t, 'peak_rss_mb'), '7.0f')} {fmt(get(ort, t, 'peak_rss_mb'), '8.0f')} | "
          f"{fmt(d, '12.1e')} {fmt(get(ort, t, 'max_abs_diff_to_st'), '10.1e')}")
for t, p in sorted(pooled.items()):
    print(f"{t:>7} | {p['per_s']:9.1f} {'':>9} {'':>9} | {fmt(ratio(p['per_s'], get(st, t, 'per_s')), '5.2f')}× "
          f"{fmt(ratio(p['per_s'], get(ort, t, 'per_s')), '6.2f')}× | {p['peak_rss_mb']:12.0f} {'':>7} {'':>8} |"
          f"   clipcore, CLIPCORE_BUFFER_CACHE_MB={p.get('buffer_cache_mb', '?')}")
if ours:
    print(f"(clipcore's BufferPool limit in the main rows: {next(iter(ours.values())).get('buffer_cache_mb', '?')} MB, the default)")
bad = [t for t, r in diffs.items() if r["max_abs_diff"] > 1e-5]
if diffs:
    print(f"\nclipcore's embeddings against sentence-transformers': max |Δ| ≤ 1e-5: {'NO, threads ' + str(bad) if bad else 'yes'}"
          f" (smallest cosine {min(r['min_cosine'] for r in diffs.values()):.7f})")
for t, b in sorted(parts.items()):
    print(f"\nclipcore, {t} thread(s), one pass timed by stage: {b['sec']:.2f} s — tokenization {b['tokenize_sec']:.2f} s "
          f"({100 * b['tokenize_share']:.0f}%), encoder {b['encoder_sec']:.2f} s ({100 * b['encoder_share']:.0f}%), "
          f"pooling {b['pool_sec']:.3f} s, normalisation {b['normalize_sec']:.3f} s, rest {b['rest_sec']:.3f} s; "
          f"padding {100 * b['padding_share']:.0f}% of {b['padded_tokens']} token slots, longest batch {b['longest_batch']} tokens")
