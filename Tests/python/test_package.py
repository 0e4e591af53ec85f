"""The pip-installed clipcore package: what `pip install ./python` gives a user.

Usage: python test_package.py FIXTURES_DIR
Run with the Python of a fresh virtual environment into which ./python was
pip-installed, in an empty environment (scripts/test-python-package.sh does
both). Checks that the package is the installed one, that it loads the
libclipcore.so inside it with no variable set and encodes, that the wheel is
tagged for a platform, that CLIPCORE_LIB still overrides, that the module's
namespace is its API (__all__), and that every public function and method
has type hints and a docstring that help() shows.
Prints one line per check; exits 1 on any failure.
"""
import inspect
import os
import pydoc
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from importlib import metadata
from pathlib import Path

import clipcore

results = []


def check(name, condition, detail=""):
    results.append(bool(condition))
    print(("ok    " if condition else "FAIL  ") + name + (f"  ({detail})" if detail and not condition else ""))


def installed(fixtures):
    package = Path(clipcore.__file__).resolve().parent
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    platlib = Path(sysconfig.get_paths()["platlib"]).resolve()
    check("clipcore is the package installed in this environment", package.parent in (site, platlib), package)
    check("no variable points at a library", "CLIPCORE_LIB" not in os.environ and "LD_LIBRARY_PATH" not in os.environ,
          sorted(os.environ))
    check("the library loaded is the one inside the package",
          Path(clipcore.library_path).resolve() == package / "libclipcore.so", clipcore.library_path)
    wheel = metadata.distribution("clipcore").read_text("WHEEL") or ""
    tags = [line.split(":", 1)[1].strip() for line in wheel.splitlines() if line.startswith("Tag:")]
    check("the wheel is tagged for a platform (py3-none-<platform>), not py3-none-any",
          len(tags) == 1 and tags[0].startswith("py3-none-") and not tags[0].endswith("-any"), tags)
    check("the wheel installs as platform-specific (Root-Is-Purelib: false)", "Root-Is-Purelib: false" in wheel, wheel)
    files = [str(f) for f in metadata.files("clipcore") or []]
    check("the wheel's files hold clipcore/libclipcore.so", "clipcore/libclipcore.so" in files, files)

    expected = {}
    for line in (fixtures / "capi" / "clip" / "expected.txt").read_text().splitlines():
        key, _, value = line.partition(" ")
        expected.setdefault(key, []).append(value)
    model_dir = fixtures / expected["model"][0]
    with clipcore.Model(model_dir) as model:
        texts = model.encode_texts(expected["text"])
    want = [float(x) for x in expected["text_embeds"][0].split()]
    got = texts.ravel().tolist()
    check("Model(...).encode_texts gives transformers' embeddings (1e-4)",
          len(got) == len(want) and max(abs(a - b) for a, b in zip(got, want)) <= 1e-4)

    # CLIPCORE_LIB still wins over the library inside the package.
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "elsewhere" / "libclipcore.so"
        other.parent.mkdir()
        shutil.copyfile(package / "libclipcore.so", other)
        out = subprocess.run([sys.executable, "-c", "import clipcore; print(clipcore.library_path)"],
                             env={"CLIPCORE_LIB": str(other)}, capture_output=True, text=True)
        check("CLIPCORE_LIB overrides the packaged library", out.returncode == 0 and out.stdout.strip() == str(other),
              out.stdout + out.stderr)
        out = subprocess.run([sys.executable, "-c", "import clipcore"], env={"CLIPCORE_LIB": str(Path(tmp) / "none.so")},
                             capture_output=True, text=True)
        check("a CLIPCORE_LIB that does not exist is not silently replaced",
              out.returncode != 0 and "none.so" in out.stderr, out.stderr[-300:])


def namespace():
    public = sorted(n for n in vars(clipcore) if not n.startswith("_"))
    check("the module's public names are exactly __all__", public == sorted(clipcore.__all__),
          f"not in __all__: {sorted(set(public) - set(clipcore.__all__))}, "
          f"missing: {sorted(set(clipcore.__all__) - set(public))}")
    check("__all__ has no duplicates", len(set(clipcore.__all__)) == len(clipcore.__all__))
    check("the module has a docstring that names the library lookup",
          "CLIPCORE_LIB" in (clipcore.__doc__ or "") and "raw" in clipcore.__doc__)


def annotated(fn, is_method):
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())[1 if is_method else 0:]
    missing = [p.name for p in params if p.annotation is inspect.Parameter.empty
               and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if sig.return_annotation is inspect.Signature.empty:
        missing.append("return")
    return missing


def hints_and_docs():
    problems = []
    for name in clipcore.__all__:
        obj = getattr(clipcore, name)
        if inspect.isfunction(obj):
            if not inspect.getdoc(obj):
                problems.append(f"{name}: no docstring")
            if annotated(obj, False):
                problems.append(f"{name}: no type hint for {annotated(obj, False)}")
        elif inspect.isclass(obj):
            if not (obj.__doc__ or "").strip():
                problems.append(f"{name}: no docstring")
            for attr, member in vars(obj).items():
                if attr.startswith("_") and attr != "__init__":
                    continue
                if isinstance(member, property):
                    if not member.__doc__:
                        problems.append(f"{name}.{attr}: no docstring")
                    if annotated(member.fget, True):
                        problems.append(f"{name}.{attr}: no return type hint")
                elif inspect.isfunction(member):
                    if not member.__doc__:
                        problems.append(f"{name}.{attr}: no docstring")
                    if annotated(member, True):
                        problems.append(f"{name}.{attr}: no type hint for {annotated(member, True)}")
    check("every public function, method and property has type hints and a docstring", not problems, problems)
    text = pydoc.render_doc(clipcore.Model, renderer=pydoc.plaintext)
    want = ["encode_texts(self, texts: Iterable[str]) -> numpy.ndarray", "[n, dim] float32",
            "encode_rgb8", "[n, height, width, 3]", "elip(self, mapper_path", "ELIP re-ranker",
            "num_threads", "linear_precision", "context_length"]
    check("help(clipcore.Model) shows the methods with their hints and shapes", all(w in text for w in want),
          [w for w in want if w not in text])
    text = pydoc.render_doc(clipcore.mine, renderer=pydoc.plaintext) + pydoc.render_doc(clipcore.loss, renderer=pydoc.plaintext)
    check("help(clipcore.mine / loss) shows the shapes", "[n_texts, k] int64" in text and "[n, dim] float32" in text)


def main(fixtures):
    print(f"clipcore {clipcore.version()} from {clipcore.library_path}")
    installed(Path(fixtures))
    namespace()
    hints_and_docs()
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
