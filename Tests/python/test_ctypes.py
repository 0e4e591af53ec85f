"""libclipcore.so from Python through ctypes, with no Swift runtime on the library path.

Usage: python3 test_ctypes.py /path/to/libclipcore.so
Prints one line per check and a closing 'N passed, N failed' line; exits 1 on any failure.
"""
import ctypes
import os
import re
import sys

results = []


def check(name, condition, detail=""):
    results.append(bool(condition))
    print(("ok    " if condition else "FAIL  ") + name + (f"  ({detail})" if detail and not condition else ""))


def main(path):
    check("no LD_LIBRARY_PATH in the environment", "LD_LIBRARY_PATH" not in os.environ)
    lib = ctypes.CDLL(path)
    lib.clip_version.restype = ctypes.c_char_p
    lib.clip_abi_version.restype = ctypes.c_int32
    lib.clip_num_threads.restype = ctypes.c_int32
    lib.clip_set_num_threads.restype = ctypes.c_int32
    lib.clip_set_num_threads.argtypes = [ctypes.c_int32]
    lib.clip_status_string.restype = ctypes.c_void_p   # the address, to check it is static and never NULL
    lib.clip_status_string.argtypes = [ctypes.c_int]

    version = lib.clip_version().decode()
    check("clip_version is MAJOR.MINOR.PATCH", re.fullmatch(r"\d+\.\d+\.\d+", version), version)
    check("clip_version is stable across calls", lib.clip_version().decode() == version)
    check("clip_abi_version is 1", lib.clip_abi_version() == 1, lib.clip_abi_version())
    # The header's version macros describe this library: MAJOR.MINOR.PATCH, ABI and the one-integer form.
    header = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "include", "clipcore.h")).read()
    macros = dict(re.findall(r"^#define (CLIP_(?:VERSION_\w+|ABI_VERSION))\s+(.+?)\s*$", header, re.M))
    parts = [int(macros[f"CLIP_VERSION_{k}"]) for k in ("MAJOR", "MINOR", "PATCH")]
    check("clip_version() is the header's CLIP_VERSION_MAJOR.MINOR.PATCH", version == "%d.%d.%d" % tuple(parts),
          (version, parts))
    check("clip_abi_version() is the header's CLIP_ABI_VERSION", lib.clip_abi_version() == int(macros["CLIP_ABI_VERSION"]))
    number = eval(re.sub(r"CLIP_VERSION_(MAJOR|MINOR|PATCH)", lambda m: macros[m.group(0)], macros["CLIP_VERSION_NUMBER"]),
                  {"__builtins__": {}})
    v = [int(x) for x in version.split(".")]
    check("CLIP_VERSION_NUMBER is MAJOR * 10000 + MINOR * 100 + PATCH of clip_version()",
          number == v[0] * 10000 + v[1] * 100 + v[2] and v[1] < 100 and v[2] < 100, (number, version))
    check("clip_num_threads is positive", lib.clip_num_threads() >= 1)
    check("clip_set_num_threads(3) takes effect", lib.clip_set_num_threads(3) == 3 and lib.clip_num_threads() == 3)
    check("clip_set_num_threads(0) clamps to 1", lib.clip_set_num_threads(0) == 1)

    def status(code):
        p = lib.clip_status_string(code)
        return p, ctypes.string_at(p).decode() if p else None

    names = {0: "ok", -1: "invalid argument", -2: "I/O error", -3: "format error", -4: "shape mismatch",
             -5: "unsupported", -6: "out of memory", -7: "internal error"}
    got = {code: status(code)[1] for code in names}
    check("clip_status_string names every status code", got == names, got)
    check("clip_status_string returns the same static string each call",
          all(status(code)[0] == status(code)[0] for code in names))
    unknown = [status(code) for code in (1, 7, -8, 12345, -2**31, 2**31 - 1)]
    check("clip_status_string is 'unknown status' for other values, never NULL",
          all(p and text == "unknown status" for p, text in unknown), unknown)

    # handles and options need no model to be refused
    c = ctypes
    for name in ("clip_model_kind", "clip_model_embedding_dim", "clip_model_image_size", "clip_model_context_length"):
        getattr(lib, name).argtypes = [c.c_void_p, c.POINTER(c.c_int32)]
    v = c.c_int32(-5)
    codes = [getattr(lib, n)(h, c.byref(v)) for n in ("clip_model_kind", "clip_model_image_size") for h in (None, 0x0C1F000000000001, 0x1234)]
    check("introspection refuses NULL and unknown handles, writing nothing", codes == [-1] * 6 and v.value == -5, codes)
    lib.clip_last_error.restype = c.c_char_p
    lib.clip_model_load_ex.argtypes = [c.c_char_p, c.c_void_p, c.POINTER(c.c_void_p)]
    h = c.c_void_p(1)
    for size in (0, 3):
        opts = (c.c_uint32 * 3)(size, 0, 0xFFFFFFFF)
        rc = lib.clip_model_load_ex(b"/nonexistent", opts, c.byref(h))
        check(f"clip_model_load_ex refuses struct_size {size} before loading", rc == -1 and not h.value
              and b"struct_size" in lib.clip_last_error(), (rc, lib.clip_last_error()))
    rc = lib.clip_model_load_ex(b"/nonexistent", None, c.byref(h))
    check("clip_model_load_ex(NULL options) reaches the load (I/O error)", rc == -2, rc)
    h.value = 1
    rc = lib.clip_model_load_ex(b"/nonexistent", (c.c_uint32 * 3)(0, 0, 0), c.byref(h))
    check("clip_model_load_ex(zeroed options) means the defaults: it reaches the load (I/O error)", rc == -2 and not h.value, rc)

    with open("/proc/self/maps") as f:
        mapped = f.read()
    swift_libs = sorted(set(re.findall(r"\S*libswift\w*\.so\S*", mapped)))
    check("no Swift runtime library is mapped into the process", not swift_libs, ", ".join(swift_libs))
    check("libclipcore.so itself is mapped", os.path.realpath(path) in mapped)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
    passed = sum(results)
    failed = len(results) - passed
    print(f"ctypes: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
