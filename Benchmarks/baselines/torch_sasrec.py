"""PyTorch (CPU) twin of MovieRec's SASRec, for speed and quality on the same split.

Same protocol as `movierec evaluate --split loo --models popularity,sasrec`: each user's ratings sorted by
(timestamp, movieId); the last one is held out; the rest is the user's history. Sequences as MovieRec's
windows mode: histories cut from the end into windows of L movies overlapping by one (--step, default
L-1), every position predicting the next movie. Model, as `SelfAttentionNetwork`: x = sqrt(d)·E[item] +
P[position] (padding 0), dropout; per block x += dropout(Attention(LN1(x))), x += dropout(W2·ReLU(W1·LN2(x)))
(pre-norm, causal attention over non-padding keys, heads of d/k); the output LNf(x)·E[1:]ᵀ (tied
embeddings); full softmax cross-entropy; Adam, gradients clipped to norm 5; embeddings and positions
N(0, 1/d), linear weights uniform ±1/sqrt(fan-in), biases 0. torch.manual_seed(0), both cores.
Evaluation: the last L-1 movies of each history predict the held-out movie; full ranking, history
excluded; HR@10, NDCG@10, MRR, and most-popular's.

Run: python3 Benchmarks/baselines/torch_sasrec.py DATA_DIR [--epochs 10] [--length 200] [--batch 128]
     [--lr 1e-3] [--d 64] [--blocks 2] [--heads 2] [--dropout 0.2] [--no-eval]
"""
import argparse, math, os, time
import torch
from torch import nn
from loo_sequences import load, sequences, evaluate

ap = argparse.ArgumentParser()
ap.add_argument("data"); ap.add_argument("--epochs", type=int, default=10); ap.add_argument("--length", type=int, default=200)
ap.add_argument("--step", type=int, default=None); ap.add_argument("--batch", type=int, default=128)
ap.add_argument("--lr", type=float, default=1e-3); ap.add_argument("--d", type=int, default=64)
ap.add_argument("--blocks", type=int, default=2); ap.add_argument("--heads", type=int, default=2)
ap.add_argument("--dropout", type=float, default=0.2); ap.add_argument("--no-eval", action="store_true")
a = ap.parse_args()
torch.manual_seed(0); torch.set_num_threads(os.cpu_count())
hist, target, n, counts = load(a.data)
L = min(a.length, max(len(h) for h in hist)); T = L - 1
S = min(max(1, a.step or T), T)
X, Y = sequences(hist, L, S)
print(f"{len(hist)} users, {n} movies, {len(X)} sequences (windows of {L} every {S}), {(Y >= 0).sum().item()} targets", flush=True)

def linear(i, o):
    m = nn.Linear(i, o); nn.init.uniform_(m.weight, -1 / math.sqrt(i), 1 / math.sqrt(i)); nn.init.zeros_(m.bias); return m

class Block(nn.Module):
    def __init__(self, d, k, p):
        super().__init__()
        self.k = k; self.ln1 = nn.LayerNorm(d); self.qkv = linear(d, 3 * d); self.o = linear(d, d)
        self.ln2 = nn.LayerNorm(d); self.w1 = linear(d, d); self.w2 = linear(d, d); self.drop = nn.Dropout(p)
    def forward(self, x, mask):                      # mask: B×T×T, True where a key may be seen
        B, T_, d = x.shape; dh = d // self.k
        q, kk, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q, kk, v = (t.view(B, T_, self.k, dh).transpose(1, 2) for t in (q, kk, v))
        s = (q @ kk.transpose(-1, -2)) / math.sqrt(dh)
        s = s.masked_fill(~mask[:, None], float("-inf"))
        att = torch.nan_to_num(torch.softmax(s, dim=-1))   # padding queries see nothing: zero
        h = (att @ v).transpose(1, 2).reshape(B, T_, d)
        x = x + self.drop(self.o(h))
        return x + self.drop(self.w2(torch.relu(self.w1(self.ln2(x)))))

class SASRec(nn.Module):
    def __init__(self, d, blocks, heads, p):
        super().__init__()
        self.d = d; self.emb = nn.Embedding(n + 1, d, padding_idx=0); self.pos = nn.Parameter(torch.randn(T, d) / math.sqrt(d))
        nn.init.normal_(self.emb.weight, 0, 1 / math.sqrt(d))
        with torch.no_grad(): self.emb.weight[0].zero_()
        self.blocks = nn.ModuleList(Block(d, heads, p) for _ in range(blocks)); self.lnf = nn.LayerNorm(d); self.drop = nn.Dropout(p)
    def forward(self, x):
        valid = x > 0
        causal = torch.tril(torch.ones(x.shape[1], x.shape[1], dtype=torch.bool))
        mask = causal[None] & valid[:, None, :] & valid[:, :, None]
        h = (self.emb(x) * math.sqrt(self.d) + self.pos[: x.shape[1]]) * valid[..., None]
        h = self.drop(h)
        for b in self.blocks: h = b(h, mask)
        return self.lnf(h) @ self.emb.weight[1:].T

net = SASRec(a.d, a.blocks, a.heads, a.dropout); opt = torch.optim.Adam(net.parameters(), lr=a.lr)
lossf = nn.CrossEntropyLoss(ignore_index=-100)
g = torch.Generator().manual_seed(0)
for ep in range(a.epochs):
    net.train(); t = time.perf_counter(); perm = torch.randperm(len(X), generator=g); tot = 0.0; nb = 0
    for s in range(0, len(X), a.batch):
        b = perm[s:s + a.batch]; opt.zero_grad()
        loss = lossf(net(X[b]).reshape(-1, n), Y[b].reshape(-1))
        loss.backward(); nn.utils.clip_grad_norm_(net.parameters(), 5); opt.step(); tot += loss.item(); nb += 1
    print(f"epoch {ep + 1}: {time.perf_counter() - t:.2f} s, mean batch loss {tot / nb:.4f}", flush=True)

if a.no_eval: raise SystemExit(0)

net.eval()
evaluate("SASRec", lambda x: net(x)[:, -1], hist, target, counts, T)
