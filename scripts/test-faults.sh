#!/usr/bin/env bash
# A checkpoint that cannot be written stops `clip train` and `clip elip train` with an error that names
# the file and the system's reason, and a nonzero status; the previous checkpoint stays whole, loads and
# resumes, and no temporary file is left. Two faults, each for both trainers:
#   - a file-size limit (`ulimit -f`: the write that crosses it fails with EFBIG, "File too large";
#     clip ignores SIGXFSZ, which would otherwise kill it);
#   - a full file system: a tmpfs with room for one checkpoint but not for a second beside it ("No space
#     left on device"). Mounting needs root; where it is not allowed this part is skipped, saying so.
# Then a run whose updates turn non-finite stops naming the update, after skipping --skip-nonfinite N
# (skip_nonfinite: N) of them.
# (Run by scripts/test.sh after the release build.)
set -euo pipefail
cd "$(dirname "$0")/.."
export CLIPCORE_NUM_THREADS=2
swift build -c release --product clip
clip=$(pwd)/.build/release/clip
scratch=$(mktemp -d)
cleanup() {
    # The tmpfs mounts of this run: every mount point under $scratch.
    awk -v s="$scratch/" 'index($2, s) == 1 {print $2}' /proc/mounts | while read -r m; do umount "$m" || true; done
    rm -rf "$scratch"
}
trap cleanup EXIT
fail() { echo "test-faults: $*"; exit 1; }
"$clip" data synth --out "$scratch/data" --n 40 --seed 2 --size 64 >/dev/null

# expect_failure NAME LOG FILE_PATTERN REASON: the run whose output is LOG failed, naming a file that
# matches FILE_PATTERN and REASON in one `Error:` line.
expect_failure() {
    local name=$1 log=$2 file=$3 reason=$4
    local line
    line=$(grep '^Error: ' "$log" || true)
    [ -n "$line" ] || { cat "$log"; fail "$name: no error message"; }
    echo "$line" | grep -Eq "$file" || fail "$name: the error does not name the file ($file): $line"
    echo "$line" | grep -q "$reason" || fail "$name: the error does not give the reason ($reason): $line"
    echo "$name: stopped with: $line"
}

# no_temporaries NAME DIR: no `.NAME.tmp-*` file or folder under DIR.
no_temporaries() {
    local left
    left=$(find "$2" -name '*.tmp-*' | wc -l)
    [ "$left" -eq 0 ] || { find "$2" -name '*.tmp-*'; fail "$1: temporary files left behind"; }
}

# tmpfs KIB: a fresh folder with a tmpfs of KIB KiB mounted on it (printed); fails when mounting is not allowed.
tmpfs() {
    local dir
    dir=$(mktemp -d -p "$scratch")
    mount -t tmpfs -o "size=${1}k" tmpfs "$dir" 2>/dev/null || return 1
    echo "$dir"
}

# --- contrastive: 40 images in batches of 4 (10 updates an epoch), last/ every 3 updates.
args=(--model Tests/Fixtures/clip/gelu_vocab --dataset "$scratch/data" --train_bs 4 --lr 1e-3 --checkpoint-every 3)

# File-size limit: a finished 1-epoch run, continued for a second epoch under `ulimit -f` (1 MiB: the logs
# and configs fit, model.safetensors does not). The first checkpoint of epoch 2 fails.
c=$scratch/c-ulimit
"$clip" train "${args[@]}" --epochs 1 --output-dir "$c" >/dev/null
cp -r "$c/last" "$scratch/c-last-before"
status=0
( ulimit -f 1024; exec "$clip" train "${args[@]}" --epochs 2 --output-dir "$c" --resume ) >"$scratch/c.log" 2>&1 || status=$?
[ "$status" -ne 0 ] || fail "contrastive, ulimit -f: the run succeeded"
[ "$status" -ne 153 ] || fail "contrastive, ulimit -f: killed by SIGXFSZ instead of an error"
expect_failure "contrastive, ulimit -f" "$scratch/c.log" "$c/last/[a-z_]+\.safetensors" "File too large"
diff -r "$scratch/c-last-before" "$c/last" >/dev/null || fail "contrastive, ulimit -f: last/ changed"
no_temporaries "contrastive, ulimit -f" "$c"
"$clip" train "${args[@]}" --epochs 2 --output-dir "$c" --resume | grep resumed
[ -f "$c/epoch_2/model.safetensors" ] || fail "contrastive, ulimit -f: the resumed run did not finish"
echo "contrastive, ulimit -f: last/ unchanged, resumed from it to the end"

# --- ELIP: 40 pairs in batches of 4, a 256-wide mapper (its checkpoint about 1.3 MB), a checkpoint every 2 updates.
elip_config() {    # elip_config OUT EPOCHS: a config writing to OUT
    cat <<YAML
model_name: Tests/Fixtures/clip/gelu_vocab
output_root: $1
dataset: {name: $scratch/data, split: train}
prompt_tokens: 2
mapper_hidden: 256
batch_size: 4
epochs: $2
lr: 1.0e-3
warmup: 0
seed: 11
YAML
}
e=$scratch/e-ulimit
elip_config "$e" 1 >"$scratch/e1.yaml"
elip_config "$e" 2 >"$scratch/e2.yaml"
"$clip" elip train --config "$scratch/e1.yaml" --checkpoint-every 2 >/dev/null
cp "$e/checkpoint_last.safetensors" "$scratch/e-checkpoint-before"
status=0
( ulimit -f 512; exec "$clip" elip train --config "$scratch/e2.yaml" --checkpoint-every 2 --resume ) >"$scratch/e.log" 2>&1 || status=$?
[ "$status" -ne 0 ] || fail "elip, ulimit -f: the run succeeded"
[ "$status" -ne 153 ] || fail "elip, ulimit -f: killed by SIGXFSZ instead of an error"
expect_failure "elip, ulimit -f" "$scratch/e.log" "$e/checkpoint_last\.safetensors" "File too large"
cmp -s "$scratch/e-checkpoint-before" "$e/checkpoint_last.safetensors" || fail "elip, ulimit -f: checkpoint_last.safetensors changed"
no_temporaries "elip, ulimit -f" "$e"
"$clip" elip train --config "$scratch/e2.yaml" --checkpoint-every 2 --resume | grep resumed
[ -f "$e/mapper_epoch2.safetensors" ] || fail "elip, ulimit -f: the resumed run did not finish"
echo "elip, ulimit -f: checkpoint_last.safetensors unchanged, resumed from it to the end"

# --- Full file systems: room for the files of a run and one checkpoint, not for a second checkpoint
# beside the first (a checkpoint is written whole before it replaces the previous one).
kib() { du -sk "$@" | awk '{s += $1} END {print s}'; }
fs_kib=$(( $(kib "$c/last") * 3 / 2 + 256 ))      # last/ after update 3 fits; a second one at update 6 does not
if fs=$(tmpfs "$fs_kib"); then
    status=0
    "$clip" train "${args[@]}" --epochs 2 --output-dir "$fs/c" >"$scratch/cfs.log" 2>&1 || status=$?
    [ "$status" -ne 0 ] || fail "contrastive, full disk: the run succeeded on a ${fs_kib} KiB file system"
    expect_failure "contrastive, full disk" "$scratch/cfs.log" "$fs/c/[a-z_0-9]+/[a-z_]+\.(safetensors|json)" "No space left on device"
    no_temporaries "contrastive, full disk" "$fs"
    cp -r "$fs/c" "$scratch/c-full"
    "$clip" train "${args[@]}" --epochs 2 --output-dir "$scratch/c-full" --resume | grep resumed
    [ -f "$scratch/c-full/epoch_2/model.safetensors" ] || fail "contrastive, full disk: the resumed run did not finish"
    echo "contrastive, full disk: the last checkpoint on the full file system loaded and resumed to the end"

    ckpt_kib=$(kib "$e/checkpoint_last.safetensors")
    fs_kib=$(( ckpt_kib * 3 / 2 + $(kib "$e/mapper_last.safetensors") + 128 ))    # one checkpoint and mapper_last
    fs=$(tmpfs "$fs_kib")
    elip_config "$fs/e" 2 >"$scratch/efs.yaml"
    status=0
    "$clip" elip train --config "$scratch/efs.yaml" --checkpoint-every 2 >"$scratch/efs.log" 2>&1 || status=$?
    [ "$status" -ne 0 ] || fail "elip, full disk: the run succeeded on a ${fs_kib} KiB file system"
    expect_failure "elip, full disk" "$scratch/efs.log" "$fs/e/[a-z_0-9]+\.safetensors" "No space left on device"
    no_temporaries "elip, full disk" "$fs"
    cp -r "$fs/e" "$scratch/e-full"
    elip_config "$scratch/e-full" 2 >"$scratch/efull.yaml"
    "$clip" elip train --config "$scratch/efull.yaml" --checkpoint-every 2 --resume | grep resumed
    [ -f "$scratch/e-full/mapper_epoch2.safetensors" ] || fail "elip, full disk: the resumed run did not finish"
    echo "elip, full disk: the last checkpoint on the full file system loaded and resumed to the end"
else
    echo "skipped: full file system checks (mounting a tmpfs needs root); the ulimit -f checks above ran"
fi
# --- Non-finite updates through the command line: lr 1e30 overflows the weights at update 1, so every
# later update is non-finite. --skip-nonfinite 2 (contrastive) and skip_nonfinite: 1 in the YAML (ELIP)
# skip that many, logged and warned about, then the run stops naming update 2.
nonfinite() {    # nonfinite NAME LOG TRAIN_LOG SKIPS
    local name=$1 log=$2 train_log=$3 skips=$4
    grep -q '^Error: training diverged at update 2 (epoch 1): ' "$log" || { cat "$log"; fail "$name: no divergence error naming update 2"; }
    [ "$(grep -c '^warning: update 2 skipped' "$log")" -eq "$skips" ] || { cat "$log"; fail "$name: not $skips warnings"; }
    [ "$(grep -c '"skipped_update": 2, ' "$train_log")" -eq "$skips" ] || fail "$name: not $skips skipped_update lines in the log"
    echo "$name: $skips non-finite updates skipped, then: $(grep '^Error: ' "$log" | cut -c1-400)"
}
status=0
"$clip" train "${args[@]}" --lr 1e30 --epochs 1 --skip-nonfinite 2 --output-dir "$scratch/nan-c" >"$scratch/nan-c.log" 2>&1 || status=$?
[ "$status" -ne 0 ] || fail "contrastive, lr 1e30: the run succeeded"
nonfinite "contrastive, --skip-nonfinite 2" "$scratch/nan-c.log" "$scratch/nan-c/train_log.jsonl" 2
{ elip_config "$scratch/nan-e" 1 | sed 's/^lr: .*/lr: 1.0e+30/'; echo "skip_nonfinite: 1"; } >"$scratch/nan-e.yaml"
status=0
"$clip" elip train --config "$scratch/nan-e.yaml" >"$scratch/nan-e.log" 2>&1 || status=$?
[ "$status" -ne 0 ] || fail "elip, lr 1e30: the run succeeded"
nonfinite "elip, skip_nonfinite: 1" "$scratch/nan-e.log" "$scratch/nan-e/train_log.jsonl" 1

echo "faults while training: all checks passed"
