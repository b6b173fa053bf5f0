"""numpy float32 matmul GFLOP/s, the baseline for `movierec bench kernels` (gemm rows).

Run: python3 Benchmarks/baselines/numpy_gemm.py
Leave OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE as the machine has them, or unset both for this command only.
"""
import time

import numpy as np

for n in (256, 512, 1024, 2048):
    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    a @ b
    best, deadline = float("inf"), time.perf_counter() + 1.0
    while time.perf_counter() < deadline:
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    print(f"gemm {n}x{n}x{n}: numpy {2 * n**3 / best / 1e9:.1f} GFLOP/s ({best * 1e3:.2f} ms)")
