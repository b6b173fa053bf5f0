"""PyTorch (CPU) twin of MovieRec's LSTM next-movie model, for speed and quality on the same split.

Same protocol as `movierec evaluate --split loo --models popularity,rnn`: each user's ratings sorted by
(timestamp, movieId); the last one is held out; the rest is the user's history. Model: Embedding(E,
padding 0) -> LSTM(H) -> dropout 0.4 -> Linear over all movies -> softmax cross-entropy; Adam (--lr, default 1e-3),
--batch (default 256), torch.manual_seed(0), both cores. Modes: `last` (one sequence per user: the last L movies
of the history, inputs = first L-1, target = last) and `windows` (histories cut from the end into
windows of L movies whose ends are --step movies apart (default L-1: overlapping by one); each window
predicts its last --step movies, so every movie but a user's first is a target once). Evaluation: the
last L-1 movies of each history predict the held-out movie; full ranking over all movies with the
history excluded; HR@10, NDCG@10, MRR, plus the same metrics for most-popular (train counts).

Run: python3 Benchmarks/baselines/torch_lstm.py DATA_DIR [--mode last|windows] [--epochs N] [--length L] [--step S]
MovieRec's default training is `--length 50 --step 19 --batch 64 --lr 3e-3`.
"""
import argparse, math, os, time
import numpy as np, pandas as pd, torch
from torch import nn

ap = argparse.ArgumentParser()
ap.add_argument("data"); ap.add_argument("--mode", default="windows"); ap.add_argument("--epochs", type=int, default=10)
ap.add_argument("--length", type=int, default=20); ap.add_argument("--batch", type=int, default=256)
ap.add_argument("--lr", type=float, default=1e-3); ap.add_argument("--no-eval", action="store_true")
ap.add_argument("--step", type=int, default=None)
a = ap.parse_args()
torch.manual_seed(0); torch.set_num_threads(os.cpu_count())
name = "ratings.csv" if os.path.exists(a.data + "/ratings.csv") else "rating.csv"
df = pd.read_csv(a.data + "/" + name, usecols=["userId", "movieId", "timestamp"])
df = df.sort_values(["userId", "timestamp", "movieId"], kind="stable")
users = df.userId.to_numpy(); movies = df.movieId.to_numpy()
starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]]); ends = np.r_[starts[1:], len(users)]
ok = ends - starts >= 2
held = ends[ok] - 1
train_mask = np.ones(len(df), bool); train_mask[held] = False
item_ids = np.unique(movies[train_mask]); n = len(item_ids)
idx = np.searchsorted(item_ids, movies); known = (idx < n) & (item_ids[np.minimum(idx, n - 1)] == movies)
hist = [idx[s:e - 1] for s, e in zip(starts[ok], ends[ok])]          # histories (item indices)
target = np.array([idx[e - 1] if known[e - 1] else -1 for e in ends[ok]])
L, T = a.length, a.length - 1
S = min(max(1, a.step or T), T)
X, Y = [], []
for h in hist:
    if len(h) < 2: continue
    if a.mode == "last":
        w = h[-L:]; inp = w[:-1] + 1
        X.append(np.r_[np.zeros(T - len(inp), int), inp]); Y.append(np.r_[np.full(T - 1, -100), w[-1]])
    else:
        end = len(h)
        while end >= 2:
            s = max(0, end - L); w = h[s:end]; inp = w[:-1] + 1; pad = T - len(inp)
            y = w[1:].copy()
            if s > 0: y[:len(y) - S] = -100          # only the last S movies: the next window has the rest
            X.append(np.r_[np.zeros(pad, int), inp]); Y.append(np.r_[np.full(pad, -100), y])
            if s == 0: break
            end -= S
X = torch.tensor(np.array(X), dtype=torch.long); Y = torch.tensor(np.array(Y), dtype=torch.long)
print(f"{len(hist)} users, {n} movies, {len(X)} sequences ({a.mode}), {(Y >= 0).sum().item()} targets", flush=True)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(n + 1, 100, padding_idx=0); self.lstm = nn.LSTM(100, 128, batch_first=True)
        self.drop = nn.Dropout(0.4); self.out = nn.Linear(128, n)
    def forward(self, x, last_only=False):
        h, _ = self.lstm(self.emb(x))
        if last_only: h = h[:, -1]
        return self.out(self.drop(h))

net = Net(); opt = torch.optim.Adam(net.parameters(), lr=a.lr); lossf = nn.CrossEntropyLoss(ignore_index=-100)
g = torch.Generator().manual_seed(0)
for ep in range(a.epochs):
    net.train(); t = time.perf_counter(); perm = torch.randperm(len(X), generator=g); tot = 0.0; nb = 0
    for s in range(0, len(X), a.batch):
        b = perm[s:s + a.batch]; opt.zero_grad()
        if a.mode == "last":
            loss = lossf(net(X[b], last_only=True), Y[b, -1])
        else:
            loss = lossf(net(X[b]).reshape(-1, n), Y[b].reshape(-1))
        loss.backward(); opt.step(); tot += loss.item(); nb += 1
    print(f"epoch {ep + 1}: {time.perf_counter() - t:.2f} s, mean batch loss {tot / nb:.4f}", flush=True)

if a.no_eval: raise SystemExit(0)

def metrics(ranks):
    ranks = np.array(ranks, float)
    return (ranks < 10).mean(), np.where(ranks < 10, 1 / np.log2(ranks + 2), 0).mean(), np.where(np.isfinite(ranks), 1 / (ranks + 1), 0).mean()

net.eval(); counts = np.bincount(idx[train_mask & known], minlength=n).astype(float)
lstm_ranks, pop_ranks = [], []
with torch.no_grad():
    for s in range(0, len(hist), 1024):
        hs = hist[s:s + 1024]
        x = torch.tensor(np.array([np.r_[np.zeros(T - len(h[-T:]), int), h[-T:] + 1] for h in hs]), dtype=torch.long)
        scores = net(x, last_only=True).numpy()
        for r, h in enumerate(hs):
            tgt = target[s + r]
            for sc, out in ((scores[r].copy(), lstm_ranks), (counts - np.arange(n) * 1e-9, pop_ranks)):
                sc[h] = -np.inf
                out.append(math.inf if tgt < 0 else int((sc > sc[tgt]).sum()))
print("LSTM       HR@10 %.4f NDCG@10 %.4f MRR %.4f" % metrics(lstm_ranks))
print("popularity HR@10 %.4f NDCG@10 %.4f MRR %.4f" % metrics(pop_ranks))
