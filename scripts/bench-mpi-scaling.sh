#!/usr/bin/env bash
# Scaling on one machine (docs/DISTRIBUTED-SCALING.md): 1 rank × 1 thread, 1 rank × 2 threads and
# 2 ranks × 1 thread (mpirun, CLIPCORE_NUM_THREADS=1) for a contrastive training update, an ELIP
# update and sharded hard-negative mining, each configuration run ROUNDS times (default 3),
# interleaved, the best kept (other work on the machine only ever slows a run down); then loopback
# allreduce bandwidth (DistBench). Prints every run and a summary table with the efficiencies and
# the CPU's vector flags. Not a test: it never fails on a slow number. ~10 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/mpi-env.sh
mpi_env bench-mpi-scaling
[ "${CLIPCORE_SKIP_BUILD:-0}" = "1" ] || { swift build -c release --product clip; swift build -c release --product DistBench; }
rounds=${ROUNDS:-3}
clip=$PWD/.build/release/clip
bench=$PWD/.build/release/DistBench
mpirun=(mpirun --oversubscribe --allow-run-as-root -x CLIPCORE_NUM_THREADS)
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx|fma$)' | tr '\n' ' ')
echo "CPU:$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), $(nproc) cores; flags: $flags"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other jobs on the machine make every number slower)"
scratch=$(mktemp -d /tmp/clipcore-scaling.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
results=$scratch/results.txt
"$clip" data synth --out "$scratch/data" --n 800 --seed 2 --size 64 >/dev/null
timer=(python3 Tools/time_updates.py)

# run WORKLOAD RANKS THREADS LOG -- COMMAND...: one timed training run.
run() {
    local workload=$1 ranks=$2 threads=$3 log=$4; shift 5
    local launch=()
    [ "$ranks" -gt 1 ] && launch=("${mpirun[@]}" -np "$ranks")
    rm -rf "$(dirname "$log")"
    local r
    r=$(CLIPCORE_NUM_THREADS=$threads "${timer[@]}" "$log" 2 -- "${launch[@]}" "$@")
    echo "$workload  ranks $ranks × threads $threads: $r  [flags: $flags]"
    echo "$workload $ranks $threads $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["step_s"])' "$r")" >> "$results"
}

# ELIP configurations (one per rank/thread setting: each run its own output folder).
for cfg in "1 1" "1 2" "2 1"; do
    set -- $cfg
    cat > "$scratch/e-$1-$2.yaml" <<YAML
model_name: Tests/Fixtures/clip/gelu_vocab
output_root: $scratch/e-$1-$2
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
done

for round in $(seq "$rounds"); do
    echo "== round $round of $rounds (load average $(cut -d' ' -f1 /proc/loadavg))"
    for cfg in "1 1" "1 2" "2 1"; do
        set -- $cfg
        run contrastive "$1" "$2" "$scratch/c-$1-$2/train_log.jsonl" -- "$clip" train --model tiny --dataset "$scratch/data" \
            --epochs 1 --train_bs 32 --lr 1e-3 --seed 5 --output-dir "$scratch/c-$1-$2"
        run elip "$1" "$2" "$scratch/e-$1-$2/train_log.jsonl" -- "$clip" elip train --config "$scratch/e-$1-$2.yaml"
        launch=()
        [ "$1" -gt 1 ] && launch=("${mpirun[@]}" -np "$1")
        line=$(CLIPCORE_NUM_THREADS=$2 "${launch[@]}" "$bench" mine --n 50000 --queries 2000 --reps 2 | tail -1)
        echo "mining  ranks $1 × threads $2: $line  [flags: $flags]"
        echo "mining $1 $2 $(sed -E 's/.*best ([0-9.]+) s.*/\1/' <<<"$line")" >> "$results"
    done
done
echo "   contrastive model: $("$clip" info --model "$scratch/c-1-1/last" | grep '^parameters')"
echo "   ELIP mapper: $(stat -c %s "$scratch/e-1-1/mapper_last.safetensors") bytes (mapper_last.safetensors)"

echo "== summary: best of $rounds rounds (seconds per update; mining: per search of 2000 × 50,000, d 512, k 16)"
python3 - "$results" "$flags" <<'PY'
import sys, collections
best = collections.defaultdict(lambda: float("inf"))
for line in open(sys.argv[1]):
    w, r, t, s = line.split()
    best[(w, r, t)] = min(best[(w, r, t)], float(s))
print(f"{'workload':12} {'1x1':>8} {'1r x 2t':>8} {'2r x 1t':>8} {'eff 1r x 2t':>12} {'eff 2r x 1t':>12}   CPU flags")
for w in ("contrastive", "elip", "mining"):
    a, b, c = best[(w, "1", "1")], best[(w, "1", "2")], best[(w, "2", "1")]
    print(f"{w:12} {a:8.4f} {b:8.4f} {c:8.4f} {a / (2 * b):12.0%} {a / (2 * c):12.0%}   {sys.argv[2]}")
PY

echo "== allreduce bandwidth on loopback (shared memory), 2 and 3 ranks × 1 thread"
for n in 2 3; do
    CLIPCORE_NUM_THREADS=1 "${mpirun[@]}" -np "$n" "$bench" allreduce --mb 1,16,64 --reps 5
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
