"""The leave-last-one-out protocol shared by the PyTorch sequence twins (torch_lstm.py, torch_sasrec.py).

Each user's ratings sorted by (timestamp, movieId); the last one is held out; the rest is the user's
history, as `movierec evaluate --split loo`. Sequences: `last` (each user's last L movies, one target) or
`windows` (histories cut from the end into windows of L movies whose ends are S movies apart, each window
predicting its last S movies), as MovieRec's SequenceExamples.
"""
import math, os
import numpy as np, pandas as pd, torch


def load(data):
    """Histories (item indices), held-out targets (-1: a movie not in train), the movie count and the
    training mask, from DATA/ratings.csv (or rating.csv)."""
    name = "ratings.csv" if os.path.exists(data + "/ratings.csv") else "rating.csv"
    df = pd.read_csv(data + "/" + name, usecols=["userId", "movieId", "timestamp"])
    df = df.sort_values(["userId", "timestamp", "movieId"], kind="stable")
    users = df.userId.to_numpy(); movies = df.movieId.to_numpy()
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]]); ends = np.r_[starts[1:], len(users)]
    ok = ends - starts >= 2
    train_mask = np.ones(len(df), bool); train_mask[ends[ok] - 1] = False
    item_ids = np.unique(movies[train_mask]); n = len(item_ids)
    idx = np.searchsorted(item_ids, movies); known = (idx < n) & (item_ids[np.minimum(idx, n - 1)] == movies)
    hist = [idx[s:e - 1] for s, e in zip(starts[ok], ends[ok])]
    target = np.array([idx[e - 1] if known[e - 1] else -1 for e in ends[ok]])
    counts = np.bincount(idx[train_mask & known], minlength=n).astype(float)
    return hist, target, n, counts


def sequences(hist, L, S, mode="windows"):
    """Left-padded inputs (item + 1, 0 = padding) and targets (-100: none), as two long tensors."""
    T = L - 1
    X, Y = [], []
    for h in hist:
        if len(h) < 2: continue
        if mode == "last":
            w = h[-L:]; inp = w[:-1] + 1
            X.append(np.r_[np.zeros(T - len(inp), int), inp]); Y.append(np.r_[np.full(T - 1, -100), w[-1]])
            continue
        end = len(h)
        while end >= 2:
            s = max(0, end - L); w = h[s:end]; inp = w[:-1] + 1; pad = T - len(inp)
            y = w[1:].copy()
            if s > 0: y[:len(y) - S] = -100          # only the last S movies: the next window has the rest
            X.append(np.r_[np.zeros(pad, int), inp]); Y.append(np.r_[np.full(pad, -100), y])
            if s == 0: break
            end -= S
    return torch.tensor(np.array(X), dtype=torch.long), torch.tensor(np.array(Y), dtype=torch.long)


def metrics(ranks):
    ranks = np.array(ranks, float)
    return (ranks < 10).mean(), np.where(ranks < 10, 1 / np.log2(ranks + 2), 0).mean(), np.where(np.isfinite(ranks), 1 / (ranks + 1), 0).mean()


def evaluate(name, score, hist, target, counts, T, batch=256):
    """Ranks each held-out movie among all movies outside the history by `score(inputs) -> B×n` and by
    popularity; prints HR@10, NDCG@10 and MRR of both."""
    n = len(counts)
    model_ranks, pop_ranks = [], []
    with torch.no_grad():
        for s in range(0, len(hist), batch):
            hs = hist[s:s + batch]
            x = torch.tensor(np.array([np.r_[np.zeros(T - len(h[-T:]), int), h[-T:] + 1] for h in hs]), dtype=torch.long)
            scores = score(x).numpy()
            for r, h in enumerate(hs):
                tgt = target[s + r]
                for sc, out in ((scores[r].copy(), model_ranks), (counts - np.arange(n) * 1e-9, pop_ranks)):
                    sc[h] = -np.inf
                    out.append(math.inf if tgt < 0 else int((sc > sc[tgt]).sum()))
    print(f"{name:<10} HR@10 %.4f NDCG@10 %.4f MRR %.4f" % metrics(model_ranks))
    print("popularity HR@10 %.4f NDCG@10 %.4f MRR %.4f" % metrics(pop_ranks))
