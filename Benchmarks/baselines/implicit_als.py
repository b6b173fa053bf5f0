"""implicit (benfred) ALS seconds per iteration on a MovieLens folder, the baseline for `movierec bench als`.

Positives = ratings >= 4 with confidence 1 + rating, 64 factors, lambda 0.05, CG solver, BLAS 1 thread
(implicit parallelises with OpenMP). Run: python3 Benchmarks/baselines/implicit_als.py /tmp/ml-20m-synth
"""
import sys, time
import numpy as np, pandas as pd, scipy.sparse as sp
from threadpoolctl import threadpool_limits
import implicit
path = sys.argv[1]
df = pd.read_csv(path + "/ratings.csv", dtype={"userId": np.int32, "movieId": np.int32, "rating": np.float32, "timestamp": np.int64})
df = df[df.rating >= 4]
u = df.userId.astype("category").cat.codes.values; i = df.movieId.astype("category").cat.codes.values
m = sp.csr_matrix(((1 + df.rating.values).astype(np.float32), (u, i)))
print("positives", m.nnz, "shape", m.shape, flush=True)
with threadpool_limits(1, "blas"):
    model = implicit.cpu.als.AlternatingLeastSquares(factors=64, regularization=0.05, iterations=3, random_state=0, dtype=np.float32, alpha=1.0, calculate_training_loss=False)
    t = time.perf_counter(); model.fit(m, show_progress=False); dt = time.perf_counter() - t
print(f"implicit {implicit.__version__}: {dt/3:.3f} s per iteration (3 iterations, CG)")
