#!/usr/bin/env python3
"""The pandas + scikit-learn equivalent of `movierec prepare`, timed step by step.

Same steps and defaults as MovieRec's preparation: genre TF-IDF (one token per genre label, smooth
idf, L2 rows) + TruncatedSVD(10); balancing (main genre Drama / Comedy / Other; keep a seeded 47 %
of Drama, all Comedy, as many Other as Comedy); movies with > 50 and users with > 10 ratings
(counted on all ratings); ratings of kept users on kept, balanced movies; MinMaxScaler; genome
pivot (missing pairs 0) + TruncatedSVD(10) left-joined to the movies; then the two CSV files
MovieRec writes (final_movies_with_embeddings.csv, final_filtered_ratings.csv).

Run it back to back with MovieRec on the same folder, from the page cache:

    python3 Benchmarks/baselines/pandas_prepare.py /tmp/synth-20m --out /tmp/pandas-prep
    /usr/bin/time -f "%e s %M KB" .build/release/movierec prepare --data /tmp/synth-20m --out /tmp/p20m

Prints one line per step and a JSON summary (seconds with and without the writing).
Needs pandas and scikit-learn (the peers harness venv: /tmp/peers-venv/bin/python).
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import pandas as pd
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import MinMaxScaler


def find(folder, *names):
    for n in names:
        p = os.path.join(folder, n)
        if os.path.exists(p):
            return p
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("--out", default="/tmp/pandas-prep")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true", help="stop before writing the CSV files")
    a = ap.parse_args()

    steps = []
    t_all = time.perf_counter()

    def step(name, t0):
        dt = time.perf_counter() - t0
        steps.append((name, dt))
        print(f"  {name:<28} {dt:7.3f} s", flush=True)
        return time.perf_counter()

    t = time.perf_counter()
    ratings = pd.read_csv(find(a.data, "ratings.csv", "rating.csv"),
                          dtype={"userId": np.int32, "movieId": np.int32, "rating": np.float32, "timestamp": np.int64})
    movies = pd.read_csv(find(a.data, "movies.csv", "movie.csv"),
                         dtype={"movieId": np.int32, "title": str, "genres": str}, keep_default_na=False)
    gpath = find(a.data, "genome-scores.csv", "genome_scores.csv")
    genome = (pd.read_csv(gpath, dtype={"movieId": np.int32, "tagId": np.int32, "relevance": np.float32})
              if gpath else None)
    t = step("load", t)

    tokens = movies["genres"].str.replace("(no genres listed)", "", regex=False)
    tf = TfidfVectorizer(tokenizer=lambda s: [g for g in s.split("|") if g], token_pattern=None,
                         lowercase=False, smooth_idf=True, norm="l2")
    x = tf.fit_transform(tokens.to_numpy())
    genre_emb = TruncatedSVD(n_components=10, random_state=a.seed).fit_transform(x)
    t = step("genre TF-IDF + SVD", t)

    has = lambda g: movies["genres"].str.contains(g, regex=False)
    main = np.where(has("Drama"), "Drama", np.where(has("Comedy"), "Comedy", "Other"))
    movies["main_genre"] = main
    drama = movies[main == "Drama"].sample(frac=0.47, random_state=a.seed)
    comedy = movies[main == "Comedy"]
    other_all = movies[main == "Other"]
    other = other_all.sample(n=min(len(comedy), len(other_all)), random_state=a.seed)
    balanced = pd.concat([drama, comedy, other]).sort_values("movieId")
    t = step("genre balancing", t)

    mc = ratings["movieId"].value_counts()
    uc = ratings["userId"].value_counts()
    keep_movies = np.intersect1d(mc.index[mc > 50].to_numpy(), balanced["movieId"].to_numpy())
    filt = ratings[ratings["movieId"].isin(keep_movies) & ratings["userId"].isin(uc.index[uc > 10])].copy()
    t = step("activity filter", t)

    filt["rating_norm"] = MinMaxScaler().fit_transform(filt[["rating"]]).ravel()
    t = step("min-max normalisation", t)

    out_movies = balanced[balanced["movieId"].isin(filt["movieId"].unique())].copy()
    ge = pd.DataFrame(genre_emb, columns=[f"genre_emb_{i}" for i in range(10)])
    ge["movieId"] = movies["movieId"].to_numpy()
    out_movies = out_movies.merge(ge, on="movieId", how="left")
    if genome is not None:
        piv = genome.pivot(index="movieId", columns="tagId", values="relevance").fillna(0.0)
        temb = TruncatedSVD(n_components=10, random_state=a.seed).fit_transform(piv.to_numpy(dtype=np.float32))
        te = pd.DataFrame(temb, columns=[f"tag_emb_{i}" for i in range(10)])
        te["movieId"] = piv.index.to_numpy()
        out_movies = out_movies.merge(te, on="movieId", how="left")
        out_movies["has_genome"] = out_movies["tag_emb_0"].notna().astype(int)
        out_movies = out_movies.fillna({f"tag_emb_{i}": 0.0 for i in range(10)})
    t = step("tag genome SVD + join", t)
    compute = time.perf_counter() - t_all

    if not a.no_write:
        os.makedirs(a.out, exist_ok=True)
        out_movies.to_csv(os.path.join(a.out, "final_movies_with_embeddings.csv"), index=False)
        filt[["userId", "movieId", "rating_norm", "rating", "timestamp"]].to_csv(
            os.path.join(a.out, "final_filtered_ratings.csv"), index=False, float_format="%.6g")
        t = step("write", t)
    total = time.perf_counter() - t_all
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"pandas": pd.__version__, "movies_out": len(out_movies), "ratings_out": len(filt),
                      "seconds_without_write": round(compute, 3), "seconds": round(total, 3),
                      "peak_mib": round(peak_mib), "steps": {n: round(s, 3) for n, s in steps}}))


if __name__ == "__main__":
    sys.exit(main())
