#!/usr/bin/env bash
# Builds libclipcore.so with the Swift runtime linked in, so that C and Python
# hosts need no Swift installation: .build-lib/release/libclipcore.so
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product clipcore -Xswiftc -static-stdlib --scratch-path .build-lib
echo "built $(pwd)/.build-lib/release/libclipcore.so"
