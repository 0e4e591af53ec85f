"""Encode, mine and re-rank with clipcore from Python.

    python3 examples/python/rerank.py MODEL_DIR MAPPER "a query" a.png b.png ...
"""
import sys

import clipcore


def main(model_dir, mapper, query, images):
    with clipcore.Model(model_dir) as model:
        q = model.encode_texts([query])
        gallery = model.encode_image_files(images)
        ids, scores = clipcore.mine(gallery, q, k=len(images))
        print(f"clipcore {clipcore.version()}, dim {model.dim}")
        print(f"base ranking for {query!r}:")
        for rank, (i, s) in enumerate(zip(ids[0], scores[0]), 1):
            print(f"  {rank}. {images[i]}  {s:.4f}")
        guided, order = model.elip(mapper).rerank(query, images)
        print("ELIP re-ranking:")
        for rank, i in enumerate(order, 1):
            print(f"  {rank}. {images[i]}  {guided[i]:.4f}")
        return ids[0], guided, order


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
