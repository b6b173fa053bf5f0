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
import argparse, os, time
import torch
from torch import nn
from loo_sequences import load, sequences, evaluate

ap = argparse.ArgumentParser()
ap.add_argument("data"); ap.add_argument("--mode", default="windows"); ap.add_argument("--epochs", type=int, default=10)
ap.add_argument("--length", type=int, default=20); ap.add_argument("--batch", type=int, default=256)
ap.add_argument("--lr", type=float, default=1e-3); ap.add_argument("--no-eval", action="store_true")
ap.add_argument("--step", type=int, default=None)
a = ap.parse_args()
torch.manual_seed(0); torch.set_num_threads(os.cpu_count())
hist, target, n, counts = load(a.data)
L, T = a.length, a.length - 1
X, Y = sequences(hist, L, min(max(1, a.step or T), T), a.mode)
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

net.eval()
evaluate("LSTM", lambda x: net(x, last_only=True), hist, target, counts, T, batch=1024)
