#!/usr/bin/env bash
# Data-parallel training under mpirun matches one process (docs/DISTRIBUTED.md): with the same global
# batch and seed, the loss of every update within 1e-4 relative, and the final weights close
# (Tools/compare_training_runs.py). Contrastive: 2 ranks over 20 updates; 3 ranks with an uneven split,
# several captions per image and gradient accumulation; DINO distillation towards a teacher on 2 ranks;
# 2 ranks killed mid-run and resumed against an uninterrupted 2-rank run. ELIP: ELIP-S (query loss,
# prompt dropout) on 2 ranks over 24 updates, ELIP with CLIP on 3 ranks (query chunks, accumulation),
# the pairs objective on 2 ranks, and 2 ranks killed and resumed. About 1 minute. Run by
# scripts/test-mpi.sh (which builds clip).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/mpi-env.sh
mpi_env test-mpi-training
export CLIPCORE_NUM_THREADS=1
clip=.build/release/clip
mpirun=(mpirun --oversubscribe --allow-run-as-root -x CLIPCORE_NUM_THREADS)
compare=(python3 Tools/compare_training_runs.py)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$clip" data synth --out "$scratch/data" --n 200 --seed 2 --size 64 >/dev/null

# MARK: - Contrastive
# 160 training images in global batches of 8: 20 updates.
args=(--model Tests/Fixtures/clip/gelu_vocab --dataset "$scratch/data" --epochs 1 --train_bs 8 --lr 1e-3 --seed 5)
echo "== contrastive: 1 process vs mpirun -np 2, 20 updates"
"$clip" train "${args[@]}" --output-dir "$scratch/c1" >/dev/null
timeout 600 "${mpirun[@]}" -np 2 "$clip" train "${args[@]}" --output-dir "$scratch/c2" >/dev/null
"${compare[@]}" "$scratch/c1/train_log.jsonl" "$scratch/c2/train_log.jsonl" --min-updates 20 \
    --tensors "$scratch/c1/last/model.safetensors" "$scratch/c2/last/model.safetensors" --tensor-rtol 1e-3
[ -f "$scratch/c2/test_metric.json" ] || { echo "rank 0 wrote no test_metric.json" >&2; exit 1; }
# The comparison can fail: another seed's run (other batches, other initial weights) must not pass.
"$clip" train --model Tests/Fixtures/clip/gelu_vocab --dataset "$scratch/data" --epochs 1 --train_bs 8 --lr 1e-3 --seed 6 \
    --output-dir "$scratch/c6" >/dev/null
if "${compare[@]}" "$scratch/c1/train_log.jsonl" "$scratch/c6/train_log.jsonl" --min-updates 20 >/dev/null 2>&1; then
    echo "the comparison passed two runs of different seeds" >&2; exit 1
fi

echo "== contrastive: 1 process vs mpirun -np 3 (batches of 7 split 2/2/3, all captions of each image, grad_accum 2)"
args3=(--model Tests/Fixtures/clip/gelu_vocab --dataset "$scratch/data" --epochs 1 --train_bs 7 --lr 1e-3 --seed 9
       --multi-positive --max-captions-per-image 2 --grad_accum 2)
"$clip" train "${args3[@]}" --output-dir "$scratch/m1" >/dev/null
timeout 600 "${mpirun[@]}" -np 3 "$clip" train "${args3[@]}" --output-dir "$scratch/m3" >/dev/null
"${compare[@]}" "$scratch/m1/train_log.jsonl" "$scratch/m3/train_log.jsonl" --min-updates 10 \
    --tensors "$scratch/m1/last/model.safetensors" "$scratch/m3/last/model.safetensors" --tensor-rtol 1e-3

echo "== contrastive: 1 process vs mpirun -np 2 (DINO towards a teacher: heads, prototypes, moving averages, teacher features gathered, + InfoNCE)"
argsd=(--model Tests/Fixtures/clip/gelu_vocab --dataset "$scratch/data" --epochs 1 --train_bs 8 --lr 1e-3 --seed 5
       --distiller dino --teacher Tests/Fixtures/clip/gelu_vocab --infonce-weight 0.5
       --image-head-n-layers 2 --text-head-n-layers 2 --prototypes 16)
"$clip" train "${argsd[@]}" --output-dir "$scratch/d1" >/dev/null
timeout 600 "${mpirun[@]}" -np 2 "$clip" train "${argsd[@]}" --output-dir "$scratch/d2" >/dev/null
"${compare[@]}" "$scratch/d1/train_log.jsonl" "$scratch/d2/train_log.jsonl" --min-updates 20 \
    --tensors "$scratch/d1/last/model.safetensors" "$scratch/d2/last/model.safetensors" \
    --tensors "$scratch/d1/last/objective.safetensors" "$scratch/d2/last/objective.safetensors" --tensor-rtol 1e-3

echo "== contrastive: mpirun -np 2 killed mid-run (update 8 or later) and resumed vs uninterrupted"
argsr=(--model Tests/Fixtures/clip/gelu_vocab --dataset "$scratch/data" --epochs 2 --train_bs 8 --lr 1e-3 --seed 5 --checkpoint-every 3)
timeout 600 "${mpirun[@]}" -np 2 "$clip" train "${argsr[@]}" --output-dir "$scratch/r0" >/dev/null
"${mpirun[@]}" -np 2 "$clip" train "${argsr[@]}" --output-dir "$scratch/r1" >/dev/null 2>&1 &
job=$!
for _ in $(seq 600); do
    n=$(grep -c '"update": ' "$scratch/r1/train_log.jsonl" 2>/dev/null || true)
    [ "${n:-0}" -ge 8 ] && break
    sleep 0.1
done
kill "$job" 2>/dev/null || true
wait "$job" 2>/dev/null || true
[ -f "$scratch/r1/last/trainer_state.safetensors" ] || { echo "no checkpoint to resume from" >&2; exit 1; }
timeout 600 "${mpirun[@]}" -np 2 "$clip" train "${argsr[@]}" --output-dir "$scratch/r1" --resume > "$scratch/resume.out"
grep -o "resumed at .*" "$scratch/resume.out" || { echo "the second run did not resume (the first ended before the kill?)" >&2; exit 1; }
"${compare[@]}" "$scratch/r0/train_log.jsonl" "$scratch/r1/train_log.jsonl" --min-updates 40 \
    --tensors "$scratch/r0/last/model.safetensors" "$scratch/r1/last/model.safetensors" --tensor-rtol 1e-3

# MARK: - ELIP
# elip_config NAME MODEL OBJECTIVE BATCH EXTRA...: a run configuration over the first 96 training pairs
# (ELIP_EPOCHS epochs, default 1).
elip_config() {
    local name=$1 model=$2 objective=$3 batch=$4; shift 4
    {
        echo "model_name: $model"
        echo "output_root: $scratch/$name"
        echo "dataset: {name: $scratch/data, split: train}"
        echo "max_train_examples: 96"
        echo "prompt_tokens: 2"
        echo "mapper_hidden: 64"
        echo "objective: $objective"
        echo "batch_size: $batch"
        echo "epochs: ${ELIP_EPOCHS:-1}"
        echo "lr: 3.0e-3"
        echo "warmup: 4"
        echo "seed: 11"
        for line in "$@"; do echo "$line"; done
    } > "$scratch/$name.yaml"
}
# elip_pair LABEL RANKS MIN_UPDATES ARGS...: one process vs RANKS ranks on the same configuration.
elip_pair() {
    local label=$1 ranks=$2 min=$3; shift 3
    echo "== elip: 1 process vs mpirun -np $ranks ($label)"
    elip_config "$label-1" "$@"
    elip_config "$label-$ranks" "$@"
    "$clip" elip train --config "$scratch/$label-1.yaml" >/dev/null
    timeout 600 "${mpirun[@]}" -np "$ranks" "$clip" elip train --config "$scratch/$label-$ranks.yaml" >/dev/null
    "${compare[@]}" "$scratch/$label-1/train_log.jsonl" "$scratch/$label-$ranks/train_log.jsonl" --min-updates "$min" \
        --tensors "$scratch/$label-1/mapper_last.safetensors" "$scratch/$label-$ranks/mapper_last.safetensors" --tensor-rtol 1e-3
}
# ELIP-S (SigLIP: sigmoid query loss, dropout on the prompts), batches of 4: 24 updates.
elip_pair siglip-query 2 20 Tests/Fixtures/siglip/h6_64 query 4
# ELIP-C (CLIP: softmax query loss), batches of 5 split 1/2/2, two queries per chunk, two batches per update.
elip_pair clip-query 3 8 Tests/Fixtures/clip/gelu_vocab query 5 "query_chunk: 2" "grad_accum_steps: 2"
# The pairs objective: guided image features gathered with their gradient.
elip_pair clip-pairs 2 20 Tests/Fixtures/clip/gelu_vocab pairs 4
# Resume: ELIP-S on 2 ranks (batches of 8, 3 epochs: at least 36 updates) killed mid-run and resumed, against
# an uninterrupted 2-rank run (checkpoints every 3 updates make the killed run slow enough to hit).
echo "== elip: mpirun -np 2 killed mid-run (update 10 or later) and resumed vs uninterrupted"
ELIP_EPOCHS=3 elip_config elip-r0 Tests/Fixtures/siglip/h6_64 query 8
ELIP_EPOCHS=3 elip_config elip-r1 Tests/Fixtures/siglip/h6_64 query 8
timeout 600 "${mpirun[@]}" -np 2 "$clip" elip train --config "$scratch/elip-r0.yaml" >/dev/null
"${mpirun[@]}" -np 2 "$clip" elip train --config "$scratch/elip-r1.yaml" --checkpoint-every 3 >/dev/null 2>&1 &
job=$!
for _ in $(seq 1200); do
    n=$(grep -c '"update": ' "$scratch/elip-r1/train_log.jsonl" 2>/dev/null || true)
    [ "${n:-0}" -ge 10 ] && break
    sleep 0.1
done
kill "$job" 2>/dev/null || true
wait "$job" 2>/dev/null || true
timeout 600 "${mpirun[@]}" -np 2 "$clip" elip train --config "$scratch/elip-r1.yaml" --checkpoint-every 3 --resume > "$scratch/elip-resume.out"
grep -o "resumed at .*" "$scratch/elip-resume.out" || { echo "the second ELIP run did not resume (the first ended before the kill?)" >&2; exit 1; }
"${compare[@]}" "$scratch/elip-r0/train_log.jsonl" "$scratch/elip-r1/train_log.jsonl" --min-updates 36 \
    --tensors "$scratch/elip-r0/mapper_last.safetensors" "$scratch/elip-r1/mapper_last.safetensors" --tensor-rtol 1e-3

echo "test-mpi-training: all passed"
