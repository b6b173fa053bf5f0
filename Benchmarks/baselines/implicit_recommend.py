"""implicit (benfred) batched recommend for every user, the baseline for `movierec export`.

Fits a 64-factor ALS (3 iterations: the speed of recommend does not depend on the factors' values)
on every rating of a MovieLens folder (so that, as in `movierec export`, every rated movie is
filtered), then times `model.recommend(all users, user_items, N=10, filter_already_liked_items=True)`
and, separately, writing the result as CSV (userId,rank,movieId,score) with pandas.
Run: python3 Benchmarks/baselines/implicit_recommend.py /tmp/synth-20m
"""
import sys, time
import numpy as np, pandas as pd, scipy.sparse as sp
import implicit
path = sys.argv[1]
df = pd.read_csv(path + "/ratings.csv", dtype={"userId": np.int32, "movieId": np.int32, "rating": np.float32, "timestamp": np.int64})
uc = df.userId.astype("category"); ic = df.movieId.astype("category")
m = sp.csr_matrix(((1 + df.rating.values).astype(np.float32), (uc.cat.codes.values, ic.cat.codes.values)))
print("ratings", m.nnz, "shape", m.shape, flush=True)
model = implicit.cpu.als.AlternatingLeastSquares(factors=64, regularization=0.05, iterations=3, random_state=0, dtype=np.float32, calculate_training_loss=False)
model.fit(m, show_progress=False)
users = np.arange(m.shape[0])
t = time.perf_counter()
ids, scores = model.recommend(users, m, N=10, filter_already_liked_items=True)
dt = time.perf_counter() - t
print(f"implicit {implicit.__version__} recommend: {dt:.2f} s for {len(users)} users = {len(users)/dt:.0f} users/s", flush=True)
t = time.perf_counter()
out = pd.DataFrame({"userId": np.repeat(uc.cat.categories.values[users], 10), "rank": np.tile(np.arange(1, 11), len(users)),
                    "movieId": ic.cat.categories.values[ids.ravel()], "score": scores.ravel()})
out.to_csv("/tmp/implicit_recs.csv", index=False, float_format="%.6f")
dw = time.perf_counter() - t
print(f"pandas to_csv: {dw:.2f} s; recommend + CSV: {dt + dw:.2f} s = {len(users)/(dt + dw):.0f} users/s")
