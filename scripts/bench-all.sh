#!/usr/bin/env bash
# Reruns MovieRec's benchmarks and their Python twins back to back on one data folder and prints
# the side-by-side table of BENCHMARKS.md ("make bench-all").
#
#   scripts/bench-all.sh [DATA]      DATA: a MovieLens folder (default /tmp/synth-20m, generated
#                                    with `movierec synth --preset 20m` when missing)
#
# Environment: PYTHON (default /tmp/peers-venv/bin/python, set up as ../shared/peers/README.md
# says), MOVIEREC (default .build/release/movierec, built when missing), OUT (default
# /tmp/movierec-bench-all: every raw output is kept there). Python rows are skipped, with a note,
# when PYTHON is missing. Needs ~25 min and ~3 GB of memory on 2 cores for the 20m preset.
set -euo pipefail
cd "$(dirname "$0")/.."

data="${1:-/tmp/synth-20m}"
python="${PYTHON:-/tmp/peers-venv/bin/python}"
movierec="${MOVIEREC:-.build/release/movierec}"
out="${OUT:-/tmp/movierec-bench-all}"
mkdir -p "$out"

[ -x "$movierec" ] || swift build -c release --product movierec
if [ ! -f "$data/ratings.csv" ] && [ ! -f "$data/rating.csv" ]; then
  echo "== generating the 20m preset into $data"
  "$movierec" synth --preset 20m --seed 0 --out "$data" --json > /dev/null
fi
have_python=true
if [ ! -x "$python" ]; then
  have_python=false
  echo "note: $python not found: Python baselines skipped (set up the venv as ../shared/peers/README.md says, or set PYTHON)" >&2
fi

timed() {   # timed NAME COMMAND...: runs it, keeping stdout+stderr and "%e %M" in $out/NAME.*
  local name="$1"; shift
  echo "== $name: $*" >&2
  /usr/bin/time -f "%e %M" -o "$out/$name.time" "$@" > "$out/$name.log" 2>&1 || { echo "   failed: see $out/$name.log" >&2; return 0; }
}

timed pipeline "$movierec" bench --data "$data" --json "$out/pipeline.json"
timed load "$movierec" bench load --data "$data"
timed prepare "$movierec" prepare --data "$data" --out "$out/prepared" --quiet
timed als-cg "$movierec" bench als --data "$data" --iterations 3 --solver cg --backend openblas
timed als-model "$movierec" train --data "$data" --model als --iterations 3 --out "$out/als.model" --quiet
timed export "$movierec" export --model "$out/als.model" --out "$out/recs.csv" --quiet --json
timed lstm "$movierec" train --data "$data" --model rnn --sequence-mode last --sequence-length 20 --batch-size 256 \
  --learning-rate 0.001 --initialisation glorot --epochs 1 --out "$out/rnn.model"
if $have_python; then
  ratings="$data/ratings.csv"; [ -f "$ratings" ] || ratings="$data/rating.csv"
  timed py-load "$python" Benchmarks/baselines/pandas_read_csv.py "$ratings"
  timed py-prepare "$python" Benchmarks/baselines/pandas_prepare.py "$data" --out "$out/pandas-prep"
  timed py-als "$python" Benchmarks/baselines/implicit_als.py "$data"
  timed py-export "$python" Benchmarks/baselines/implicit_recommend.py "$data"
  timed py-lstm "$python" Benchmarks/baselines/torch_lstm.py "$data" --mode last --epochs 1 --no-eval
fi

# The side-by-side table, from the kept outputs.
python3 - "$out" <<'EOF'
import json, os, re, sys
out = sys.argv[1]
def text(name):
    p = os.path.join(out, name + ".log")
    return open(p, encoding="utf-8", errors="replace").read() if os.path.exists(p) else ""
def wall(name):
    p = os.path.join(out, name + ".time")
    try:
        e, m = open(p).read().split()[-2:]
        return float(e), int(m) / 1024
    except (OSError, ValueError):
        return None, None
def find(pattern, s, group=1):
    m = re.search(pattern, s)
    return float(m.group(group)) if m else None
rows = []
def row(step, ours, theirs, peer, unit="s"):
    ratio = f"{ours / theirs:.2f}×" if ours and theirs else "-"
    f = lambda x: (f"{x:.2f} {unit}" if unit else f"{x:.0f}") if x is not None else "-"
    rows.append((step, f(ours), f(theirs), peer, ratio))
row("load ratings.csv", find(r"load into columns\s+([\d.]+) s", text("load")), find(r"best of 3: ([\d.]+) s", text("py-load")), "pandas read_csv")
row("prepare, files written", wall("prepare")[0], wall("py-prepare")[0], "pandas + scikit-learn")
row("implicit ALS iteration (CG)", find(r"OpenBLAS: ([\d.]+) s per iteration", text("als-cg")),
    find(r"([\d.]+) s per iteration", text("py-als")), "implicit")
exp = text("export")
ours_rate = None
try:
    r = json.loads(exp[exp.index("{"):])
    ours_rate = r["users"] / r["seconds"]
except (ValueError, KeyError, ZeroDivisionError):
    pass
row("export top-10 + CSV, users/s", ours_rate, find(r"recommend \+ CSV: [\d.]+ s = (\d+) users/s", text("py-export")),
    "implicit recommend + pandas to_csv", unit="")
row("LSTM epoch, last 20, batch 256", find(r"epoch 1/1: loss [\d.]+, ([\d.]+) s", text("lstm")),
    find(r"epoch 1: ([\d.]+) s", text("py-lstm")), "PyTorch")
print("\nMovieRec against its peers, one run (seconds: ratio < 1 means MovieRec takes less time; users/s: > 1 means faster):\n")
w = [max(len(r[i]) for r in rows + [("step", "MovieRec", "peer", "peer tool", "ratio")]) for i in range(5)]
for r in [("step", "MovieRec", "peer", "peer tool", "ratio")] + rows:
    print("  ".join(c.ljust(w[i]) for i, c in enumerate(r)))
try:
    steps = json.load(open(os.path.join(out, "pipeline.json")))["steps"]
    print("\nmovierec bench (OpenBLAS against pure Swift, one process):\n")
    names = list(dict.fromkeys(s["name"] for s in steps))
    for n in names:
        by = {s["backend"]: s["seconds"] for s in steps if s["name"] == n}
        o, sw = by.get("openblas"), by.get("swift")
        print(f"{n:<20} {o if o is not None else float('nan'):8.2f} s {sw if sw is not None else float('nan'):8.2f} s  "
              + (f"{sw / o:.2f}×" if o and sw else "-"))
except (OSError, ValueError, KeyError):
    print("\n(no pipeline.json)")
print(f"\nraw outputs: {out}")
EOF
