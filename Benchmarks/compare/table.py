"""Prints the comparison table of Benchmarks/compare.sh from its JSON lines (standard library only)."""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
ours = {r["what"]: r for r in rows if "blas" in r and "ref" not in r and r.get("linear", "float32") == "float32"}
reduced = {p: {r["what"]: r for r in rows if "ref" not in r and r.get("linear") == p} for p in ("int16", "int8", "bf16")}
reduced = {p: results for p, results in reduced.items() if results}
pt = {r["what"]: r for r in rows if r.get("ref") == "pytorch"}
ort = {r["what"].removeprefix("ort_"): r for r in rows if r.get("ref") == "onnxruntime"}
kernel = next((r["blas"] for r in ours.values()), "?")
cpu = next((r["cpu"] for r in rows if "cpu" in r), None)

def table(ours, title):
    print(title)
    print(f"{'work':34} {'clipcore':>10} {'PyTorch':>10} {'ORT':>10} {'vs PyTorch':>11} {'vs ORT':>8}  {'target':18} {'met':>4}")
    for what, unit, kind, target, label in checks:
        o, p, x = ours.get(what), pt.get(what), ort.get(what)
        if o is None:
            continue
        if unit == "s/query":
            val = lambda r: r["sec"] if r else None
        else:
            val = lambda r: r["per_s"] if r else None
        vo, vp, vx = val(o), val(p), val(x)
        fmt = lambda v: f"{v:10.2f}" if v is not None else f"{'–':>10}"
        if unit == "s/query":
            rp = vp / vo if vp else None          # speed-up: PyTorch seconds / ours
            rx = None
            met = vo <= target
        else:
            rp = vo / vp if vp else None
            rx = vo / vx if vx else None
            met = (rx if kind == "ort" else rp) is not None and (rx if kind == "ort" else rp) >= target
        r = lambda v: f"{v:.2f}×" if v is not None else "–"
        print(f"{what + ' (' + unit + ')':34} {fmt(vo)} {fmt(vp)} {fmt(vx)} {r(rp):>11} {r(rx):>8}  {label:18} {'yes' if met else 'NO':>4}")


checks = [
    ("image_encode_b32", "img/s", "ort", 1.1, "≥ 1.1× ORT"),
    ("text_encode_b32_len77", "texts/s", "ort", 1.1, "≥ 1.1× ORT"),
    ("elip_train_step_b40", "samples/s", "pytorch", 3.0, "≥ 3× PyTorch"),
    ("elip_query_step_b8", "samples/s", "pytorch", 3.0, "≥ 3× PyTorch"),
    ("rerank_k100_one_query", "s/query", "seconds", 1.5, "≤ 1.5 s"),
]
table(ours, f"OpenBLAS kernel: {kernel}; 2 threads; {'CPU ' + cpu + '; ' if cpu else ''}ViT-B/32 shapes, random weights, fp32")
for p, results in reduced.items():
    table(results, f"\nclipcore with the {p} linear path (Precision.linear = .{p}; references fp32)")
    # against ONNX Runtime's own int8 model (dynamic quantisation)
    for what, unit in (("image_encode_b32", "img/s"), ("text_encode_b32_len77", "texts/s")):
        o, x = results.get(what), ort.get("int8_" + what)
        if o and x:
            ratio = o["per_s"] / x["per_s"]
            print(f"  {what + ' vs ORT int8 (' + unit + ')':40} {o['per_s']:8.2f} vs {x['per_s']:8.2f}: {ratio:.2f}× "
                  f"(target ≥ 1.2×: {'yes' if ratio >= 1.2 else 'NO'})")
print("\npeak RSS (MB): clipcore's case in its own process; PyTorch's is the script's peak so far")
for label, results in (("", ours), *((" " + p, r) for p, r in reduced.items())):
    for what in ["image_encode_b32", "elip_train_step_b40", "elip_query_step_b8"]:
        o, p = results.get(what), pt.get(what)
        if o and p:
            ratio = o["peak_rss_mb"] / p["peak_rss_mb_so_far"]
            print(f"  {what + label:30} clipcore {o['peak_rss_mb']:7.0f}  PyTorch {p['peak_rss_mb_so_far']:7.0f}  ratio {ratio:.2f} (target ≤ 0.80: {'yes' if ratio <= 0.8 else 'NO'})")
for r in rows:
    if "_vs_float32_b" in r["what"]:
        p = r["what"].split("_vs_")[0]
        print(f"\n{p} vs float32 embeddings (smallest cosine over {r['what'].split('_b')[-1]} items): "
              f"image {r['image_min_cos']:.7f}, text {r['text_min_cos']:.7f}, ELIP-guided {r['guided_min_cos']:.7f}; "
              f"re-rank Kendall tau at k = 100: {r.get('rerank_kendall_tau_k100', float('nan')):.4f} (mean of "
              f"{r.get('rerank_queries', 1)} queries, smallest {r.get('rerank_kendall_tau_k100_min', float('nan')):.4f}; "
              f"{r.get('kernel', '?')})")

print("\nscaling: per-item time by batch (flat within 15% = linear throughput)")
for label, results in (("", ours), *((" " + p, r) for p, r in reduced.items())):
    for kind in ["image_encode", "text_encode"]:
        per = {}
        for w, r in results.items():
            if w.startswith(kind + "_b"):
                per[r["batch"]] = r["sec"] / r["batch"]
        if per:
            base = per[max(per)]
            cells = "  ".join(f"b{b}: {1000 * t:.1f} ms ({t / base:.2f})" for b, t in sorted(per.items()))
            flat = f"; b1 / b8 per item {per[1] / per[8]:.2f} (target ≤ 1.3: {'yes' if per[1] / per[8] <= 1.3 else 'NO'})" \
                if 1 in per and 8 in per else ""
            print(f"  {kind + label:20} {cells}{flat}")
gallery = lambda r: int(r["what"].split("gallery")[1].split("_")[0])
mining = sorted((r for w, r in ours.items() if w.startswith("mining_q10000_")), key=gallery)
if len(mining) == 2:
    a, b = mining
    ga, gb = gallery(a), gallery(b)
    print(f"  mining 10k queries: {ga} images {a['sec']:.1f} s, {gb} images {b['sec']:.1f} s: "
          f"time ratio {b['sec'] / a['sec']:.2f} for {gb / ga:.0f}× the gallery")
for w, r in ours.items():
    if w.startswith("mining_q100000_") or w.startswith("checkpoint") or w.startswith("clip_train"):
        print(f"  {w:34} {r['sec']:.3f} s  peak RSS {r['peak_rss_mb']:.0f} MB")
