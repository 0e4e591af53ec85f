#!/usr/bin/env bash
# Resource bombs against the `clip` tool (Tools/bombs.py): a PNG/JPEG header of 10^10 pixels, a YAML
# alias bomb and 100k-deep YAML, JSON nested 100k deep (config.json, COCO captions), a safetensors
# header claiming 2^62 elements, a merges.txt of 10M lines, a tar member claiming 1 TB, a 300 MiB JSONL
# manifest with no line break. Each must end with status 1 and a message naming the limit, under
# 256 MiB peak RSS (docs/RELIABILITY.md).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product clip >/dev/null
# The suite's own Python (standard library only): nothing the machine happens to have.
"$(scripts/python-env.sh)" Tools/bombs.py .build/release/clip
