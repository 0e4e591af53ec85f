#!/usr/bin/env bash
# The Swift host: examples/swift is a separate package that depends on clipcore by path and uses
# only `import ClipCore`, as a user's package would. Built here and run as a test:
#  - the check run loads the CLIP and SigLIP fixture models, encodes texts and images, computes
#    both losses with their gradients, searches (exact and a FAISS index), mines hard negatives
#    and re-ranks with ELIP (one query, then ELIPReranker over a dataset), compares every result
#    with transformers' values or a direct computation, and exits 1 on any mismatch;
#  - the plain run re-ranks two images for a query and must list both.
# Its build folder is examples/swift/.build (ignored by git, like every .build/).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --package-path examples/swift --scratch-path examples/swift/.build
example=examples/swift/.build/release/clipcore-example
"$example" --fixtures Tests/Fixtures
fx=Tests/Fixtures/clip/gelu_vocab
out=$("$example" --model "$fx" --mapper Tests/Fixtures/capi/clip/mapper.safetensors \
      --query "a small red circle" --k 2 "$fx/image0.png" "$fx/image1.png")
echo "$out"
listed=$(grep -c -E "^ +[12] +[12] .*$fx/image[01]\.png$" <<<"$out" || true)
if [ "$listed" != 2 ]; then
    echo "FAIL  the plain run listed $listed of the 2 images" >&2
    exit 1
fi
echo "ok    the plain run ranks both images"
