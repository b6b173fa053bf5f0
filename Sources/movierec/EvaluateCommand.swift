import ArgumentParser
import Foundation
import LinearAlgebra
import MovieLens
import Recommender

/// The splits `evaluate --split` offers: the suite's single splits and the cross-validations.
enum SplitChoice: String, ExpressibleByArgument, CaseIterable {
    case temporal, loo, random, folds
    case ml100kFolds = "ml100k-folds"
    case coldItems = "cold-items"

    /// The single split, nil for a cross-validation.
    var single: EvaluationSuite.Split? { EvaluationSuite.Split(rawValue: rawValue) }
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate every recommender on one split with full-catalogue metrics.",
        discussion: """
        Splits: temporal (each user's ratings sorted by (timestamp, movieId); users with at least 5 \
        ratings put their last 20 % in test — the peers harness's split), loo (each user's last \
        rating), random (seeded, 20 % of ratings), folds (--folds K: ratings in a seeded order, \
        rating i in test fold i mod K; every fold and the mean ± sd over folds are printed), \
        ml100k-folds (ML-100K's u1.base…u5.test in --data, as they are), cold-items (a seeded 20 % \
        of the movies held out of training entirely; each user's relevant held-out movies ranked \
        among all held-out movies, the LightFM protocol: R@10, NDCG@10 and AUC for the models that \
        read content and a random ranking). Relevant = test ratings ≥ --relevant (default 4; \
        with loo every held-out movie is relevant: it is the next-movie task). Candidates = every \
        train movie the user has not rated; no sampled negatives. Models: popularity, als (implicit \
        ALS), ease, content (content cosine to the user's profile alone), hybrid, rnn (LSTM), sasrec (self-attention); then \
        RMSE/MAE on every test rating of the bias baseline, explicit ALS, timeSVD++ (SVD++ with \
        a drift, day and time-span biases, SGD over each user's ratings in time order; --svdpp) and \
        their blend: weights fitted by least squares on a probe carved from the train ratings (each \
        user's last 10 % for temporal, loo and given splits; a seeded random 10 % for random and \
        folds), then every member refitted on all train ratings.

        Metrics, each the mean over users with a relevant movie of (rel = the user's relevant movies, \
        ranks 1-based):
        \(RankingMetric.allCases.map { "  \($0.heading): \($0.definition)" }.joined(separator: "\n"))
          cover: share of movies in some top-10; divers: mean pairwise 1 − genre Jaccard in a top-10; \
        novelty: mean −log2 (share of users who rated a recommended movie).
        Every ranking metric is printed with its 95 % interval over users (normal approximation: mean \
        ± 1.96·s/√n). --compare MODEL adds, for every other model, the mean per-user difference and \
        the two-sided p-value of a paired t-test over the same users: p < 0.05 means the difference \
        is unlikely to be chance. Models with content vectors (content, hybrid) also print the \
        accuracy–diversity trade-off: their lists re-ranked by maximal marginal relevance at each λ of \
        --diversity-tradeoff (NDCG@10 and R@10 against content ILD — mean pairwise 1 − cosine of the \
        content vectors in a top-10 —, genre diversity and coverage).

        Examples:
          movierec evaluate --data data/ml-latest-small
          movierec evaluate --split loo --models popularity,als,rnn --epochs 10
          movierec evaluate --data /tmp/ml-1m-synth --models popularity,als,ease --json
          movierec evaluate --models popularity,als,ease --compare popularity
          movierec evaluate --train /tmp/peers-out/small/train.csv --test /tmp/peers-out/small/test.csv
          movierec evaluate --train ~/ml-100k/u1.base --test ~/ml-100k/u1.test

        Given splits (--train and --test): any ratings format the loaders read (a CSV with header, \
        tab-separated u.data rows, '::' .dat rows); movies (and the genome) from the train file's \
        folder when it holds them, else from --data. Test rows whose user or movie is not in train \
        are counted and reported: they count as misses for the models that cannot rank them.
        """)

    @OptionGroup var dataOptions: DataOptions
    @Option(help: "temporal, loo, random, folds (seeded K-fold cross-validation) or ml100k-folds (ML-100K's u1…u5 files in --data).")
    var split: SplitChoice = .temporal
    @Option(help: "Folds of --split folds.") var folds = 5
    @Option(help: "Train ratings of a given split (with --test; replaces --split).") var train: String?
    @Option(help: "Test ratings of a given split (with --train).") var test: String?
    @Option(help: "Smallest test rating that counts as relevant (default: 4; 0 with loo).") var relevant: Float?
    @Option(help: "Models to evaluate, comma-separated: popularity and any of \(ModelRegistry.standard.names.joined(separator: ", ")).")
    var models = "popularity,als,ease,content,hybrid,rnn"
    @Option(help: "Compare every other model with this one (one of --models) by paired t-tests over users.") var compare: String?
    @OptionGroup var hyper: ModelOptions
    @Option(help: "EASE regularisation λ.") var easeLambda: Float = 500
    @Option(help: "Skip EASE above this many items (its weights take items² floats).") var easeMaxItems = 20_000
    @Option(help: "Explicit ALS factors.") var explicitFactors = 64
    @Option(help: "Explicit ALS weighted λ.") var explicitLambda: Float = 0.12
    @Option(help: "Explicit ALS iterations.") var explicitIterations = 15
    @Option(help: ArgumentHelp("SVD++ settings as name=value pairs, comma-separated (e.g. factors=50,time=false).",
                               discussion: "Names: " + SVDPlusPlus.settingNames.map { "\($0.key) (\($0.value))" }.joined(separator: ", ") + "."))
    var svdpp = ""
    @Option(help: "Diversity re-ranking λ in [0, 1] of the models with content vectors (content, hybrid): maximal marginal relevance (0 = off).")
    var diversity: Float = 0
    @Option(help: "The λ of the accuracy–diversity trade-off printed for those models, comma-separated (none: no trade-off).")
    var diversityTradeoff = "0,0.1,0.3,0.5"
    @OptionGroup var kernelOptions: KernelOptions
    @Flag(help: "Print JSON instead of a table.") var json = false
    @Flag(help: "No progress lines.") var quiet = false

    func makeSuite() throws -> EvaluationSuite {
        var suite = EvaluationSuite()
        suite.split = split.single ?? .temporal
        suite.relevantThreshold = relevant
        suite.models = models.split(separator: ",").map(String.init)
        suite.compare = compare
        suite.options = hyper.options
        var ease = hyper.options
        ease.regularization = easeLambda
        suite.overrides = [EASE.name: ease]
        if let tuned = try hyper.tuned() {
            do { suite.overrides[tuned.model] = try tuned.applied(to: suite.overrides[tuned.model] ?? hyper.options) } catch {
                throw ValidationError("--params: \(error)")
            }
        }
        suite.itemLimits = [EASE.name: easeMaxItems]
        suite.explicitFactors = explicitFactors
        suite.explicitRegularization = explicitLambda
        suite.explicitIterations = explicitIterations
        for pair in svdpp.split(separator: ",", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { throw ValidationError("--svdpp: \(pair) is not name=value") }
            do { try suite.svdPlusPlus.set(parts[0], to: parts[1]) } catch { throw ValidationError("--svdpp: \(error)") }
        }
        do { try suite.svdPlusPlus.validate() } catch { throw ValidationError("--svdpp: \(error)") }
        suite.diversity = diversity
        suite.diversityTradeoff = try diversityTradeoff.lowercased() == "none" ? [] : diversityTradeoff.split(separator: ",").map { text in
            guard let lambda = Float(text.trimmingCharacters(in: .whitespaces)), lambda.isFinite, (0...1).contains(lambda) else {
                throw ValidationError("--diversity-tradeoff: '\(text)' is not a λ between 0 and 1")
            }
            return lambda
        }
        return suite
    }

    func validate() throws {
        try hyper.validate()
        guard (train == nil) == (test == nil) else { throw ValidationError("give --train and --test together") }
        guard folds >= 2, folds <= 100 else { throw ValidationError("--folds must be between 2 and 100") }
        guard train == nil || split == .temporal else { throw ValidationError("--train/--test is a split of its own: give no --split") }
        guard split.single != nil || compare == nil else { throw ValidationError("--compare works on one split, not on folds") }
        guard easeLambda > 0, explicitLambda > 0, easeLambda.isFinite, explicitLambda.isFinite, relevant?.isFinite ?? true, explicitFactors > 0, explicitIterations >= 0, easeMaxItems >= 0 else {
            throw ValidationError("--ease-lambda, --explicit-lambda and --explicit-factors must be positive, --explicit-iterations and --ease-max-items not negative")
        }
        do { try makeSuite().validate() } catch let error as ValidationError { throw error } catch {
            throw ValidationError("--models/--compare: \(error)")
        }
    }

    func run() throws {
        let kernels = try kernelOptions.kernels()
        let suite = try makeSuite()
        let progress = EvaluationProgress(quiet: quiet || json).report
        let report: EvaluationSuite.Report
        if let train, let test {
            let trainURL = URL(fileURLWithPath: train), testURL = URL(fileURLWithPath: test)
            let besideHasMovies = (try? DatasetFiles.discover(in: trainURL.deletingLastPathComponent(), ratings: trainURL)) != nil
            let (data, split) = try TrainingData.load(train: trainURL, test: testURL, movies: besideHasMovies ? nil : dataOptions.url,
                                                      content: suite.needsContent, kernels: kernels, seed: hyper.seed,
                                                      policy: dataOptions.policy)
            report = try suite.run(on: data, given: split, kernels: kernels, progress: progress)
        } else if split.single == nil {
            let data = try TrainingData.load(from: dataOptions.url, content: suite.needsContent, kernels: kernels, seed: hyper.seed,
                                             policy: dataOptions.policy)
            let splits = split == .folds ? RatingSplit.folds(data.ratings, count: folds, seed: hyper.seed)
                                         : try ml100kFolds(in: dataOptions.url, threads: kernels.threads)
            let name = split == .folds ? "\(folds) folds (seed \(hyper.seed))" : "ML-100K u1…u5"
            let report = try suite.runFolds(on: data, splits: splits, named: name, kernels: kernels, progress: progress)
            if json { print(try jsonText(report)) } else { printFolds(report) }
            return
        } else {
            let data = try TrainingData.load(from: dataOptions.url, content: suite.needsContent, kernels: kernels, seed: hyper.seed,
                                             policy: dataOptions.policy)
            report = try suite.run(on: data, kernels: kernels, progress: progress)
        }
        if json {
            print(try jsonText(report))
        } else {
            printEvaluation(report)
        }
    }
}

/// ML-100K's five given splits, `u1.base`/`u1.test` … `u5.base`/`u5.test` in `data` (a folder, or
/// the folder inside a zip archive that holds the ratings, as `ml-100k.zip` ships them).
func ml100kFolds(in data: URL, threads: Int) throws -> [RatingSplit] {
    let folder = (try? DatasetFiles.discover(in: data).directory) ?? data
    return try (1...5).map { k in
        let base = folder.appendingPathComponent("u\(k).base"), test = folder.appendingPathComponent("u\(k).test")
        for url in [base, test] where !DatasetFiles.exists(url) {
            throw MovieLensError.missingFile(kind: "ML-100K fold", directory: folder.path, lookedFor: (1...5).flatMap { ["u\($0).base", "u\($0).test"] })
        }
        return RatingSplit(train: try Ratings.load(base, format: .ml100k, threads: threads).0,
                           test: try Ratings.load(test, format: .ml100k, threads: threads).0)
    }
}

/// Prints each fold's ranking figures, then each model's mean ± sd over the folds.
func printFolds(_ report: EvaluationSuite.FoldsReport) {
    let metrics = RankingMetric.allCases
    let f = { (x: Double) in String(format: "%.4f", x) }
    for fold in report.folds {
        print("\(fold.split): \(fold.train) train / \(fold.test) test ratings; \(fold.ranking.first?.metrics.users ?? 0) users evaluated over \(fold.items) movies")
        print(renderTable(header: ["model"] + metrics.map(\.heading),
                          rows: fold.ranking.map { r in [r.model] + metrics.map { f(r.metrics.value($0)) } },
                          rightAligned: Set(1...metrics.count)))
        print("")
    }
    print("\(report.split): mean ± sd over \(report.folds.count) folds")
    print(renderTable(header: ["model"] + metrics.map(\.heading),
                      rows: report.ranking.map { r in
                          [r.model] + metrics.map { m in r.metrics[m.rawValue].map { f($0.mean) + " ± " + f($0.sd) } ?? "-" }
                      },
                      rightAligned: Set(1...metrics.count)))
    guard !report.rating.isEmpty else { return }
    print("")
    print(renderTable(header: ["rating prediction, mean ± sd over folds", "RMSE", "MAE"],
                      rows: report.rating.map { [$0.model, f($0.rmse.mean) + " ± " + f($0.rmse.sd), f($0.mae.mean) + " ± " + f($0.mae.sd)] },
                      rightAligned: [1, 2]))
}

/// Shows an evaluation's notes and its models' training on standard error.
final class EvaluationProgress {
    let quiet: Bool
    let training: TrainingProgress

    init(quiet: Bool, indent: String = "") {
        self.quiet = quiet
        training = TrainingProgress(quiet: quiet, lines: false, indent: indent + "  ")
    }

    func report(_ event: EvaluationSuite.Event) {
        switch event {
        case .note(let text):
            training.finish()
            if !quiet { printError(text) }
        case .training(_, let e):
            training.report(e)
        }
    }
}

/// Prints an evaluation's ranking table, the metrics' 95 % intervals, the paired tests against the
/// compared model if any, and the rating-prediction table.
func printEvaluation(_ report: EvaluationSuite.Report) {
    if let cold = report.coldItems {
        print("cold-items split: \(report.items) movies held out of training; \(report.train) train / \(report.test) test ratings; \(cold.first?.metrics.users ?? 0) users ranked the held-out movies")
        let g = { (m: MeanInterval) in String(format: "%.4f ± %.4f", m.mean, m.halfWidth) }
        print(renderTable(header: ["model (held-out movies ranked among themselves)", "R@10", "NDCG@10", "AUC"],
                          rows: cold.map { [$0.model, g($0.metrics.recallAt10), g($0.metrics.ndcgAt10), g($0.metrics.auc)] },
                          rightAligned: [1, 2, 3]))
        return
    }
    print("\(report.split) split: \(report.train) train / \(report.test) test ratings; \(report.ranking.first?.metrics.users ?? 0) users evaluated over \(report.items) movies")
    if report.testRowsWithUnknownUser + report.testRowsWithUnknownMovie > 0 {
        print("test rows not in train: \(report.testRowsWithUnknownUser) of unknown users, \(report.testRowsWithUnknownMovie) of unknown movies (counted as misses where they cannot be ranked)")
    }
    let f = { (x: Double?) in x.map { String(format: "%.4f", $0) } ?? "-" }
    let metrics = RankingMetric.allCases
    print(renderTable(header: ["model"] + metrics.map(\.heading) + ["cover", "divers", "novelty"],
                      rows: report.ranking.map { r in
                          let m = r.metrics
                          return [r.model] + metrics.map { f(m.value($0)) }
                              + [f(m.coverage), f(m.diversity), m.novelty.map { String(format: "%.2f", $0) } ?? "-"]
                      },
                      rightAligned: Set(1...(metrics.count + 3))))
    print("")
    print(renderTable(header: ["± 95 % interval (normal approximation over users)"] + metrics.map(\.heading),
                      rows: report.ranking.map { r in
                          [r.model] + metrics.map { f(r.metrics.intervals[$0.rawValue]?.halfWidth) }
                      },
                      rightAligned: Set(1...metrics.count)))
    if let compared = report.comparedWith {
        print("")
        let rows = report.ranking.compactMap { r -> [String]? in
            guard let tests = r.comparison else { return nil }
            return [r.model] + metrics.map { metric in
                guard let t = tests[metric.rawValue] else { return "-" }
                return String(format: "%+.4f", t.difference.mean) + " (p " + pValue(t.p) + ")"
            }
        }
        print(renderTable(header: ["minus \(compared), paired t-test"] + metrics.map(\.heading), rows: rows,
                          rightAligned: Set(1...metrics.count)))
    }
    let tradeoffs = report.ranking.filter { !($0.tradeoff ?? []).isEmpty }
    if !tradeoffs.isEmpty {
        print("")
        print(renderTable(header: ["diversity re-ranking (MMR over content vectors)", "λ", "NDCG@10", "R@10", "content ILD", "divers", "cover"],
                          rows: tradeoffs.flatMap { r in
                              (r.tradeoff ?? []).map { p in
                                  [r.model, String(format: "%.1f", p.lambda), f(p.ndcgAt10), f(p.recallAt10), f(p.contentDiversity), f(p.diversity),
                                   f(p.coverage)]
                              }
                          },
                          rightAligned: [1, 2, 3, 4, 5, 6]))
    }
    guard !report.rating.isEmpty else { return }
    print("")
    guard report.test > 0 else { return print("rating prediction: no test ratings to score") }
    print(renderTable(header: ["rating prediction (every test rating)", "RMSE", "MAE"],
                      rows: report.rating.map { [$0.model, String(format: "%.4f", $0.rmse), String(format: "%.4f", $0.mae)] }, rightAligned: [1, 2]))
}

/// A p-value in a few characters: 0.034, 0.0002, <1e-10.
func pValue(_ p: Double) -> String {
    if p < 1e-10 { return "<1e-10" }
    if p < 0.001 { return String(format: "%.0e", p) }
    return String(format: "%.3f", p)
}
