"""Times transformers' CLIPTokenizer on the captions written by `ModelBench --captions-out FILE`.

    python tokenizer_ref.py FILE VOCAB_DIR    # VOCAB_DIR holds vocab.json + merges.txt
                                               # (Tests/Fixtures/clip/gelu_vocab has them)
One call per caption, as ModelBench encodes them; RAYON_NUM_THREADS=1 keeps it on one core.
"""
import os, sys, time
os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
import json
from transformers import CLIPTokenizer

texts = open(sys.argv[1], encoding="utf-8").read().split("\n")
folder = sys.argv[2]
tok = CLIPTokenizer(vocab=json.load(open(folder + "/vocab.json")),
                    merges=[tuple(l.split()) for l in open(folder + "/merges.txt").read().split("\n")[1:] if l])
best = []
for _ in range(3):
    t0 = time.perf_counter()
    n = sum(len(tok(t, truncation=True, max_length=77)["input_ids"]) for t in texts)
    best.append(time.perf_counter() - t0)
print(f"transformers CLIPTokenizer: {len(texts)} captions, one call each: {len(texts) / min(best):.0f} captions/s [checksum {n}]")
