"""numpy/scipy EASE on a MovieLens folder, the baseline for `movierec bench ease`.

Positives = ratings >= 4 (binary), lambda 500, as `movierec train --model ease`. The Gram matrix is
scipy's sparse XᵀX, densified to float32; P = (XᵀX + λI)⁻¹ by cho_factor / cho_solve against the
identity (float32, LAPACK through numpy's OpenBLAS); B = −P / diag(P) with a zero diagonal.
Prints each stage's seconds and the peak resident memory.
Run: python3 Benchmarks/baselines/numpy_ease.py /tmp/ml-20m-synth [lambda]
"""
import resource, sys, time
import numpy as np, pandas as pd, scipy.linalg as la, scipy.sparse as sp

path = sys.argv[1]
lam = float(sys.argv[2]) if len(sys.argv) > 2 else 500.0
df = pd.read_csv(path + "/ratings.csv", dtype={"userId": np.int32, "movieId": np.int32, "rating": np.float32, "timestamp": np.int64})
df = df[df.rating >= 4]
u = df.userId.astype("category").cat.codes.values
i = df.movieId.astype("category").cat.codes.values
x = sp.csr_matrix((np.ones(len(u), dtype=np.float32), (u, i)))
x.data[:] = 1  # a repeated (user, movie) pair counts once
n = x.shape[1]
print(f"{x.shape[0]} users × {n} items, {x.nnz} positives, λ {lam:g}; items² floats = {n * n * 4 / 2**20:.0f} MiB", flush=True)

start = time.perf_counter()
t = time.perf_counter()
g = (x.T @ x).toarray().astype(np.float32)
g[np.diag_indices(n)] += lam
gram = time.perf_counter() - t
t = time.perf_counter()
factor = la.cho_factor(g, lower=True, overwrite_a=True, check_finite=False)
p = la.cho_solve(factor, np.eye(n, dtype=np.float32), overwrite_b=True, check_finite=False)
del factor, g
inverse = time.perf_counter() - t
t = time.perf_counter()
b = p / -np.diag(p)
np.fill_diagonal(b, 0)
weights = time.perf_counter() - t
total = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(f"numpy {np.__version__} / scipy: gram {gram:.2f} s, inverse {inverse:.2f} s, weights {weights:.2f} s; "
      f"{total:.2f} s, peak {peak / 2**20:.0f} MiB = {peak / (n * n * 4):.2f}× items² floats")
