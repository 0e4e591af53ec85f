#!/usr/bin/env bash
# The sanitizer passes of scripts/test.sh (`scripts/test.sh --sanitize address|thread` runs this):
#
#   address  ASan + UBSan: every Swift test target (`swift test`) and the C programs of
#            scripts/test-capi.sh --sanitizer (Tests/capi/capi_check.c, Tests/capi/concurrency.c,
#            examples/c/rerank.c) against a libclipcore.so built the same way. Swift code gets
#            -sanitize=address (this swiftc has no -sanitize=undefined on Linux: it refuses it for
#            x86_64-unknown-linux-gnu), the C targets (kernels, codecs, FAISS shim, GRDB's SQLite
#            glue) -fsanitize=address,undefined. Scratch folder .build-asan.
#   thread   TSan: the concurrency tests, Swift (`swift test --filter Concurrency`) and C
#            (Tests/capi/concurrency.c), against a TSan build in .build-tsan.
#
# Both stop at the first finding (halt_on_error; UBSan also prints the stack), and LeakSanitizer
# runs at the end of each C program. Suppressions live in scripts/sanitizers/*.supp, each entry
# with the reason it is not ours; a finding in clipcore's own code is fixed, never suppressed.
# OpenBLAS, FAISS, libpng, libjpeg and the Swift runtime are not instrumented.
# The C programs are built by the toolchain's clang, whose sanitizer runtimes are the ones the Swift
# code was built against; the library links the toolchain's Swift runtime (rpath below).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
supp=$(pwd)/scripts/sanitizers
swiftc=$(readlink -f "$(command -v swiftc)")
toolchain=$(dirname "$(dirname "$swiftc")")
clang=$toolchain/bin/clang
swift_runtime=$toolchain/lib/swift/linux
case "$mode" in
    address)
        scratch=.build-asan
        swift_flags=(--sanitize address -Xcc -fsanitize=undefined -Xcc -fno-sanitize=vptr)
        c_flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -fuse-ld=lld"
        export ASAN_OPTIONS=halt_on_error=1:abort_on_error=0:detect_leaks=1:detect_stack_use_after_return=0
        export LSAN_OPTIONS=suppressions=$supp/lsan.supp:print_suppressions=0
        export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp
        ;;
    thread)
        scratch=.build-tsan
        swift_flags=(--sanitize thread)
        # the toolchain's TSan runtime carries libdispatch interceptors: the program links libdispatch
        c_flags="-fsanitize=thread -fuse-ld=lld -L$swift_runtime -ldispatch -lBlocksRuntime"
        export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp
        filter=(--filter Concurrency)
        ;;
    *)
        echo "usage: $0 address|thread" >&2
        exit 2
        ;;
esac
start=$SECONDS
echo "== $mode sanitizer: building into $scratch"
swift build -c release --build-tests --scratch-path "$scratch" "${swift_flags[@]}"
# libclipcore.so from the same objects (the Swift runtime linked dynamically, from the toolchain)
swift build -c release --product clipcore --scratch-path "$scratch" "${swift_flags[@]}"
lib=$(pwd)/$scratch/release
ln -sfn libclipcore.so "$lib/libclipcore.so.0"
echo "== $mode sanitizer: C programs"
CLIPCORE_CAPI_LIB=$lib CLIPCORE_CAPI_CC=$clang \
    CLIPCORE_CAPI_CFLAGS="$c_flags -Wl,-rpath,$swift_runtime" \
    scripts/test-capi.sh --sanitizer
echo "== $mode sanitizer: Swift tests ${filter[*]:-(all)}"
if [ "$mode" = address ]; then
    # SearchTests feeds damaged index files to FAISS, whose reader leaks (scripts/sanitizers/lsan.supp);
    # libstdc++ has no frame pointers, so only a full unwind of each allocation (slow) shows the
    # faiss::read_index frame the suppression names: that suite runs in a process of its own with it.
    swift test -c release --skip-build --scratch-path "$scratch" "${swift_flags[@]}" --skip SearchTests
    ASAN_OPTIONS=$ASAN_OPTIONS:fast_unwind_on_malloc=0 LSAN_OPTIONS=$LSAN_OPTIONS:fast_unwind_on_malloc=0 \
        swift test -c release --skip-build --scratch-path "$scratch" "${swift_flags[@]}" --filter SearchTests
else
    swift test -c release --skip-build --scratch-path "$scratch" "${swift_flags[@]}" "${filter[@]}"
fi
echo "== $mode sanitizer: clean ($((SECONDS - start)) s)"
