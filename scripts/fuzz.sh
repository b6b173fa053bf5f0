#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/ (MovieRec's modules instrumented too) and runs each one
# with the libFuzzer options given (default -runs=1000000), from the seed corpus in Fuzz/Corpus/.
# New inputs and any crash go under $FUZZ_WORK (default /tmp/movierec-fuzz), never into the repo.
#
#   scripts/fuzz.sh                        # make fuzz: 1,000,000 executions per target
#   scripts/fuzz.sh -max_total_time=15     # CI's smoke: 15 s per target
set -euo pipefail
cd "$(dirname "$0")/.."
options=("$@")
[ ${#options[@]} -gt 0 ] || options=(-runs=1000000)
work="${FUZZ_WORK:-/tmp/movierec-fuzz}"
swift build --package-path Fuzz -c release -Xswiftc -sanitize=fuzzer
status=0
for target in FuzzRatings FuzzMovies FuzzModel FuzzPrepared; do
  corpus=$(echo "${target#Fuzz}" | tr '[:upper:]' '[:lower:]')
  mkdir -p "$work/$corpus" "$work/crashes"
  log="$work/$target.log"
  if Fuzz/.build/release/"$target" "${options[@]}" -artifact_prefix="$work/crashes/$target-" \
       "$work/$corpus" "Fuzz/Corpus/$corpus" > "$log" 2>&1; then
    echo "$target: $(grep -E '^Done [0-9]+ runs' "$log" | tail -1); $(grep -oE 'exec/s: [0-9]+' "$log" | tail -1); 0 crashes"
  else
    echo "$target: CRASH — see $log and $work/crashes/" >&2
    status=1
  fi
done
exit $status
