import ArgumentParser
import Foundation
import LinearAlgebra
import MovieLens
import Recommender

enum ModelChoice: String, ExpressibleByArgument, CaseIterable {
    case als, ease, hybrid, rnn

    var kind: TrainedModel.Kind {
        switch self {
        case .als: return .implicitALS
        case .ease: return .ease
        case .hybrid: return .hybrid
        case .rnn: return .sequence
        }
    }
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model and save it to a model file.",
        discussion: """
        --data is a MovieLens folder or a folder written by `movierec prepare` (its kept ratings and \
        its genre + tag embeddings are used; from a raw folder the embeddings are built on the spot). \
        Ratings ≥ --min-rating are the positives; every rating is remembered so that recommendations \
        skip what a user has seen. The file is versioned, checksummed and written atomically.

        Models: als (implicit ALS, confidence 1 + α·rating), ease (EASE; its weights take items² \
        floats), hybrid (content cosine blended with implicit ALS: --content-weight / --cf-weight, each \
        part min-max scaled to [0, 1] over the candidates of each query), rnn (LSTM next-movie model: \
        embedding → LSTM → dropout → softmax over all movies, trained with Adam on each user's history \
        ordered by time; --sequence-mode windows, the default, predicts every movie of a history once \
        from up to --sequence-length − 1 movies before it, in windows whose ends are --window-step apart; \
        last only each user's last movie. The reference design is --sequence-mode last \
        --sequence-length 20 --batch-size 256 --learning-rate 0.001 --initialisation glorot).

        Examples:
          movierec train --data data/ml-latest-small --model hybrid --out /tmp/hybrid.model
          movierec train --data /tmp/prepared --model als --factors 64 --out /tmp/als.model
          movierec train --data /tmp/prepared --model ease --out /tmp/ease.model
          movierec train --data data/ml-latest-small --model rnn --epochs 10 --out /tmp/rnn.model
        """)

    @Option(help: "MovieLens folder, or a folder written by movierec prepare.") var data = "data/ml-latest-small"
    @Option(help: "hybrid, als, ease or rnn.") var model: ModelChoice = .hybrid
    @Option(help: "Model file to write.") var out: String
    @OptionGroup var hyper: ModelOptions
    @Option(help: "Kernel backend: openblas or swift.") var backend: BackendChoice = Backend.default == .openblas ? .openblas : .swift
    @Option(help: "Threads (default: all cores).") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "No progress lines.") var quiet = false
    @Flag(help: "Print a JSON report (no progress lines).") var json = false

    func validate() throws {
        guard backend != .both else { throw ValidationError("--backend must be openblas or swift") }
        try hyper.validate()
    }

    func run() throws {
        let kernels = try backend.backends()[0].makeKernels(threads: max(1, threads))
        let t0 = DispatchTime.now().uptimeNanoseconds
        let input = try TrainingData.load(from: URL(fileURLWithPath: data), content: model == .hybrid, kernels: kernels,
                                          seed: hyper.seed, threads: max(1, threads))
        let quiet = self.quiet || json
        let bar = ProgressBar(label: "  epoch", unit: "batches", quiet: quiet)
        let trained = try TrainedModel.train(kind: model.kind, ratings: input.ratings, movies: input.movies, content: input.content,
                                             options: hyper.options, kernels: kernels) { event in
            switch event {
            case .line(let text):
                bar.finish()
                if !quiet { printError("  \(text)") }
            case let .batch(epoch, done, total, loss):
                bar.update(done, of: total, label: "  epoch \(epoch)", extra: "  loss \(String(format: "%.4f", loss))")
            case .epoch:
                break   // its line came first
            }
        }
        try trained.write(to: URL(fileURLWithPath: out))
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        if json {
            struct Report: Encodable {
                var model: String; var users: Int; var movies: Int; var seconds: Double; var backend: String; var out: String
                var options: TrainedModel.Options
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(Report(model: model.rawValue, users: trained.header.users, movies: trained.header.items,
                                                             seconds: seconds, backend: kernels.backend.rawValue, out: out,
                                                             options: trained.header.options)), as: UTF8.self))
        } else if !quiet {
            print("trained \(model.rawValue) on \(trained.header.users) users × \(trained.header.items) movies in \(String(format: "%.2f", seconds)) s (\(kernels.backend)); wrote \(out)")
        }
    }
}

/// How implicit ALS solves each row's normal equations.
enum SolverChoice: String, ExpressibleByArgument, CaseIterable {
    case cg, cholesky
}

/// Hyperparameters shared by `train` and `run`.
struct ModelOptions: ParsableArguments {
    @Option(help: "ALS latent factors.") var factors = 64
    @Option(help: "Regularisation λ (default: 0.05 for als and hybrid, 500 for ease).") var regularization: Float?
    @Option(help: "ALS confidence weight α.") var alpha: Float = 1
    @Option(help: "ALS iterations.") var iterations = 15
    @Option(help: "ALS row solver: cg (conjugate gradient, warm-started, as the implicit library) or cholesky (exact: SYRK + Cholesky on the backend).")
    var solver: SolverChoice = .cg
    @Option(help: "ALS conjugate-gradient steps per row and half-iteration.") var cgSteps = 3
    @Option(help: "Smallest rating counted as a positive (a liked movie).") var minRating: Float = 4
    @Option(help: "Hybrid: weight of the content part.") var contentWeight: Float = 0.8
    @Option(help: "Hybrid: weight of the collaborative part.") var cfWeight: Float = 0.2
    @Option(help: "rnn: epochs.") var epochs = 10
    @Option(help: "rnn: movies per sequence window (inputs = this − 1; also how much of a history a recommendation reads; the reference design's is 20).")
    var sequenceLength = 50
    @Option(help: "rnn: windows (every position of every window) or last (each user's last window only).") var sequenceMode: SequenceExamples.Mode = .windows
    @Option(help: "rnn, windows mode: movies between the ends of consecutive windows, each window predicting only those (at most sequence length − 1: windows overlapping by one movie).")
    var windowStep = 19
    @Option(help: "rnn: embedding size.") var embedding = 100
    @Option(help: "rnn: LSTM units.") var hidden = 128
    @Option(help: "rnn: dropout after the LSTM.") var dropout: Float = 0.4
    @Option(help: "rnn: mini-batch size (the reference design's is 256).") var batchSize = 64
    @Option(help: "rnn: Adam learning rate (the reference design's is 0.001).") var learningRate: Float = 3e-3
    @Option(help: "rnn: initial weights: uniform (PyTorch's defaults, ±1/√hidden) or glorot (Glorot / orthogonal, forget bias 1: the reference design's).")
    var initialisation: NextMovieNetwork.Initialisation = .uniform
    @Option(help: "rnn: scale gradients whose global L2 norm exceeds this down to it (0: no clipping).") var clipNorm: Float = 5
    @Option(help: "rnn: learning-rate schedule: constant, or cosine (decays to 0 over all epochs).")
    var schedule: SequenceRecommender.LearningRateSchedule = .constant
    @Option(help: "rnn: hold out the last movie of this many users (seeded) and score it after every epoch (0: none).")
    var validationUsers = 0
    @Option(help: "rnn: stop after this many epochs without a better validation NDCG@10, keeping the best weights (needs --validation-users).")
    var patience: Int?
    @Option(help: "Random seed.") var seed: UInt64 = 0

    func validate() throws {
        guard epochs >= 0, sequenceLength >= 2, embedding > 0, hidden > 0, batchSize > 0, learningRate > 0, (0..<1).contains(dropout) else {
            throw ValidationError("rnn options: --sequence-length ≥ 2, sizes positive, --dropout in [0, 1)")
        }
        guard factors > 0, iterations >= 0 else { throw ValidationError("--factors must be positive, --iterations not negative") }
        guard clipNorm >= 0 else { throw ValidationError("--clip-norm must not be negative") }
        guard windowStep > 0 else { throw ValidationError("--window-step must be positive") }
        guard cgSteps > 0 else { throw ValidationError("--cg-steps must be positive") }
        guard validationUsers >= 0 else { throw ValidationError("--validation-users must not be negative") }
        if let p = patience {
            guard p > 0 else { throw ValidationError("--patience must be positive") }
            guard validationUsers > 0 else { throw ValidationError("--patience needs --validation-users (the held-out movies it watches)") }
        }
        if let r = regularization, r <= 0 { throw ValidationError("--regularization must be positive") }
        guard contentWeight >= 0, cfWeight >= 0, contentWeight + cfWeight > 0 else {
            throw ValidationError("--content-weight and --cf-weight must be non-negative and not both 0")
        }
    }

    var options: TrainedModel.Options {
        var o = TrainedModel.Options()
        o.factors = factors
        o.regularization = regularization
        o.alpha = alpha
        o.iterations = iterations
        o.solver = solver == .cg ? .conjugateGradient(steps: cgSteps) : .cholesky
        o.minRating = minRating
        o.seed = seed
        o.blend = HybridBlend(contentWeight: contentWeight, collaborativeWeight: cfWeight)
        o.sequence.epochs = epochs
        o.sequence.length = sequenceLength
        o.sequence.mode = sequenceMode
        o.sequence.windowStep = windowStep
        o.sequence.embedding = embedding
        o.sequence.hidden = hidden
        o.sequence.dropout = dropout
        o.sequence.batchSize = batchSize
        o.sequence.learningRate = learningRate
        o.sequence.clipNorm = clipNorm
        o.sequence.initialisation = initialisation
        o.sequence.seed = seed
        o.sequence.validationUsers = validationUsers > 0 ? validationUsers : nil
        o.sequence.patience = patience
        o.sequence.schedule = schedule
        return o
    }
}

/// Prints ranked movies as a table or JSON; the hybrid's parts and explanation when present.
func printRanked(_ list: [Recommendation], json: Bool, titleOf: (Int32) -> String) throws {
    if json {
        struct Row: Encodable {
            var rank: Int; var movieId: Int32; var title: String; var score: Float
            var content: Float?; var collaborative: Float?; var becauseOf: Int32?
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let rows = list.enumerated().map { i, r in
            Row(rank: i + 1, movieId: r.movieID, title: r.title, score: r.score, content: r.content, collaborative: r.collaborative, becauseOf: r.becauseOf)
        }
        print(String(decoding: try encoder.encode(rows), as: UTF8.self))
        return
    }
    let explained = list.contains { $0.content != nil }
    let f = { (x: Float?) in x.map { String(format: "%.4f", $0) } ?? "" }
    var header = ["rank", "movieId", "score"]
    if explained { header += ["content", "cf"] }
    header.append("title")
    if explained { header.append("because of") }
    let rows = list.enumerated().map { i, r -> [String] in
        var row = ["\(i + 1)", "\(r.movieID)", f(r.score)]
        if explained { row += [f(r.content), f(r.collaborative)] }
        row.append(r.title)
        if explained { row.append(r.becauseOf.map { "\($0) \(titleOf($0))" } ?? "") }
        return row
    }
    print(renderTable(header: header, rows: rows, rightAligned: explained ? [0, 1, 2, 3, 4] : [0, 1, 2]))
}

/// Parses `"296:5,318:4.5"` into (movieId, rating) pairs.
func parseRatings(_ text: String) throws -> [(movieID: Int32, rating: Float)] {
    try text.split(separator: ",").map { pair in
        let parts = pair.split(separator: ":")
        guard parts.count == 2, let id = Int32(parts[0].trimmingCharacters(in: .whitespaces)),
              let r = Float(parts[1].trimmingCharacters(in: .whitespaces)), r.isFinite else {
            throw ValidationError("--ratings: '\(pair)' is not movieId:rating (e.g. \"296:5,318:4.5\")")
        }
        return (id, r)
    }
}

struct Recommend: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recommend movies for a user, or for a new user from their ratings.",
        discussion: """
        Movies the user has rated (and the one given with --movie) are excluded unless --include-seen. \
        With --movie, the hybrid's content part compares with that movie; without it, with the user's \
        profile (their movies rated ≥ the model's min rating). --ratings describes a new user: their \
        factors are folded into the trained item factors with one solve, no retraining. Hybrid rows \
        show the scaled content and CF parts and the movie that drove the content part. An unknown \
        user or movie id is an error (exit code 2) that names the nearest known ids.

        Examples:
          movierec recommend --model /tmp/hybrid.model --user 1 --movie 296 -k 5
          movierec recommend --model /tmp/hybrid.model --ratings "296:5,318:4.5,593:4" -k 10
          movierec recommend --model /tmp/als.model --user 42 --json
        """)

    @Option(help: "Model file written by movierec train.") var model: String
    @Option(help: "MovieLens user id.") var user: Int32?
    @Option(help: "A new user's ratings, movieId:rating pairs separated by commas.") var ratings: String?
    @Option(help: "The movie the user just watched.") var movie: Int32?
    @Option(name: .short, help: "How many movies.") var k = 5
    @Flag(help: "Keep movies the user has already rated.") var includeSeen = false
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard k > 0 else { throw ValidationError("-k must be positive") }
        guard (user == nil) != (ratings == nil) else { throw ValidationError("give exactly one of --user and --ratings") }
    }

    func run() throws {
        let trained = try TrainedModel.load(from: URL(fileURLWithPath: model))
        let query = try ratings.map { try trained.query(ratings: try parseRatings($0), watched: movie) }
            ?? trained.query(userID: user ?? 0, watched: movie)
        try printRanked(try trained.recommend(query, count: k, includeSeen: includeSeen), json: json, titleOf: trained.title)
    }
}

struct Similar: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Movies most similar to a movie under a trained model.",
        discussion: """
        ALS: cosine similarity of item factors. EASE: the item-item weights. Hybrid: content cosine \
        and item-factor cosine, blended with the model's weights.

        Example:
          movierec similar --model /tmp/hybrid.model --movie 1 -k 10
        """)

    @Option(help: "Model file written by movierec train.") var model: String
    @Option(help: "MovieLens movie id.") var movie: Int32
    @Option(name: .short, help: "How many movies.") var k = 10
    @Flag(help: "Print JSON.") var json = false

    func validate() throws { guard k > 0 else { throw ValidationError("-k must be positive") } }

    func run() throws {
        let trained = try TrainedModel.load(from: URL(fileURLWithPath: model))
        try printRanked(try trained.similar(movieID: movie, count: k), json: json, titleOf: trained.title)
    }
}
extension SequenceExamples.Mode: ExpressibleByArgument {}
extension SequenceRecommender.LearningRateSchedule: ExpressibleByArgument {}
extension NextMovieNetwork.Initialisation: ExpressibleByArgument {}
