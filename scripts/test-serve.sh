#!/usr/bin/env bash
# Checks `clip serve` end to end: builds the clip tool (release), makes a small synthetic dataset and its
# embedding shards (clip data synth, clip encode-dataset --texts, clip index build), then
#   1. a server with an ELIP mapper and an API key, on a free loopback port: clip-retrieval's real ClipClient,
#      the API's shapes, re-ranking, limits, the image route's traversal guard, metrics, the bearer token
#      (Tests/serve/check_serve.py); the search page in headless Chromium with screenshots (check_page.py);
#   2. a server with tight limits: a burst gets only 200/429/503, then SIGTERM with a query in flight
#      (check_load.py), and the server must exit 0.
# Needs Debian's chromium and chromium-driver (scripts/install-deps.sh --test). Output, logs and screenshots:
# $CLIPCORE_SERVE_OUT (default .build/serve-test). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${CLIPCORE_SERVE_OUT:-$(pwd)/.build/serve-test}"
model=Tests/Fixtures/clip/gelu_vocab
mapper=Tests/Fixtures/capi/clip/mapper.safetensors
key="serve-test-$$"

echo "== building clip (release)"
mkdir -p .build
swift build -c release --product clip > .build/serve-test-build.log 2>&1 || {
    grep -E "error" .build/serve-test-build.log | head -20; echo "test-serve: the build failed (.build/serve-test-build.log)"; exit 1; }
clip="$(swift build -c release --show-bin-path)/clip"
[ -x "$clip" ] || { echo "test-serve: $clip was not built"; exit 1; }

py="$(scripts/python-env.sh)"
# clip-retrieval without its dependencies (PyTorch, faiss, flask…): only its clip_client module is used.
"$py" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("clip_retrieval") is None)' 2>/dev/null \
    || "$py" -m pip install -q --disable-pip-version-check --no-deps clip-retrieval==2.45.0
for tool in chromium chromedriver; do
    command -v "$tool" >/dev/null || { echo "test-serve: $tool not found (apt-get install chromium chromium-driver; scripts/install-deps.sh --test)"; exit 1; }
done

rm -rf "$out"
mkdir -p "$out"
echo "== dataset and shards in $out"
"$clip" data synth --out "$out/data" --family shapes --n 48 --size 32 --seed 3 > "$out/synth.log"
# The first record again under a second id (deduplication must drop one), and a file in the image folder that is
# no record's image (the image route must refuse it).
head -n 1 "$out/data/manifest.jsonl" >> "$out/data/manifest.jsonl"
cp "$out/data/images/000001.png" "$out/data/images/not-indexed.png"
"$clip" encode-dataset --model "$model" --data "$out/data/manifest.jsonl" --out "$out/shards" --texts --dtype float32 > "$out/encode.log"
"$clip" index build --embeddings "$out/shards" --out "$out/shards/image.index" > "$out/index.log"
# Links inside the image folder that lead out of it: the image route must refuse them.
ln -s ../manifest.jsonl "$out/data/images/escape-link.png"
ln -s .. "$out/data/images/escape-dir"

pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# start_server LOG ARGS…: starts clip serve on a free port; sets $pid and $port.
start_server() {
    local log="$1"; shift
    : > "$log"   # exists before the background process opens it, for the polling below
    "$clip" serve --model "$model" --port 0 "$@" > "$log" 2>&1 &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 1 300); do
        port="$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$log")"
        [ -n "$port" ] && return 0
        kill -0 "$pid" 2>/dev/null || { echo "test-serve: the server exited:"; cat "$log"; exit 1; }
        sleep 0.1
    done
    echo "test-serve: the server did not start listening in 30 s:"; cat "$log"; exit 1
}

status=0
echo "== server 1: --elip, --api-key"
start_server "$out/server1.log" --index "synth=$out/shards" --elip "$mapper" --api-key "$key"
url="http://127.0.0.1:$port"
"$py" Tests/serve/check_serve.py --url "$url" --key "$key" --index synth --shards "$out/shards" --data "$out/data" || status=1
echo "== search page in headless Chromium"
caption="$(sed -n '1s/.*"captions": \["\([^"]*\)".*/\1/p' "$out/data/manifest.jsonl")"
"$py" Tests/serve/check_page.py --url "$url" --key "$key" --caption "$caption" --image "$out/data/images/000005.png" --out "$out" || status=1
kill -TERM "$pid"
wait "$pid" || { echo "FAIL server 1 exited with status $? after SIGTERM"; status=1; }

echo "== server 2: tight limits, SIGTERM with a query in flight"
# The worker sleeps CLIPCORE_SERVE_TEST_ENCODE_DELAY_MS before each batch (a test hook), so a query is reliably in
# flight when SIGTERM comes.
delay_ms=800
export CLIPCORE_SERVE_TEST_ENCODE_DELAY_MS=$delay_ms
start_server "$out/server2.log" --index "synth=$out/shards" --max-queue 2 --max-in-flight 8 --batch-wait-ms 300
unset CLIPCORE_SERVE_TEST_ENCODE_DELAY_MS
"$py" Tests/serve/check_load.py --url "http://127.0.0.1:$port" --pid "$pid" --index synth --delay-ms "$delay_ms" || status=1
if wait "$pid"; then echo "ok   server 2 exited 0 after SIGTERM"; else echo "FAIL server 2 exited with status $?"; status=1; fi
grep -q '^stopped' "$out/server2.log" || { echo "FAIL server 2 did not report a clean stop"; status=1; }

[ "$status" = 0 ] && echo "test-serve: all checks passed (screenshots in $out)" || echo "test-serve: FAILED (logs in $out)"
exit "$status"
