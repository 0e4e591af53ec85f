#!/usr/bin/env bash
# The API reference as one DocC archive: the symbol documentation of every Swift library layer plus
# the ClipCore catalog (Sources/ClipCore/ClipCore.docc: the landing page and one article per verb),
# combined into .build/plugins/Swift-DocC/outputs/clipcore.doccarchive (swift-docc-plugin, a
# dependency of Package.swift). `swift package generate-documentation --target ClipCore` builds the
# catalog alone. Options after the script's name go to the plugin (e.g. --transform-for-static-hosting).
set -euo pipefail
cd "$(dirname "$0")/.."
# Every Swift library target except the C ABI (documented in include/clipcore.h), ClipCore last.
targets=$(swift package describe --type json | python3 -c '
import json, sys
ts = [t["name"] for t in json.load(sys.stdin)["targets"]
      if t["type"] == "library" and t.get("module_type") == "SwiftTarget" and t["name"] not in ("CAPI", "ClipCore")]
print(" ".join("--target " + n for n in sorted(ts) + ["ClipCore"]))')
# shellcheck disable=SC2086
swift package generate-documentation --enable-experimental-combined-documentation $targets "$@"
