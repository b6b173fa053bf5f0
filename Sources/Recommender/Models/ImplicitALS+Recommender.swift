import Foundation
import LinearAlgebra
import MovieLens

extension ImplicitALS: RecommenderModel {
    public static let name = "als"

    /// Implicit ALS on the positives with `options.factors`, λ (default 0.05), α, iterations,
    /// solver and seed.
    /// - Throws: ``RecommenderError/invalidOptions(model:reason:)`` also for more factors than the
    ///   data justifies (see ``maxFactors(users:items:positives:)``).
    public static func fit(_ data: TrainingSet, options: TrainedModel.Options, kernels: any Kernels,
                           progress: (TrainingEvent) -> Void) throws -> ImplicitALS {
        var als = try ImplicitALS(options: options)
        let limit = maxFactors(users: data.users.count, items: data.items.count, positives: data.positives.nonzeros)
        guard als.factors <= limit else {
            throw RecommenderError.invalidOptions(model: name, reason: "\(als.factors) factors exceed what \(data.users.count) users, \(data.items.count) movies and \(data.positives.nonzeros) positives justify (at most \(limit))")
        }
        _ = try als.fit(data.positives, kernels: kernels) { it in
            progress(.line("ALS iteration \(it.index)/\(options.iterations): \(String(format: "%.3f", it.seconds)) s, loss \(it.loss.map { String(format: "%.5f", $0) } ?? "-")"))
            if let loss = it.loss { progress(.iteration(index: it.index, loss: loss)) }
        }
        return als
    }

    /// The most factors worth training: the factor matrices, `factors × (users + items)` values,
    /// may hold up to 16 values per positive rating plus 16M, so their memory follows the data.
    public static func maxFactors(users: Int, items: Int, positives: Int) -> Int {
        max(1, (16 * positives + (1 << 24)) / max(1, users + items))
    }

    /// An untrained model with the ALS settings of `options`.
    /// - Throws: ``RecommenderError/invalidOptions(model:reason:)`` for non-positive factors or λ,
    ///   negative iterations or α, or a CG solver with no steps.
    public init(options: TrainedModel.Options) throws {
        self.init(factors: options.factors, regularization: options.regularization ?? 0.05, alpha: options.alpha,
                  iterations: options.iterations, seed: options.seed, solver: options.solver ?? .cholesky)
        try validate()
    }

    func validate() throws {
        guard factors > 0, iterations >= 0, regularization > 0, alpha >= 0, alpha.isFinite, regularization.isFinite else {
            throw RecommenderError.invalidOptions(model: Self.name, reason: "factors and λ must be positive, iterations and α not negative")
        }
        if case .conjugateGradient(let steps) = solver, steps <= 0 {
            throw RecommenderError.invalidOptions(model: Self.name, reason: "CG steps must be positive")
        }
    }

    public static func validate(_ options: TrainedModel.Options) throws { _ = try ImplicitALS(options: options) }

    public static func decode(from archive: ModelArchive) throws -> ImplicitALS {
        var als = try ImplicitALS(options: archive.options)
        als.userFactors = try archive.matrix("userFactors", rows: archive.users, cols: als.factors)
        als.itemFactors = try archive.matrix("itemFactors", rows: archive.items, cols: als.factors)
        return als
    }

    public func encode(into archive: inout ModelArchive) throws {
        archive.set("userFactors", matrix: userFactors)
        archive.set("itemFactors", matrix: itemFactors)
    }

    public var label: String {
        "implicit ALS (\(factors)f, λ \(regularization), α \(alpha), \(iterations) it, \(solver.label))"
    }

    /// `X_block·Yᵀ` in one GEMM, a new user's factors folded in first.
    public func score(_ block: ScoringBlock, into scores: MutableMatrixView, parts: ScoreParts?, kernels: any Kernels) throws {
        try collaborativeScores(block.queries, into: scores, kernels: kernels)
    }

    /// `X_block·Yᵀ`, with each query's factors from the model or folded in from its liked movies.
    func collaborativeScores(_ queries: [TrainedModel.Query], into out: MutableMatrixView, kernels: any Kernels) throws {
        var x = Matrix(rows: queries.count, cols: factors)
        for (r, q) in queries.enumerated() {
            if let u = q.user {
                for j in 0..<factors { x[r, j] = userFactors[u, j] }
            } else {
                let f = try Self.foldIn(q.liked.map { ($0.item, $0.rating) }, itemFactors: itemFactors, regularization: regularization,
                                        alpha: alpha, kernels: kernels)
                for j in 0..<factors { x[r, j] = f[j] }
            }
        }
        try x.withView { xv in try itemFactors.withView { y in try kernels.gemm(.none, .transposed, alpha: 1, xv, y, beta: 0, out) } }
    }

    /// Cosine of the item factors.
    public func similarItems(to item: Int, kernels: any Kernels) throws -> SimilarScores {
        SimilarScores(scores: itemFactors.withView { $0.cosines(toRow: item) })
    }
}
