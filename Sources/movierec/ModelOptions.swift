import ArgumentParser
import Foundation
import LinearAlgebra
import MovieLens
import Recommender

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
    @Option(help: ArgumentHelp("Hybrid: learned (per-user z-scores, CF weight σ(a + b·ln n) and the CF model chosen on a validation carve) or minmax (the original design: ALS, per-query min–max, --content-weight / --cf-weight)."))
    var fusion: HybridFusionMode = .learned
    @Option(help: "Hybrid (learned): the collaborative part, auto (EASE or ALS, whichever ranks the validation carve better), als or ease.")
    var cf: HybridCollaborative = .auto
    @Option(help: "Hybrid (--fusion minmax, the original design): weight of the content part.") var contentWeight: Float = 0.8
    @Option(help: "Hybrid (--fusion minmax, the original design): weight of the collaborative part.") var cfWeight: Float = 0.2
    @Option(help: "rnn, sasrec: epochs (default 10 for rnn, 40 for sasrec).") var epochs: Int?
    @Option(help: "rnn, sasrec: movies per sequence window (inputs = this − 1; also how much of a history a recommendation reads; default 50 for rnn — the reference design's is 20 — and 200 for sasrec).")
    var sequenceLength: Int?
    @Option(help: "rnn: windows (every position of every window) or last (each user's last window only).") var sequenceMode: SequenceExamples.Mode = .windows
    @Option(help: "rnn, sasrec, windows mode: movies between the ends of consecutive windows, each window predicting only those (rnn: default 19, or sequence length − 1 when shorter; sasrec: default sequence length − 1, windows overlapping by one movie, the most).")
    var windowStep: Int?
    @Option(help: "rnn, sasrec: sampled softmax — movies drawn by popularity per batch as negatives shared by every target, with the log-Q correction (0: the full softmax over every movie; default 0 for rnn, 256 for sasrec).")
    var negatives: Int?
    @Flag(inversion: .prefixedNo, help: "rnn, sasrec, sampled softmax: the batch's targets are negatives of every target too (in-batch negatives; default for rnn). --no-in-batch-negatives (default for sasrec) scores each target against its own column and the drawn negatives only, cheaper as the batch's targets no longer add columns.")
    var inBatchNegatives: Bool?
    @Option(help: "rnn, sasrec, sampled softmax: each block of this many targets gets its own draw of --negatives (0: one draw per batch; default 0 for rnn, 64 for sasrec).")
    var targetsPerDraw: Int?
    @Option(help: "rnn, sasrec: the loss: softmax (cross-entropy, over the sampled candidates with --negatives) or gbce (gSASRec's calibrated binary cross-entropy over --negatives N uniform negatives; no in-batch negatives).")
    var loss: SequenceRecommender.SequenceLoss?
    @Option(name: .customLong("gbce-t"), help: "rnn, sasrec, --loss gbce: the calibration t in [0, 1] (0: plain binary cross-entropy; default 0.75).")
    var gbceCalibration: Float?
    @Flag(help: "rnn, sasrec: lazy Adam — movies a batch neither reads nor scores keep their embedding rows and moments (default: dense Adam, as PyTorch's).")
    var lazyAdam = false
    @Option(help: "rnn: embedding size (default 100); sasrec: model size d (default 64).") var embedding: Int?
    @Option(help: "sasrec: self-attention blocks.") var blocks = 2
    @Option(help: "sasrec: attention heads per block (must divide --embedding).") var heads = 2
    @Option(help: "rnn: LSTM units.") var hidden = 128
    @Option(help: "rnn: dropout after the LSTM (default 0.4); sasrec: on the input, attention and feed-forward outputs (default 0.2).") var dropout: Float?
    @Option(help: "rnn, sasrec: mini-batch size (default 64 for rnn — the reference design's is 256 — and 32 for sasrec).") var batchSize: Int?
    @Option(help: "rnn, sasrec: Adam learning rate (default 0.003 for rnn — the reference design's is 0.001 — and 0.002 for sasrec).") var learningRate: Float?
    @Option(help: "rnn: initial weights: uniform (PyTorch's defaults, ±1/√hidden) or glorot (Glorot / orthogonal, forget bias 1: the reference design's).")
    var initialisation: NextMovieNetwork.Initialisation = .uniform
    @Option(help: "rnn, sasrec: scale gradients whose global L2 norm exceeds this down to it (0: no clipping).") var clipNorm: Float = 5
    @Option(help: "rnn, sasrec: learning-rate schedule: constant, or cosine (decays to 0 over all epochs).")
    var schedule: SequenceRecommender.LearningRateSchedule = .constant
    @Option(help: "rnn, sasrec: hold out the last movie of this many users (seeded) and score it after every epoch (0: none).")
    var validationUsers = 0
    @Option(help: "rnn, sasrec: stop after this many epochs without a better validation NDCG@10, keeping the best weights (needs --validation-users).")
    var patience: Int?
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Hyper-parameters from a file written by movierec tune --out (they replace the matching options).")
    var params: String?

    /// The tuned parameters of --params, if given.
    func tuned() throws -> TunedParameters? {
        guard let params else { return nil }
        do { return try TunedParameters.load(from: URL(fileURLWithPath: params)) } catch { throw ValidationError("--params: \(error)") }
    }

    /// The options for training `model`: the flags, then --params (which must be for `model`).
    func options(for model: String) throws -> TrainedModel.Options {
        guard let tuned = try tuned() else { return options }
        guard tuned.model == model else { throw ValidationError("--params holds parameters for \(tuned.model), not \(model)") }
        do { return try tuned.applied(to: options) } catch { throw ValidationError("--params: \(error)") }
    }

    func validate() throws {
        guard (epochs ?? 0) >= 0, (sequenceLength ?? 2) >= 2, (embedding ?? 1) > 0, hidden > 0, (batchSize ?? 1) > 0, (learningRate ?? 1) > 0,
              (0..<1).contains(dropout ?? 0), blocks > 0, heads > 0 else {
            throw ValidationError("rnn and sasrec options: --sequence-length ≥ 2, sizes positive, --dropout in [0, 1)")
        }
        guard factors > 0, iterations >= 0 else { throw ValidationError("--factors must be positive, --iterations not negative") }
        guard clipNorm >= 0 else { throw ValidationError("--clip-norm must not be negative") }
        if let step = windowStep {
            let length = sequenceLength ?? 50
            guard step > 0, step < length else {
                throw ValidationError("--window-step must be between 1 and --sequence-length − 1 (\(length - 1))")
            }
        }
        guard (learningRate ?? 1).isFinite, clipNorm.isFinite else { throw ValidationError("--learning-rate and --clip-norm must be finite") }
        guard alpha >= 0, alpha.isFinite else { throw ValidationError("--alpha must be finite and not negative") }
        guard (0.5...5).contains(minRating) else { throw ValidationError("--min-rating must be a rating, 0.5 to 5") }
        guard cgSteps > 0 else { throw ValidationError("--cg-steps must be positive") }
        guard (negatives ?? 0) >= 0 else { throw ValidationError("--negatives must not be negative (0: full softmax)") }
        guard (targetsPerDraw ?? 0) >= 0 else { throw ValidationError("--targets-per-draw must not be negative (0: one draw per batch)") }
        if let t = gbceCalibration {
            guard loss == .gbce, (0...1).contains(t) else { throw ValidationError("--gbce-t must be in [0, 1] and needs --loss gbce") }
        }
        guard validationUsers >= 0 else { throw ValidationError("--validation-users must not be negative") }
        if let p = patience {
            guard p > 0 else { throw ValidationError("--patience must be positive") }
            guard validationUsers > 0 else { throw ValidationError("--patience needs --validation-users (the held-out movies it watches)") }
        }
        if let r = regularization, !(r > 0 && r.isFinite) { throw ValidationError("--regularization must be positive and finite") }
        guard contentWeight >= 0, cfWeight >= 0, contentWeight + cfWeight > 0, contentWeight.isFinite, cfWeight.isFinite else {
            throw ValidationError("--content-weight and --cf-weight must be finite, non-negative and not both 0")
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
        o.hybridFusion = fusion
        o.hybridCollaborative = cf
        o.sequence = sequence(SequenceRecommender.Configuration())
        o.sequence.windowStep = windowStep ?? min(19, o.sequence.length - 1)
        o.sequence.hidden = hidden
        o.sequence.initialisation = initialisation
        var attention = sequence(.selfAttention)
        attention.windowStep = windowStep
        attention.blocks = blocks
        attention.heads = heads
        o.selfAttention = attention
        return o
    }
}

extension ModelOptions {
    /// `defaults` with the sequence options given on the command line.
    func sequence(_ defaults: SequenceRecommender.Configuration) -> SequenceRecommender.Configuration {
        var c = defaults
        if let epochs { c.epochs = epochs }
        if let sequenceLength { c.length = sequenceLength }
        c.mode = sequenceMode
        if let embedding { c.embedding = embedding }
        if let negatives {
            c.negatives = negatives > 0 ? negatives : nil
            if negatives == 0 { c.inBatchNegatives = nil; c.targetsPerDraw = nil }
        }
        if let inBatchNegatives { c.inBatchNegatives = inBatchNegatives }
        if let loss {
            c.loss = loss == .softmax ? nil : loss
            if loss == .gbce && inBatchNegatives == nil { c.inBatchNegatives = nil }
        }
        if let gbceCalibration { c.gbceCalibration = gbceCalibration }
        if let targetsPerDraw { c.targetsPerDraw = targetsPerDraw }
        if lazyAdam { c.lazyAdam = true }
        if let dropout { c.dropout = dropout }
        if let batchSize { c.batchSize = batchSize }
        if let learningRate { c.learningRate = learningRate }
        c.clipNorm = clipNorm
        c.seed = seed
        c.validationUsers = validationUsers > 0 ? validationUsers : nil
        c.patience = patience
        c.schedule = schedule
        return c
    }
}

extension SequenceExamples.Mode: ExpressibleByArgument {}
extension HybridFusionMode: ExpressibleByArgument {}
extension HybridCollaborative: ExpressibleByArgument {}
extension SequenceRecommender.LearningRateSchedule: ExpressibleByArgument {}
extension SequenceRecommender.SequenceLoss: ExpressibleByArgument {}
extension NextMovieNetwork.Initialisation: ExpressibleByArgument {}

/// Which movies a list may hold and how diverse it is: `recommend` and `export`.
struct ListOptions: ParsableArguments {
    @Option(help: "Keep only movies with at least one of these genres (comma-separated, any case).") var genres: String?
    @Option(help: "Leave out movies with any of these genres (comma-separated).") var excludeGenres: String?
    @Option(help: "Keep only movies from these years: 1990-1999, 1995, 1990- or -1999 (the year in the title).") var years: String?
    @Option(help: "Leave out these movie ids: 1,2,3 or @FILE (ids separated by commas, spaces or lines).") var exclude: String?
    @Option(help: "Recommend only from these movie ids (an allow-list): 1,2,3 or @FILE.") var only: String?
    @Option(help: "Diversity re-ranking λ in [0, 1]: maximal marginal relevance over the content vectors (hybrid and content models; 0 = off).")
    var diversity: Float = 0

    /// The filter the options describe (nil when none is given).
    /// - Throws: ``ValidationError`` naming a bad value.
    func filter() throws -> ItemFilter? {
        var f = ItemFilter()
        do {
            if let genres { f.genres = try ItemFilter.parseGenres(genres, option: "--genres") }
            if let excludeGenres { f.excludedGenres = try ItemFilter.parseGenres(excludeGenres, option: "--exclude-genres") }
            if let years { f.years = try ItemFilter.parseYears(years) }
            if let exclude { f.excluded = try ItemFilter.parseIDs(exclude, option: "--exclude") }
            if let only { f.only = try ItemFilter.parseIDs(only, option: "--only") }
        } catch {
            throw ValidationError("\(error)")
        }
        return f.isEmpty ? nil : f
    }

    /// Every value checked before any work.
    func validate() throws {
        _ = try filter()
        guard diversity.isFinite, (0...1).contains(diversity) else {
            throw ValidationError("--diversity must be between 0 and 1 (0 = off), got \(diversity)")
        }
    }

    /// The id files given with @ (inputs an output must not overwrite).
    var inputFiles: [String] { [exclude, only].compactMap { $0 }.filter { $0.hasPrefix("@") }.map { String($0.dropFirst()) } }
}
