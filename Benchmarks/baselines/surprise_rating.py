"""Surprise rating-prediction peers on a given train/test split: SVD, SVD++ and baseline-only (ALS biases).

The split is the peers harness's (`run_peers.py --steps load,split` writes train.csv / test.csv), so
`movierec evaluate --train train.csv --test test.csv` scores the same rows. Every model runs with Surprise's
defaults and random_state=0; predictions are clipped to the train rating range, as Surprise does.
Run: python3 Benchmarks/baselines/surprise_rating.py /tmp/peers-out/small [svd,svdpp,baseline]
"""
import sys, time
import numpy as np, pandas as pd
import surprise

folder = sys.argv[1]
wanted = (sys.argv[2] if len(sys.argv) > 2 else "baseline,svd,svdpp").split(",")
train = pd.read_csv(folder + "/train.csv")
test = pd.read_csv(folder + "/test.csv")
reader = surprise.Reader(rating_scale=(train.rating.min(), train.rating.max()))
trainset = surprise.Dataset.load_from_df(train[["userId", "movieId", "rating"]], reader).build_full_trainset()
rows = list(zip(test.userId.tolist(), test.movieId.tolist(), test.rating.tolist()))
truth = test.rating.to_numpy()
models = {
    "baseline": lambda: surprise.BaselineOnly(bsl_options={"method": "als"}, verbose=False),
    "svd": lambda: surprise.SVD(random_state=0),
    "svdpp": lambda: surprise.SVDpp(random_state=0),
}
print(f"surprise {surprise.__version__}: {trainset.n_ratings} train ratings, {len(rows)} test rows", flush=True)
for name in wanted:
    algo = models[name]()
    start = time.perf_counter()
    algo.fit(trainset)
    fit = time.perf_counter() - start
    estimate = np.array([p.est for p in algo.test(rows)])
    rmse = float(np.sqrt(np.mean((truth - estimate) ** 2)))
    mae = float(np.mean(np.abs(truth - estimate)))
    print(f"{name:9s} RMSE {rmse:.4f}  MAE {mae:.4f}  fit {fit:.1f} s", flush=True)
