"""The build step of the clipcore wheel: the binding (clipcore/) plus libclipcore.so.

pip install ./python (or pip wheel ./python) builds the library from the clipcore
checkout that holds this folder with scripts/build-lib.sh (a release build with the
Swift runtime linked in, so the wheel needs no Swift installation), unless
.build-lib/release/libclipcore.so is already newer than every file it is built
from, and copies it into the package as clipcore/libclipcore.so. The wheel is
tagged py3-none-<platform>: no CPython extension, but a binary for one platform.
An editable install (pip install -e) copies nothing: the module then loads the
checkout's .build-lib/release/libclipcore.so.
"""
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = ROOT / "scripts" / "build-lib.sh"
LIBRARY = ROOT / ".build-lib" / "release" / "libclipcore.so"
# Touched after each successful scripts/build-lib.sh: a build that had nothing to do leaves
# the library's time as it was, and the stamp records that it is current all the same.
STAMP = ROOT / ".build-lib" / "libclipcore.so.checked"
# What the library is built from: a file here newer than the library rebuilds it.
INPUTS = ("Package.swift", "Package.resolved", "Sources", "include", "scripts/build-lib.sh")


def newest_input():
    """(mtime, path) of the newest file the library is built from."""
    newest = (0.0, None)
    for rel in INPUTS:
        top = ROOT / rel
        if top.is_file():
            newest = max(newest, (top.stat().st_mtime, top))
        for p in top.rglob("*") if top.is_dir() else ():
            if p.is_file():
                newest = max(newest, (p.stat().st_mtime, p))
    return newest


def library():
    """The path of a libclipcore.so built from this checkout's current sources (building it if needed)."""
    if not BUILD_SCRIPT.is_file() or not (ROOT / "Package.swift").is_file():
        raise SystemExit(f"clipcore: {ROOT} is not a clipcore checkout: the wheel carries libclipcore.so, which is "
                         "built from the checkout's sources (scripts/build-lib.sh); build it from there, "
                         "e.g. pip install ./python")
    mtime, path = newest_input()
    if LIBRARY.is_file():
        built = max(LIBRARY.stat().st_mtime, STAMP.stat().st_mtime if STAMP.is_file() else 0.0)
        if built >= mtime:
            print(f"clipcore: {LIBRARY} is newer than its sources: not rebuilt")
            return LIBRARY
    why = "not built yet" if not LIBRARY.is_file() else f"older than {path.relative_to(ROOT)}"
    print(f"clipcore: {LIBRARY} is {why}: running scripts/build-lib.sh (a release build; minutes the first time)")
    done = subprocess.run(["bash", str(BUILD_SCRIPT)], cwd=ROOT)
    if done.returncode != 0 or not LIBRARY.is_file():
        raise SystemExit(f"clipcore: scripts/build-lib.sh failed (exit {done.returncode}); it needs Swift and the "
                         "system libraries of scripts/install-deps.sh")
    STAMP.touch()
    return LIBRARY


class BuildPyWithLibrary(build_py):
    """build_py, then libclipcore.so into the built package."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        dest = Path(self.build_lib) / "clipcore" / "libclipcore.so"
        self.mkpath(str(dest.parent))
        self.copy_file(str(library()), str(dest))


class PlatformWheel(bdist_wheel):
    """A wheel for this platform (it carries a binary) that any Python 3 can use (ctypes, no extension)."""

    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        return "py3", "none", super().get_tag()[2]


setup(cmdclass={"build_py": BuildPyWithLibrary, "bdist_wheel": PlatformWheel})
