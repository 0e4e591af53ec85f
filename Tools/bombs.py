#!/usr/bin/env python3
"""Resource bombs against the `clip` command-line tool (scripts/test-bombs.sh runs this).

Each bomb is built in a temporary folder (nothing large is committed), handed to one `clip`
command, and must end that process with status 1 (an error, not a crash) and a message naming the
limit, while the process's peak resident memory (its ru_maxrss, from wait4) stays under CAP_MIB.
Usage: Tools/bombs.py PATH/TO/clip   (prints one line per bomb; exits 1 if any check fails)
"""
import os, shutil, struct, subprocess, sys, tempfile, time

CAP_MIB = 256          # peak RSS of a process that reads one bomb (a normal `clip info` run is ~50 MiB)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "Tests", "Fixtures")


def model_copy(tmp, name, source="clip/gelu_vocab"):
    """A model folder whose files link to a fixture's, to replace one of them."""
    d = os.path.join(tmp, name)
    os.makedirs(d)
    for f in os.listdir(os.path.join(FIX, source)):
        os.symlink(os.path.join(FIX, source, f), os.path.join(d, f))
    return d


def replace(folder, name, data):
    path = os.path.join(folder, name)
    os.remove(path)
    with open(path, "wb") as f:
        f.write(data)
    return path


def write(tmp, name, data):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def png_header(w, h):
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + b"\0\0\0\0"


def tar_claiming(size):
    """A 512-byte ustar header for `000.txt` whose GNU base-256 size field claims `size` bytes, then 1 KiB."""
    h = bytearray(512)
    h[0:7] = b"000.txt"
    h[100:108] = b"0000644\0"
    h[124:136] = b"\x80" + size.to_bytes(11, "big")
    h[156] = ord("0")
    h[257:263] = b"ustar\0"
    h[263:265] = b"00"
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h) + b"x" * 1024


def make(tmp):
    """Writes the bomb files into tmp (run in its own process: see main)."""
    deep = b"[" * 100_000 + b"]" * 100_000
    jpeg = bytearray(open(os.path.join(FIX, "jpeg", "01_rgb444_1x1.jpg"), "rb").read())
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5:sof + 9] = struct.pack(">HH", 65500, 65500)
    laughs = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    laughs += ["a%d: &a%d [%s]" % (i, i, ", ".join(["*a%d" % (i - 1)] * 10)) for i in range(1, 10)]

    st_dir = model_copy(tmp, "st62")
    header = b'{"text_model.embeddings.token_embedding.weight": {"dtype": "F32", "shape": [2147483648, 2147483648], "data_offsets": [0, 16]}}'
    replace(st_dir, "model.safetensors", struct.pack("<Q", len(header)) + header + b"\0" * 16)
    cfg_dir = model_copy(tmp, "deepconfig")
    replace(cfg_dir, "config.json", b'{"model_type": "clip", "x": ' + deep + b"}")
    merges_dir = model_copy(tmp, "merges10m")
    replace(merges_dir, "merges.txt", b"#version: 0.2\n" + b"i n\n" * 10_000_000)
    write(tmp, "captions.json", b'{"images": [], "annotations": ' + deep + b"}")
    write(tmp, "bomb.png", png_header(100_000, 100_000))
    write(tmp, "bomb.jpg", bytes(jpeg))
    write(tmp, "laughs.yaml", ("\n".join(laughs) + "\n").encode())
    write(tmp, "deep.yaml", deep)
    write(tmp, "tb.tar", tar_claiming(1 << 40))
    with open(os.path.join(tmp, "oneline.jsonl"), "wb") as f:      # 300 MiB, no line break
        f.write(b'{"image": "a.png", "caption": "')
        for _ in range(300):
            f.write(b"x" * (1 << 20))


def cases(tmp):
    """(name, clip arguments, words the error must hold[, environment]) of each bomb that make(tmp) wrote."""
    clip_model = os.path.join(FIX, "clip", "b32_narrow")
    t = lambda name: os.path.join(tmp, name)
    return [
        ("PNG header 100000x100000", ["encode", "--model", clip_model, "--image", t("bomb.png")], "CLIPCORE_MAX_IMAGE_PIXELS"),
        ("JPEG frame 65500x65500", ["encode", "--model", clip_model, "--image", t("bomb.jpg")], "CLIPCORE_MAX_IMAGE_PIXELS"),
        ("YAML billion laughs", ["elip", "train", "--config", t("laughs.yaml")], "CLIPCORE_MAX_YAML_NODES"),
        ("YAML nested 100k deep", ["elip", "train", "--config", t("deep.yaml")], "CLIPCORE_MAX_YAML_DEPTH"),
        ("config.json nested 100k deep", ["info", "--model", t("deepconfig")], "CLIPCORE_MAX_JSON_DEPTH"),
        ("COCO captions nested 100k deep", ["data", "inspect", t("captions.json")], "CLIPCORE_MAX_JSON_DEPTH"),
        ("safetensors 2^62 elements", ["info", "--model", t("st62")], "is too large"),
        ("merges.txt of 10M lines", ["info", "--model", t("merges10m")], "CLIPCORE_MAX_TOKENIZER_ENTRIES"),
        ("tar member claiming 1 TB", ["data", "inspect", t("tb.tar")], "needs 1099511627776 bytes"),
        ("JSONL of 300 MiB, no line break", ["data", "inspect", t("oneline.jsonl")], "CLIPCORE_MAX_RECORD_BYTES"),
        # The environment variable sets a limit: the real CLIP fixture under a limit of 1,000 merges.
        ("CLIPCORE_MAX_TOKENIZER_ENTRIES=1000", ["info", "--model", os.path.join(FIX, "clip", "gelu_vocab")],
         "48896 exceeds the limit of 1000", {"CLIPCORE_MAX_TOKENIZER_ENTRIES": "1_000"}),
    ]


def run(clip, args, tmp, env=None):
    """(exit status or -signal, peak RSS in MiB, seconds, stdout + stderr) of `clip args`."""
    out_path = os.path.join(tmp, "out.txt")
    start = time.time()
    with open(out_path, "wb") as out:
        p = subprocess.Popen([clip] + args, stdout=out, stderr=subprocess.STDOUT, cwd=tmp,
                             env=dict(os.environ, **(env or {})))
        _, status, usage = os.wait4(p.pid, 0)
    p.returncode = 0                      # reaped by wait4 above
    code = os.waitstatus_to_exitcode(status)
    return code, usage.ru_maxrss / 1024, time.time() - start, open(out_path, errors="replace").read()


def main():
    if sys.argv[1] == "--make":
        return make(sys.argv[2])
    clip = os.path.abspath(sys.argv[1])
    failed = 0
    with tempfile.TemporaryDirectory(prefix="clipcore-bombs-") as tmp:
        # The files are made by another process: a child's ru_maxrss starts from the RSS of the process
        # it was forked from, so this one stays small (a few MiB) for the measurements to be the tool's.
        subprocess.run([sys.executable, os.path.abspath(__file__), "--make", tmp], check=True)
        code, rss, secs, out = run(clip, ["info", "--model", os.path.join(FIX, "clip", "gelu_vocab")], tmp)
        print(f"{'baseline: clip info (gelu_vocab)':36s} status {code:3d}  peak RSS {rss:7.1f} MiB  {secs:5.2f} s")
        if code != 0:
            print(out); failed += 1
        for name, args, words, *env in cases(tmp):
            code, rss, secs, out = run(clip, args, tmp, *env)
            ok = code == 1 and words in out and rss < CAP_MIB
            failed += not ok
            message = next((l for l in out.splitlines() if words in l), out.strip().splitlines()[-1:] or [""])
            print(f"{name:36s} status {code:3d}  peak RSS {rss:7.1f} MiB  {secs:5.2f} s  {'ok' if ok else 'FAILED'}")
            print(f"    {message if isinstance(message, str) else message[0]}"[:400])
    print(f"resource bombs: {'all refused' if not failed else f'{failed} FAILED'} (cap {CAP_MIB} MiB peak RSS per process)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
