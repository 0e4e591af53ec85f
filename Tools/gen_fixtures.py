#!/usr/bin/env python3
"""Builds the parity fixtures under Tests/Fixtures from the reference implementations.

Regenerate with (versions pinned in Tools/requirements-fixtures.txt; torchvision
must be absent so transformers uses its PIL image processor):

    python3 -m venv /tmp/fx && /tmp/fx/bin/pip install -r Tools/requirements-fixtures.txt
    /tmp/fx/bin/pip uninstall -y torchvision   # open-clip-torch pulls it in
    /tmp/fx/bin/python Tools/gen_fixtures.py [clip] [tokenizer] [images] [resample] [optim] [siglip] [retrieval] [elip] [elip_query] [contrastive] [checkpoint] [capi] [jpeg] [datasets]

`datasets` needs only Pillow and the standard library (torch and transformers may be absent).

The `openclip` subcommand (open_clip checkpoints and the ELIP-C layout) needs open_clip and torchvision,
which the venv above must not have, so it runs in a second venv (Tools/requirements-openclip.txt):

    python3 -m venv /tmp/fx-oc && /tmp/fx-oc/bin/pip install -r Tools/requirements-openclip.txt
    /tmp/fx-oc/bin/python Tools/gen_fixtures.py openclip

It is not part of the default list.

Everything is seeded; the outputs are deterministic for the pinned versions.
"""
import gzip, html, io, json, os, random, struct, sys, zlib
from pathlib import Path

try:
    import numpy as np
    import torch
    import transformers
    from safetensors.numpy import save_file
except ImportError:             # `datasets` needs only Pillow
    if sys.argv[1:] != ["datasets"]:
        raise
    torch = transformers = None

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "Tests" / "Fixtures"
PROVENANCE = {
    "generator": "Tools/gen_fixtures.py",
    "torch": getattr(torch, "__version__", "absent"),
    "transformers": getattr(transformers, "__version__", "absent"),
}

def bpe_vocab_path():
    import importlib.util
    spec = importlib.util.find_spec("open_clip")
    return Path(spec.submodule_search_locations[0]) / "bpe_simple_vocab_16e6.txt.gz"

def write_hf_tokenizer_files(folder: Path):
    """vocab.json + merges.txt equal to OpenAI's, built from open_clip's BPE file."""
    lines = gzip.open(bpe_vocab_path()).read().decode("utf-8").split("\n")
    merges = lines[1:49152 - 256 - 2 + 1]
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    chars = [chr(c) for c in cs]
    vocab = chars + [c + "</w>" for c in chars] + ["".join(m.split()) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")

def hf_tokenizer(folder: Path):
    from transformers import CLIPTokenizer
    return CLIPTokenizer(vocab=json.loads((folder / "vocab.json").read_text()),
                         merges=[tuple(l.split()) for l in (folder / "merges.txt").read_text().split("\n")[1:] if l])

# MARK: - CLIP models

CLIP_CONFIGS = {
    # ViT-B/32 widths and heads, one layer per tower, weights stored as F16.
    "b32_narrow": dict(
        text=dict(vocab_size=1000, hidden_size=512, intermediate_size=2048, num_hidden_layers=1,
                  num_attention_heads=8, max_position_embeddings=77, bos_token_id=998, eos_token_id=999,
                  pad_token_id=1),
        vision=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=1, num_attention_heads=12,
                    image_size=224, patch_size=32),
        projection_dim=512, dtype="float16", texts=4, images=3, seq=20),
    # Patch 16 on 96-pixel images, head dims 16, legacy eos_token_id 2 (argmax pooling); gradient fixture.
    "p16_96": dict(
        text=dict(vocab_size=1000, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                  num_attention_heads=3, max_position_embeddings=24, eos_token_id=2),
        vision=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                    image_size=96, patch_size=16),
        projection_dim=32, dtype="float32", texts=3, images=3, seq=12, gradients=True,
        preprocessor=dict(size={"shortest_edge": 96}, crop_size={"height": 96, "width": 96})),
    # Exact GELU in the vision tower, the real vocabulary and tokenizer files, weights stored as BF16.
    "gelu_vocab": dict(
        text=dict(vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=2, max_position_embeddings=77, hidden_act="quick_gelu"),
        vision=dict(hidden_size=40, intermediate_size=80, num_hidden_layers=2, num_attention_heads=5,
                    image_size=64, patch_size=8, hidden_act="gelu"),
        projection_dim=24, dtype="bfloat16", texts=5, images=2, seq=None, tokenizer=True,
        preprocessor=dict(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})),
}

TEXTS = ["a photo of a cat", "A DOG running on the beach!!", "two   people, one bicycle & a tree",
         "it's 5 o'clock somewhere", "café au lait in 東京 🚲"]

def gen_clip():
    from transformers import CLIPConfig, CLIPModel
    for name, spec in CLIP_CONFIGS.items():
        torch.manual_seed(sum(map(ord, name)))
        rng = np.random.default_rng(sum(map(ord, name)))
        cfg = CLIPConfig(text_config=spec["text"], vision_config=spec["vision"], projection_dim=spec["projection_dim"])
        model = CLIPModel(cfg).eval()
        # Spread the weights a little beyond the default init so every path matters.
        with torch.no_grad():
            for n, p in model.named_parameters():
                if n.endswith("class_embedding") or "norm" in n:
                    p.add_(torch.randn_like(p) * 0.1)
            model.logit_scale.fill_(2.3)
        dtype = getattr(torch, spec["dtype"])
        out = FIX / "clip" / name
        out.mkdir(parents=True, exist_ok=True)
        if dtype != torch.float32:
            model.to(dtype)
            model.save_pretrained(out)
            model.to(torch.float32)        # the reference runs in float32 on the rounded weights
        else:
            model.save_pretrained(out)
        expected = {}
        if spec.get("tokenizer"):
            write_hf_tokenizer_files(out)
            tok = hf_tokenizer(out)
            enc = tok(TEXTS, padding=True, return_tensors="pt")
            ids, mask = enc["input_ids"], enc["attention_mask"]
            (out / "texts.json").write_text(json.dumps(TEXTS, ensure_ascii=False))
        else:
            n, seq, v = spec["texts"], spec["seq"], spec["text"]["vocab_size"]
            ids = torch.tensor(rng.integers(3, v - 2, size=(n, seq)), dtype=torch.long)
            mask = torch.ones_like(ids)
            eos = cfg.text_config.eos_token_id
            for i in range(n):
                end = int(rng.integers(2, seq))      # eos position; padding after it
                ids[i, 0] = v - 2 if eos == 2 else cfg.text_config.bos_token_id
                if eos == 2:
                    ids[i, end] = v - 1              # legacy rule: the largest id marks the end
                else:
                    ids[i, end] = eos
                ids[i, end + 1:] = 0 if eos == 2 else eos
                mask[i, end + 1:] = 0
        size = spec["vision"]["image_size"]
        if spec.get("preprocessor"):
            from transformers import CLIPImageProcessor
            proc = CLIPImageProcessor(**spec["preprocessor"])
            proc.save_pretrained(out)
            from PIL import Image
            images = []
            for k in range(spec["images"]):
                arr = rng.integers(0, 256, size=(size + 13 * k + 5, size + 29 * k + 1, 3), dtype=np.uint8)
                arr = (arr // 4 + np.linspace(0, 180, arr.shape[1])[None, :, None]).astype(np.uint8)
                Image.fromarray(arr).save(out / f"image{k}.png")
                images.append(Image.open(out / f"image{k}.png").convert("RGB"))
            pixels = proc(images=images, return_tensors="pt")["pixel_values"]
        else:
            pixels = torch.tensor(rng.standard_normal((spec["images"], 3, size, size)), dtype=torch.float32)
        model.zero_grad()
        res = model(input_ids=ids, attention_mask=mask, pixel_values=pixels)
        expected["input_ids"] = ids.numpy().astype(np.int64)
        expected["attention_mask"] = mask.numpy().astype(np.int64)
        expected["pixel_values"] = pixels.numpy().astype(np.float32)
        expected["text_embeds"] = res.text_embeds.detach().numpy()
        expected["image_embeds"] = res.image_embeds.detach().numpy()
        expected["logits_per_image"] = res.logits_per_image.detach().numpy()
        if spec.get("gradients"):
            n = min(ids.shape[0], pixels.shape[0])
            res = model(input_ids=ids[:n], attention_mask=mask[:n], pixel_values=pixels[:n], return_loss=True)
            res.loss.backward()
            expected["loss"] = np.array([res.loss.item()], dtype=np.float32)
            for k, p in model.named_parameters():
                expected["grad." + k] = p.grad.detach().numpy().copy()
        save_file({k: np.require(v, requirements="C") for k, v in expected.items()}, str(out / "expected.safetensors"),
                  metadata={**PROVENANCE, "config": name})
        print("clip fixture", name, {k: v.shape for k, v in expected.items() if not k.startswith("grad.")})

# MARK: - Tokenizer corpus

def corpus(seed=1234):
    rnd = random.Random(seed)
    words = ("a photo of the cat dog man woman child car bus street tree river mountain sky sunset beach "
             "red blue green yellow small large old young two three people sitting standing running on in "
             "with next to under over near black white wooden table plate food pizza bicycle horse").split()
    punct = list("!?.,;:-_()[]{}'\"/\\@#$%^&*+=<>|~`")
    accents = ["café", "naïve", "Ångström", "résumé", "Zürich", "São Paulo", "crème brûlée", "façade", "jalapeño",
               "ÉCOLE", "İstanbul", "straße", "ΣΊΣΥΦΟΣ", "Ελλάδα", "Москва", "Ṩ", "ﬁne", "e\u0301"]
    cjk = ["東京", "北京の夜", "猫と犬", "한국어 문장", "日本語のテキスト", "中文字符测试", "カタカナ", "ひらがな"]
    emoji = ["🚲", "😀", "👍🏽", "🇫🇷", "👨‍👩‍👧", "❤️", "🐱🐶", "✨"]
    entities = ["&amp;", "&lt;b&gt;", "&quot;hi&quot;", "&#39;", "&#x263A;", "&nbsp;", "&copy; 2020", "AT&amp;T"]
    contractions = ["it's", "don't", "they're", "we've", "I'm", "you'll", "he'd", "IT'S", "rock'n'roll", "o'clock",
                    "dogs' toys", "it’s"]
    ws = [" ", "  ", "\t", "\n", " \n\t ", "\u00a0", "\u3000", "\u2003"]
    out = ["", " ", "   ", "\n\t", "<|endoftext|>", "<|startoftext|>hello", "a<|endoftext|>b", "0", "123456",
           "3.14159", "1,000,000", "x²", "½", "٣", "hello world", "HELLO WORLD", "Hello, World!", "...", "!!!???",
           "a" * 300, "supercalifragilisticexpialidocious", "ab" * 40, "</s>", "a </s> b", "x<unk>y  z",
           "\u2581hello", "hello\u2581world", "<s>", "ΣΊΣΥΦΟΣ ΟΔΟΣ", "\x1cx\x1fy", "tab\there", "ǅemal"]
    pools = [words, punct, accents, cjk, emoji, entities, contractions, [str(rnd.randint(0, 10**6)) for _ in range(50)]]
    while len(out) < 2100:
        kind = rnd.random()
        if kind < 0.05:
            out.append(" ".join(rnd.choice(words) for _ in range(200)))           # truncation
        else:
            n = rnd.randint(1, 14)
            parts = []
            for _ in range(n):
                pool = pools[0] if rnd.random() < 0.5 else rnd.choice(pools)
                parts.append(rnd.choice(pool))
            s = ""
            for p in parts:
                s += p + (rnd.choice(ws) if rnd.random() < 0.15 else ("" if rnd.random() < 0.1 else " "))
            if rnd.random() < 0.3:
                s = s.title() if rnd.random() < 0.5 else s.upper()
            out.append(s)
    return out

def gen_tokenizer():
    folder = FIX / "tokenizer"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path("/tmp/clip_vocab")
    write_hf_tokenizer_files(tmp)
    tok = hf_tokenizer(tmp)
    texts = corpus()
    ids = [tok(t, truncation=True, max_length=77)["input_ids"] for t in texts]
    padded = tok(texts[:50], padding="max_length", truncation=True, max_length=77)["input_ids"]
    data = {"provenance": {**PROVENANCE, "tokenizer": "CLIPTokenizer(vocab.json, merges.txt from open_clip's bpe_simple_vocab_16e6)"},
            "pad_token_id": tok.pad_token_id,
            "cases": [{"text": t, "ids": i} for t, i in zip(texts, ids)],
            "padded": padded}
    (folder / "clip_corpus.json").write_text(json.dumps(data, ensure_ascii=False, indent=0))
    print("tokenizer corpus", len(texts))

# MARK: - Images

def png_chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff)

def write_png(path, rows, width, height, bit_depth, color_type, interlace=False, palette=None, trns=None):
    """A plain PNG writer (filter 0), for depths and interlacing PIL cannot write.
    rows: function (x, y) -> tuple of samples."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    def scanline(xs, y):
        bits = []
        for x in xs:
            bits.extend(rows(x, y))
        if bit_depth < 8:
            out = bytearray(); acc = 0; n = 0
            for s in bits:
                acc = (acc << bit_depth) | s; n += bit_depth
                if n == 8:
                    out.append(acc); acc = 0; n = 0
            if n:
                out.append(acc << (8 - n))
            return bytes(out)
        if bit_depth == 16:
            return b"".join(struct.pack(">H", s) for s in bits)
        return bytes(bits)
    raw = bytearray()
    if not interlace:
        for y in range(height):
            raw += b"\0" + scanline(range(width), y)
    else:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        for x0, y0, dx, dy in passes:
            xs = list(range(x0, width, dx))
            if not xs:
                continue
            for y in range(y0, height, dy):
                raw += b"\0" + scanline(xs, y)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
    if palette is not None:
        data += png_chunk(b"PLTE", bytes(sum(palette, ())))
    if trns is not None:
        data += png_chunk(b"tRNS", trns)
    data += png_chunk(b"IDAT", zlib.compress(bytes(raw), 6)) + png_chunk(b"IEND", b"")
    path.write_bytes(data)

def gen_images():
    from PIL import Image
    from transformers import CLIPImageProcessor
    import skimage.data as skd
    folder = FIX / "images"
    folder.mkdir(parents=True, exist_ok=True)
    for f in folder.glob("*.png"):
        f.unlink()
    rnd = np.random.default_rng(7)
    made = []
    def smooth(w, h, c, maxv=255, seed=0):
        r = np.random.default_rng(seed)
        yy, xx = np.mgrid[0:h, 0:w]
        chans = [(np.sin(xx / r.uniform(3, 20) + r.uniform(0, 6)) * np.cos(yy / r.uniform(3, 20)) + 1) / 2 * maxv
                 + r.normal(0, maxv * 0.05, (h, w)) for _ in range(c)]
        return np.clip(np.stack(chans, -1), 0, maxv).round().astype(np.int64)
    sizes = [(1, 1), (2, 3), (7, 5), (31, 17), (64, 64), (100, 40), (40, 100), (225, 224), (300, 199), (97, 161),
             (16, 300), (513, 257)]
    k = 0
    def name(tag):
        nonlocal k
        k += 1
        return folder / f"{k:02d}_{tag}.png"
    # PIL-written modes.
    for (w, h) in sizes:
        s = k
        a = smooth(w, h, 4, seed=s)
        Image.fromarray(a[..., :3].astype(np.uint8), "RGB").save(name(f"rgb_{w}x{h}"))
        made.append(None)
    for mode_i, (w, h) in enumerate([(50, 30), (33, 77), (128, 96), (1, 9), (250, 180)]):
        a = smooth(w, h, 4, seed=100 + mode_i)
        Image.fromarray(a.astype(np.uint8), "RGBA").save(name(f"rgba_{w}x{h}"))
        Image.fromarray(a[..., 0].astype(np.uint8), "L").save(name(f"gray_{w}x{h}"))
        Image.fromarray(a[..., :2].astype(np.uint8), "LA").save(name(f"grayalpha_{w}x{h}"))
        Image.fromarray(a[..., :3].astype(np.uint8), "RGB").quantize(16 + mode_i).save(name(f"palette_{w}x{h}"))
        Image.fromarray((a[..., 0] > 128)).convert("1").save(name(f"bit1_{w}x{h}"))
    # Hand-written: 16-bit, low bit depths, palette with transparency, interlaced.
    for i, (w, h) in enumerate([(45, 29), (120, 67), (8, 8)]):
        a16 = smooth(w, h, 4, maxv=65535, seed=200 + i)
        write_png(name(f"rgb16_{w}x{h}"), lambda x, y: tuple(a16[y, x, :3]), w, h, 16, 2)
        write_png(name(f"rgba16_{w}x{h}"), lambda x, y: tuple(a16[y, x]), w, h, 16, 6)
        write_png(name(f"gray16_{w}x{h}"), lambda x, y: (a16[y, x, 0],), w, h, 16, 0)
        write_png(name(f"gray16low_{w}x{h}"), lambda x, y: (a16[y, x, 0] // 300,), w, h, 16, 0)
        write_png(name(f"grayalpha16_{w}x{h}"), lambda x, y: tuple(a16[y, x, :2]), w, h, 16, 4)
        for depth in (2, 4):
            g = smooth(w, h, 1, maxv=2**depth - 1, seed=300 + i + depth)
            write_png(name(f"gray{depth}_{w}x{h}"), lambda x, y: (g[y, x, 0],), w, h, depth, 0)
        pal = [tuple(int(v) for v in rnd.integers(0, 256, 3)) for _ in range(16)]
        p = smooth(w, h, 1, maxv=15, seed=400 + i)
        write_png(name(f"palette4trns_{w}x{h}"), lambda x, y: (p[y, x, 0],), w, h, 4, 3, palette=pal,
                  trns=bytes(rnd.integers(0, 256, 16).astype(np.uint8)))
        a8 = smooth(w, h, 4, seed=500 + i)
        write_png(name(f"interlaced_rgba_{w}x{h}"), lambda x, y: tuple(a8[y, x]), w, h, 8, 6, interlace=True)
        write_png(name(f"interlaced_gray1_{w}x{h}"), lambda x, y: (int(a8[y, x, 0] > 128),), w, h, 1, 0, interlace=True)
    # Real photographs from scikit-image, cropped to keep the files small.
    for tag, img in [("astronaut", skd.astronaut()[40:290, 100:420]), ("coffee", skd.coffee()[50:250, 100:500]),
                     ("chelsea", skd.chelsea()[::2, ::2]), ("camera", skd.camera()[100:400:2, 50:450:2]),
                     ("rocket", skd.rocket()[::2, ::2]), ("retina", skd.retina()[::6, ::6])]:
        Image.fromarray(img).save(name(f"photo_{tag}"))
    # Reference: PIL decode + convert("RGB"), then CLIPImageProcessor without normalisation.
    cases = []
    settings = [(224, 224, 224), (64, 64, 64), (96, 80, 72), (50, 50, 50), (33, 40, 30), (80, 200, 120)]
    tensors = {}
    for i, f in enumerate(sorted(folder.glob("*.png"))):
        short, ch, cw = settings[i % len(settings)]
        proc = CLIPImageProcessor(size={"shortest_edge": short}, crop_size={"height": ch, "width": cw},
                                  do_normalize=False)
        img = Image.open(f)
        rgb = np.asarray(img.convert("RGB"))
        px = proc(images=img.convert("RGB"), return_tensors="np")["pixel_values"][0]
        q = np.round(px * 255)
        assert np.abs(q - px * 255).max() < 1e-3
        tensors[f.stem + ".decoded"] = rgb.astype(np.uint8)
        tensors[f.stem + ".pixels"] = q.astype(np.uint8)
        cases.append({"file": f.name, "mode": img.mode, "shortest_edge": short, "crop_height": ch, "crop_width": cw})
    save_file(tensors, str(folder / "expected.safetensors"), metadata={**PROVENANCE, "pillow": Image.__version__})
    (folder / "cases.json").write_text(json.dumps({"provenance": {**PROVENANCE, "pillow": Image.__version__,
                                                                "processor": "CLIPImageProcessor (PIL backend), do_normalize=False"},
                                                 "cases": cases}, indent=1))
    print("images", len(cases))

# MARK: - JPEG decoding

def gen_jpeg():
    """Small JPEGs of every kind PIL writes (and a few it reads), with PIL's convert("RGB") pixels."""
    from PIL import Image, features
    import skimage.data as skd
    folder = FIX / "jpeg"
    folder.mkdir(parents=True, exist_ok=True)
    for f in list(folder.glob("*.jpg")) + list(folder.glob("*.bin")) + list(folder.glob("*.png")):
        f.unlink()
    def smooth(w, h, c, seed):
        r = np.random.default_rng(seed)
        yy, xx = np.mgrid[0:h, 0:w]
        chans = [(np.sin(xx / r.uniform(2, 12) + r.uniform(0, 6)) * np.cos(yy / r.uniform(2, 12)) + 1) / 2 * 255
                 + r.normal(0, 12, (h, w)) for _ in range(c)]
        return np.clip(np.stack(chans, -1), 0, 255).round().astype(np.uint8)
    photo = skd.astronaut()[30:130, 150:270]          # 120 x 100, real detail and skin tones
    made = []
    k = 0
    def save(tag, im, **opts):
        nonlocal k
        k += 1
        path = folder / f"{k:02d}_{tag}.jpg"
        im.save(path, "JPEG", **opts)
        made.append(path)
        return path
    sub = {"444": 0, "422": 1, "420": 2}
    sizes = [(1, 1), (7, 5), (33, 17), (16, 16), (17, 9), (64, 48), (5, 40)]
    for i, (w, h) in enumerate(sizes):
        for s_name in ("444", "422", "420"):
            if (w, h) in [(16, 16), (5, 40)] and s_name == "422":
                continue
            img = Image.fromarray(smooth(w, h, 3, seed=10 * i + sub[s_name]), "RGB")
            save(f"rgb{s_name}_{w}x{h}", img, quality=85, subsampling=sub[s_name])
    ph = Image.fromarray(photo, "RGB")
    for s_name in ("444", "422", "420"):
        save(f"photo{s_name}_q90", ph, quality=90, subsampling=sub[s_name])
        save(f"photo{s_name}_progressive", ph, quality=75, subsampling=sub[s_name], progressive=True)
    save("photo420_optimized", ph, quality=60, optimize=True)
    save("photo420_q100", ph, quality=100)
    save("photo420_q5", ph, quality=5)
    save("photo420_restart_rows", ph, quality=80, restart_marker_rows=1)
    save("photo444_restart_blocks", ph, quality=80, subsampling=0, restart_marker_blocks=5)
    save("photo420_restart_progressive", ph, quality=80, progressive=True, restart_marker_blocks=3)
    save("photo_keep_rgb", ph, quality=85, keep_rgb=True, subsampling=0)      # Adobe transform 0: RGB, no YCbCr
    for (w, h) in [(1, 1), (7, 5), (33, 17), (64, 48)]:
        save(f"gray_{w}x{h}", Image.fromarray(smooth(w, h, 1, seed=w + h)[..., 0], "L"), quality=85)
    save("gray_photo_progressive", ph.convert("L"), quality=80, progressive=True)
    for (w, h) in [(1, 1), (7, 5), (33, 17)]:
        save(f"cmyk_{w}x{h}", Image.fromarray(smooth(w, h, 4, seed=50 + w), "CMYK"), quality=90)
    save("cmyk_photo", ph.convert("CMYK"), quality=85)
    save("cmyk_photo_progressive", ph.convert("CMYK"), quality=85, progressive=True)
    ex = Image.Exif()
    ex[0x0112] = 6                                      # orientation "rotate 90": PIL's open/convert ignores it
    exif_photo = save("photo420_exif_orientation6", ph, quality=80, exif=ex.tobytes())
    # What Pillow cannot write, through libjpeg itself (Tools/jpeg_writer.c): YCCK, 4:4:0 and 4:1:1.
    import subprocess, tempfile
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "jpeg_writer"
        subprocess.run(["cc", "-O2", "-o", str(exe), str(ROOT / "Tools" / "jpeg_writer.c"), "-ljpeg"], check=True)
        def libjpeg(tag, pixels, colorspace, h0, v0, quality=85):
            nonlocal k
            k += 1
            path = folder / f"{k:02d}_{tag}.jpg"
            hh, ww, cc = pixels.shape
            out = subprocess.run([str(exe), str(ww), str(hh), str(cc), colorspace, str(h0), str(v0), str(quality)],
                                 input=pixels.tobytes(), capture_output=True, check=True).stdout
            path.write_bytes(out)
            made.append(path)
        cmyk_inverted = 255 - np.asarray(ph.convert("CMYK"))   # Adobe polarity, as Pillow writes CMYK
        libjpeg("ycck_photo", cmyk_inverted, "ycck", 1, 1)
        libjpeg("ycck420_photo", cmyk_inverted, "ycck", 2, 2)
        libjpeg("ycck_7x5", 255 - smooth(7, 5, 4, seed=77), "ycck", 2, 1)
        libjpeg("photo440", photo, "ycbcr", 1, 2)
        libjpeg("photo411", photo, "ycbcr", 4, 1)
        libjpeg("rgb440_33x17", smooth(33, 17, 3, seed=91), "ycbcr", 1, 2)
    # Corrupt entropy-coded data: libjpeg warns and carries on (PIL too), so the garbage must agree.
    good = exif_photo.read_bytes()
    sos = good.rindex(b"\xff\xda")
    bad = bytearray(good)
    for j in range(sos + 40, len(bad) - 40, 53):
        if bad[j] != 0xFF and bad[j - 1] != 0xFF:
            bad[j] ^= 0x5A
            if bad[j] == 0xFF: bad[j] ^= 0x5A
    k += 1
    path = folder / f"{k:02d}_photo420_corrupt_scan.jpg"
    path.write_bytes(bytes(bad))
    made.append(path)
    # A JPEG named .png: formats are recognised by content.
    k += 1
    path = folder / f"{k:02d}_rgb420_named_png.png"
    path.write_bytes(next(p for p in made if p.name.endswith("rgb420_33x17.jpg")).read_bytes())
    made.append(path)
    # Files PIL refuses: truncated scan data, a truncated header, a corrupt (zero-width) frame header.
    sof = good.index(b"\xff\xc0")
    errors = {
        "bad_truncated_scan.jpg": good[: (sos + len(good)) // 2],
        "bad_truncated_header.jpg": good[: sof + 6],
        "bad_zero_width.jpg": good[: sof + 7] + b"\x00\x00" + good[sof + 9:],
    }
    for name, data in errors.items():
        (folder / name).write_bytes(data)
        try:
            Image.open(folder / name).convert("RGB")
        except Exception as e:
            errors[name] = type(e).__name__ + ": " + str(e)
        else:
            raise AssertionError(f"PIL decodes {name}")
    cases, tensors = [], {}
    for f in made:
        img = Image.open(f)
        rgb = np.asarray(img.convert("RGB"))
        h, w, _ = rgb.shape
        c = {"file": f.name, "mode": img.mode, "width": w, "height": h,
             "progressive": bool(img.info.get("progressive", 0)),
             "crc32": zlib.crc32(rgb.tobytes()) & 0xFFFFFFFF}
        if w * h <= 40 * 48:
            tensors[f.stem] = rgb.astype(np.uint8)
            c["stored"] = True
        cases.append(c)
    meta = {**PROVENANCE, "pillow": Image.__version__, "libjpeg_turbo": features.version("libjpeg_turbo")}
    save_file(tensors, str(folder / "expected.safetensors"), metadata=meta)
    (folder / "cases.json").write_text(json.dumps({"provenance": {**meta, "reference": 'Image.open(path).convert("RGB")'},
                                                 "cases": cases, "errors": errors}, indent=1))
    print("jpeg", len(cases), "cases,", len(tensors), "stored in full")

# MARK: - Resampling

def resample_source(width, height, seed):
    """Source pixels (height × width × 3, uint8) from an integer hash of (x, y, channel, seed);
    ResampleTests.swift computes the same formula. Odd seeds give smooth ramps plus a little noise,
    even seeds uniform noise."""
    m = 0xFFFFFFFF
    y, x, c = np.meshgrid(np.arange(height, dtype=np.uint64), np.arange(width, dtype=np.uint64),
                          np.arange(3, dtype=np.uint64), indexing="ij")
    h = (x * 73856093 + y * 19349663 + c * 83492791 + seed * 2654435761 + 12345) & m
    h ^= h >> 15
    h = (h * 0x2C1B3C6D) & m
    h ^= h >> 12
    h = (h * 0x297A2D39) & m
    h ^= h >> 15
    if seed % 2 == 0:
        v = h >> 24
    else:
        ramp = (x * (seed % 7 + 1) + y * (seed % 5 + 1) + c * 85) // (seed % 3 + 1)
        v = (ramp + (h >> 29)) & 255
    return v.astype(np.uint8)

def gen_resample():
    """PIL's resize on seeded sources: per case the sizes, the filter and the CRC-32 of the output
    bytes (full bytes for small outputs); and mode PNGs written by PIL with their convert("RGB")."""
    import base64
    from PIL import Image
    folder = FIX / "resample"
    folder.mkdir(parents=True, exist_ok=True)
    for f in folder.glob("*.png"):
        f.unlink()
    rnd = random.Random(19)
    filters = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
               "hamming": Image.Resampling.HAMMING, "lanczos": Image.Resampling.LANCZOS, "box": Image.Resampling.BOX}
    def shortest_224(w, h):
        short, long = min(w, h), max(w, h)
        new_long = int(224 * long / short)
        return (224, new_long) if w <= h else (new_long, 224)
    sizes = []
    for i in range(240):
        kind = i % 6
        if kind == 5:
            sw, sh = rnd.randint(1, 12), rnd.randint(1, 12)
        else:
            sw, sh = rnd.randint(1, 1000), rnd.randint(1, 700)
        if kind == 0:
            tw, th = shortest_224(sw, sh)
        elif kind == 1:
            tw, th = rnd.randint(1, sw), rnd.randint(1, sh)               # down
        elif kind == 2:
            tw, th = rnd.randint(1, 2 * sw + 8), rnd.randint(1, 2 * sh + 8)  # either
        elif kind == 3:                                                   # one axis unchanged
            tw, th = (sw, rnd.randint(1, 2 * sh + 8)) if i % 4 == 3 else (rnd.randint(1, 2 * sw + 8), sh)
        elif kind == 4:
            tw, th = rnd.randint(1, 300), rnd.randint(1, 300)
        else:
            tw, th = rnd.randint(sw, 240), rnd.randint(sh, 240)           # small sources upscaled
        sizes.append((sw, sh, tw, th))
    sizes += [(7, 5, 224, 224), (7, 5, 313, 224), (5, 7, 224, 313), (1, 1, 224, 224), (1000, 700, 320, 224),
              (700, 1000, 224, 320), (1000, 700, 1, 1), (2, 700, 1, 224), (640, 480, 298, 224), (224, 225, 224, 224)]
    # The other filters, fewer cases.
    others = [(rnd.randint(1, 600), rnd.randint(1, 600), rnd.randint(1, 400), rnd.randint(1, 400)) for _ in range(45)]
    cases = []
    for i, (sw, sh, tw, th) in enumerate(sizes + others):
        seed = i * 7 + 1 if i % 3 else i * 7
        fname = ("bicubic" if i % 2 == 0 else "bilinear") if i < len(sizes) else ("hamming", "lanczos", "box")[i % 3]
        src = resample_source(sw, sh, seed)
        out = Image.fromarray(src, "RGB").resize((tw, th), filters[fname])
        data = out.tobytes()
        case = {"src": [sw, sh], "seed": seed, "src_crc32": zlib.crc32(src.tobytes()), "dst": [tw, th], "filter": fname, "crc32": zlib.crc32(data)}
        if tw * th <= 400:
            case["bytes"] = base64.b64encode(data).decode()
        cases.append(case)
    # Modes as PIL writes them, decoded and converted to RGB, then resized to 224 on the shortest side.
    modes = []
    for j, (mode, w, h) in enumerate([("L", 37, 23), ("LA", 29, 41), ("RGBA", 53, 31), ("P", 44, 27), ("1", 61, 19),
                                      ("I;16", 33, 35), ("RGB", 120, 80)]):
        a = resample_source(w, h, 1001 + 2 * j)
        noise = resample_source(w, h, 2000 + 2 * j)
        if mode == "L":
            im = Image.fromarray(a[..., 0], "L")
        elif mode == "LA":
            im = Image.fromarray(np.stack([a[..., 0], noise[..., 1]], -1), "LA")
        elif mode == "RGBA":
            im = Image.fromarray(np.concatenate([a, noise[..., :1]], -1), "RGBA")
        elif mode == "P":
            im = Image.fromarray(a, "RGB").quantize(23)
        elif mode == "1":
            im = Image.fromarray(noise[..., 0] > 100).convert("1")
        elif mode == "I;16":
            im = Image.fromarray(np.ascontiguousarray(a[..., 0].astype(np.uint16) * 257 + noise[..., 1]))
        else:
            im = Image.fromarray(a, "RGB")
        f = folder / f"mode_{j}.png"
        im.save(f)
        back = Image.open(f)
        assert back.mode == mode, (back.mode, mode)
        rgb = back.convert("RGB")
        tw, th = shortest_224(w, h)
        resized = rgb.resize((tw, th), Image.Resampling.BICUBIC)
        modes.append({"file": f.name, "mode": mode, "size": [w, h], "rgb_crc32": zlib.crc32(rgb.tobytes()),
                      "rgb_bytes": base64.b64encode(rgb.tobytes()).decode() if w * h <= 2500 else None,
                      "dst": [tw, th], "resized_crc32": zlib.crc32(resized.tobytes())})
    (folder / "cases.json").write_text(json.dumps({
        "provenance": {**PROVENANCE, "pillow": Image.__version__,
                       "how": "Image.fromarray(src, 'RGB').resize(dst, filter); crc32 = zlib.crc32 of tobytes()"},
        "cases": cases, "modes": modes}, indent=0))
    print("resample", len(cases), "cases,", len(modes), "modes")

# MARK: - SigLIP

def spm_training_text(path):
    rnd = random.Random(99)
    base = corpus(seed=4321)
    extra = ["a photo of a %s" % w for w in "cat dog car tree house bird boat plane train horse".split()]
    lines = [t for t in base if t.strip()] + extra * 20
    rnd.shuffle(lines)
    Path(path).write_text("\n".join(l.replace("\n", " ") for l in lines))

def gen_spm():
    """Trains the two small SentencePiece models (Unigram with byte fallback, BPE without)."""
    import sentencepiece as spm
    folder = FIX / "siglip"
    folder.mkdir(parents=True, exist_ok=True)
    text = "/tmp/spm_train.txt"
    spm_training_text(text)
    for kind, fallback in (("unigram", True), ("bpe", False)):
        spm.SentencePieceTrainer.train(input=text, model_prefix=str(folder / f"spm_{kind}"), vocab_size=1000,
                                       model_type=kind, byte_fallback=fallback, character_coverage=0.9995,
                                       num_threads=1, seed_sentencepiece_size=100000, minloglevel=2)
        (folder / f"spm_{kind}.vocab").unlink()

def siglip_tokenizer(model_file):
    from transformers import SiglipTokenizer
    return SiglipTokenizer(vocab_file=str(model_file))

SIGLIP_CONFIGS = {
    # Patch 8 on 48-pixel images, 4 heads, Unigram tokenizer.
    "p8_48": dict(text=dict(vocab_size=1000, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                            num_attention_heads=2, max_position_embeddings=16, projection_size=64),
                  vision=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                              image_size=48, patch_size=8),
                  spm="unigram", images=3),
    # 6 heads, patch 16 on 64-pixel images, BPE tokenizer.
    "h6_64": dict(text=dict(vocab_size=1000, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                            num_attention_heads=6, max_position_embeddings=20, projection_size=96),
                  vision=dict(hidden_size=96, intermediate_size=192, num_hidden_layers=2, num_attention_heads=6,
                              image_size=64, patch_size=16),
                  spm="bpe", images=2),
}

SIGLIP_TEXTS = ["a photo of a cat", "Two DOGS, running on the beach!", "it's 5 o'clock   somewhere",
                "café au lait in 東京 🚲", "a photo of a train </s> and more"]

def gen_siglip():
    import shutil
    from transformers import SiglipConfig, SiglipModel, SiglipImageProcessor
    from PIL import Image
    for name, spec in SIGLIP_CONFIGS.items():
        torch.manual_seed(sum(map(ord, name)))
        rng = np.random.default_rng(sum(map(ord, name)))
        cfg = SiglipConfig(text_config=spec["text"], vision_config=spec["vision"])
        model = SiglipModel(cfg).eval()
        with torch.no_grad():
            for n, p in model.named_parameters():
                if "norm" in n or n.endswith("probe") or "bias" in n:
                    p.add_(torch.randn_like(p) * 0.1)
            model.logit_scale.fill_(2.0)
            if model.logit_bias is not None:
                model.logit_bias.fill_(-4.5)
            model.logit_bias.fill_(-3.0)
        out = FIX / "siglip" / name
        out.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out)
        shutil.copy(FIX / "siglip" / f"spm_{spec['spm']}.model", out / "spiece.model")
        tok = siglip_tokenizer(out / "spiece.model")
        size = spec["vision"]["image_size"]
        proc = SiglipImageProcessor(size={"height": size, "width": size})
        proc.save_pretrained(out)
        (out / "texts.json").write_text(json.dumps(SIGLIP_TEXTS, ensure_ascii=False))
        images = []
        for k in range(spec["images"]):
            arr = rng.integers(0, 256, size=(size + 11 * k + 3, size + 23 * k + 7, 3), dtype=np.uint8)
            arr = (arr // 3 + np.linspace(0, 150, arr.shape[0])[:, None, None]).astype(np.uint8)
            Image.fromarray(arr).save(out / f"image{k}.png")
            images.append(Image.open(out / f"image{k}.png").convert("RGB"))
        enc = tok(SIGLIP_TEXTS, padding="max_length", truncation=True, max_length=spec["text"]["max_position_embeddings"],
                  return_tensors="pt")
        pixels = proc(images=images, return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            res = model(input_ids=enc["input_ids"], pixel_values=pixels)
        expected = {"input_ids": enc["input_ids"].numpy().astype(np.int64), "pixel_values": pixels.numpy(),
                    "text_embeds": res.text_embeds.numpy(), "image_embeds": res.image_embeds.numpy(),
                    "logits_per_image": res.logits_per_image.numpy()}
        save_file({k: np.require(v, requirements="C") for k, v in expected.items()}, str(out / "expected.safetensors"),
                  metadata={**PROVENANCE, "config": name})
        print("siglip fixture", name, {k: v.shape for k, v in expected.items()})

def gen_siglip_tokenizer():
    folder = FIX / "siglip"
    texts = corpus()
    data = {"provenance": {**PROVENANCE, "tokenizer": "SiglipTokenizer(vocab_file=spm_*.model), sentencepiece 0.2.3"}}
    for kind in ("unigram", "bpe"):
        tok = siglip_tokenizer(folder / f"spm_{kind}.model")
        data[kind] = {"ids": [tok(t, truncation=True, max_length=64)["input_ids"] for t in texts],
                      "padded": tok(texts[:50], padding="max_length", truncation=True, max_length=64)["input_ids"],
                      "pad_token_id": tok.pad_token_id}
    data["texts"] = texts
    (folder / "tokenizer_corpus.json").write_text(json.dumps(data, ensure_ascii=False, indent=0))
    print("siglip tokenizer corpus", len(texts))

def gen_sigmoid_loss():
    """−Σ log σ(z ⊙ (exp(s)·t·iᵀ + b)) / n and its gradients, moderate and large logits."""
    out = {}
    g = torch.Generator().manual_seed(11)
    for tag, scale, n in (("moderate", 1.0, 6), ("large", 30.0, 5)):
        t = (torch.randn(n, 8, generator=g) * scale).requires_grad_()
        i = (torch.randn(n, 8, generator=g) * scale).requires_grad_()
        s = torch.tensor(2.3 if tag == "moderate" else 0.5, requires_grad=True)
        b = torch.tensor(-4.0, requires_grad=True)
        logits = t @ i.t() * s.exp() + b
        z = 2 * torch.eye(n) - 1
        loss = -torch.nn.functional.logsigmoid(z * logits).sum() / n
        loss.backward()
        out.update({f"{tag}.t": t.detach().numpy(), f"{tag}.i": i.detach().numpy(),
                    f"{tag}.scale": np.array([s.item()], np.float32), f"{tag}.bias": np.array([b.item()], np.float32),
                    f"{tag}.loss": np.array([loss.item()], np.float32), f"{tag}.grad_t": t.grad.numpy(),
                    f"{tag}.grad_i": i.grad.numpy(), f"{tag}.grad_scale": np.array([s.grad.item()], np.float32),
                    f"{tag}.grad_bias": np.array([b.grad.item()], np.float32),
                    f"{tag}.max_abs_logit": np.array([logits.abs().max().item()], np.float32)})
    save_file({k: np.require(v, requirements="C") for k, v in out.items()}, str(FIX / "siglip" / "sigmoid_loss.safetensors"),
              metadata=PROVENANCE)
    print("sigmoid loss", {k: float(v[0]) for k, v in out.items() if k.endswith("loss") or "max_abs" in k})

# MARK: - Retrieval metrics

def coco_metrics(sim, image_of_text, ks=(1, 5, 10, 50)):
    """Brute-force COCO-aware retrieval metrics (definitions in Sources/Retrieval/RetrievalMetrics.swift).
    sim: [texts, images] float64."""
    nt, ni = sim.shape
    caps = [[] for _ in range(ni)]
    for t, i in enumerate(image_of_text):
        caps[i].append(t)
    t2i = []
    for t in range(nt):
        own = image_of_text[t]
        row = np.delete(sim[t], own)
        t2i.append(1 + int((row > sim[t, own]).sum()))
    i2t, positions, best = [], [], []
    for i in range(ni):
        if not caps[i]:
            continue
        col = sim[:, i]
        s_best = max(col[c] for c in caps[i])
        others = np.ones(nt, bool); others[caps[i]] = False
        i2t.append(1 + int((col[others] > s_best).sum()))
        positions.append([1 + int((np.delete(col, c) > col[c]).sum()) for c in caps[i]])
        best.append(col.max())
    def stats(r):
        r = np.array(r, dtype=np.float64)
        return {"R": {k: 100.0 * float((r <= k).mean()) for k in ks}, "MedR": float(np.median(r)), "MeanR": float(r.mean()),
                "MRR": float((1 / r).mean())}
    a, b = stats(i2t), stats(t2i)
    out = {f"i2t_R@{k}": a["R"][k] for k in ks}
    out.update({f"t2i_R@{k}": b["R"][k] for k in ks})
    out.update({"i2t_MedR": a["MedR"], "t2i_MedR": b["MedR"], "i2t_MeanR": a["MeanR"], "t2i_MeanR": b["MeanR"],
                "i2t_MRR": a["MRR"], "t2i_MRR": b["MRR"],
                "t2i_nDCG@10": float(np.mean([1 / np.log2(1 + r) if r <= 10 else 0 for r in t2i])),
                "i2t_nDCG@10": float(np.mean([sum(1 / np.log2(1 + p) for p in ps if p <= 10) /
                                              sum(1 / np.log2(1 + r) for r in range(1, min(len(ps), 10) + 1)) for ps in positions])),
                "avg_best_cosine": float(np.mean(best)), "n_images": len(i2t), "n_texts": nt})
    return out

def gen_retrieval():
    """1,000 images × 5,000 captions with small-integer embeddings (exact dot products, many ties)."""
    folder = FIX / "retrieval"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2024)
    ni, per, d = 1000, 5, 24
    images = rng.integers(-3, 4, size=(ni, d)).astype(np.float32)
    image_of_text = np.repeat(np.arange(ni), per)
    texts = (images[image_of_text] + rng.integers(-4, 5, size=(ni * per, d))).astype(np.float32)
    sim = texts.astype(np.float64) @ images.astype(np.float64).T
    metrics = coco_metrics(sim, image_of_text.tolist())
    save_file({"texts": texts, "images": images, "image_of_text": image_of_text.astype(np.int64)},
              str(folder / "coco_case.safetensors"), metadata={**PROVENANCE, "metrics": json.dumps(metrics)})
    print("retrieval", {k: round(v, 3) for k, v in metrics.items()})

# MARK: - ELIP

def elip_mapper(d_in, hidden, m, d_vision, seed):
    torch.manual_seed(seed)
    mapper = torch.nn.Sequential(torch.nn.Linear(d_in, hidden), torch.nn.GELU(), torch.nn.Linear(hidden, hidden),
                                 torch.nn.GELU(), torch.nn.Linear(hidden, m * d_vision))
    with torch.no_grad():
        for layer in mapper:
            if isinstance(layer, torch.nn.Linear):
                torch.nn.init.trunc_normal_(layer.weight, std=0.02)
                layer.bias.normal_(0, 0.01)          # non-zero biases, so the test sees them
    return mapper

def guided_clip(model, pixels, prompts):
    vm = model.vision_model
    h = vm.pre_layrnorm(vm.embeddings(pixels))
    h = torch.cat([h[:, :1], prompts, h[:, 1:]], dim=1)
    h = vm.encoder(inputs_embeds=h).last_hidden_state
    return model.visual_projection(vm.post_layernorm(h[:, 0]))

def guided_siglip(model, pixels, prompts):
    vm = model.vision_model
    h = torch.cat([prompts, vm.embeddings(pixels)], dim=1)
    h = vm.post_layernorm(vm.encoder(inputs_embeds=h).last_hidden_state)
    return vm.head(h)

def gen_elip():
    """Guided image embeddings: a random mapper's prompts inserted into the CLIP and SigLIP fixtures' vision towers."""
    from transformers import CLIPModel, SiglipModel
    folder = FIX / "elip"
    folder.mkdir(parents=True, exist_ok=True)
    for kind, src, m in (("clip", FIX / "clip" / "p16_96", 3), ("siglip", FIX / "siglip" / "p8_48", 4)):
        model = (CLIPModel if kind == "clip" else SiglipModel).from_pretrained(src).eval()
        e = {k: torch.from_numpy(v) for k, v in __import__("safetensors.numpy", fromlist=["load_file"]).load_file(str(src / "expected.safetensors")).items()}
        ids, pixels = e["input_ids"], e["pixel_values"]
        n = min(ids.shape[0], pixels.shape[0])
        ids, pixels = ids[:n], pixels[:n]
        with torch.no_grad():
            if kind == "clip":
                t = model.get_text_features(input_ids=ids, attention_mask=e["attention_mask"][:n]).pooler_output
                d_vision = model.config.vision_config.hidden_size
            else:
                t = model.get_text_features(input_ids=ids).pooler_output
                d_vision = model.config.vision_config.hidden_size
            t = t / t.norm(dim=-1, keepdim=True)
            mapper = elip_mapper(t.shape[1], 48, m, d_vision, seed=7 if kind == "clip" else 8)
            prompts = mapper(t).view(n, m, d_vision)
            guided = (guided_clip if kind == "clip" else guided_siglip)(model, pixels, prompts)
            guided = guided / guided.norm(dim=-1, keepdim=True)
        weights = {f"mapper.{i}.{w}": getattr(mapper[i], w).detach().numpy().copy() for i in (0, 2, 4) for w in ("weight", "bias")}
        # 20 AdamW steps on the mapper alone, the batch fixed, from these initial weights.
        for p in model.parameters():
            p.requires_grad_(False)
        opt = torch.optim.AdamW(mapper.parameters(), lr=1e-3, weight_decay=0.01)
        losses = []
        for step in range(20):
            pr = mapper(t).view(n, m, d_vision)
            g = (guided_clip if kind == "clip" else guided_siglip)(model, pixels, pr)
            g = g / g.norm(dim=-1, keepdim=True)
            if kind == "clip":
                logits = t @ g.t() * model.logit_scale.exp()
                labels = torch.arange(n)
                loss = (torch.nn.functional.cross_entropy(logits, labels) + torch.nn.functional.cross_entropy(logits.t(), labels)) / 2
            else:
                logits = t @ g.t() * model.logit_scale.exp() + model.logit_bias
                z = 2 * torch.eye(n) - 1
                loss = -torch.nn.functional.logsigmoid(z * logits).sum() / n
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        save_file(weights, str(folder / f"{kind}_mapper.safetensors"), metadata={"prompt_tokens": str(m), "hidden": "48"})
        save_file({"input_ids": ids.numpy().astype(np.int64), "pixel_values": pixels.numpy(),
                   "text_embeds": t.numpy(), "prompts": prompts.numpy().copy(), "guided_image_embeds": guided.numpy(),
                   "train_losses": np.array(losses, dtype=np.float32)},
                  str(folder / f"{kind}_expected.safetensors"), metadata={**PROVENANCE, "model": str(src.relative_to(FIX))})
        print("elip", kind, guided.shape)

def elip_query_loss(kind, model, mapper, t, pixels, m, d_vision):
    """ELIP's query objective, computed plainly: every query's prompts re-encode all n images (n × n guided
    encodes in one batch), cosines s_ij = t_i · g_ij; CLIP: mean over queries of the cross-entropy of
    exp(logit_scale)·s_i· (label i); SigLIP: −Σ_ij logsigmoid(z_ij (exp(logit_scale)·s_ij + logit_bias)) / n."""
    n = t.shape[0]
    prompts = mapper(t).view(n, m, d_vision)
    rep = prompts.unsqueeze(1).expand(n, n, m, d_vision).reshape(n * n, m, d_vision)   # row i·n + j: p_i
    px = pixels.unsqueeze(0).expand(n, *pixels.shape).reshape(n * n, *pixels.shape[1:])  # row i·n + j: x_j
    g = (guided_clip if kind == "clip" else guided_siglip)(model, px, rep)
    g = (g / g.norm(dim=-1, keepdim=True)).view(n, n, -1)
    s = torch.einsum("ijd,id->ij", g, t)
    if kind == "clip":
        return torch.nn.functional.cross_entropy(s * model.logit_scale.exp(), torch.arange(n))
    z = 2 * torch.eye(n) - 1
    return -torch.nn.functional.logsigmoid(z * (s * model.logit_scale.exp() + model.logit_bias)).sum() / n

def gen_elip_query():
    """ELIP's query objective: the loss and mapper gradients at a random mapper's weights, and 20 AdamW steps."""
    from transformers import CLIPModel, SiglipModel
    from safetensors.numpy import load_file
    folder = FIX / "elip"
    folder.mkdir(parents=True, exist_ok=True)
    for kind, src, m in (("clip", FIX / "clip" / "p16_96", 3), ("siglip", FIX / "siglip" / "p8_48", 4)):
        model = (CLIPModel if kind == "clip" else SiglipModel).from_pretrained(src).eval()
        for p in model.parameters():
            p.requires_grad_(False)
        e = {k: torch.from_numpy(v) for k, v in load_file(str(src / "expected.safetensors")).items()}
        ids, pixels = e["input_ids"], e["pixel_values"]
        n = min(ids.shape[0], pixels.shape[0])
        ids, pixels = ids[:n], pixels[:n]
        d_vision = model.config.vision_config.hidden_size
        with torch.no_grad():
            if kind == "clip":
                t = model.get_text_features(input_ids=ids, attention_mask=e["attention_mask"][:n]).pooler_output
            else:
                t = model.get_text_features(input_ids=ids).pooler_output
            t = t / t.norm(dim=-1, keepdim=True)
        mapper = elip_mapper(t.shape[1], 48, m, d_vision, seed=31 if kind == "clip" else 32)
        names = [f"mapper.{i}.{w}" for i in (0, 2, 4) for w in ("weight", "bias")]
        weights = {k: getattr(mapper[int(k.split(".")[1])], k.split(".")[2]).detach().numpy().copy() for k in names}
        out = {"text_embeds": t.numpy().copy()}
        opt = torch.optim.AdamW(mapper.parameters(), lr=1e-3, weight_decay=0.01)
        losses = []
        for step in range(20):
            opt.zero_grad()
            loss = elip_query_loss(kind, model, mapper, t, pixels, m, d_vision)
            loss.backward()
            if step == 0:
                out["loss"] = np.array([loss.item()], dtype=np.float32)
                for k in names:
                    out[f"grad.{k}"] = getattr(mapper[int(k.split(".")[1])], k.split(".")[2]).grad.numpy().copy()
            losses.append(loss.item())
            opt.step()
        out["train_losses"] = np.array(losses, dtype=np.float32)
        save_file(weights, str(folder / f"{kind}_query_mapper.safetensors"), metadata={"prompt_tokens": str(m), "hidden": "48"})
        save_file(out, str(folder / f"{kind}_query_expected.safetensors"),
                  metadata={**PROVENANCE, "model": str(src.relative_to(FIX)), "objective": "query",
                            "optimizer": "AdamW(lr=1e-3, weight_decay=0.01), full batch, loss before each step"})
        print("elip query", kind, n, losses[0], losses[-1])

# MARK: - Contrastive training

def contrastive_loss(kind, model, ids, mask, pixels):
    if kind == "clip":
        t = model.get_text_features(input_ids=ids, attention_mask=mask).pooler_output
    else:
        t = model.get_text_features(input_ids=ids).pooler_output
    i = model.get_image_features(pixel_values=pixels).pooler_output
    t = t / t.norm(dim=-1, keepdim=True)
    i = i / i.norm(dim=-1, keepdim=True)
    n = t.shape[0]
    if kind == "clip":
        logits = t @ i.t() * model.logit_scale.exp()
        labels = torch.arange(n)
        return (torch.nn.functional.cross_entropy(logits, labels) + torch.nn.functional.cross_entropy(logits.t(), labels)) / 2
    logits = t @ i.t() * model.logit_scale.exp() + model.logit_bias
    z = 2 * torch.eye(n) - 1
    return -torch.nn.functional.logsigmoid(z * logits).sum() / n

def gen_contrastive():
    """20 steps of full contrastive training (both towers): AdamW with open_clip's decay split,
    warmup 5 then cosine (open_clip's cosine_lr), gradient clipping at norm 1, logit_scale clamp."""
    from transformers import CLIPModel, SiglipModel
    folder = FIX / "training"
    folder.mkdir(parents=True, exist_ok=True)
    steps, warmup, base_lr, wd = 20, 5, 2e-3, 0.1
    for kind, src in (("clip", FIX / "clip" / "p16_96"), ("siglip", FIX / "siglip" / "p8_48")):
        model = (CLIPModel if kind == "clip" else SiglipModel).from_pretrained(src).train()
        e = {k: torch.from_numpy(v) for k, v in __import__("safetensors.numpy", fromlist=["load_file"]).load_file(str(src / "expected.safetensors")).items()}
        n = min(e["input_ids"].shape[0], e["pixel_values"].shape[0])
        ids, pixels = e["input_ids"][:n], e["pixel_values"][:n]
        mask = e["attention_mask"][:n] if kind == "clip" else None
        named = [(k, p) for k, p in model.named_parameters() if p.requires_grad]
        no_decay = lambda k, p: p.ndim < 2 or "bias" in k or "norm" in k or "logit_" in k
        opt = torch.optim.AdamW([{"params": [p for k, p in named if not no_decay(k, p)], "weight_decay": wd},
                                 {"params": [p for k, p in named if no_decay(k, p)], "weight_decay": 0.0}], lr=base_lr)
        losses, lrs = [], []
        for step in range(steps):
            if step < warmup:
                lr = base_lr * (step + 1) / warmup
            else:
                lr = 0.5 * (1 + np.cos(np.pi * (step - warmup) / (steps - warmup))) * base_lr
            for g in opt.param_groups:
                g["lr"] = lr
            loss = contrastive_loss(kind, model, ids, mask, pixels)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for _, p in named], 1.0)
            opt.step()
            if kind == "clip":
                with torch.no_grad():
                    model.logit_scale.clamp_(0, np.log(100))
            losses.append(loss.item())
            lrs.append(lr)
        save_file({"input_ids": ids.numpy().astype(np.int64), "pixel_values": pixels.numpy(),
                   **({"attention_mask": mask.numpy().astype(np.float32)} if mask is not None else {}),
                   "train_losses": np.array(losses, dtype=np.float32), "lrs": np.array(lrs, dtype=np.float32)},
                  str(folder / f"{kind}_steps.safetensors"),
                  metadata={**PROVENANCE, "model": str(src.relative_to(FIX)), "base_lr": str(base_lr),
                            "weight_decay": str(wd), "warmup": str(warmup), "steps": str(steps)})
        print("contrastive", kind, losses[0], losses[-1])

def gen_checkpoint():
    """A model folder written by clipcore's trainer, reloaded with transformers: its embeddings of
    fixed texts and images become the expected values clipcore must reproduce from the same folder."""
    from transformers import CLIPModel, CLIPTokenizer, CLIPImageProcessor
    from PIL import Image
    ckpt = FIX / "training" / "clipcore_checkpoint"
    if not (ckpt / "model.safetensors").exists():
        sys.exit(f"{ckpt} missing: write it first with Tools/write_checkpoint_fixture.sh")
    model = CLIPModel.from_pretrained(ckpt).eval()
    tok = CLIPTokenizer.from_pretrained(ckpt)
    proc = CLIPImageProcessor.from_pretrained(ckpt)
    texts = ["a small red circle on the left", "a large blue square above a small green triangle", "three shapes on gray"]
    images = [Image.open(FIX / "clip" / "p16_96" / f"image{i}.png").convert("RGB") for i in range(3)]
    with torch.no_grad():
        b = tok(texts, padding=True, return_tensors="pt")
        t = model.get_text_features(**b).pooler_output
        i = model.get_image_features(**proc(images=images, return_tensors="pt")).pooler_output
    save_file({"text_embeds": (t / t.norm(dim=-1, keepdim=True)).numpy(), "image_embeds": (i / i.norm(dim=-1, keepdim=True)).numpy()},
              str(FIX / "training" / "checkpoint_expected.safetensors"),
              metadata={**PROVENANCE, "texts": json.dumps(texts)})
    print("checkpoint reloaded with transformers", t.shape, i.shape)

# MARK: - C ABI

def gen_capi():
    """Expected values for the C example and the Python binding: embeddings of strings and PNG files
    through transformers' own tokenizers and image processors, and ELIP re-ranking scores with a
    random mapper, for a CLIP and a SigLIP folder. Written as plain text a C program can parse."""
    from transformers import CLIPModel, CLIPTokenizer, CLIPImageProcessor, SiglipModel, SiglipTokenizer, SiglipImageProcessor
    from PIL import Image
    for kind, src in (("clip", FIX / "clip" / "gelu_vocab"), ("siglip", FIX / "siglip" / "p8_48")):
        folder = FIX / "capi" / kind
        folder.mkdir(parents=True, exist_ok=True)
        if kind == "clip":
            model, tok, proc = CLIPModel.from_pretrained(src, dtype=torch.float32).eval(), CLIPTokenizer.from_pretrained(src), CLIPImageProcessor.from_pretrained(src)
            tok_kw = {"padding": True}
        else:
            model, tok, proc = SiglipModel.from_pretrained(src, dtype=torch.float32).eval(), SiglipTokenizer.from_pretrained(src), SiglipImageProcessor.from_pretrained(src)
            tok_kw = {"padding": "max_length", "max_length": model.config.text_config.max_position_embeddings, "truncation": True}
        texts = ["a photo of a cat", "two dogs running on the beach", "a red circle left of a blue square"]
        images = sorted(p.name for p in src.glob("image*.png"))
        query = "a small red circle"
        with torch.no_grad():
            b = tok(texts, return_tensors="pt", **tok_kw)
            t = model.get_text_features(**({"input_ids": b["input_ids"], "attention_mask": b["attention_mask"]} if kind == "clip" else {"input_ids": b["input_ids"]})).pooler_output
            t = t / t.norm(dim=-1, keepdim=True)
            pix = proc(images=[Image.open(src / f).convert("RGB") for f in images], return_tensors="pt")["pixel_values"]
            i = model.get_image_features(pixel_values=pix).pooler_output
            i = i / i.norm(dim=-1, keepdim=True)
            qb = tok([query], return_tensors="pt", **tok_kw)
            q = model.get_text_features(**({"input_ids": qb["input_ids"], "attention_mask": qb["attention_mask"]} if kind == "clip" else {"input_ids": qb["input_ids"]})).pooler_output
            q = q / q.norm(dim=-1, keepdim=True)
            d_vision, m = model.config.vision_config.hidden_size, 3
            mapper = elip_mapper(q.shape[1], 32, m, d_vision, seed=21 if kind == "clip" else 22)
            prompts = mapper(q).view(1, m, d_vision).expand(len(images), m, d_vision)
            g = (guided_clip if kind == "clip" else guided_siglip)(model, pix, prompts)
            g = g / g.norm(dim=-1, keepdim=True)
            scores = (g @ q[0]).numpy()
        weights = {f"mapper.{k}.{w}": getattr(mapper[k], w).detach().numpy().copy() for k in (0, 2, 4) for w in ("weight", "bias")}
        save_file(weights, str(folder / "mapper.safetensors"), metadata={"prompt_tokens": str(m), "hidden": "32"})
        fmt = lambda a: " ".join(f"{float(x):.9g}" for x in np.asarray(a).ravel())
        lines = [f"model {src.relative_to(FIX)}", f"dim {t.shape[1]}", f"n_texts {len(texts)}"]
        lines += [f"text {x}" for x in texts]
        lines += [f"n_images {len(images)}"] + [f"image {x}" for x in images]
        lines += [f"query {query}", f"text_embeds {fmt(t)}", f"image_embeds {fmt(i)}", f"rerank_scores {fmt(scores)}"]
        (folder / "expected.txt").write_text("\n".join(lines) + "\n")
        print("capi", kind, t.shape, i.shape, scores)

# MARK: - Optimizers

def gen_optim():
    """AdamW (two groups, one without decay) and SGD with momentum over five steps of given gradients."""
    folder = FIX / "optim"
    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(3)
    w0 = torch.randn(4, 3, generator=g)
    b0 = torch.randn(3, generator=g)
    grads = [(torch.randn(4, 3, generator=g) * 3, torch.randn(3, generator=g)) for _ in range(5)]
    out = {"w0": w0.numpy(), "b0": b0.numpy()}
    for i, (gw, gb) in enumerate(grads):
        out[f"grad_w.{i}"] = gw.numpy()
        out[f"grad_b.{i}"] = gb.numpy()
    def run(make, tag, clip=None):
        w = torch.nn.Parameter(w0.clone()); b = torch.nn.Parameter(b0.clone())
        opt = make(w, b)
        for i, (gw, gb) in enumerate(grads):
            w.grad = gw.clone(); b.grad = gb.clone()
            if clip is not None:
                norm = torch.nn.utils.clip_grad_norm_([w, b], clip)
                out[f"{tag}.norm.{i}"] = np.array([norm.item()], dtype=np.float32)
            opt.step()
        out[f"{tag}.w"] = w.detach().numpy().copy()
        out[f"{tag}.b"] = b.detach().numpy().copy()
    run(lambda w, b: torch.optim.AdamW([{"params": [w], "weight_decay": 0.1}, {"params": [b], "weight_decay": 0.0}],
                                       lr=0.01, betas=(0.9, 0.98), eps=1e-6), "adamw")
    run(lambda w, b: torch.optim.SGD([w, b], lr=0.05, momentum=0.9, weight_decay=0.01), "sgd")
    run(lambda w, b: torch.optim.SGD([w, b], lr=0.05, momentum=0.9, nesterov=True), "nesterov")
    run(lambda w, b: torch.optim.AdamW([w, b], lr=0.01, weight_decay=0.05), "adamw_clip", clip=1.0)
    save_file({k: np.require(v, requirements="C") for k, v in out.items()}, str(folder / "expected.safetensors"),
              metadata=PROVENANCE)
    print("optim fixture", len(out))

# MARK: - open_clip checkpoints and the ELIP-C layout

OPENCLIP_MODELS = {
    # QuickGELU towers, a 500-token vocabulary (ids are fed directly), OpenAI mean/std, shortest-edge resize + crop,
    # and a logit bias (open_clip's sigmoid-loss training, init_logit_bias).
    "quickgelu": dict(
        model_cfg=dict(embed_dim=16, quick_gelu=True, init_logit_bias=-5.0,
                       vision_cfg=dict(image_size=32, layers=2, width=32, head_width=16, patch_size=8, mlp_ratio=2.0),
                       text_cfg=dict(context_length=16, vocab_size=500, width=24, heads=2, layers=2, mlp_ratio=2.0)),
        preprocess_cfg=dict(size=32, mode="RGB", mean=[0.48145466, 0.4578275, 0.40821073],
                            std=[0.26862954, 0.26130258, 0.27577711], interpolation="bicubic", resize_mode="shortest",
                            fill_color=0),
        dtype="float32"),
    # Exact GELU, the real vocabulary (texts go through open_clip's tokenizer), squash resize, weights stored as F16.
    "gelu": dict(
        model_cfg=dict(embed_dim=12,
                       vision_cfg=dict(image_size=48, layers=2, width=24, head_width=8, patch_size=16),
                       text_cfg=dict(context_length=77, vocab_size=49408, width=4, heads=2, layers=1)),
        preprocess_cfg=dict(size=48, mode="RGB", mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5], interpolation="bilinear",
                            resize_mode="squash", fill_color=0),
        dtype="float16"),
}

# A preprocessing-only configuration: keep the ratio, fit the longest edge, pad to the square with a fill colour.
OPENCLIP_LONGEST = dict(size=40, mean=[0.4, 0.45, 0.5], std=[0.25, 0.2, 0.3], interpolation="bicubic",
                        resize_mode="longest", fill_color=128)

def openclip_images(folder: Path):
    """Three small PNGs: landscape, portrait (odd crop offsets), square."""
    from PIL import Image
    rng = np.random.default_rng(2020)
    out = []
    for i, (w, h) in enumerate(((45, 30), (28, 53), (33, 33))):
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (w + h) + 64], -1)
        img = np.clip(base + rng.normal(0, 30, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img, "RGB").save(folder / f"image{i}.png")
        out.append(Image.open(folder / f"image{i}.png").convert("RGB"))
    return out

def import_open_clip():
    # torchvision's compiled ops need CUDA libraries the CPU torch lacks; open_clip only uses its transforms.
    import types
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    import open_clip
    return open_clip

def save_openclip_folder(model, spec, folder: Path):
    """The open_clip folder layout (what open_clip's push_to_hf_hub writes): open_clip_config.json + open_clip_model.safetensors."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "open_clip_config.json").write_text(json.dumps(
        {"model_cfg": spec["model_cfg"], "preprocess_cfg": spec["preprocess_cfg"]}, indent=2) + "\n")
    from safetensors.torch import save_file as save_torch
    save_torch({k: v.detach().to(getattr(torch, spec["dtype"])).contiguous() for k, v in model.state_dict().items()},
               str(folder / "open_clip_model.safetensors"),
               metadata={**PROVENANCE, "regenerate": "Tools/gen_fixtures.py openclip (venv: Tools/requirements-openclip.txt)"})

def elipc_generator(in_dim, hidden, m, width):
    """ELIP-C's prompt generator (TextGuidedPromptedTransformer3, num_tokens > 0, project -1): Linear(in, H·m), GELU,
    Linear(H·m, H·m), GELU, Linear(H·m, width·m); truncated-normal weights (std 0.02). The official code fixes
    in_dim 512 and H 1024; the fixture keeps the structure and key names with smaller sizes."""
    g = torch.nn.Sequential(torch.nn.Linear(in_dim, hidden * m), torch.nn.GELU(), torch.nn.Linear(hidden * m, hidden * m),
                            torch.nn.GELU(), torch.nn.Linear(hidden * m, width * m))
    with torch.no_grad():
        for layer in g:
            if isinstance(layer, torch.nn.Linear):
                torch.nn.init.trunc_normal_(layer.weight, std=0.02)
                layer.bias.normal_(0, 0.01)      # non-zero, so the test sees them
    return g

def elipc_encode_image(model, pixels, text_embed):
    """ELIP-C's TextGuidedPromptedVisionTransformer.forward: embeddings and ln_pre, the generated prompts
    (vpt_generator(text).reshape(B, -1, width)) after the class token, the blocks, ln_post on the class token, @ proj."""
    v = model.visual
    x = v._embeds(pixels)
    prompts = v.transformer.vpt_generator(text_embed).reshape(x.shape[0], -1, x.shape[2])
    x = torch.cat([x[:, :1], prompts, x[:, 1:]], dim=1)
    x = v.transformer(x)
    pooled, _ = v._pool(x)
    return pooled @ v.proj

def gen_openclip():
    open_clip = import_open_clip()
    from open_clip.transform import image_transform, PreprocessCfg
    folder = FIX / "openclip"
    folder.mkdir(parents=True, exist_ok=True)
    images = openclip_images(folder)
    prov = {**PROVENANCE, "open_clip": open_clip.__version__}
    tok = open_clip.get_tokenizer("ViT-B-32")
    for name, spec in OPENCLIP_MODELS.items():
        torch.manual_seed(sum(map(ord, name)))
        model = open_clip.CLIP(**spec["model_cfg"]).eval()
        with torch.no_grad():
            for p in model.parameters():            # random, non-trivial layer norms and a non-default temperature
                if p.dim() == 1 and p.shape[0] > 1:
                    p.add_(torch.randn_like(p) * 0.1)
            model.logit_scale.fill_(2.0)
            if model.logit_bias is not None:
                model.logit_bias.fill_(-4.5)
        save_openclip_folder(model, spec, folder / name)
        # Reload through open_clip's own local-dir loader: the reference is what open_clip computes from the folder.
        model, preprocess = open_clip.create_model_from_pretrained(f"local-dir:{folder / name}")
        model.eval()
        pixels = torch.stack([preprocess(im) for im in images])
        ctx = spec["model_cfg"]["text_cfg"]["context_length"]
        if spec["model_cfg"]["text_cfg"]["vocab_size"] == 49408:
            ids = tok(TEXTS, context_length=ctx)
        else:
            g = torch.Generator().manual_seed(5)
            lengths = [3, 16, 9, 1]
            ids = torch.zeros(len(lengths), ctx, dtype=torch.long)
            for r, n in enumerate(lengths):          # start token 498, end token 499 (the largest id), zeros after
                body = torch.randint(1, 498, (max(n - 2, 0),), generator=g)
                row = torch.cat([torch.tensor([498]), body, torch.tensor([499])])[:ctx]
                row[-1] = 499
                ids[r, :len(row)] = row
        with torch.no_grad():
            img = model.encode_image(pixels)
            txt = model.encode_text(ids)
            img_n = model.encode_image(pixels, normalize=True)
            txt_n = model.encode_text(ids, normalize=True)
        save_file({"pixel_values": pixels.numpy(), "input_ids": ids.numpy().astype(np.int64),
                   "image_embeds": img.numpy(), "text_embeds": txt.numpy(),
                   "image_embeds_normalized": img_n.numpy(), "text_embeds_normalized": txt_n.numpy(),
                   "logit_scale": model.logit_scale.detach().reshape(1).numpy(),
                   **({"logit_bias": model.logit_bias.detach().reshape(1).numpy()} if model.logit_bias is not None else {})},
                  str(folder / f"{name}_expected.safetensors"), metadata={**prov, "texts": json.dumps(TEXTS)})
        print("openclip", name, img.shape, txt.shape)

    # Preprocessing alone, resize_mode 'longest' with a fill colour.
    cfg = OPENCLIP_LONGEST
    t = image_transform(cfg["size"], is_train=False, mean=cfg["mean"], std=cfg["std"], resize_mode=cfg["resize_mode"],
                        interpolation=cfg["interpolation"], fill_color=cfg["fill_color"])
    (folder / "longest_preprocess_cfg.json").write_text(json.dumps(cfg, indent=2) + "\n")
    save_file({f"pixels{i}": t(im).numpy() for i, im in enumerate(images)}, str(folder / "longest_expected.safetensors"),
              metadata=prov)

    # Tokenizer ids: open_clip's SimpleTokenizer over the corpus; `ftfy` marks the texts whose ids ftfy's repair
    # (fix_text, which this library does not reproduce) changes.
    import open_clip.tokenizer as oct
    texts = corpus()[:420] + TEXTS + ["&lt;tag&gt; &amp;amp; &#39;x&#39;", "ﬁne ligature", "“curly” quotes", "ｆｕｌｌ width",
                                      "Ã©tÃ© mojibake", "line\r\nbreaks", " trailing spaces   ",
                                      "&ampx &notit; &Lt;b&GT; &AMP &copy2020", "&#128; &#0; &#x110000; &#65 &#x41;x &#1;",
                                      "&#99999999999; &#xD800; &; &# &#x; & amp", "ΟΔΟΣ Σ ΑΣ. ΑΣ'Β ΣΑ"]
    ids = tok(texts).tolist()
    fix_text = oct.ftfy.fix_text
    oct.ftfy.fix_text = lambda t: t
    try:
        plain = tok(texts).tolist()
    finally:
        oct.ftfy.fix_text = fix_text
    cases = [{"text": s, "ids": [i for i in row if i != 0], "ftfy": row != p} for s, row, p in zip(texts, ids, plain)]
    head = json.dumps({"provenance": prov, "context_length": 77}, ensure_ascii=False)[:-1]
    (folder / "tokenizer.json").write_text(head + ', "cases": [\n' + ",\n".join(json.dumps(c, ensure_ascii=False) for c in cases)
                                           + "\n]}\n")        # one case a line
    print("openclip tokenizer", len(cases), sum(c["ftfy"] for c in cases), "changed by ftfy")

    # ELIP-C: the gelu backbone with embed_dim 24, prompt generator keys as the official checkpoint has them.
    spec = {**OPENCLIP_MODELS["gelu"], "dtype": "float32"}
    spec["model_cfg"] = {**spec["model_cfg"], "embed_dim": 20,
                         "text_cfg": {**spec["model_cfg"]["text_cfg"], "vocab_size": 1000, "context_length": 16}}
    torch.manual_seed(77)
    model = open_clip.CLIP(**spec["model_cfg"]).eval()
    m, width = 2, spec["model_cfg"]["vision_cfg"]["width"]
    model.visual.transformer.vpt_generator = elipc_generator(spec["model_cfg"]["embed_dim"], 16, m, width)
    save_openclip_folder(model, spec, folder / "elipc")
    ids = torch.zeros(2, 16, dtype=torch.long)
    ids[0, :5] = torch.tensor([998, 5, 17, 300, 999])
    ids[1, :3] = torch.tensor([998, 42, 999])
    pixels = torch.stack([image_transform(48, is_train=False, mean=(0.5,) * 3, std=(0.5,) * 3, resize_mode="squash",
                                          interpolation="bilinear")(im) for im in images])
    with torch.no_grad():
        t_n = model.encode_text(ids, normalize=True)
        plain = model.encode_image(pixels, normalize=True)
        v = model.visual                            # the replicated forward, without prompts, is encode_image
        same = v._pool(v.transformer(v._embeds(pixels)))[0] @ v.proj
        assert torch.allclose(same / same.norm(dim=-1, keepdim=True), plain, atol=1e-6)
        scores, guided = [], []
        for q in range(2):
            g = elipc_encode_image(model, pixels, t_n[q:q + 1].expand(len(images), -1))
            g = g / g.norm(dim=-1, keepdim=True)
            guided.append(g)
            scores.append(g @ t_n[q])
    save_file({"input_ids": ids.numpy().astype(np.int64), "pixel_values": pixels.numpy(), "text_embeds": t_n.numpy(),
               "image_embeds": plain.numpy(), "guided_image_embeds": torch.stack(guided).numpy(),
               "guided_scores": torch.stack(scores).numpy()},
              str(folder / "elipc_expected.safetensors"), metadata={**prov, "prompt_tokens": str(m)})
    print("openclip elipc", torch.stack(scores))

# MARK: - Dataset layouts

def gen_datasets():
    """Every dataset layout clipcore reads, a few tiny images each, and the bad inputs of each reader.
    Needs only Pillow and the standard library."""
    import csv, shutil, tarfile
    from PIL import Image
    folder = FIX / "datasets"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "images").mkdir(parents=True)
    colours = {"a.jpg": (200, 30, 40), "b.png": (20, 180, 60), "c.jpg": (30, 60, 210), "d.png": (120, 120, 120)}
    pixels = {}
    for i, (name, rgb) in enumerate(colours.items()):
        im = Image.new("RGB", (8 + i, 6), rgb)
        im.putpixel((0, 0), (255, 255, 255))
        path = folder / "images" / name
        im.save(path, "JPEG" if name.endswith(".jpg") else "PNG", quality=90)
        back = Image.open(path).convert("RGB")
        pixels[name] = {"size": list(back.size), "center": list(back.getpixel((back.size[0] // 2, back.size[1] // 2)))}
    captions = {"a.jpg": ["a red square", "a crimson tile"], "b.png": ["a green square"],
                "c.jpg": ['a blue square, "quoted", with a comma'], "d.png": ["a grey square\nover two lines"]}
    long_caption = " ".join(["a very long caption"] * 40)         # 160 words: over the 77-token context
    non_utf8 = b"caf\xe9 latte"                                    # Latin-1, not UTF-8

    def write(rel, data):
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        return path

    def jsonl(rows):
        return b"".join((json.dumps(r, ensure_ascii=False).encode() if isinstance(r, dict) else r) + b"\n" for r in rows)

    # JSONL: the manifest layout, and seed 000-style column names to infer.
    write("jsonl/manifest.jsonl", jsonl([{"image": "../images/" + n, "captions": c} for n, c in captions.items()]))
    write("jsonl/columns.jsonl", jsonl([{"filepath": "../images/" + n, "caption": c[0]} for n, c in captions.items()]))
    write("jsonl/bad.jsonl", jsonl([
        {"image": "../images/a.jpg", "text": "fine"},
        {"image": "../images/missing.jpg", "text": "no such image"},
        b'{"image": "../images/b.png", "text": ',
        {"image": "../images/c.jpg", "text": ""},
        b'{"image": "../images/d.png", "text": "' + non_utf8 + b'"}',
        {"image": "../images/d.png", "text": long_caption},
    ]))

    # CSV (RFC 4180 quoting) and TSV as open_clip reads them (--csv-img-key filepath --csv-caption-key title).
    (folder / "csv").mkdir()
    with open(folder / "csv" / "train.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filepath", "title", "extra"])
        for n, c in captions.items():
            w.writerow(["../images/" + n, c[0], "x"])
    write("csv/train.tsv", "filepath\ttitle\n" + "".join(f"../images/{n}\t{c[0].splitlines()[0]}\n" for n, c in captions.items()))
    write("csv/bad.csv", b"image,caption\n" + b"\n".join([
        b"../images/a.jpg,fine",
        b"../images/missing.jpg,no such image",
        b"../images/b.png,too,many,fields",
        b'../images/b.png,"closed" then text',
        b"../images/c.jpg,",
        b"../images/d.png," + non_utf8,
        b"../images/d.png," + long_caption.encode(),
    ]) + b"\n")

    # webdataset shards as img2dataset writes them: {key}.jpg|png + {key}.txt + {key}.json, keys in order.
    def shard(rel, samples, fmt):
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tarfile.RECORDSIZE = 512                                  # no padding to 10 KiB records: small fixtures
        with tarfile.open(path, "w", format=fmt) as tar:
            for key, members in samples:
                for ext, data in members:
                    info = tarfile.TarInfo(f"{key}.{ext}")
                    info.size, info.mtime, info.mode = len(data), 0, 0o644
                    info.uname = info.gname = ""
                    tar.addfile(info, io.BytesIO(data))
        return path
    def sample(key, name, caption, with_json=True):
        members = [((name.rsplit(".", 1)[1]), (folder / "images" / name).read_bytes()), ("txt", caption.encode())]
        if with_json:
            members.append(("json", json.dumps({"key": key, "caption": caption}).encode()))
        return key, members
    names = list(captions)
    long_key = "sub/" + "k" * 120                                 # a name over ustar's 100 bytes
    shard("wds/shard-00000.tar", [sample("000000000", names[0], captions[names[0]][0]),
                                  sample("000000001", names[1], captions[names[1]][0], with_json=False)], tarfile.USTAR_FORMAT)
    shard("wds/shard-00001.tar", [sample(long_key + "1", names[2], captions[names[2]][0])], tarfile.GNU_FORMAT)
    shard("wds/shard-00002.tar", [sample(long_key + "2", names[3], captions[names[3]][0])], tarfile.PAX_FORMAT)
    img = (folder / "images" / "a.jpg").read_bytes()
    shard("wds-bad/bad-00000.tar", [
        ("ok", [("jpg", img), ("txt", b"fine")]),
        ("noimage", [("txt", b"no image member"), ("json", b"{}")]),
        ("empty", [("jpg", img), ("txt", b"")]),
        ("latin1", [("jpg", img), ("txt", non_utf8)]),
        ("long", [("jpg", img), ("txt", long_caption.encode())]),
    ], tarfile.USTAR_FORMAT)
    whole = shard("wds-bad/bad-00001.tar", [("first", [("jpg", img), ("txt", b"before the cut")]),
                                           ("second", [("jpg", img), ("txt", b"cut off")])], tarfile.USTAR_FORMAT).read_bytes()
    with tarfile.open(folder / "wds-bad" / "bad-00001.tar") as t:
        second = t.getmember("second.jpg")
        cut = second.offset_data + second.size // 2                # inside second.jpg's data
    (folder / "wds-bad" / "bad-00001.tar").write_bytes(whole[:cut])
    # Captions as lists in {key}.json, as Tools/hf_to_webdataset.py writes them (with the first in {key}.txt),
    # alone, and under a dataset's own key (read with --text-column sentences).
    def meta(**fields):
        return json.dumps(fields, ensure_ascii=False).encode()
    shard("wds-json/shard-00000.tar", [
        ("000000000", [("jpg", img), ("txt", captions["a.jpg"][0].encode()),
                       ("json", meta(key="000000000", caption=captions["a.jpg"][0], captions=captions["a.jpg"]))]),
        ("000000001", [("png", (folder / "images" / "b.png").read_bytes()),
                       ("json", meta(key="000000001", captions=captions["b.png"] + ["a green tile"]))]),
    ], tarfile.USTAR_FORMAT)
    shard("wds-json/shard-00001.tar", [
        ("000000002", [("jpg", (folder / "images" / "c.jpg").read_bytes()),
                       ("json", meta(key="000000002", sentences=["a blue square", "a cobalt tile"]))]),
    ], tarfile.USTAR_FORMAT)

    # Karpathy split files: COCO's has filepath, Flickr30k's has none (images under --image-root).
    def karpathy_entry(i, name, split, sents, filepath=True):
        e = {"filename": name, "imgid": i, "split": split,
             "sentences": [{"raw": s, "tokens": s.lower().split(), "imgid": i, "sentid": 10 * i + j} for j, s in enumerate(sents)]}
        if filepath:
            e = {"filepath": "../images", **e}
        return e
    splits = ["train", "restval", "val", "test"]
    write("karpathy/dataset_coco.json", json.dumps({"dataset": "coco", "images": [
        karpathy_entry(i, n, splits[i], captions[n]) for i, n in enumerate(names)]}, indent=1))
    write("karpathy/dataset_flickr30k.json", json.dumps({"dataset": "flickr30k", "images": [
        karpathy_entry(i, n, splits[i], captions[n], filepath=False) for i, n in enumerate(names)]}))
    write("karpathy/bad_coco.json", json.dumps({"dataset": "coco", "images": [
        karpathy_entry(0, "a.jpg", "test", ["fine"]),
        karpathy_entry(1, "missing.jpg", "test", ["no such image"]),
        karpathy_entry(2, "b.png", "test", ["", "an empty one before"]),
        karpathy_entry(3, "d.png", "test", [long_caption]),
    ]}, indent=1))
    write("karpathy/bad_utf8.json", json.dumps({"images": [karpathy_entry(0, "a.jpg", "test", ["@@"])]}, indent=1)
          .encode().replace(b"@@", non_utf8))

    # COCO captions_*.json: images + annotations, images under --image-root.
    def coco(images, anns):
        return json.dumps({"info": {"description": "clipcore fixture"}, "licenses": [],
                           "images": [{"id": i, "file_name": n, "width": 8, "height": 6} for i, n in images],
                           "annotations": [{"id": 100 + k, "image_id": i, "caption": c} for k, (i, c) in enumerate(anns)]})
    write("coco/annotations/captions_val2017.json",
          coco([(10 + i, n) for i, n in enumerate(names)], [(10 + i, c) for i, n in enumerate(names) for c in captions[n]]))
    write("coco/annotations/bad_captions.json",
          coco([(1, "a.jpg"), (2, "missing.jpg"), (3, "b.png"), (4, "c.jpg"), (5, "d.png")],
               [(1, "fine"), (2, "no such image"), (3, " "), (5, long_caption)]))
    write("coco/annotations/bad_utf8.json", coco([(1, "a.jpg")], [(1, "@@")]).encode().replace(b"@@", non_utf8))

    # An image folder with class subfolders (ImageNet layout); a non-image file is ignored.
    for cls, files in {"cat": ["a.jpg", "b.png"], "dog": ["c.jpg"], "fish_tank": ["d.png"]}.items():
        (folder / "classes" / cls).mkdir(parents=True)
        for n in files:
            shutil.copy(folder / "images" / n, folder / "classes" / cls / n)
    write("classes/cat/notes.txt", "not an image")

    (folder / "expected.json").write_text(json.dumps({
        "provenance": {"generator": "Tools/gen_fixtures.py datasets", "pillow": Image.__version__},
        "captions": captions, "pixels": pixels, "long_caption": long_caption}, indent=1, ensure_ascii=False))
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    print("datasets", total, "bytes")

if __name__ == "__main__":
    what = sys.argv[1:] or ["clip", "tokenizer", "images", "resample", "optim", "siglip", "retrieval", "elip", "contrastive", "checkpoint", "capi", "jpeg", "datasets"]
    if "clip" in what: gen_clip()
    if "tokenizer" in what: gen_tokenizer()
    if "images" in what: gen_images()
    if "resample" in what: gen_resample()
    if "optim" in what: gen_optim()
    if "retrieval" in what: gen_retrieval()
    if "elip" in what: gen_elip(); gen_elip_query()
    elif "elip_query" in what: gen_elip_query()
    if "contrastive" in what: gen_contrastive()
    if "checkpoint" in what: gen_checkpoint()
    if "capi" in what: gen_capi()
    if "jpeg" in what: gen_jpeg()
    if "openclip" in what: gen_openclip()
    if "datasets" in what: gen_datasets()
    if "siglip" in what:
        gen_spm(); gen_siglip(); gen_siglip_tokenizer(); gen_sigmoid_loss()
