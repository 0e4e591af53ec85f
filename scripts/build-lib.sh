#!/usr/bin/env bash
# Builds libclipcore.so with the Swift runtime linked in, so that C and Python
# hosts need no Swift installation: .build-lib/release/libclipcore.so
# It exports only the clip_* functions and its SONAME is libclipcore.so.0
# (Package.swift), so programs linked with -lclipcore look for libclipcore.so.0
# at run time: the link beside the library is that name.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product clipcore -Xswiftc -static-stdlib --scratch-path .build-lib
ln -sfn libclipcore.so .build-lib/release/libclipcore.so.0
echo "built $(pwd)/.build-lib/release/libclipcore.so (and the libclipcore.so.0 link)"
