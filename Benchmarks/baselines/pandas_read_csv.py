"""pandas read_csv of a ratings.csv with dtypes, the baseline for `movierec bench load`.

Run: python3 Benchmarks/baselines/pandas_read_csv.py /tmp/ml-20m-synth/ratings.csv  (needs pandas)
"""
import sys, time, resource
import numpy as np, pandas as pd
path = sys.argv[1]
best = 1e9
for _ in range(3):
    t = time.perf_counter()
    df = pd.read_csv(path, dtype={"userId": np.int32, "movieId": np.int32, "rating": np.float32, "timestamp": np.int64})
    best = min(best, time.perf_counter() - t)
    del df
print(f"pandas {pd.__version__} read_csv best of 3: {best:.3f} s; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f} MiB")
