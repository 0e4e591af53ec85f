#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (Fuzz/Fuzz.swift) under OUT/<target>/: small files from
Tests/Fixtures, YAML examples taken from the test sources, and small synthetic samples (large fixtures are
cut down, so no seed is over ~64 KB). Usage: scripts/fuzz-seeds.py OUT  (scripts/fuzz.sh calls it)."""
import glob, hashlib, json, os, re, struct, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "Tests", "Fixtures")
OUT = sys.argv[1]
MAX = 64 * 1024


def put(target, data, name=None):
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX:
        return
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name or hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def files(pattern):
    for p in sorted(glob.glob(os.path.join(FIX, pattern), recursive=True)):
        with open(p, "rb") as f:
            yield f.read()


def safetensors(tensors, metadata=None):
    header, blob = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + blob


def triple_quoted(path):
    text = open(path, encoding="utf-8").read()
    for m in re.finditer(r'"""\n(.*?)\n\s*"""', text, re.S):
        lines = m.group(1).split("\n")
        indent = min((len(l) - len(l.lstrip()) for l in lines if l.strip()), default=0)
        yield "\n".join(l[indent:] for l in lines) + "\n"


def fnv1a(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def sealed(payload):  # Search/IndexFile.swift's trailer
    return payload + b"CLIPIDX1" + struct.pack("<QQ", len(payload), fnv1a(payload))


# Fixture files, by target (files over 64 KB are left out).
FIXTURE_SEEDS = [
    ("safetensors", "**/*.safetensors"),
    ("elip-mapper", "elip/*_mapper.safetensors"),
    ("clip-config", "clip/*/config.json"),
    ("clip-config", "training/*/config.json"),
    ("siglip-config", "siglip/*/config.json"),
    ("preprocessor-config", "**/preprocessor_config.json"),
    ("elip-yaml", "elip/configs/*.yaml"),
    ("png", "images/*.png"),
    ("jpeg", "jpeg/*.jpg"),
    ("jsonl", "datasets/jsonl/*.jsonl"),
    ("csv", "datasets/csv/*"),
    ("tar", "datasets/wds*/*.tar"),
    ("karpathy", "datasets/karpathy/*.json"),
    ("coco", "datasets/coco/annotations/*.json"),
]
for target, pattern in FIXTURE_SEEDS:
    for data in files(pattern):
        put(target, data)

# safetensors: synthetic ones
put("safetensors", safetensors({"w": ("F32", [2, 3], struct.pack("<6f", *range(6))),
                                "i": ("I64", [2], struct.pack("<2q", 1, 2)),
                                "h": ("F16", [1], b"\x00\x3c"), "b": ("BF16", [0], b"")}, {"format": "pt"}))
put("safetensors", safetensors({}))

# configs

# YAML: the ELIP fixtures, the examples in the tests
for t in glob.glob(os.path.join(ROOT, "Tests/StudiesTests/*.swift")):
    for y in triple_quoted(t):
        if "search_space" in y or "study" in y:
            put("study-yaml", y)
for t in glob.glob(os.path.join(ROOT, "Tests/TrainingTests/*.swift")):
    for y in triple_quoted(t):
        if "mapper" in y or "batches" in y:
            put("elip-yaml", y)
        elif ":" in y:
            put("contrastive-yaml", y)
put("contrastive-yaml", "model: {family: clip}\ndata: {train: data/train.jsonl}\ntraining: {epochs: 1, batch_size: 4, lr: 1e-4}\n")
put("study-yaml", "study: {name: s, storage: x.db}\nsearch_space: {a: {type: float, low: 0, high: 1, log: true}}\n")

# images

# tokenizer files, cut down: vocab.json + 0 + merges.txt; tokenizer.json; vocab.txt; spiece.model
vocab = json.load(open(os.path.join(FIX, "clip/gelu_vocab/vocab.json"), encoding="utf-8"))
small = dict(sorted(vocab.items(), key=lambda kv: kv[1])[:600])
merges = open(os.path.join(FIX, "clip/gelu_vocab/merges.txt"), encoding="utf-8").read().split("\n")[:300]
put("bpe-files", json.dumps(small).encode() + b"\0" + "\n".join(merges).encode())
rvocab = os.path.join(FIX, "text_tokenizers/roberta/vocab.json")
if os.path.exists(rvocab):
    rv = json.load(open(rvocab, encoding="utf-8"))
    rm = open(os.path.join(FIX, "text_tokenizers/roberta/merges.txt"), encoding="utf-8").read().split("\n")[:200]
    put("bpe-files", json.dumps(dict(list(rv.items())[:400])).encode() + b"\0" + "\n".join(rm).encode())
for p in sorted(glob.glob(os.path.join(FIX, "**/tokenizer.json"), recursive=True)):
    root = json.load(open(p, encoding="utf-8"))
    model = root.get("model", {})
    if isinstance(model.get("vocab"), dict):
        model["vocab"] = dict(sorted(model["vocab"].items(), key=lambda kv: kv[1])[:400])
    if isinstance(model.get("merges"), list):
        model["merges"] = model["merges"][:200]
    root["added_tokens"] = root.get("added_tokens", [])[:8]
    put("tokenizer-json", json.dumps(root))
for p in sorted(glob.glob(os.path.join(FIX, "text_tokenizers/*/vocab.txt"))):
    lines = open(p, encoding="utf-8").read().split("\n")
    put("vocab-txt", "\n".join(lines[:1000] + [l for l in lines if l.startswith("##")][:200]) + "\n")
for data in files("siglip/*/spiece.model"):
    put("spiece", data[:MAX])  # cut: the fuzzer grows what it needs
put("spiece", bytes([0x0A, 0x0B, 0x0A, 0x05, 0x3C, 0x75, 0x6E, 0x6B, 0x3E, 0x15, 0, 0, 0, 0, 0x18, 2]))

# tokenizer input text
for s in ["a photo of a cat", "A Photo OF  two   dogs!!", "naïve café — 東京 🐱", "<|startoftext|>hi<|endoftext|>",
          "&amp; &lt;b&gt; https://x.org/a?b=c", "don't can't it's", "\u00e9\u0301\u200b\t\r\n", "12345 3.14 1e-5"]:
    put("text", s)

# datasets
put("elip-batch-csv", "filepath\ttitle\na.png\ta cat\nb.png\ta dog\na.png\tanother cat\n")
put("elip-batch-csv", 'filepath\ttitle\textra\n"q.png"\t"quoted\ttab"\tx\n')

# FAISS index files: a flat inner-product index in faiss's layout ("IxFI"; the codes' length counts floats),
# sealed and not
d, n = 4, 3
flat = (b"IxFI" + struct.pack("<iqqqBi", d, n, 0, 0, 1, 0)
        + struct.pack("<Q", n * d) + struct.pack("<%df" % (n * d), *[i / 10 for i in range(n * d)]))
put("faiss-index", sealed(flat))
put("faiss-index", flat)
put("faiss-index", sealed(b""))
