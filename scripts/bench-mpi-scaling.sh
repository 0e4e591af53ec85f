#!/usr/bin/env bash
# Scaling on one machine (docs/DISTRIBUTED-SCALING.md): 1 rank × 1 thread, 1 rank × 2 threads and
# 2 ranks × 1 thread (mpirun, CLIPCORE_NUM_THREADS=1) for a contrastive training update, an ELIP
# update and sharded hard-negative mining; then loopback allreduce bandwidth (DistBench). Prints one
# line per measurement with the CPU's vector flags. Not a test: it never fails on a slow number.
# About 10 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${CLIPCORE_SKIP_BUILD:-0}" = "1" ] || { swift build -c release --product clip; swift build -c release --product DistBench; }
clip=$PWD/.build/release/clip
bench=$PWD/.build/release/DistBench
mpirun=(mpirun --oversubscribe --allow-run-as-root -x CLIPCORE_NUM_THREADS)
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx|fma$)' | tr '\n' ' ')
echo "CPU:$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), $(nproc) cores; flags: $flags"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other jobs on the machine make every number slower)"
scratch=$(mktemp -d /tmp/clipcore-scaling.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
"$clip" data synth --out "$scratch/data" --n 800 --seed 2 --size 64 >/dev/null
timer=(python3 Tools/time_updates.py)

# run LABEL RANKS THREADS LOG -- COMMAND...: one timed training run.
run() {
    local label=$1 ranks=$2 threads=$3 log=$4; shift 5
    local launch=()
    [ "$ranks" -gt 1 ] && launch=("${mpirun[@]}" -np "$ranks")
    local r
    r=$(CLIPCORE_NUM_THREADS=$threads "${timer[@]}" "$log" 2 -- "${launch[@]}" "$@")
    echo "$label  ranks $ranks × threads $threads: $r  [flags: $flags]"
}

echo "== contrastive training update: tiny preset (7.8M parameters), image 64, global batch 32, 20 updates"
for cfg in "1 1" "1 2" "2 1"; do
    set -- $cfg
    out="$scratch/c-$1-$2"
    run contrastive "$1" "$2" "$out/train_log.jsonl" -- "$clip" train --model tiny --dataset "$scratch/data" --epochs 1 \
        --train_bs 32 --lr 1e-3 --seed 5 --output-dir "$out"
done

echo "   model: $("$clip" info --model "$scratch/c-1-1/last" | grep '^parameters')"

echo "== ELIP update: CLIP fixture, query objective, global batch 16, 20 updates"
for cfg in "1 1" "1 2" "2 1"; do
    set -- $cfg
    name="e-$1-$2"
    cat > "$scratch/$name.yaml" <<YAML
model_name: Tests/Fixtures/clip/gelu_vocab
output_root: $scratch/$name
dataset: {name: $scratch/data, split: train}
max_train_examples: 320
prompt_tokens: 2
mapper_hidden: 64
objective: query
batch_size: 16
epochs: 1
lr: 3.0e-3
warmup: 4
seed: 11
YAML
    run elip "$1" "$2" "$scratch/$name/train_log.jsonl" -- "$clip" elip train --config "$scratch/$name.yaml"
done

echo "   mapper: $(stat -c %s "$scratch/e-1-1/mapper_last.safetensors") bytes (mapper_last.safetensors)"

echo "== sharded mining: 2000 captions × 50000 images, d 512, k 16 (DistBench mine)"
CLIPCORE_NUM_THREADS=1 "$bench" mine --n 50000 --queries 2000 --reps 3 | tail -1
CLIPCORE_NUM_THREADS=2 "$bench" mine --n 50000 --queries 2000 --reps 3 | tail -1
CLIPCORE_NUM_THREADS=1 "${mpirun[@]}" -np 2 "$bench" mine --n 50000 --queries 2000 --reps 3 | tail -1

echo "== allreduce bandwidth on loopback (shared memory), 2 and 3 ranks × 1 thread"
for n in 2 3; do
    CLIPCORE_NUM_THREADS=1 "${mpirun[@]}" -np "$n" "$bench" allreduce --mb 1,16,64 --reps 5
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
