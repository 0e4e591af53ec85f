#!/usr/bin/env bash
# Sharded encoding and mining under Open MPI (docs/ENCODING.md, "Sharded encoding and mining under MPI"):
#   1. `clip encode-dataset` with 1 process and under `mpirun -np 2` and `-np 3`: the output folders
#      are identical, file for file and byte for byte;
#   2. a folder left by a killed run (a shard without metadata, a half-written temporary, a real
#      mpirun killed mid-run): every shard that looks finished equals the reference; a rerun with
#      another number of ranks keeps the finished shards (same inode: not rewritten) and ends identical;
#   3. a rerun with other settings fails on every rank with the settings error, not a hang;
#   4. `clip mine` with 1, 2 and 3 ranks (tiles of 8 images, so every rank has a part; and the
#      default tile) writes byte-identical files; --index under mpirun is refused with a message.
# The merge logic's unit tests are the Swift Testing suites TopKMergeTests, GallerySplitTests and
# ShardedMiningTests (SearchTests). Without mpirun it fails, unless CLIPCORE_MPI_OPTIONAL=1 (then it
# says so and skips). About 2 to 4 minutes here after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/mpi-env.sh
mpi_env test-mpi-shard
[ "${CLIPCORE_SKIP_BUILD:-0}" = "1" ] || swift build -c release --product clip
clip=$PWD/.build/release/clip
mpirun=(timeout 600 mpirun --oversubscribe --allow-run-as-root)
model=Tests/Fixtures/clip/gelu_vocab
work=$(mktemp -d /tmp/clipcore-mpi-shard.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "test-mpi-shard: FAILED: $*" >&2; exit 1; }

echo "== dataset: 70 generated images, shards of 8 (9 shards, the last of 6)"
"$clip" data synth --out "$work/data" --n 70 --size 32 --seed 3 >/dev/null
data="$work/data/manifest.jsonl"
[ -f "$data" ] || fail "clip data synth wrote no manifest.jsonl"
enc=(encode-dataset --model "$model" --data "$data" --texts --shard-size 8 --batch-size 4 --dtype float32 --decode-threads 1)

echo "== encode-dataset: 1 process, mpirun -np 2, mpirun -np 3"
"$clip" "${enc[@]}" --out "$work/enc1" | tail -2
"${mpirun[@]}" -np 2 "$clip" "${enc[@]}" --out "$work/enc2" | grep -v '^\s*$' | tail -4
"${mpirun[@]}" -np 3 "$clip" "${enc[@]}" --out "$work/enc3" | grep -v '^\s*$' | tail -6
nfiles=$(ls "$work/enc1" | wc -l)
[ "$nfiles" -eq 28 ] || fail "expected 9 shards × 3 files + encode.json = 28 files, got $nfiles"
for n in 2 3; do
    diff -r "$work/enc1" "$work/enc$n" >/dev/null || { diff -rq "$work/enc1" "$work/enc$n" >&2; fail "mpirun -np $n encoding differs from one process"; }
    echo "   -np $n: identical ($nfiles files)"
done

echo "== a folder left by a killed run, resumed with another number of ranks"
cp -a "$work/enc2" "$work/resume"
rm "$work/resume/metadata_00004.jsonl"                              # killed before its metadata: unfinished
rm "$work/resume/metadata_00007.jsonl" "$work/resume/text_emb_00007.npy"
printf 'garbage' > "$work/resume/img_emb_00004.npy"                 # a half shard's leftovers
printf 'half' > "$work/resume/.metadata_00001.jsonl.tmp-99999-1"   # a writer killed mid-file
ino() { stat -c %i "$work/resume/$1"; }
keep=(metadata_00000.jsonl img_emb_00003.npy metadata_00008.jsonl text_emb_00005.npy)
before=$(for f in "${keep[@]}"; do ino "$f"; done)
out=$("${mpirun[@]}" -np 3 "$clip" "${enc[@]}" --out "$work/resume")
after=$(for f in "${keep[@]}"; do ino "$f"; done)
[ "$before" = "$after" ] || fail "finished shards were rewritten on resume"
grep -q "2 new shard(s)" <<<"$out" || { echo "$out" >&2; fail "expected the two unfinished shards (4 and 7) to be encoded, no more"; }
diff -r "$work/enc1" "$work/resume" >/dev/null || { diff -rq "$work/enc1" "$work/resume" >&2; fail "the resumed folder differs from one process's"; }
echo "   shards 4 and 7 redone by rank 1 of 3, the stale temporary removed, the rest kept: identical"

echo "== a real kill: the ranks of mpirun -np 2 killed (SIGKILL) mid-run, then rerun with -np 3"
"$clip" data synth --out "$work/big" --n 1500 --size 64 --seed 5 >/dev/null
encb=(encode-dataset --model "$model" --data "$work/big/manifest.jsonl" --texts --shard-size 10 --batch-size 5 --dtype float32 --decode-threads 1 --no-count)
"$clip" "${encb[@]}" --out "$work/bigref" >/dev/null
mpirun --oversubscribe --allow-run-as-root -np 2 "$clip" "${encb[@]}" --out "$work/bigkill" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do
    [ "$(ls "$work/bigkill" 2>/dev/null | grep -c '^metadata_')" -ge 2 ] && break
    sleep 0.05
done
# SIGKILL to the ranks themselves (mpirun's children): they die at once, mid-write at worst.
ranks=$(pgrep -P "$pid" || true)
[ -n "$ranks" ] && kill -KILL $ranks 2>/dev/null || true
wait "$pid" 2>/dev/null || true
finished=$(ls "$work/bigkill" | grep -c '^metadata_' || true)
total=$(ls "$work/bigref" | grep -c '^metadata_')
[ "$finished" -lt "$total" ] || fail "the run ended before the kill ($finished of $total shards): nothing to resume"
for m in "$work/bigkill"/metadata_*.jsonl; do
    s=$(basename "$m" .jsonl); s=${s#metadata_}
    for f in metadata_$s.jsonl img_emb_$s.npy text_emb_$s.npy; do
        cmp -s "$work/bigref/$f" "$work/bigkill/$f" || fail "after the kill, $f looks finished but differs from the reference"
    done
done
"${mpirun[@]}" -np 3 "$clip" "${encb[@]}" --out "$work/bigkill" >/dev/null
diff -r "$work/bigref" "$work/bigkill" >/dev/null || { diff -rq "$work/bigref" "$work/bigkill" >&2; fail "the rerun after a kill differs from one process's"; }
echo "   killed with $finished of $total shards finished (each equal to the reference); the rerun: identical"

echo "== a rerun with other settings: refused on every rank (no hang)"
set +e
out=$("${mpirun[@]}" -np 2 "$clip" encode-dataset --model "$model" --data "$data" --texts --shard-size 5 --batch-size 4 \
      --dtype float32 --decode-threads 1 --out "$work/enc2" 2>&1)
rc=$?
set -e
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q "was started with shard_size 8" <<<"$out" || { echo "$out" >&2; fail "expected the settings error (rc $rc)"; }
echo "   refused (rc $rc): $(grep -m1 'was started with' <<<"$out")"

echo "== mine: 1 process, mpirun -np 2, -np 3 (tiles of 8 images, and the default tile)"
for block in 8 4096; do
    mine=(mine --texts "$work/enc1" --images "$work/enc1" -k 5 --batch-size 6 --seed 2 --gallery-block "$block")
    "$clip" "${mine[@]}" --out "$work/mine1-$block.json"
    for n in 2 3; do
        "${mpirun[@]}" -np "$n" "$clip" "${mine[@]}" --out "$work/mine$n-$block.json"
        cmp "$work/mine1-$block.json" "$work/mine$n-$block.json" || fail "mine with $n ranks (tile $block) differs from one process"
    done
    echo "   tile $block: identical for 1, 2 and 3 ranks ($(wc -c <"$work/mine1-$block.json") bytes)"
done
grep -q '"hard_images": {"0": \[' "$work/mine1-8.json" || fail "mine output lacks hard images"

echo "== mine --index under mpirun: refused with a message"
"$clip" index build --embeddings "$work/enc1" --out "$work/ix.faiss" >/dev/null
set +e
out=$("${mpirun[@]}" -np 2 "$clip" mine --texts "$work/enc1" --images "$work/enc1" --index "$work/ix.faiss" --out "$work/x.json" 2>&1)
rc=$?
set -e
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q "searches one FAISS index in one process" <<<"$out" || { echo "$out" >&2; fail "expected --index to be refused under mpirun (rc $rc)"; }
echo "   refused (rc $rc)"
echo "test-mpi-shard: OK"
