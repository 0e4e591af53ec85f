#!/usr/bin/env python3
"""Converts a Hugging Face dataset (a hub name, or local parquet files) into webdataset tar shards
that clipcore's tar reader (`WebDatasetSource`, `clip ... --dataset 'out/{00000..00009}.tar'`) reads.

Why a converter and not a parquet reader: Debian 12 ships no Arrow/Parquet library, and a reader of
our own would have to cover parquet's encodings and codecs (snappy, zstd, dictionary pages, nested
lists) to be trusted. `datasets` already reads every hub layout; one conversion gives shards that
stream with bounded memory and need no Python afterwards.

Run it through scripts/hf-to-webdataset.sh, which makes its own virtual environment
(.build-hf-venv/, ignored by git) with the pinned packages of Tools/requirements-hf.txt:

    scripts/hf-to-webdataset.sh lambdalabs/pokemon-blip-captions --split train --out data/pokemon
    scripts/hf-to-webdataset.sh 'data/*.parquet' --image-column jpg --text-column caption --out data/shards

Each sample is `{key}.{jpg|png}` (the encoded bytes as stored; other formats re-encoded as PNG),
`{key}.txt` (the caption; the first one when the text column holds a list) and `{key}.json`
(`{"key", "caption", "captions"}`), keys `000000000`, … in order, `--shard-size` samples per shard
named `{00000..N}.tar`. Columns left out are inferred as seed 000's `_infer_columns` does, and the
choice is printed. Not run in CI.
"""
import argparse, glob, io, json, os, sys, tarfile

IMAGE_CANDIDATES = ["image", "img", "jpg", "jpeg", "png", "webp", "filepath", "file_path", "image_path", "path",
                    "file_name", "filename", "file"]
TEXT_CANDIDATES = ["text", "caption", "captions", "txt", "title", "sentence", "sentences", "raw", "prompt"]


def infer(requested, candidates, columns, what):
    if requested and requested in columns:
        return requested, False
    lower = {c.lower(): c for c in columns}
    for c in candidates:
        if c in lower:
            return lower[c], True
    sys.exit(f"no {what} column: neither {requested!r} nor any of {', '.join(candidates)} among {', '.join(columns)}")


def image_bytes(value):
    """(bytes, extension) of a datasets image cell: {"bytes", "path"}, a PIL image, or a file path."""
    from PIL import Image
    data = None
    if isinstance(value, dict):
        data = value.get("bytes")
        if data is None and value.get("path"):
            data = open(value["path"], "rb").read()
    elif isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    elif isinstance(value, str):
        data = open(value, "rb").read()
    elif isinstance(value, Image.Image):
        out = io.BytesIO()
        value.convert("RGB").save(out, "PNG")
        return out.getvalue(), "png"
    if data is None:
        raise ValueError(f"cannot read an image from a {type(value).__name__}")
    if data.startswith(b"\xff\xd8\xff"):
        return data, "jpg"
    if data.startswith(b"\x89PNG"):
        return data, "png"
    out = io.BytesIO()                                      # webp, gif, ...: PNG, which clipcore decodes
    Image.open(io.BytesIO(data)).convert("RGB").save(out, "PNG")
    return out.getvalue(), "png"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", help="hub dataset name, or parquet file(s) / a glob / a folder of them")
    ap.add_argument("--split", default="train")
    ap.add_argument("--config", default=None, help="hub dataset configuration name")
    ap.add_argument("--image-column")
    ap.add_argument("--text-column")
    ap.add_argument("--out", required=True, help="folder for the shards")
    ap.add_argument("--shard-size", type=int, default=1000)
    ap.add_argument("--max-samples", type=int)
    args = ap.parse_args()

    import datasets
    files = sorted(glob.glob(os.path.join(args.source, "*.parquet")) if os.path.isdir(args.source) else glob.glob(args.source))
    if files and all(f.endswith(".parquet") for f in files):
        ds = datasets.load_dataset("parquet", data_files={args.split: files}, split=args.split, streaming=True)
    else:
        ds = datasets.load_dataset(args.source, args.config, split=args.split, streaming=True)
    columns = list(ds.features.keys()) if ds.features else list(next(iter(ds)).keys())
    image_col, image_inferred = infer(args.image_column, IMAGE_CANDIDATES, columns, "image")
    text_col, text_inferred = infer(args.text_column, TEXT_CANDIDATES, columns, "text")
    print(f"image column {image_col!r}{' (inferred)' if image_inferred else ''}, "
          f"text column {text_col!r}{' (inferred)' if text_inferred else ''}")
    if ds.features and isinstance(ds.features.get(image_col), datasets.Image):
        ds = ds.cast_column(image_col, datasets.Image(decode=False))      # keep the stored bytes

    os.makedirs(args.out, exist_ok=True)
    tar, written, skipped = None, 0, 0
    for row in ds:
        if args.max_samples is not None and written >= args.max_samples:
            break
        text = row[text_col]
        captions = [t for t in (text if isinstance(text, list) else [text]) if isinstance(t, str) and t.strip()]
        try:
            data, ext = image_bytes(row[image_col])
        except Exception as e:                                  # a broken cell: say so, keep going
            print(f"row {written + skipped}: skipped ({e})", file=sys.stderr)
            skipped += 1
            continue
        if not captions:
            print(f"row {written + skipped}: skipped (no caption)", file=sys.stderr)
            skipped += 1
            continue
        if written % args.shard_size == 0:
            if tar:
                tar.close()
            tar = tarfile.open(os.path.join(args.out, f"{written // args.shard_size:05d}.tar"), "w", format=tarfile.USTAR_FORMAT)
        key = f"{written:09d}"
        meta = json.dumps({"key": key, "caption": captions[0], "captions": captions}, ensure_ascii=False).encode()
        for name, payload in ((f"{key}.{ext}", data), (f"{key}.txt", captions[0].encode()), (f"{key}.json", meta)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(payload), 0o644
            tar.addfile(info, io.BytesIO(payload))
        written += 1
    if tar:
        tar.close()
    shards = (written + args.shard_size - 1) // args.shard_size
    last = max(shards - 1, 0)
    print(f"{written} samples in {shards} shards, {skipped} skipped → {args.out}/{{00000..{last:05d}}}.tar")


if __name__ == "__main__":
    main()
