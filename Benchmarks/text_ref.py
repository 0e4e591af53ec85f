"""Sentence-encoding references for Benchmarks/compare-text.sh: sentence-transformers (PyTorch) and ONNX
Runtime on the same captions, batches and length order as SpeedBench's text-model case.

Subcommands (one measurement per process, so each peak RSS belongs to it):
  captions --n N [--seed S] --out FILE       deterministic captions, one a line (standard library only)
  export --model DIR --out FILE.onnx          the folder's BERT → ONNX (torch.onnx.export, dynamo, dynamic
                                              batch and sequence axes), checked against PyTorch
  st --model DIR --texts FILE --threads N [--batch 64] [--reps R] [--out E.npy]
                                              SentenceTransformer(DIR, device="cpu").encode(texts,
                                              batch_size, normalize_embeddings=True), torch.set_num_threads(N)
  ort --model DIR --onnx FILE.onnx --texts FILE --threads N [--batch 64] [--reps R] [--out E.npy] [--ref E.npy]
                                              ONNX Runtime (intra_op_num_threads=N) on the export; the folder's
                                              tokenizer.json through `tokenizers`; mean pooling + L2 in numpy
  diff A.npy B.npy                            max |A - B| over float32 embeddings

Both references sort the texts by length as sentence-transformers does (characters, longest first:
np.argsort(-len)), tokenize each batch padded to its longest text and cut at max_seq_length (256),
and time the whole call: sorting, tokenization, model, pooling, normalisation. RAYON_NUM_THREADS and
OMP_NUM_THREADS are set to N, so the tokenizer's threads obey the thread count too. Timing: one warm-up
call on the first 2 batches of texts, then the median of R calls on all texts. Output: JSON lines.
"""
import argparse
import json
import os
import sys
import time


# MARK: - Captions

SUBJECTS = ["a man", "a woman", "two children", "an old man", "a young girl", "a group of people", "a dog",
            "a black cat", "three horses", "a brown bear", "a chef", "a skateboarder", "a surfer", "a cyclist",
            "a police officer", "a baby", "two zebras", "a flock of birds", "a giraffe", "an elephant",
            "a soccer team", "a musician", "a tourist", "a waiter", "a couple", "a little boy", "a teenager",
            "a firefighter", "a tennis player", "a street vendor"]
VERBS = ["riding", "holding", "walking past", "standing next to", "sitting on", "looking at", "eating",
         "playing with", "carrying", "jumping over", "leaning against", "painting", "throwing", "catching",
         "pushing", "climbing", "waiting beside", "running along", "cooking", "repairing"]
OBJECTS = ["a red bicycle", "a wooden bench", "a large pizza", "a frisbee", "a surfboard", "an umbrella",
           "a kite", "a laptop", "a bowl of fruit", "a stop sign", "a double-decker bus", "a fire hydrant",
           "a cup of coffee", "a teddy bear", "a wine glass", "a pair of skis", "a baseball bat", "a clock tower",
           "a sailboat", "a plate of sushi", "a birthday cake", "a motorcycle", "a guitar", "a traffic light",
           "a shopping cart", "a suitcase", "a vase of flowers", "a tennis racket", "a loaf of bread", "a map"]
PLACES = ["in a park", "on a busy street", "at the beach", "in a kitchen", "near the river", "on a snowy hill",
          "in front of a café", "inside a train station", "at the market", "on a farm", "in the desert",
          "under a bridge", "in Zürich's old town", "on the Champs-Élysées", "in São Paulo", "at a crêperie",
          "in a crowded airport", "on a rooftop", "beside a lake", "in a library", "at the zoo", "in Kraków",
          "near a fountain", "in a small garage", "on a mountain trail", "at a football stadium", "in Reykjavík"]
ADJECTIVES = ["sunny", "rainy", "quiet", "crowded", "old", "bright", "dark", "colourful", "empty", "noisy",
              "foggy", "beautiful", "strange", "tiny", "huge", "naïve", "blurry", "vintage", "modern", "peaceful"]
TIMES = ["at sunset", "early in the morning", "at night", "during a storm", "in the afternoon",
         "on a winter day", "after the rain", "at dawn", "in late autumn", "on a hot summer day"]
EXTRAS = ["while people watch from a distance", "with mountains in the background", "as cars drive by",
          "and smiles at the camera", "while it starts to snow", "next to a sign that says \"no parking\"",
          "with a dog following close behind", "under bright street lights", "and the sky is full of clouds",
          "while a band plays music nearby", "as the crowd cheers", "with a crème brûlée on the table",
          "(the photo is slightly out of focus)", "— a scene straight out of a movie", "and nobody notices",
          "with graffiti on the wall behind", "while 2 dogs bark at a passing bus", "at 5:30 pm, according to the clock"]
NOUNS = ["photo", "picture", "image", "shot", "snapshot", "scene", "view", "close-up"]
FILLERS = ["the", "and", "with", "of", "on", "in", "very", "some", "many", "near", "behind", "while", "there",
           "is", "are", "a", "its", "their", "this", "that", "from", "over", "between", "almost", "quite"]
ENDINGS = [".", ".", ".", "", "", "!", "...", "?", ";", " :)"]


class Captions:
    """Seeded caption generator: only `random.Random.random()` is drawn, whose sequence Python keeps
    the same across versions, so a seed gives the same file everywhere."""

    def __init__(self, seed):
        import random
        self.rng = random.Random(seed)

    def pick(self, xs):
        return xs[int(self.rng.random() * len(xs))]

    def chance(self, p):
        return self.rng.random() < p

    def clause(self):
        words = [self.pick(SUBJECTS), self.pick(VERBS), self.pick(OBJECTS)]
        if self.chance(0.7):
            words.append(self.pick(PLACES))
        if self.chance(0.3):
            words.append(self.pick(TIMES))
        if self.chance(0.3):
            words.append(self.pick(EXTRAS))
        return " ".join(words)

    def caption(self):
        """3 to about 60 words: mostly short captions (COCO-like), some long descriptions."""
        u = self.rng.random()
        target = 3 + int(self.rng.random() * 6) if u < 0.25 else (
            8 + int(self.rng.random() * 12) if u < 0.75 else 20 + int(self.rng.random() * 41))
        if target <= 6:
            words = [self.pick(ADJECTIVES), self.pick(NOUNS), "of", self.pick(OBJECTS).split(" ", 1)[1]]
            words = " ".join(words).split()[:target]
            while len(words) < target:
                words.append(self.pick(FILLERS))
        else:
            words = [self.pick(["A", "The", "This", "An old"]), self.pick(NOUNS), "of"] if self.chance(0.2) else []
            first = True
            while len(words) < target:
                part = self.clause().split()
                if not first:
                    sep = self.pick([",", ";", "and", "while", ". Then", ", and then"]).split()
                    if sep[0] in ",;.":
                        words[-1] += sep.pop(0)
                    part = sep + part
                words.extend(part)
                first = False
            words = words[:target]
        text = " ".join(words).strip(" ,;")
        if self.chance(0.5):
            text = text[0].upper() + text[1:]
        if self.chance(0.05):
            text = text.upper()
        if self.chance(0.08):
            text = "\u201c" + text + "\u201d"
        return text + self.pick(ENDINGS)


def cmd_captions(a):
    gen = Captions(a.seed)
    lines = [gen.caption() for _ in range(a.n)]
    with open(a.out, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line.replace("\n", " ") + "\n")
    words = [len(x.split()) for x in lines]
    print(json.dumps({"what": "captions", "n": a.n, "seed": a.seed, "min_words": min(words), "max_words": max(words),
                      "mean_words": round(sum(words) / len(words), 1), "non_ascii": sum(not x.isascii() for x in lines)}))


# MARK: - Shared

def read_texts(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def peak_rss_mb():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(body, reps):
    """Median of `reps` timed calls (the warm-up is the caller's)."""
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        body()
        ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2]


def max_seq_length(model_dir):
    try:
        with open(os.path.join(model_dir, "sentence_bert_config.json")) as f:
            return int(json.load(f)["max_seq_length"])
    except (OSError, KeyError, ValueError):
        return 512


def emit(**row):
    print(json.dumps(row), flush=True)


def save(path, emb):
    import numpy as np
    if path:
        np.save(path, np.ascontiguousarray(emb, dtype=np.float32))


def max_abs_diff(emb, ref_path):
    import numpy as np
    if not ref_path or not os.path.exists(ref_path):
        return None
    ref = np.load(ref_path)
    if ref.shape != emb.shape:
        raise SystemExit(f"{ref_path}: shape {ref.shape} against {emb.shape}")
    return float(np.abs(emb.astype(np.float32) - ref).max())


def set_thread_env(n):
    # Before numpy, torch or tokenizers start their pools.
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS"):
        os.environ[k] = str(n)


# MARK: - sentence-transformers

def cmd_st(a):
    set_thread_env(a.threads)
    import numpy as np
    import torch
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    import sentence_transformers
    import transformers
    from sentence_transformers import SentenceTransformer
    texts = read_texts(a.texts)
    model = SentenceTransformer(a.model, device="cpu")
    model.eval()

    def run(xs):
        return model.encode(xs, batch_size=a.batch, normalize_embeddings=True, convert_to_numpy=True,
                            show_progress_bar=False)

    run(texts[:2 * a.batch])
    emb = None

    def body():
        nonlocal emb
        emb = run(texts)

    sec = timed(body, a.reps)
    save(a.out, emb)
    emit(ref="sentence-transformers", what=f"sentence_encode_n{len(texts)}", n=len(texts), batch=a.batch,
         threads=a.threads, sec=round(sec, 4), per_s=round(len(texts) / sec, 2), peak_rss_mb=round(peak_rss_mb()),
         sorted_by_length=True, max_seq_length=model.max_seq_length,
         flattened=bool(getattr(model, "_can_flatten_inputs", lambda: False)()),
         versions=f"torch {torch.__version__}, transformers {transformers.__version__}, "
                  f"sentence-transformers {sentence_transformers.__version__}",
         torch_threads=torch.get_num_threads(), dim=int(emb.shape[1]), max_abs_diff_to_st=0.0)


# MARK: - ONNX Runtime

class _Hidden:
    """BertModel(ids, mask) → last hidden state, the graph that is exported."""

    @staticmethod
    def wrap(model):
        import torch

        class Wrapped(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids, attention_mask):
                return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

        return Wrapped(model).eval()


def load_tokenizer(model_dir, max_length):
    """The folder's fast tokenizer (tokenizer.json) as transformers runs it: pad to the batch's longest
    text, cut at `max_length`, no token types."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    with open(os.path.join(model_dir, "tokenizer_config.json")) as f:
        cfg = json.load(f)
    pad = cfg.get("pad_token", "[PAD]")
    pad = pad["content"] if isinstance(pad, dict) else pad
    tok.enable_truncation(max_length=max_length)
    tok.enable_padding(pad_id=tok.token_to_id(pad), pad_token=pad)
    return tok


def cmd_export(a):
    import numpy as np
    import torch
    from transformers import AutoModel, AutoTokenizer
    torch.set_num_threads(a.threads)
    model = AutoModel.from_pretrained(a.model).eval()
    hf_tok = AutoTokenizer.from_pretrained(a.model)
    sample = hf_tok(["a dog on a skateboard", "two people walking along the beach at sunset, flying a kite"],
                    padding=True, return_tensors="pt")
    t0 = time.perf_counter()
    torch.onnx.export(_Hidden.wrap(model), (sample["input_ids"], sample["attention_mask"]), a.out, dynamo=True,
                      input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                    "last_hidden_state": {0: "batch", 1: "seq"}},
                      opset_version=18, external_data=False, verbose=False)
    export_sec = time.perf_counter() - t0
    # Check: other batch and sequence sizes than the traced ones, against PyTorch.
    import onnxruntime as ort
    session = ort.InferenceSession(a.out, providers=["CPUExecutionProvider"])
    texts = ["hello", "a much longer sentence than the first one, with a café, a crème brûlée and more words in it",
             "three", "Ünïcödé ÀCCENTS — and “quotes”"]
    b = hf_tok(texts, padding=True, truncation=True, max_length=max_seq_length(a.model), return_tensors="np")
    ids, mask = b["input_ids"].astype(np.int64), b["attention_mask"].astype(np.int64)
    got = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    with torch.no_grad():
        want = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state.numpy()
    diff = float(np.abs((got - want) * mask[..., None]).max())
    # The tokenizer the ORT run uses against transformers' on the captions.
    mismatched = None
    if a.texts:
        captions = read_texts(a.texts)
        tok = load_tokenizer(a.model, max_seq_length(a.model))
        tok.no_padding()
        ours = [e.ids for e in tok.encode_batch(captions)]
        theirs = hf_tok(captions, truncation=True, max_length=max_seq_length(a.model))["input_ids"]
        mismatched = sum(x != list(y) for x, y in zip(ours, theirs))
    emit(what="onnx_export", path=a.out, seconds=round(export_sec, 1), opset=18,
         hidden_state_max_abs_diff_to_torch=diff, tokenizer_mismatches=mismatched, torch=torch.__version__)
    if diff > 1e-4 or mismatched:
        raise SystemExit("export check failed")


def cmd_ort(a):
    set_thread_env(a.threads)
    import numpy as np
    import onnxruntime as ort
    texts = read_texts(a.texts)
    max_len = max_seq_length(a.model)
    tok = load_tokenizer(a.model, max_len)
    options = ort.SessionOptions()
    options.intra_op_num_threads = a.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(a.onnx, options, providers=["CPUExecutionProvider"])

    def encode(xs):
        order = np.argsort([-len(x) for x in xs])       # sentence-transformers' order
        out = np.empty((len(xs), 0), dtype=np.float32)
        for start in range(0, len(xs), a.batch):
            idx = order[start:start + a.batch]
            enc = tok.encode_batch([xs[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            hidden = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            if out.shape[1] == 0:
                out = np.empty((len(xs), pooled.shape[1]), dtype=np.float32)
            out[idx] = pooled
        return out

    encode(texts[:2 * a.batch])
    emb = None

    def body():
        nonlocal emb
        emb = encode(texts)

    sec = timed(body, a.reps)
    save(a.out, emb)
    emit(ref="onnxruntime", what=f"sentence_encode_n{len(texts)}", n=len(texts), batch=a.batch, threads=a.threads,
         sec=round(sec, 4), per_s=round(len(texts) / sec, 2), peak_rss_mb=round(peak_rss_mb()), sorted_by_length=True,
         max_seq_length=max_len, versions=f"onnxruntime {ort.__version__}", dim=int(emb.shape[1]),
         max_abs_diff_to_st=max_abs_diff(emb, a.ref))


def cmd_diff(a):
    import numpy as np
    x, y = np.load(a.a), np.load(a.b)
    if x.shape != y.shape:
        raise SystemExit(f"shapes differ: {a.a} {x.shape}, {a.b} {y.shape}")
    d = np.abs(x.astype(np.float32) - y.astype(np.float32))
    worst = int(d.max(axis=1).argmax())
    emit(what="embedding_diff", a=a.a, b=a.b, n=int(x.shape[0]), max_abs_diff=float(d.max()),
         mean_abs_diff=float(d.mean()), worst_row=worst, min_cosine=float((x * y).sum(axis=1).min()))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("captions")
    c.add_argument("--n", type=int, default=10000)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--out", required=True)
    e = sub.add_parser("export")
    e.add_argument("--model", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--texts", help="captions to check the tokenizer on")
    e.add_argument("--threads", type=int, default=2)
    for name in ("st", "ort"):
        r = sub.add_parser(name)
        r.add_argument("--model", required=True)
        r.add_argument("--texts", required=True)
        r.add_argument("--threads", type=int, default=1)
        r.add_argument("--batch", type=int, default=64)
        r.add_argument("--reps", type=int, default=3)
        r.add_argument("--out")
        if name == "ort":
            r.add_argument("--onnx", required=True)
            r.add_argument("--ref", help="embeddings to diff against (sentence-transformers')")
    d = sub.add_parser("diff")
    d.add_argument("a")
    d.add_argument("b")
    a = p.parse_args()
    {"captions": cmd_captions, "export": cmd_export, "st": cmd_st, "ort": cmd_ort, "diff": cmd_diff}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
