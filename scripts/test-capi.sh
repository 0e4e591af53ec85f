#!/usr/bin/env bash
# The C ABI from its two hosts, against the fixture models (CLIP and SigLIP):
#  - Tests/capi/capi_check.c, built against include/clipcore.h, checks every
#    output against transformers' values, then runs again under valgrind
#    (no invalid access, no definite leak) when valgrind is installed;
#  - examples/c/rerank.c, the example program, re-ranks a fixture as transformers
#    does and names a missing file;
#  - scripts/check-status-codes.py checks the status codes of CAPI.swift and
#    python/clipcore/__init__.py (and clip_status_string) against the header's enum;
#  - scripts/test-python-package.sh: `pip install ./python` into a fresh virtual
#    environment, then the package test and the binding test (parity, NumPy
#    loss/mining, bad input, threads) and the Python example, with no variable set.
#
#  - Tests/capi/concurrency.c: 8 threads on one handle, 8 threads on 8 handles, handles freed
#    while others are in use, settings changed while calls run; every result bitwise equal to the
#    serial run's.
#
# With --variant, only the checks of numbers (the C ABI check and the binding test), for a rerun
# under another OPENBLAS_CORETYPE or CLIPCORE_KERNELS=baseline (scripts/test.sh does both); each
# run prints the kernels in force, and the binding test fails if the asked-for ones are not.
# With --sanitizer, only the C programs (the ABI check, the concurrency check, the example), built
# by $CLIPCORE_CAPI_CC with $CLIPCORE_CAPI_CFLAGS against the library in $CLIPCORE_CAPI_LIB
# (scripts/test-sanitize.sh sets them: a sanitized libclipcore.so and its runtime).
set -euo pipefail
cd "$(dirname "$0")/.."
lib=${CLIPCORE_CAPI_LIB:-$(pwd)/.build-lib/release}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
variant=0 sanitizer=0
[ "${1:-}" = "--variant" ] && variant=1
[ "${1:-}" = "--sanitizer" ] && sanitizer=1
read -r -a cflags <<< "${CLIPCORE_CAPI_CFLAGS:-}"
if [ "$variant" = 0 ] && [ "$sanitizer" = 0 ]; then
# The library exports the C interface and nothing else (Sources/CAPI/clipcore.map), under its SONAME.
# No exceptions are needed: every defined dynamic symbol must be a clip_ function.
extra=$(nm -D --defined-only "$lib/libclipcore.so" | awk '{ print $NF }' | grep -v '^clip_' || true)
if [ -n "$extra" ]; then
    echo "FAIL  libclipcore.so exports symbols outside the C interface:" >&2
    echo "$extra" | head -20 >&2
    echo "($(echo "$extra" | wc -l) in all; see Sources/CAPI/clipcore.map)" >&2
    exit 1
fi
echo "ok    libclipcore.so exports only clip_* ($(nm -D --defined-only "$lib/libclipcore.so" | wc -l) symbols)"
if ! readelf -d "$lib/libclipcore.so" | grep -q 'SONAME.*\[libclipcore\.so\.0\]'; then
    echo "FAIL  libclipcore.so has no SONAME libclipcore.so.0" >&2
    exit 1
fi
echo "ok    SONAME libclipcore.so.0"
fi
cc=${CLIPCORE_CAPI_CC:-$(command -v cc || command -v gcc || command -v clang)} || { echo "no C compiler found (scripts/install-deps.sh --test installs gcc)" >&2; exit 1; }
"$cc" -O1 -g -Wall -Wextra -Werror "${cflags[@]}" -Iinclude Tests/capi/capi_check.c -o "$scratch/capi_check" \
    -L"$lib" -lclipcore -Wl,-rpath,"$lib" -lm -lpthread
for kind in clip siglip; do
    "$scratch/capi_check" --check "Tests/Fixtures/capi/$kind/expected.txt" Tests/Fixtures
done
if [ "$variant" = 0 ]; then
    "$cc" -O1 -g -Wall -Wextra -Werror "${cflags[@]}" -Iinclude Tests/capi/concurrency.c -o "$scratch/concurrency" \
        -L"$lib" -lclipcore -Wl,-rpath,"$lib" -lpthread
    "$scratch/concurrency" Tests/Fixtures
fi
# The example program (examples/c/rerank.c): the fixture's query re-ranks the fixture's images with
# transformers' scores, best first; a missing mapper is exit status 1 with a message naming it.
"$cc" -O1 -Wall -Wextra -Werror "${cflags[@]}" -Iinclude examples/c/rerank.c -o "$scratch/rerank" \
    -L"$lib" -lclipcore -Wl,-rpath,"$lib"
fx=Tests/Fixtures/capi/clip
model=Tests/Fixtures/$(sed -n 's/^model //p' "$fx/expected.txt")
images=()
while read -r name; do images+=("$model/$name"); done < <(sed -n 's/^image //p' "$fx/expected.txt")
"$scratch/rerank" "$model" "$fx/mapper.safetensors" "$(sed -n 's/^query //p' "$fx/expected.txt")" "${images[@]}" \
    > "$scratch/rerank.out"
awk -v want="$(sed -n 's/^rerank_scores //p' "$fx/expected.txt")" -v paths="${images[*]}" '
    BEGIN { n = split(want, w, " "); split(paths, p, " "); for (i = 1; i <= n; i++) expected[p[i]] = w[i] }
    /^ELIP re-ranking:/ { on = 1; next }
    on && $1 ~ /^[0-9]+\.$/ {
        seen++; d = $3 - expected[$2]; if (d < 0) d = -d
        if (!($2 in expected) || d > 1e-4) bad = bad " " $2 "=" $3
        if (seen > 1 && $3 > last) bad = bad " (not best first)"
        last = $3
    }
    END { if (seen != n || bad != "") { print "FAIL  examples/c/rerank.c:" bad " (" seen " of " n " lines)"; exit 1 }
          print "ok    examples/c/rerank.c re-ranks the fixture as transformers does" }' "$scratch/rerank.out"
if "$scratch/rerank" "$model" "$scratch/no-such-mapper.safetensors" "a query" "${images[@]}" 2> "$scratch/rerank.err" >/dev/null \
    || ! grep -q "no-such-mapper" "$scratch/rerank.err"; then
    echo "FAIL  examples/c/rerank.c with a missing mapper: $(cat "$scratch/rerank.err")" >&2
    exit 1
fi
echo "ok    examples/c/rerank.c names a missing mapper and exits 1"
if [ "$sanitizer" = 1 ]; then
    exit 0   # the sanitizers checked the memory; the Python checks do not depend on them
elif [ "$variant" = 1 ]; then
    :   # the memory check does not depend on the kernels
elif command -v valgrind >/dev/null 2>&1; then
    # valgrind cannot read the toolchain's DWARF 5, so it gets a copy without debug sections.
    mkdir -p "$scratch/vg"
    strip --strip-debug -o "$scratch/vg/libclipcore.so" "$lib/libclipcore.so"
    ln -s libclipcore.so "$scratch/vg/libclipcore.so.0"   # the name the program asks for (the SONAME)
    "$cc" -O1 -g -Iinclude Tests/capi/capi_check.c -o "$scratch/vg/capi_check" \
        -L"$scratch/vg" -lclipcore -Wl,-rpath,"$scratch/vg" -lm -lpthread
    valgrind -q --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --error-exitcode=9 \
        "$scratch/vg/capi_check" --check Tests/Fixtures/capi/clip/expected.txt Tests/Fixtures
    echo "valgrind: no memory errors, no definite leaks"
else
    echo "valgrind not installed: memory check skipped"
fi
# The suite's own Python (scripts/python-env.sh), never the ambient interpreter's packages.
python=${CLIPCORE_TEST_PYTHON:-$(scripts/python-env.sh)}
# The status codes: the header is their one source; Swift, Python and clip_status_string must agree.
[ "$variant" = 1 ] || "$python" scripts/check-status-codes.py "$lib/libclipcore.so"
# The Python package, pip-installed into a fresh virtual environment and run with no variable set.
if [ "$variant" = 1 ]; then scripts/test-python-package.sh --variant; else scripts/test-python-package.sh; fi
