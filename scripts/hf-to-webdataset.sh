#!/usr/bin/env bash
# Converts a Hugging Face dataset (hub name or parquet files) into webdataset tar shards with
# Tools/hf_to_webdataset.py, in its own virtual environment (.build-hf-venv/, ignored by git) filled
# from Tools/requirements-hf.txt; arguments are passed on. Example:
#   scripts/hf-to-webdataset.sh lambdalabs/pokemon-blip-captions --split train --out data/pokemon
# Environment: CLIPCORE_HF_VENV overrides the folder.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${CLIPCORE_HF_VENV:-$root/.build-hf-venv}"
req="$root/Tools/requirements-hf.txt"
command -v python3 >/dev/null 2>&1 || { echo "python3 not found on PATH (apt-get install python3 python3-venv)" >&2; exit 1; }
if ! { [ -x "$venv/bin/python" ] && cmp -s "$req" "$venv/.requirements"; }; then
    echo "== creating $venv" >&2
    python3 -m venv --clear "$venv" || { echo "python3 -m venv failed: apt-get install python3-venv" >&2; exit 1; }
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >&2
    cp "$req" "$venv/.requirements"
fi
exec "$venv/bin/python" "$root/Tools/hf_to_webdataset.py" "$@"
