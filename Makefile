# MovieRec — the two quick-start commands are `make run` and `make test`.
# Both install the system packages (libopenblas-dev, liblapacke-dev, libisal-dev) first when they are missing.

SWIFT ?= swift
NATIVE_FLAGS = -Xswiftc -target-cpu -Xswiftc haswell -Xswiftc -DNATIVE_FMA

.PHONY: deps build run test test-noblas bench bench-native bench-all benchmarks fuzz clean

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release --product movierec

## The main job on the bundled data: prepare, train hybrid + LSTM, evaluate, sample, export (into movierec-output/).
run: build
	.build/release/movierec run --data data/ml-latest-small --out movierec-output

## The test suite (both backends, then the pure-Swift-only build).
test: deps
	$(SWIFT) test

## The package without the OpenBLAS trait: pure-Swift kernels only, no BLAS linked.
test-noblas:
	$(SWIFT) test --disable-default-traits --scratch-path .build-noblas

## Kernel benchmark with AVX2 + FMA code generation in the pure-Swift kernels (any x86-64 CPU since 2013).
bench-native: deps
	$(SWIFT) build -c release --product movierec --scratch-path .build-native $(NATIVE_FLAGS)
	.build-native/release/movierec bench kernels

## MovieRec against its Python twins and OpenBLAS against pure Swift, one run, one table (scripts/bench-all.sh DATA).
bench-all: build
	scripts/bench-all.sh $(DATA)

## Coverage-guided fuzzing (libFuzzer) of the ratings, movies, model-file and prepared-file readers:
## 1,000,000 executions per target from Fuzz/Corpus (FUZZ_OPTIONS="-max_total_time=60" for a time budget).
fuzz:
	scripts/fuzz.sh $(FUZZ_OPTIONS)

## The ordo-one benchmark package in Benchmarks/.
benchmarks: deps
	$(SWIFT) package --package-path Benchmarks benchmark

clean:
	rm -rf .build .build-noblas .build-native Benchmarks/.build Fuzz/.build
