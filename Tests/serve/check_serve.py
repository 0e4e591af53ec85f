"""Checks a running `clip serve` (scripts/test-serve.sh starts it): clip-retrieval's real ClipClient against
/knn-service, the API's JSON shapes, ELIP re-ranking, the image route's path guard, limits, metrics and the
bearer token. Exits non-zero on the first failed check."""

import argparse
import base64
import importlib.util
import json
import os
import sys
import threading
import urllib.error
import urllib.request

import numpy as np
import requests

ap = argparse.ArgumentParser()
ap.add_argument("--url", required=True, help="base URL of the main server (with --elip and --api-key)")
ap.add_argument("--key", required=True)
ap.add_argument("--index", required=True)
ap.add_argument("--shards", required=True, help="the index's shard folder")
ap.add_argument("--data", required=True, help="the synthetic dataset folder")
args = ap.parse_args()

AUTH = {"Authorization": "Bearer " + args.key}
failures = 0
checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if cond:
        print("ok   " + what)
    else:
        failures += 1
        print("FAIL " + what)


def load_clip_client():
    # clip_retrieval/__init__.py imports the whole back end (torch, faiss, flask); the client module itself needs
    # only requests, so it is loaded from the installed package's file without running the package's __init__.
    spec = importlib.util.find_spec("clip_retrieval")
    path = os.path.join(spec.submodule_search_locations[0], "clip_client.py")
    mspec = importlib.util.spec_from_file_location("clip_retrieval_clip_client", path)
    module = importlib.util.module_from_spec(mspec)
    mspec.loader.exec_module(module)
    return module


# ClipClient sends no headers of its own; the bearer token goes on requests' session through an adapter hook.
_orig_post = requests.post


def post_with_token(url, **kw):
    kw.setdefault("headers", {}).update(AUTH)
    return _orig_post(url, **kw)


requests.post = post_with_token
cc = load_clip_client()
knn_url = args.url + "/knn-service"
records = [json.loads(l) for l in open(os.path.join(args.shards, "metadata_00000.jsonl"))]
emb = np.load(os.path.join(args.shards, "img_emb_00000.npy")).astype(np.float32)

# MARK: - The real client

client = cc.ClipClient(url=knn_url, indice_name=args.index, num_images=5)
res = client.query(text=records[3]["captions"][0])
check(isinstance(res, list) and 0 < len(res) <= 5, "ClipClient text query: a list of at most 5 results (got %r)" % (res if not isinstance(res, list) else len(res)))
check(all({"id", "similarity", "url", "caption", "image_path"} <= set(r) for r in res), "every result has id, similarity, url, caption, image_path")
sims = [r["similarity"] for r in res]
check(sims == sorted(sims, reverse=True), "results best first")
check(len({r["id"] for r in res}) == len(res), "deduplicate (ClipClient's default): no id twice")

# The dataset's last record is a second record of the first one's image (scripts/test-serve.sh appends it).
dup_ids = {records[0]["id"], records[-1]["id"]}
check(records[-1]["image"] == records[0]["image"] and len(dup_ids) == 2, "the dataset holds one image twice, under two ids")
q0 = (emb[0] / np.linalg.norm(emb[0])).tolist()
res = cc.ClipClient(url=knn_url, indice_name=args.index, num_images=5, deduplicate=True).query(embedding_input=q0)
got = {r["id"] for r in res} & dup_ids if isinstance(res, list) else set()
check(len(got) == 1, "deduplicate=True: one of the two records of the same image (got %s)" % sorted(got))
res = cc.ClipClient(url=knn_url, indice_name=args.index, num_images=5, deduplicate=False).query(embedding_input=q0)
got = {r["id"] for r in res} & dup_ids if isinstance(res, list) else set()
check(got == dup_ids, "deduplicate=False: both records of the same image (got %s)" % sorted(got))

img_path = os.path.join(args.data, records[7]["image"]) if not os.path.isabs(records[7]["image"]) else records[7]["image"]
res = client.query(image=img_path)
check(isinstance(res, list) and res and res[0]["id"] == records[7]["id"] and res[0]["similarity"] > 0.99,
      "ClipClient image query: the image itself first, similarity > 0.99 (got %s)" % ([(r["id"], round(r["similarity"], 4)) for r in res[:2]] if isinstance(res, list) else res))

q = emb[11] / np.linalg.norm(emb[11])
res = client.query(embedding_input=q.tolist())
check(isinstance(res, list) and res[0]["id"] == records[11]["id"] and abs(res[0]["similarity"] - float(q @ emb[11])) < 1e-3,
      "ClipClient embedding_input: the stored row first, its inner product as similarity")

res = client.query(image="http://example.com/cat.jpg")
check(isinstance(res, dict) and "no" in res.get("error", "") and "network" in res.get("error", ""),
      "ClipClient image_url: refused with a clear error (%r)" % res)

text_client = cc.ClipClient(url=knn_url, indice_name=args.index, num_images=4, modality=cc.Modality.TEXT, deduplicate=False)
res = text_client.query(text=records[2]["captions"][0])
check(isinstance(res, list) and 0 < len(res) <= 4 and all("caption" in r for r in res), "ClipClient modality text: caption rows answered")

# MARK: - The API directly


def post(path, body, headers=AUTH, raw=None):
    return _orig_post(args.url + path, data=raw if raw is not None else json.dumps(body), headers=headers, timeout=60)


r = requests.get(args.url + "/indices-list", headers=AUTH, timeout=10)
check(r.status_code == 200 and r.json() == [args.index], "GET /indices-list: [%s] (%s)" % (args.index, r.text[:80]))

r = post("/knn-service", {"text": "a red circle", "modality": "image", "num_images": 3, "indice_name": args.index,
                          "use_safety_model": True, "aesthetic_score": 9})
check(r.status_code == 200 and "use_safety_model" in r.headers.get("X-Clipcore-Ignored", "") and "aesthetic_score" in r.headers.get("X-Clipcore-Ignored", ""),
      "ignored safety/aesthetic flags named in X-Clipcore-Ignored (%r)" % r.headers.get("X-Clipcore-Ignored"))

ids = [records[0]["id"], records[5]["id"], 10 ** 9]
r = post("/metadata", {"ids": ids, "indice_name": args.index})
meta = r.json() if r.status_code == 200 else None
check(meta is not None and [m["id"] for m in meta] == ids and meta[1]["metadata"]["caption"] == records[5]["captions"][0]
      and meta[2]["metadata"] == {}, "POST /metadata: captions of known ids, empty metadata for an unknown one")

# ELIP re-ranking
r = post("/knn-service", {"text": records[4]["captions"][0], "num_images": 6, "indice_name": args.index, "rerank_k": 6})
rr = r.json() if r.status_code == 200 else []
check(r.status_code == 200 and r.headers.get("X-Clipcore-Rerank", "").startswith("elip k=6") and len(rr) == 6
      and all(x.get("reranked") == "elip" and "base_rank" in x and "base_similarity" in x for x in rr)
      and sorted(x["base_rank"] for x in rr) == list(range(1, 7)),
      "rerank_k=6: the base top 6 re-ranked by ELIP, said in the header and in each result (%s)" % r.text[:200])
r2 = post("/knn-service", {"text": records[4]["captions"][0], "num_images": 6, "indice_name": args.index})
base = r2.json()
check({x["id"] for x in base} == {x["id"] for x in rr}, "re-ranking permutes the base top k")
check(post("/knn-service", {"embedding_input": q.tolist(), "rerank_k": 3}).status_code == 400, "rerank_k on a non-text query: 400")

# MARK: - Limits


def status(path, body=None, raw=None, headers=AUTH):
    return post(path, body, headers=headers, raw=raw).status_code


check(status("/knn-service", {"text": "a", "num_images": 10001}) == 400, "num_images 10001: 400")
check(status("/knn-service", {"text": "a", "num_result_ids": 100000}) == 400, "num_result_ids 100000: 400")
check(status("/knn-service", raw=b"{not json") == 400, "malformed JSON: 400")
check(status("/knn-service", {"text": "a", "indice_name": "nope"}) == 400, "unknown indice_name: 400")
check(status("/knn-service", {"image": base64.b64encode(b"not an image at all").decode()}) == 400, "undecodable image: 400")
check(status("/knn-service", {"embedding_input": [1.0, 2.0]}) == 400, "embedding of the wrong dimension: 400")
big = json.dumps({"text": "x" * (9 << 20)})
check(status("/knn-service", raw=big) == 413, "a 9 MiB body: 413")
r = post("/knn-service", {"text": "a", "num_images": 10000, "num_result_ids": 10000, "indice_name": args.index})
check(r.status_code == 200 and 0 < len(r.json()) <= 10000, "num_images 10000 (the ceiling) answered")

# MARK: - Bearer token

check(requests.get(args.url + "/health", timeout=10).status_code == 200, "/health needs no token")
check(requests.get(args.url + "/indices-list", timeout=10).status_code == 401, "/indices-list without a token: 401")
check(requests.get(args.url + "/indices-list", headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 401, "wrong token: 401")
for scheme in ["bearer", "BEARER", "BeArEr"]:
    code = requests.get(args.url + "/indices-list", headers={"Authorization": scheme + " " + args.key}, timeout=10).status_code
    check(code == 200, "the scheme is case-insensitive: '%s KEY' is accepted (got %d)" % (scheme, code))
check(requests.get(args.url + "/indices-list", headers={"Authorization": "Basic " + args.key}, timeout=10).status_code == 401, "another scheme with the key: 401")
check(status("/knn-service", {"text": "a"}, headers={}) == 401, "/knn-service without a token: 401")
page = requests.get(args.url + "/", timeout=10)
check(page.status_code == 200 and "<title>clipcore search</title>" in page.text and "http://" not in page.text and "https://" not in page.text,
      "/ (the static page, no data) needs no token and loads nothing from outside")
check(requests.get(args.url + "/info", timeout=10).status_code == 401, "/info without a token: 401")
check(requests.get(args.url + "/image?index=%s&path=000000.png" % args.index, timeout=10).status_code == 401, "/image without a token: 401")

# MARK: - Images: only from under the dataset's image folder


def image_status(query):
    # urllib keeps the query exactly as written (requests would re-encode it).
    req = urllib.request.Request(args.url + "/image?" + query, headers=AUTH)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, b""


first = res[0] if res else None
url_of = [x["url"] for x in base if "url" in x]
check(bool(url_of) and url_of[0].startswith(args.url + "/image?index="), "results carry an absolute /image URL on the request's host (%r)" % url_of[:1])
st, body = image_status(url_of[0].split("?", 1)[1])
check(st == 200 and body[:4] == b"\x89PNG", "a result's image URL serves the PNG")
name = args.index
for query in ["index=%s&path=../manifest.jsonl" % name,
              "index=%s&path=..%%2Fmanifest.jsonl" % name,
              "index=%s&path=%%2e%%2e%%2fmanifest.jsonl" % name,
              "index=%s&path=%%2E%%2E/%%2E%%2E/%%2E%%2E/etc/passwd" % name,
              "index=%s&path=/etc/passwd" % name,
              "index=%s&path=%%2Fetc%%2Fpasswd" % name,
              "index=%s&path=000000.png/../../manifest.jsonl" % name,
              "index=%s&path=escape-link.png" % name,
              "index=%s&path=escape-dir/manifest.jsonl" % name,
              "index=%s&path=not-indexed.png" % name,   # a PNG inside the image folder that is no record's image
              "index=%s&path=000000.png%%00.txt" % name,
              "index=%s&path=" % name,
              "index=nope&path=000000.png"]:
    st, _ = image_status(query)
    check(st == 404, "GET /image?%s: 404 (got %d)" % (query, st))
for raw_path in ["/image/../manifest.jsonl", "/images/%2e%2e/manifest.jsonl", "/..%2f..%2fetc%2fpasswd"]:
    req = urllib.request.Request(args.url + raw_path, headers=AUTH)
    try:
        code = urllib.request.urlopen(req, timeout=10).status
    except urllib.error.HTTPError as e:
        code = e.code
    check(code == 404, "GET %s: 404 (got %d)" % (raw_path, code))

# MARK: - Metrics

m = requests.get(args.url + "/metrics", headers=AUTH, timeout=10)
text = m.text
check(m.status_code == 200 and 'clipserve_requests_total{route="/knn-service",status="200"}' in text
      and 'clipserve_request_duration_seconds_bucket{route="/knn-service"' in text and "clipserve_queue_depth" in text
      and 'clipserve_requests_total{route="/knn-service",status="413"}' in text and "clipserve_batch_size_bucket" in text,
      "/metrics: request counts by route and status, latency histograms, queue depth, batch sizes")
check(requests.get(args.url + "/metrics", timeout=10).status_code == 401, "/metrics without a token: 401")

print("%d checks, %d failed" % (checks, failures))
sys.exit(1 if failures else 0)
