#!/usr/bin/env bash
# `clip train` (contrastive) and `clip elip train`, each killed with SIGKILL at 5 random points and
# restarted with --resume until it finishes, end with the files of an uninterrupted run, bit for bit
# (weights and optimizer state), and leave no temporary file behind. The kill points are drawn from a
# printed seed: KILL_SEED=N scripts/test-kill-resume.sh repeats them. Each kill waits for a random update
# of the run, then a random 0–60 ms more, so kills land in steps, in checkpoint writes (the runs
# checkpoint often) and in restarts. Then `clip heads train`, killed once. (Run by scripts/test.sh after
# the release build.)
set -euo pipefail
cd "$(dirname "$0")/.."
# One fixed thread count for all runs: the weights are compared bit for bit.
export CLIPCORE_NUM_THREADS=2
swift build -c release --product clip
clip=.build/release/clip
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
seed=${KILL_SEED:-$(( $(date +%s) % 100000 ))}
echo "kill points drawn from seed $seed (KILL_SEED=$seed $0 repeats them)"
RANDOM=$seed
"$clip" data synth --out "$scratch/data" --n 200 --seed 2 --size 64 >/dev/null

# The number of update lines in a train_log.jsonl, and the newest update among lines after the first N.
log_lines() { grep -c '"update": ' "$1" 2>/dev/null || true; }
newest_after() { grep '"update": ' "$1" 2>/dev/null | tail -n +$(( $2 + 1 )) | grep -o '"update": [0-9]*' | tail -1 | grep -o '[0-9]*$' || true; }

# kill_and_resume NAME OUTDIR LOG TOTAL CMD...: runs CMD (which resumes from OUTDIR when there is a
# checkpoint), killing it with SIGKILL at 5 random points of its TOTAL updates, then lets it finish.
kill_and_resume() {
    local name=$1 out=$2 log=$3 total=$4; shift 4
    # Kill points stop a sixth of the run (at least 8 updates) before its end, so that the run, restarted
    # just before a kill point, still has updates left when the kill lands after its random delay.
    local targets=() t margin=$(( total / 6 > 8 ? total / 6 : 8 ))
    while [ ${#targets[@]} -lt 5 ]; do
        t=$(( 1 + RANDOM % (total - margin) ))
        [[ " ${targets[*]} " == *" $t "* ]] || targets+=("$t")
    done
    mapfile -t targets < <(printf '%s\n' "${targets[@]}" | sort -n)
    echo "$name: killing after updates ${targets[*]} of $total (each + a random 0-60 ms)"
    local k=0 during=0
    for t in "${targets[@]}"; do
        local delay=$(( RANDOM % 61 )) before
        before=$(log_lines "$log")
        "$@" >"$scratch/$name.run.log" 2>&1 &
        local pid=$!
        for _ in $(seq 1 6000); do
            local u
            u=$(newest_after "$log" "${before:-0}")
            if [ -n "$u" ] && [ "$u" -ge "$t" ]; then break; fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.01
        done
        sleep "$(printf '0.%03d' "$delay")"
        if ! kill -9 "$pid" 2>/dev/null; then
            # The run finished before the kill landed (a fast machine): it must have finished well, and the
            # later kill points cannot land either. Too few kills is a failure.
            wait "$pid" || { cat "$scratch/$name.run.log"; echo "$name: the run failed before kill $((k + 1))"; exit 1; }
            echo "$name: the run finished before kill $((k + 1)) (after update $t + ${delay} ms) could land"
            [ "$k" -ge 3 ] || { echo "$name: only $k kills landed; at least 3 are needed"; exit 1; }
            break
        fi
        wait "$pid" 2>/dev/null || true
        k=$(( k + 1 ))
        local tmp
        tmp=$(find "$out" -name '*.tmp-*' 2>/dev/null | wc -l)
        [ "$tmp" -gt 0 ] && during=$(( during + 1 ))
        echo "$name: kill $k at update $(newest_after "$log" 0) + ${delay} ms$([ "$tmp" -gt 0 ] && echo ', during a checkpoint write')"
    done
    "$@" >"$scratch/$name.run.log" 2>&1 || { cat "$scratch/$name.run.log"; echo "$name: the last resume failed"; exit 1; }
    grep -h resumed "$scratch/$name.run.log" || true
    echo "$name: $k kills, $during of them during a checkpoint write"
    local left
    left=$(find "$out" -name '*.tmp-*' | wc -l)
    [ "$left" -eq 0 ] || { echo "$name: temporary files left behind:"; find "$out" -name '*.tmp-*'; exit 1; }
}

# same_files NAME A B FILE...: each FILE of folder B is byte for byte that of folder A.
same_files() {
    local name=$1 a=$2 b=$3; shift 3
    for f in "$@"; do
        cmp -s "$a/$f" "$b/$f" || { echo "$name kill + resume: $f differs from the uninterrupted run"; exit 1; }
    done
    echo "$name kill + resume: $* identical to the uninterrupted run"
}

# Contrastive: 200 images, batches of 4, 3 epochs (150 updates), last/ every 2 updates.
args=(--model Tests/Fixtures/clip/gelu_vocab --dataset "$scratch/data" --epochs 3 --train_bs 4 --lr 1e-3 --checkpoint-every 2)
start=$SECONDS
"$clip" train "${args[@]}" --output-dir "$scratch/a" >/dev/null
echo "contrastive: uninterrupted run $(( SECONDS - start )) s"
start=$SECONDS
kill_and_resume contrastive "$scratch/b" "$scratch/b/train_log.jsonl" "$(log_lines "$scratch/a/train_log.jsonl")" "$clip" train "${args[@]}" --output-dir "$scratch/b" --resume
echo "contrastive: killed and resumed runs $(( SECONDS - start )) s"
same_files contrastive "$scratch/a" "$scratch/b" last/model.safetensors last/trainer_state.safetensors best/model.safetensors

# ELIP-S: the mapper on the frozen SigLIP fixture (sigmoid query loss, dropout on the prompts), 96
# pairs in batches of 4 from the hard-negative miner, 3 epochs, a checkpoint every update.
for run in ea eb; do
    cat > "$scratch/$run.yaml" <<YAML
model_name: Tests/Fixtures/siglip/h6_64
output_root: $scratch/$run
dataset: {name: $scratch/data, split: train}
max_train_examples: 96
prompt_tokens: 2
mapper_hidden: 64
batch_size: 4
epochs: 3
lr: 3.0e-3
warmup: 4
seed: 11
YAML
done
start=$SECONDS
"$clip" elip train --config "$scratch/ea.yaml" --checkpoint-every 1 >/dev/null
echo "elip: uninterrupted run $(( SECONDS - start )) s"
start=$SECONDS
kill_and_resume elip "$scratch/eb" "$scratch/eb/train_log.jsonl" "$(log_lines "$scratch/ea/train_log.jsonl")" "$clip" elip train --config "$scratch/eb.yaml" --checkpoint-every 1 --resume
echo "elip: killed and resumed runs $(( SECONDS - start )) s"
same_files elip "$scratch/ea" "$scratch/eb" mapper_last.safetensors checkpoint_last.safetensors \
    mapper_epoch1.safetensors mapper_epoch2.safetensors mapper_epoch3.safetensors

# Projection heads: `clip heads train` killed with SIGKILL after an epoch's checkpoint, then started
# again with the same command, ends with the files of an uninterrupted run (dropout on: its masks are
# seeded per epoch).
"$clip" encode-dataset --model Tests/Fixtures/clip/gelu_vocab --data "$scratch/data/manifest.jsonl" --out "$scratch/enc" \
    --texts --dtype float32 >/dev/null
for run in ha hb; do
    cat > "$scratch/$run.yaml" <<YAML
data: {image_embeddings: $scratch/enc, splits: $scratch/splits}
split: {val_images: 0.2, test_images: 0.2, seed: 1}
model: {type: blip, output_dim: 64, hidden_dim: 256, dropout: 0.1}
loss: {queue_size: 128}
training: {batch_size: 8, learning_rate: 1.0e-3, num_epochs: 12, patience: 0, seed: 3}
output_dir: $scratch/$run
YAML
done
"$clip" heads split "$scratch/ha.yaml" >/dev/null
"$clip" heads train "$scratch/ha.yaml" >/dev/null
"$clip" heads train "$scratch/hb.yaml" >"$scratch/hb.log" 2>&1 &
pid=$!
for _ in $(seq 1 6000); do
    if grep -q '^epoch *3 ' "$scratch/hb.log" 2>/dev/null; then break; fi
    sleep 0.01
done
kill -9 "$pid" 2>/dev/null || { echo "heads: the run finished before it could be killed"; exit 1; }
wait "$pid" 2>/dev/null || true
echo "heads: killed after: $(grep '^epoch' "$scratch/hb.log" | tail -1 | awk '{print "epoch", $2}')"
"$clip" heads train "$scratch/hb.yaml" >/dev/null
for f in best_model.safetensors loss_history.json checkpoint.safetensors; do
    cmp -s "$scratch/ha/$f" "$scratch/hb/$f" || { echo "heads kill + resume: $f differs from the uninterrupted run"; exit 1; }
done
echo "heads kill + resume: best model, history and checkpoint identical to the uninterrupted run"
left=$(find "$scratch/hb" -name '*.tmp-*' | wc -l)
[ "$left" -eq 0 ] || { echo "temporary files left behind:"; find "$scratch/hb" -name '*.tmp-*'; exit 1; }
