#!/usr/bin/env bash
# The Python package as a user gets it: `pip install ./python` into a fresh virtual
# environment (the wheel carries libclipcore.so: setup.py copies the library that
# scripts/build-lib.sh built, or builds it when it is missing or older than its
# sources), then, in an empty environment (no CLIPCORE_LIB, no PYTHONPATH, no
# Swift runtime on the library path):
#  - Tests/python/test_package.py: the installed package loads the library inside
#    it and encodes; the wheel's platform tag; CLIPCORE_LIB still overrides; the
#    module's namespace is its __all__; type hints and docstrings on the API;
#  - Tests/python/test_binding.py: parity with transformers, NumPy loss and mining,
#    bad input, threads, and examples/python/rerank.py.
# The environment is made with whatever `python3` is on PATH; pip fetches numpy and
# the build's setuptools from PyPI, at the versions of Tools/requirements-test.txt.
#
# With --variant, only the binding test, for a rerun under another OPENBLAS_CORETYPE or
# CLIPCORE_KERNELS=baseline (scripts/test-capi.sh --variant): those variables, and no
# other, travel into the empty environment.
set -euo pipefail
cd "$(dirname "$0")/.."
variant=0
[ "${1:-}" = "--variant" ] && variant=1
kernel_env=()
for v in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE CLIPCORE_KERNELS; do
    [ -n "${!v:-}" ] && kernel_env+=("$v=${!v}")
done
command -v python3 >/dev/null 2>&1 || { echo "python3 not found on PATH (scripts/install-deps.sh --test installs it)" >&2; exit 1; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch" python/build python/clipcore.egg-info' EXIT
python3 -m venv --clear "$scratch/venv" || {
    echo "python3 -m venv failed: on Debian install python3-venv (scripts/install-deps.sh --test)" >&2; exit 1; }
py="$scratch/venv/bin/python"
# The constraints reach the isolated build environment too (setuptools) through PIP_CONSTRAINT.
PIP_CONSTRAINT="$(pwd)/Tools/requirements-test.txt" "$py" -m pip install -q --disable-pip-version-check ./python
package=$(env -i "$py" -c 'import clipcore, os; print(os.path.dirname(clipcore.__file__))')
if ! cmp -s .build-lib/release/libclipcore.so "$package/libclipcore.so"; then
    echo "FAIL  the installed $package/libclipcore.so is not .build-lib/release/libclipcore.so" >&2
    exit 1
fi
echo "ok    pip install ./python: $package holds this checkout's libclipcore.so"
[ "$variant" = 1 ] || env -i "$py" Tests/python/test_package.py "$(pwd)/Tests/Fixtures"
env -i "${kernel_env[@]}" "$py" Tests/python/test_binding.py "$(pwd)/Tests/Fixtures"
