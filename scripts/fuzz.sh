#!/usr/bin/env bash
# libFuzzer over every input surface (Fuzz/Fuzz.swift: one target per parser).
#   scripts/fuzz.sh TARGET [RUNS [SECONDS]]  one target for RUNS executions (default 1000000; at most SECONDS)
#   scripts/fuzz.sh --all [RUNS [SECONDS]]  every target in turn, RUNS executions each (at most SECONDS each)
#   scripts/fuzz.sh --smoke [SECONDS] every target for about SECONDS in all (default 40; CI, scripts/test.sh)
#   scripts/fuzz.sh --list            the target names
#   scripts/fuzz.sh --build           build only
# The binary is built with -sanitize=fuzzer,address (the C targets with -fsanitize=fuzzer-no-link,address)
# in .build-fuzz, apart from the normal build. Seeds are generated from Tests/Fixtures and synthetic samples
# (scripts/fuzz-seeds.py) into .build-fuzz/seeds; inputs the fuzzer adds go to .build-fuzz/corpus/TARGET;
# crashing, leaking, slow or memory-hungry inputs to runs/fuzz/TARGET/. Every run uses
#   -timeout=1 (an input taking over 1 s is a finding), -rss_limit_mb=2048 (and a single allocation over
#   2 GiB is a finding), leak detection on (-detect_leaks=1; scripts/fuzz-lsan.supp lists the toolchain's
#   own leaks, kept out of the findings), -max_len=65536, and images of at most 2048 x 2048 pixels
#   (CLIPCORE_MAX_IMAGE_PIXELS=4194304 unless set): the time to decode an image grows with the pixels its
#   header declares, whatever the file's size, so at the default limit (179M pixels) a 163-byte JPEG
#   declaring 63524 x 1026 takes over a second; the limit itself is checked by scripts/test-bombs.sh.
# The last lines print a table: target, executions, execs/s, coverage (cov: edges, ft: features), result;
# runs/fuzz/summary.tsv keeps it (FUZZ_OUT=DIR: DIR instead of runs/fuzz). Exit status 1 when any target
# found something. FUZZ_JOBS=N runs --all's targets N at a time (one core each).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(safetensors elip-mapper clip-config siglip-config preprocessor-config elip-yaml contrastive-yaml study-yaml
         png jpeg bpe-files tokenizer-json spiece vocab-txt text jsonl csv elip-batch-csv tar karpathy coco faiss-index)
BIN=.build-fuzz/release/clip-fuzz
FLAGS=(-timeout=1 -rss_limit_mb=2048 -detect_leaks=1 -max_len=65536 -print_final_stats=1)

build() {
    echo "== building the fuzz targets (.build-fuzz)" >&2
    CLIPCORE_FUZZ=1 swift build -c release --scratch-path .build-fuzz \
        -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address \
        -Xcxx -fsanitize=fuzzer-no-link,address --product clip-fuzz >&2
    rm -rf .build-fuzz/seeds
    "$(scripts/python-env.sh)" scripts/fuzz-seeds.py .build-fuzz/seeds
}

# run TARGET LIMIT...: fuzzes one target, appends its row to the table.
run() {
    local target=$1; shift
    local corpus=.build-fuzz/corpus/$target artifacts=$OUT/$target log=$OUT/$target.log
    mkdir -p "$corpus" "$artifacts" .build-fuzz/seeds/"$target"
    local rc=0
    CLIPCORE_FUZZ_TARGET=$target CLIPCORE_MAX_IMAGE_PIXELS=${CLIPCORE_MAX_IMAGE_PIXELS:-4194304} ASAN_OPTIONS=detect_leaks=1 \
        LSAN_OPTIONS=suppressions=scripts/fuzz-lsan.supp:print_suppressions=0 "$BIN" "${FLAGS[@]}" "$@" \
        -artifact_prefix="$artifacts/" "$corpus" .build-fuzz/seeds/"$target" > "$log" 2>&1 || rc=$?
    local execs rate cov ft result
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    if [ "$rc" = 0 ]; then result=ok
    elif grep -q 'ERROR: LeakSanitizer' "$log"; then result=LEAK
    elif grep -q 'ALARM: working on the last Unit' "$log"; then result=TIMEOUT
    elif grep -q 'out-of-memory' "$log"; then result=OOM
    else result=CRASH
    fi
    [ "$result" = ok ] || { failed=1; echo "!! $target: $result, see $log and $artifacts/" >&2; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$result" >> "$OUT/summary.tsv"
    printf '%-20s %10s %8s %6s %7s  %s\n' "$target" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$result" >&2
}

failed=0
mode=${1:---help}
case "$mode" in
    --list) printf '%s\n' "${TARGETS[@]}"; exit 0 ;;
    --help|-h) sed -n '2,16p' "$0"; exit 0 ;;
esac
build
OUT=${FUZZ_OUT:-runs/fuzz}
mkdir -p "$OUT"
printf 'target\texecs\texecs/s\tcov\tft\tresult\n' > "$OUT/summary.tsv"
printf '%-20s %10s %8s %6s %7s  %s\n' target execs execs/s cov ft result >&2
case "$mode" in
    --build) exit 0 ;;
    --smoke)
        # max_total_time is whole seconds: at least 1 per target.
        per=$(( ${2:-40} / ${#TARGETS[@]} )); [ "$per" -ge 1 ] || per=1
        for t in "${TARGETS[@]}"; do run "$t" -max_total_time="$per"; done ;;
    --all)
        limit=(); [ -z "${3:-}" ] || limit=(-max_total_time="$3")
        jobs=${FUZZ_JOBS:-1} pids=()
        for ((w = 0; w < jobs; w++)); do
            (for ((i = w; i < ${#TARGETS[@]}; i += jobs)); do run "${TARGETS[i]}" -runs="${2:-1000000}" "${limit[@]}"; done
             exit "$failed") &
            pids+=($!)
        done
        for p in "${pids[@]}"; do wait "$p" || failed=1; done ;;
    *)
        printf '%s\n' "${TARGETS[@]}" | grep -qx -- "$mode" || { echo "unknown target $mode (scripts/fuzz.sh --list)" >&2; exit 2; }
        limit=(); [ -z "${3:-}" ] || limit=(-max_total_time="$3")
        run "$mode" -runs="${2:-1000000}" "${limit[@]}" ;;
esac
exit "$failed"
