import Foundation
import MovieLens

/// What `movierec report` and `movierec run` put on one page: the data, training curves,
/// evaluations, benchmark timings and sample recommendations. Every part is optional; the value
/// is `Codable`, so a report is rebuilt from its JSON without retraining (`report --from DIR`).
///
/// ```swift
/// var report = Report(title: "ml-latest-small")
/// report.evaluations = [try suite.run(on: data, kernels: kernels)]
/// try report.html().write(to: URL(fileURLWithPath: "/tmp/report.html"), atomically: true, encoding: .utf8)
/// ```
public struct Report: Sendable, Codable {
    public var title: String
    public var data: DataFacts?
    public var training: [TrainingCurve] = []
    public var evaluations: [EvaluationSuite.Report] = []
    public var bench: [BenchTiming] = []
    public var samples: [Sample] = []

    public init(title: String) { self.title = title }

    /// The encoder of `report.json` (non-finite figures as the strings "inf", "-inf", "nan").
    public static func jsonEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    /// The decoder of what ``jsonEncoder()`` writes.
    public static func jsonDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }

    /// The ratings as the models saw them, and what preparation did.
    public struct DataFacts: Sendable, Codable {
        /// Ratings per star value (half stars), ascending.
        public var histogram: [Bin]
        /// How many users (movies) have n ratings, n in power-of-two bins (n = the bin's start).
        public var ratingsPerUser: [Bin]
        public var ratingsPerMovie: [Bin]
        /// Genre labels before and after balancing (empty without balancing).
        public var genres: [GenreShare]
        /// What the activity filter kept.
        public var kept: [Kept]
    }

    public struct Bin: Sendable, Codable, Equatable {
        public var label: String
        public var value: Double
        public var count: Int
    }

    public struct GenreShare: Sendable, Codable, Equatable {
        public var genre: String
        public var before: Double
        public var after: Double
    }

    public struct Kept: Sendable, Codable, Equatable {
        public var what: String
        public var before: Int
        public var after: Int
    }

    /// One model's training curve: a loss per iteration or epoch, and validation figures when held out.
    public struct TrainingCurve: Sendable, Codable {
        public var model: String
        public var unit: String
        public var loss: [Double]
        public var validationLoss: [Double]?
        public var validationHitRate: [Double]?
    }

    /// Collects a model's training curve from its ``TrainingEvent``s: the loss of each ALS
    /// iteration or sequence-model epoch, and the epochs' validation figures.
    public struct CurveRecorder: Sendable {
        var unit = "iteration"
        var loss = [Double](), validationLoss = [Double](), validationHitRate = [Double]()

        public init() {}

        public mutating func record(_ event: TrainingEvent) {
            switch event {
            case .iteration(_, let l): loss.append(l)
            case .epoch(let e):
                unit = "epoch"
                loss.append(e.loss)
                if let v = e.validation { validationLoss.append(v.loss); validationHitRate.append(v.hitRate) }
            case .line, .batch: break
            }
        }

        /// The curve of the model labelled `model` (nil when it reported no loss).
        public func curve(model: String) -> TrainingCurve? {
            guard !loss.isEmpty else { return nil }
            return TrainingCurve(model: model, unit: unit, loss: loss, validationLoss: validationLoss.isEmpty ? nil : validationLoss,
                                 validationHitRate: validationHitRate.isEmpty ? nil : validationHitRate)
        }
    }

    /// One timed step on one backend (`movierec bench --json`).
    public struct BenchTiming: Sendable, Codable, Equatable {
        public var step: String
        public var backend: String
        public var seconds: Double

        public init(step: String, backend: String, seconds: Double) {
            self.step = step
            self.backend = backend
            self.seconds = seconds
        }
    }

    /// A sample user's recommendations from one model.
    public struct Sample: Sendable, Codable {
        public var user: Int32
        public var model: String
        public var recommendations: [Row]

        public struct Row: Sendable, Codable {
            public var movieID: Int32
            public var title: String
            public var score: Float
            public var why: String
        }
    }

    /// The data facts of the ratings a model was trained on (its seen matrix) and the preparation.
    public static func dataFacts(seen: SparseMatrix, preparation: PreparationSummary?) -> DataFacts {
        var stars = [Float: Int]()
        for v in seen.values { stars[(v * 2).rounded() / 2, default: 0] += 1 }
        let histogram = stars.keys.sorted().map { Bin(label: String(format: "%g", Double($0)), value: Double($0), count: stars[$0] ?? 0) }
        func powerBins(_ counts: [Int]) -> [Bin] {
            var bins = [Int: Int]()
            for c in counts where c > 0 { bins[1 << (Int.bitWidth - 1 - c.leadingZeroBitCount), default: 0] += 1 }
            return bins.keys.sorted().map { Bin(label: "\($0)–\(2 * $0 - 1)", value: Double($0), count: bins[$0] ?? 0) }
        }
        var perMovie = [Int](repeating: 0, count: seen.cols)
        for c in seen.columns { perMovie[Int(c)] += 1 }
        var genres = [GenreShare]()
        if let b = preparation?.balancing {
            let before = Double(max(1, b.before.values.reduce(0, +))), after = Double(max(1, b.after.values.reduce(0, +)))
            genres = Set(b.before.keys).union(b.after.keys).sorted { (b.before[$0] ?? 0) > (b.before[$1] ?? 0) }.map {
                GenreShare(genre: $0, before: Double(b.before[$0] ?? 0) / before, after: Double(b.after[$0] ?? 0) / after)
            }
        }
        var kept = [Kept]()
        if let p = preparation {
            kept = [Kept(what: "ratings", before: p.input.ratings, after: p.output.ratings),
                    Kept(what: "users", before: p.input.users, after: p.output.users),
                    Kept(what: "movies", before: p.input.movies, after: p.output.movies)]
        }
        return DataFacts(histogram: histogram, ratingsPerUser: powerBins(seen.rowCounts), ratingsPerMovie: powerBins(perMovie),
                         genres: genres, kept: kept)
    }
}
