#!/usr/bin/env python3
"""Checks the status codes against their one source, include/clipcore.h.

The codes are also spelled out in Sources/CAPI/CAPI.swift (the constants, the
ClipError.Kind -> code switch, the clip_status_string table) and in
python/clipcore/__init__.py. This script fails (exit 1, one line per problem)
when any of them disagrees with the header's enum. With a library path as the
first argument it also asks that library's clip_status_string for every code.

Usage: scripts/check-status-codes.py [path/to/libclipcore.so]
"""
import ctypes
import os
import re
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

    # Swift: the constants at the top of CAPI.swift.
    swift = read("Sources/CAPI/CAPI.swift")
    swift_codes = {n: int(v) for n, v in re.findall(r"\blet\s+(CLIP_(?:OK|ERR_[A-Z_]+))\s*:\s*Int32\s*=\s*(-?\d+)", swift)}
    if swift_codes != header:
        problems.append(f"Sources/CAPI/CAPI.swift constants {swift_codes} differ from the header's {header}")

    # Swift: every ClipError.Kind maps to its own code, and every error code has a kind.
    kinds_src = read("Sources/Tensor/ClipError.swift")
    enum_body = re.search(r"enum Kind[^{]*\{(.*?)\n    \}", kinds_src, re.S)
    kinds = set(re.findall(r"^\s*case\s+`?(\w+)`?\s*$", enum_body.group(1), re.M)) if enum_body else set()
    mapping = dict(re.findall(r"case\s+\.(\w+):\s*return\s+(CLIP_ERR_[A-Z_]+)", swift))
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

    # The library: clip_status_string knows every code, and no two share a description.
    if len(sys.argv) > 1:
        lib = ctypes.CDLL(sys.argv[1])
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
          + (", clip_status_string" if len(sys.argv) > 1 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
