#!/usr/bin/env python3
"""Checks the C interface against its one source, include/clipcore.h.

Swift takes the codes from the header itself (Sources/CAPI imports it as the C
module CClipABI); what is left to check by reading is: the ClipError.Kind ->
code switch and the clip_status_string table in Sources/CAPI/CAPI.swift, the
copy in python/clipcore/__init__.py, and that the header's functions, the @_cdecl
functions and the list of Sources/CAPI/HeaderCheck.swift (which holds each
function's type to the header's at compile time) are the same set. This script
fails (exit 1, one line per problem) when any of them disagrees with the
header. With a library path as the first argument it also asks that library's
clip_status_string for every code, and checks that the library exports
exactly the header's functions.

Usage: scripts/check-status-codes.py [path/to/libclipcore.so]
"""
import ctypes
import os
import re
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def header_codes(text):
    """CLIP_OK / CLIP_ERR_* name -> value, from the enum that holds CLIP_OK."""
    m = re.search(r"enum\s*\{([^}]*\bCLIP_OK\b[^}]*)\}", text)
    if not m:
        raise SystemExit("FAIL  include/clipcore.h: no enum with CLIP_OK")
    codes = {}
    for name, value in re.findall(r"\b(CLIP_(?:OK|ERR_[A-Z_]+))\s*=\s*(-?\d+)", m.group(1)):
        codes[name] = int(value)
    return codes


def main():
    problems = []
    header = header_codes(read("include/clipcore.h"))
    if header.get("CLIP_OK") != 0:
        problems.append("include/clipcore.h: CLIP_OK is not 0")
    errors = sorted(((v, k) for k, v in header.items() if k != "CLIP_OK"), reverse=True)
    if [v for v, _ in errors] != list(range(-1, -len(errors) - 1, -1)):
        problems.append(f"include/clipcore.h: error codes are not -1, -2, ... in order: {errors}")

    # Swift: no literal copies of the codes (they come from the header module).
    swift = read("Sources/CAPI/CAPI.swift")
    copies = re.findall(r"\blet\s+(CLIP_[A-Z_]+)\s*(?::\s*\w+\s*)?=", swift)
    if copies:
        problems.append(f"Sources/CAPI/CAPI.swift defines {copies}: use the header's (import CClipABI)")

    # Swift: every ClipError.Kind maps to its own code, and every error code has a kind.
    kinds_src = read("Sources/Tensor/ClipError.swift")
    enum_body = re.search(r"enum Kind[^{]*\{(.*?)\n    \}", kinds_src, re.S)
    kinds = set(re.findall(r"^\s*case\s+`?(\w+)`?\s*$", enum_body.group(1), re.M)) if enum_body else set()
    mapping = dict(re.findall(r"case\s+\.(\w+):\s*return\s+Int32\((CLIP_ERR_[A-Z_]+)\)", swift))
    if set(mapping) != kinds:
        problems.append(f"CAPI.swift statusCode: kinds {sorted(mapping)} differ from ClipError.Kind {sorted(kinds)}")
    error_names = {k for k in header if k != "CLIP_OK"}
    if sorted(mapping.values()) != sorted(error_names):
        problems.append(f"CAPI.swift statusCode: codes {sorted(mapping.values())} are not each of {sorted(error_names)} once")

    # Swift: the clip_status_string table has one entry per code (index = -status).
    table = re.search(r"statusStrings[^=]*=\s*\(\[(.*?)\]", swift, re.S)
    entries = re.findall(r'"([^"]*)"', table.group(1)) if table else []
    if len(entries) != len(header):
        problems.append(f"CAPI.swift statusStrings has {len(entries)} entries for {len(header)} codes")

    # Python: the tuple assignment in python/clipcore/__init__.py.
    py = read("python/clipcore/__init__.py")
    m = re.search(r"^(OK,\s*ERR_[A-Z_, ]+?)\s*=\s*([-\d, ]+)$", py, re.M)
    if not m:
        problems.append("python/clipcore/__init__.py: no 'OK, ERR_... = 0, -1, ...' line")
    else:
        names = [n.strip() for n in m.group(1).split(",")]
        values = [int(v) for v in m.group(2).split(",")]
        py_codes = {"CLIP_" + n: v for n, v in zip(names, values)}
        if len(names) != len(values) or py_codes != header:
            problems.append(f"python/clipcore/__init__.py codes {py_codes} differ from the header's {header}")

    # Functions: the header's declarations, the @_cdecl shims and HeaderCheck.swift's list agree.
    text = read("include/clipcore.h")
    declared = set(re.findall(r"^CLIP_API\b[^(]*?\b(clip_\w+)\s*\(", text, re.M))
    sources = "".join(read(os.path.join("Sources/CAPI", f)) for f in sorted(os.listdir(os.path.join(ROOT, "Sources/CAPI")))
                      if f.endswith(".swift"))
    shims = set(re.findall(r'@_cdecl\("(clip_\w+)"\)', sources))
    checked = set(re.findall(r"=\s*CClipABI\.(clip_\w+)\s*;\s*\w+\s*=\s*CAPI\.\1\b", read("Sources/CAPI/HeaderCheck.swift")))
    if not declared:
        problems.append("include/clipcore.h: no CLIP_API function declarations found")
    if shims != declared:
        problems.append(f"@_cdecl functions differ from the header's: only in Swift {sorted(shims - declared)}, "
                        f"only in the header {sorted(declared - shims)}")
    if checked != declared:
        problems.append(f"Sources/CAPI/HeaderCheck.swift checks {len(checked)} functions; missing {sorted(declared - checked)}, "
                        f"not in the header {sorted(checked - declared)}")

    # The library: clip_status_string knows every code, and no two share a description.
    if len(sys.argv) > 1:
        lib = ctypes.CDLL(sys.argv[1])
        try:
            out = subprocess.run(["nm", "-D", "--defined-only", sys.argv[1]], capture_output=True, text=True, check=True).stdout
            exported = {line.split()[-1] for line in out.splitlines() if line.strip()}
            if exported != declared:
                problems.append(f"{sys.argv[1]} exports {sorted(exported - declared)} beyond the header and lacks {sorted(declared - exported)}")
        except (OSError, subprocess.CalledProcessError) as e:
            problems.append(f"nm -D {sys.argv[1]} failed: {e}")
        lib.clip_status_string.restype = ctypes.c_char_p
        lib.clip_status_string.argtypes = [ctypes.c_int]
        unknown = lib.clip_status_string(12345).decode()
        seen = {}
        for name, value in sorted(header.items(), key=lambda kv: -kv[1]):
            s = lib.clip_status_string(value).decode()
            if s == unknown or not s:
                problems.append(f"clip_status_string({name} = {value}) is '{s}'")
            elif s in seen:
                problems.append(f"clip_status_string gives '{s}' for both {seen[s]} and {name}")
            seen[s] = name

    for p in problems:
        print("FAIL  " + p, file=sys.stderr)
    if problems:
        return 1
    print(f"ok    status codes agree: header, Swift, Python ({len(header)} codes)"
          + (", clip_status_string" if len(sys.argv) > 1 else "")
          + f"; {len(declared)} functions: header = @_cdecl = HeaderCheck.swift" + (" = exports" if len(sys.argv) > 1 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
