#!/usr/bin/env bash
# The main job: installs what is missing, builds in release mode, runs `clip demo`
# (generated data, CLIP from scratch, ELIP, re-ranking; no download).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product clip
.build/release/clip demo "$@"
