#!/usr/bin/env bash
# The Distributed layer and data-parallel training under Open MPI (docs/DISTRIBUTED.md):
#   1. DistributedCheck, every collective with known values on every rank, alone and under
#      `mpirun -np 2` and `-np 3` (--oversubscribe, --allow-run-as-root: CI runs as root);
#      and launched under mpirun with libmpi unloadable: a clear error, not a hang;
#   2. the plain `clip` binary and libclipcore.so link no MPI (ldd);
#      a data-parallel command runs alone with no libmpi reachable; a command that is not data parallel
#      is refused under mpirun -np 2;
#   3. data-parallel training checks (scripts/test-mpi-training.sh).
# Without mpirun it fails, unless CLIPCORE_MPI_OPTIONAL=1 (then it says so and skips).
# The Swift Testing suite of the single process is ClipDistributedTests (scripts/test.sh runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/mpi-env.sh
mpi_env test-mpi
swift build -c release --product DistributedCheck
swift build -c release --product clip
mpirun=(mpirun --oversubscribe --allow-run-as-root)
check=.build/release/DistributedCheck

echo "== DistributedCheck: single process"
"$check"
for n in 2 3; do
    echo "== DistributedCheck: mpirun -np $n"
    timeout 300 "${mpirun[@]}" -np "$n" "$check"
done

echo "== launched under mpirun without a loadable libmpi: an error naming it"
set +e
out=$(timeout 120 "${mpirun[@]}" -np 2 -x CLIPCORE_MPI_LIBRARY=/nonexistent/libmpi.so.40 "$check" 2>&1)
rc=$?
set -e
if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || ! grep -q "cannot load the MPI library" <<<"$out"; then
    echo "test-mpi: expected a failure naming the MPI library (rc $rc):" >&2
    echo "$out" >&2
    exit 1
fi

echo "== DistributedCheck catches a wrong communicator (CLIPCORE_DISTRIBUTED=off under mpirun: size 1, not 2)"
if timeout 120 "${mpirun[@]}" -np 2 -x CLIPCORE_DISTRIBUTED=off "$check" >/dev/null 2>&1; then
    echo "test-mpi: DistributedCheck passed ranks that each believed they were alone" >&2
    exit 1
fi

echo "== no MPI linked into clip or libclipcore.so"
if ldd .build/release/clip | grep -i mpi; then
    echo "test-mpi: .build/release/clip links MPI" >&2; exit 1
fi
swift build -c release --product clipcore
lib=.build/release/libclipcore.so
[ -f "$lib" ] || { echo "test-mpi: $lib was not built" >&2; exit 1; }
if ldd "$lib" | grep -i mpi; then
    echo "test-mpi: $lib links MPI" >&2; exit 1
fi
# And a data-parallel command runs in a single process with no libmpi reachable at all (it asks for
# the communicator, and must get the single process without loading MPI).
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
noenv=(env -u OMPI_COMM_WORLD_SIZE -u PMI_SIZE -u PMIX_RANK CLIPCORE_MPI_LIBRARY=/nonexistent/libmpi.so)
"${noenv[@]}" .build/release/clip data synth --out "$scratch/data" --n 12 --size 32 --seed 1 >/dev/null
"${noenv[@]}" .build/release/clip encode-dataset --model Tests/Fixtures/clip/gelu_vocab --data "$scratch/data/manifest.jsonl" \
    --out "$scratch/enc" >/dev/null || { echo "test-mpi: a single-process encode-dataset needed MPI" >&2; exit 1; }

echo "== a command that does not run data parallel is refused under mpirun -np 2"
set +e
out=$(timeout 120 "${mpirun[@]}" -np 2 .build/release/clip info --model Tests/Fixtures/clip/gelu_vocab 2>&1)
rc=$?
set -e
if [ "$rc" -eq 0 ] || ! grep -q "does not run data parallel" <<<"$out"; then
    echo "test-mpi: 'clip info' under mpirun -np 2 was not refused (rc $rc):" >&2
    echo "$out" >&2
    exit 1
fi

bash scripts/test-mpi-training.sh
echo "test-mpi: all passed"
