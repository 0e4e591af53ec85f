"""ELIP probe (PyTorch, outside the suite): grid scenes of coloured squares, captions naming some of them with
their places; a tiny CLIP trained from scratch; ELIP's query objective on hard-negative batches; base vs re-rank.
Runs in the fixtures venv:  /path/to/venv/bin/python Tools/elip_probe.py --objs 4 --epochs 40 [--elip-epochs N]
  --fixed N   train the mapper on the first N batches only (can it fit them?)
  --oracle N  optimise free prompts for N queries' batches (no mapper: can prompts steer the frozen tower?)
  --center S  feed the mapper (t - mean) * S instead of t
  --steer N   for N queries, fit free prompts on the query's top --pool train images (every image that fits the
              caption by the generator's ground truth is a positive) and score them on held-out images: is there
              any prompt that steers the frozen tower by what the query says? (--deep: a prompt per layer)
  --regs M    train the base CLIP with M register tokens where the prompts go; prompts are added to them
  --drop-fn   mask in-batch false negatives (images that fit the query) out of the ELIP loss; their share is
              always printed
The trained CLIP is cached under /tmp, keyed by the settings."""
# Prototype: grid scenes, tiny CLIP from scratch, ELIP query objective, base vs rerank.
import math, random, sys, time, argparse
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from transformers import CLIPConfig, CLIPModel
p = argparse.ArgumentParser()
p.add_argument("--seed", type=int, default=0); p.add_argument("--n", type=int, default=1500)
p.add_argument("--grid", type=int, default=3); p.add_argument("--objs", type=int, default=5)
p.add_argument("--named", type=int, default=2); p.add_argument("--size", type=int, default=48)
p.add_argument("--width", type=int, default=128); p.add_argument("--vl", type=int, default=4)
p.add_argument("--embed", type=int, default=128); p.add_argument("--epochs", type=int, default=20)
p.add_argument("--elip-epochs", type=int, default=2); p.add_argument("--elip-lr", type=float, default=1e-3)
p.add_argument("--B", type=int, default=8); p.add_argument("--m", type=int, default=8)
p.add_argument("--hidden", type=int, default=256); p.add_argument("--k", type=int, default=10)
p.add_argument("--deep", action="store_true"); p.add_argument("--drop-fn", action="store_true"); p.add_argument("--steer", type=int, default=0); p.add_argument("--regs", type=int, default=0); p.add_argument("--pool", type=int, default=64); p.add_argument("--center", type=float, default=0); p.add_argument("--fixed", type=int, default=0); p.add_argument("--oracle", type=int, default=0); p.add_argument("--ncol", type=int, default=8)
a = p.parse_args()
torch.manual_seed(a.seed); rng = random.Random(a.seed); torch.set_num_threads(2)
COL = [(220,40,40),(40,170,60),(40,80,220),(235,210,40),(150,60,190),(245,140,30),(245,130,200),(40,200,215)][:a.ncol]
CN = ["red","green","blue","yellow","purple","orange","pink","cyan"][:a.ncol]
if a.grid == 3: POS = ["top left","top","top right","left","center","right","bottom left","bottom","bottom right"]
else: POS = [f"row {r+1} column {c+1}" for r in range(a.grid) for c in range(a.grid)]
G = a.grid; S = a.size; cell = S // G
def make(i):
    cells = rng.sample(range(G*G), a.objs); cols = rng.sample(range(len(COL)), a.objs)
    img = np.full((S, S, 3), 128, np.uint8)
    for c, k in zip(cells, cols):
        r, q = divmod(c, G); m = max(1, cell // 6)
        img[r*cell+m:(r+1)*cell-m, q*cell+m:(q+1)*cell-m] = COL[k]
    caps = []; named = []
    for _ in range(3):
        idx = sorted(rng.sample(range(a.objs), a.named), key=lambda j: cells[j])
        caps.append(" and ".join(f"a {CN[cols[j]]} square at the {POS[cells[j]]}" for j in idx))
        named.append(frozenset((cols[j], cells[j]) for j in idx))
    return img, caps, frozenset(zip(cols, cells)), named
data = [make(i) for i in range(a.n)]
ntr = int(a.n*0.8); nva = int(a.n*0.1)
OBJ = [d[2] for d in data]; NAMED = [nm for d in data for nm in d[3]]
def fits(cap, img): return NAMED[cap] <= OBJ[img]
words = sorted({w for _, cs, *_ in data for c in cs for w in c.split()})
vocab = {w: i+1 for i, w in enumerate(words)}; BOS = len(vocab)+1; EOS = len(vocab)+2; L = 32
def tok(c):
    ids = [BOS] + [vocab[w] for w in c.split()][:L-2] + [EOS]
    return ids + [0]*(L-len(ids))
imgs = torch.tensor(np.stack([d[0] for d in data])).permute(0,3,1,2).float()/255
imgs = (imgs - 0.5)/0.25
caps = [(c, i) for i, (_, cs, *_) in enumerate(data) for c in cs]
T = torch.tensor([tok(c) for c, _ in caps]); CI = torch.tensor([i for _, i in caps])
cfg = CLIPConfig(text_config=dict(vocab_size=EOS+1, hidden_size=a.width, intermediate_size=4*a.width, num_hidden_layers=3,
    num_attention_heads=4, max_position_embeddings=L, hidden_act="gelu", eos_token_id=EOS, bos_token_id=BOS, pad_token_id=0),
    vision_config=dict(hidden_size=a.width, intermediate_size=4*a.width, num_hidden_layers=a.vl, num_attention_heads=4,
    image_size=S, patch_size=S//8, hidden_act="gelu"), projection_dim=a.embed)
model = CLIPModel(cfg)
def enc_text(t):
    o = model.get_text_features(input_ids=t, attention_mask=(t>0).long())
    if not torch.is_tensor(o): o = o.pooler_output
    return F.normalize(o, dim=-1)
REGS = nn.Parameter(torch.randn(1, max(a.regs, 1), a.width) * 0.02)
def vis(x, prompts=None):
    vm = model.vision_model
    if a.regs: prompts = REGS.expand(x.shape[0], -1, -1) + (0 if prompts is None else prompts)
    h = vm.pre_layrnorm(vm.embeddings(x))
    deep = prompts is not None and prompts.dim() == 4
    if prompts is not None and not deep: h = torch.cat([h[:, :1], prompts, h[:, 1:]], 1)
    for li, layer in enumerate(vm.encoder.layers):
        if deep: m_ = prompts.shape[2]; h = torch.cat([h[:, :1], prompts[:, li], h[:, 1:]], 1)
        h = layer(h, None)
        if isinstance(h, tuple): h = h[0]
        if deep: h = torch.cat([h[:, :1], h[:, 1 + m_:]], 1)
    return F.normalize(model.visual_projection(vm.post_layernorm(h[:, 0])), dim=-1)
import os
ck = f"/tmp/elip_probe_clip_{a.n}_{a.seed}_{a.objs}_{a.grid}_{a.epochs}_{a.width}_{a.vl}_{a.embed}_{a.named}_{a.ncol}" + (f"_r{a.regs}" if a.regs else "") + ".pt"
LOAD = os.path.exists(ck)
if LOAD: sd = torch.load(ck); REGS.data.copy_(sd.pop("REGS", REGS.data)); model.load_state_dict(sd)
tr_caps = [j for j, (_, i) in enumerate(caps) if i < ntr]
opt = torch.optim.AdamW(list(model.parameters()) + [REGS], lr=1e-3, weight_decay=0.1)
bs = 128; steps = a.epochs * math.ceil(ntr / bs); st = 0; t0 = time.time()
for ep in range(0 if LOAD else a.epochs):
    perm = torch.randperm(ntr)
    for b in range(0, ntr, bs):
        ii = perm[b:b+bs]
        cj = torch.tensor([rng.randrange(3) for _ in ii]); tt = T[ii*3 + cj]
        lr = 1e-3 * min(1, (st+1)/(0.05*steps)) * 0.5*(1+math.cos(math.pi*st/steps)); 
        for g in opt.param_groups: g["lr"] = lr
        ti = enc_text(tt); vi = vis(imgs[ii]); s = model.logit_scale.exp()
        lg = s * ti @ vi.T; y = torch.arange(len(ii))
        loss = (F.cross_entropy(lg, y) + F.cross_entropy(lg.T, y))/2
        opt.zero_grad(); loss.backward(); opt.step(); st += 1
if not LOAD: torch.save({**model.state_dict(), "REGS": REGS.data}, ck)
print(f"clip trained {time.time()-t0:.0f}s", flush=True)
model.eval()
for q in model.parameters(): q.requires_grad_(False)
REGS.requires_grad_(False)
with torch.no_grad():
    VE = torch.cat([vis(imgs[i:i+256]) for i in range(0, a.n, 256)]); TE = torch.cat([enc_text(T[i:i+512]) for i in range(0, len(T), 512)])
def split_idx(lo, hi):
    cj = [j for j, (_, i) in enumerate(caps) if lo <= i < hi]; return cj, list(range(lo, hi))
def evaluate(lo, hi, mapper):
    cj, im = split_idx(lo, hi); S_ = TE[cj] @ VE[lo:hi].T; gt = CI[cj] - lo
    base = (S_.argmax(1) == gt).float().mean().item()*100
    top = S_.topk(a.k, dim=1).indices
    ceil = (top == gt[:, None]).any(1).float().mean().item()*100
    if mapper is None:
        uniq = np.mean([sum(fits(j, lo + x) for x in range(hi - lo)) == 1 for j in cj]) * 100
        print(f"  queries with one fitting image in the split: {uniq:.1f}%")
        return base, ceil, None
    hits = 0
    with torch.no_grad():
        for r, j in enumerate(cj):
            pr = mapper(TE[j:j+1]).expand(a.k, -1, -1)
            g = vis(imgs[lo + top[r]], pr) @ TE[j]
            hits += int(top[r][g.argmax()].item() == gt[r].item())
    return base, ceil, hits/len(cj)*100
print("val base R@1 %.2f R@%d ceil %.2f" % (*evaluate(ntr, ntr+nva, None)[:2][:1], a.k, evaluate(ntr, ntr+nva, None)[1]))
if a.steer:
    # Free prompts per query fitted on its top-64 train images with every image that fits the query as a positive,
    # (--pool N: its top N), then scored on its top-64 among held-out images: is there a prompt that steers the tower by what the query says?
    scale = model.logit_scale.exp().item(); trc = torch.tensor(tr_caps); res = []
    for r in range(a.steer):
        q = trc[r * 7].item()
        def pool(lo, hi):
            idx = (TE[q] @ VE[lo:hi].T).topk(a.pool if hi - lo > 400 else 64).indices + lo
            return idx, torch.tensor([fits(q, i.item()) for i in idx])
        ti, tp = pool(0, ntr); hi_, hp = pool(ntr, a.n)
        if hp.sum() == 0 or hp.all(): continue
        P = (torch.randn(*((1, a.vl) if a.deep else (1,)), a.m, a.width) * 0.02).requires_grad_(True); o = torch.optim.Adam([P], lr=0.05)
        def mploss(idx, pos, P):
            lg = scale * vis(imgs[idx], None if P is None else P.expand(len(idx), *P.shape[1:])) @ TE[q]
            return -(torch.logsumexp(lg.masked_fill(~pos, float("-inf")), 0) - torch.logsumexp(lg, 0)), lg
        curve = []
        for it in range(120):
            l, _ = mploss(ti, tp, P); o.zero_grad(); l.backward(); o.step()
            if it in (4, 14, 39, 119):
                with torch.no_grad(): curve.append(round(mploss(hi_, hp, P)[0].item(), 2))
        print("   held-out after 5/15/40/120 steps:", curve)
        with torch.no_grad():
            lt0, _ = mploss(ti, tp, None); lh0, g0 = mploss(hi_, hp, None); lh1, g1 = mploss(hi_, hp, P)
            def auc(g, pos): return ((g[pos][:, None] > g[~pos][None, :]).float().mean().item())
        res.append((lt0.item(), l.item(), lh0.item(), lh1.item(), auc(g0, hp), auc(g1, hp)))
        print("query %d: train %.3f -> %.3f  held-out %.3f -> %.3f  AUC %.3f -> %.3f" % (q, *res[-1]), flush=True)
    print("mean:", np.mean(res, 0).round(3)); sys.exit(0)
if a.oracle:
    # Free prompts per query and batch (no mapper): how far can prompts move the frozen tower's query loss?
    trc = torch.tensor(tr_caps)
    with torch.no_grad(): nb = (TE[trc] @ VE[:ntr].T).topk(a.B, dim=1).indices
    scale = model.logit_scale.exp().item()
    ranks = []
    for r in range(a.oracle):
        imsel = [CI[trc[r]].item()] + [x for x in nb[r].tolist() if x != CI[trc[r]].item()][:a.B-1]
        x = imgs[imsel]; q = trc[r].item()
        P = (torch.randn(1, a.m, a.width) * 0.02).requires_grad_(True)
        o = torch.optim.Adam([P], lr=0.05)
        for it in range(150):
            l = F.cross_entropy((scale * vis(x, P.expand(len(imsel), -1, -1)) @ TE[q])[None], torch.tensor([0]))
            o.zero_grad(); l.backward(); o.step()
        with torch.no_grad(): lb = F.cross_entropy((scale * vis(x) @ TE[q])[None], torch.tensor([0])).item()
        # Do the batch's prompts carry over to images outside the batch? Re-rank the query's top 24 (16 unseen).
        with torch.no_grad():
            gt = CI[trc[r]].item(); pool = (TE[q] @ VE[:ntr].T).topk(24).indices.tolist()
            if gt not in pool: pool[-1] = gt
            unseen = [i for i in pool if i not in imsel or i == gt]
            b = VE[unseen] @ TE[q]; g = vis(imgs[unseen], P.expand(len(unseen), -1, -1)) @ TE[q]
            rb = int((b > b[unseen.index(gt)]).sum()) + 1; rg = int((g > g[unseen.index(gt)]).sum()) + 1
        ranks.append((rb, rg))
        print(f"query {r}: unprompted loss {lb:.3f}, free prompts optimised {l.item():.3f}; "
              f"rank of the match among {len(unseen)} images outside the batch: unprompted {rb}, prompted {rg}", flush=True)
    print("mean rank outside the batch: unprompted %.2f, prompted %.2f; R@1 %.0f%% → %.0f%%" % (
        np.mean([x for x, _ in ranks]), np.mean([y for _, y in ranks]),
        100 * np.mean([x == 1 for x, _ in ranks]), 100 * np.mean([y == 1 for _, y in ranks])))
    sys.exit(0)

D = a.width
class Mapper(nn.Module):
    def __init__(s):
        super().__init__(); s.net = nn.Sequential(nn.Linear(a.embed, a.hidden), nn.GELU(), nn.Linear(a.hidden, a.hidden), nn.GELU(), nn.Linear(a.hidden, a.m*D))
        for l in s.net:
            if isinstance(l, nn.Linear): nn.init.trunc_normal_(l.weight, std=0.02); nn.init.zeros_(l.bias)
    def forward(s, t):
        if a.center: t = (t - MU) * a.center
        return s.net(t).view(t.shape[0], a.m, D)
MU = TE[torch.tensor(tr_caps)].mean(0)
print("text spread: mean norm %.3f, residual rms %.4f" % (MU.norm(), (TE - MU).norm(dim=-1).mean()))
mp = Mapper(); mo = torch.optim.AdamW(mp.parameters(), lr=a.elip_lr, weight_decay=0.01)
print("untrained mapper val", evaluate(ntr, ntr+nva, mp), flush=True)
# global text->image hard mining on train
trc = torch.tensor(tr_caps)
with torch.no_grad(): nb = (TE[trc] @ VE[:ntr].T).topk(a.B, dim=1).indices
scale = model.logit_scale.exp().item()
for ep in range(a.elip_epochs):
    order = torch.randperm(len(trc)) if not a.fixed else torch.arange(a.fixed * a.B); tot = 0; btot = 0; nbt = 0; t0 = time.time(); fnc = 0; pairs = 0
    for r in order.tolist():
        # batch: query r's own image + its hard negative images; other queries = captions of those images
        imsel = [CI[trc[r]].item()] + [x for x in nb[r].tolist() if x != CI[trc[r]].item()][:a.B-1]
        qs = [(r % 3) + 3*i for i in imsel] if a.fixed else [rng.randrange(3) + 3*i for i in imsel]
        x = imgs[imsel]; loss = 0
        mo.zero_grad()
        for qi, qj in enumerate(qs):
            pr = mp(TE[qj:qj+1]).expand(len(imsel), -1, -1)
            g = vis(x, pr); lg = scale * g @ TE[qj]
            fn = torch.tensor([j != qi and fits(qj, im) for j, im in enumerate(imsel)])
            fnc += int(fn.sum()); pairs += len(imsel) - 1
            if a.drop_fn: lg = lg.masked_fill(fn, float("-inf"))
            l = F.cross_entropy(lg[None], torch.tensor([qi])) / len(qs); l.backward(); loss += l.item()
        with torch.no_grad():
            g0 = vis(x); bl = sum(F.cross_entropy((scale * g0 @ TE[qj])[None].masked_fill(torch.tensor([[a.drop_fn and j != qi and fits(qj, im) for j, im in enumerate(imsel)]]), float("-inf")), torch.tensor([qi])).item() for qi, qj in enumerate(qs)) / len(qs)
            pn = mp(TE[qs[0]:qs[0]+1]).norm(dim=-1).mean().item()
        btot += bl
        mo.step(); tot += loss; nbt += 1
        if nbt % 100 == 0: print(f"   base loss {btot/nbt:.4f} prompt norm {pn:.3f} false negatives {fnc/max(pairs,1):.3f}", flush=True)
        if nbt % 200 == 0: print(f"  ep{ep} batch {nbt} mean loss {tot/nbt:.4f} {time.time()-t0:.0f}s", flush=True)
        if nbt >= len(order) // a.B: break
    if a.fixed: print(f"epoch {ep} mean loss {tot/nbt:.4f} base {btot/nbt:.4f}", flush=True); continue
    print(f"epoch {ep} mean loss {tot/nbt:.4f}; val", evaluate(ntr, ntr+nva, mp), flush=True)
print("val", evaluate(ntr, ntr+nva, mp)); print("test", evaluate(ntr+nva, a.n, mp))
