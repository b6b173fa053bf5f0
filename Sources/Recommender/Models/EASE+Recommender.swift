import Foundation
import LinearAlgebra
import MovieLens

extension EASE: RecommenderModel {
    public static let name = "ease"

    /// EASE on the positives with λ = `options.regularization` (default 500).
    public static func fit(_ data: TrainingSet, options: TrainedModel.Options, kernels: any Kernels,
                           progress: (TrainingEvent) -> Void) throws -> EASE {
        try fit(data, side: nil, options: options, kernels: kernels, progress: progress)
    }

    /// EASE on the positives, with the item side information `side` when given (see
    /// ``fit(_:side:kernels:stage:)``); each stage's time is reported as a progress line.
    static func fit(_ data: TrainingSet, side: (vectors: Matrix, weight: Float)?, options: TrainedModel.Options, kernels: any Kernels,
                    progress: (TrainingEvent) -> Void) throws -> EASE {
        var ease = try EASE(options: options)
        let sideText = side.map { ", content as side information at weight \($0.weight)" } ?? ""
        progress(.line("EASE: \(data.items.count)² weights = \(EASE.memoryBytes(items: data.items.count) / 1_048_576) MiB\(sideText)"))
        try ease.fit(data.positives, side: side, kernels: kernels) { stage, seconds in
            progress(.line("EASE \(stage): \(String(format: "%.1f", seconds)) s"))
        }
        return ease
    }

    /// An unfitted model with λ from `options`.
    /// - Throws: ``RecommenderError/invalidOptions(model:reason:)`` unless λ is positive and finite.
    public init(options: TrainedModel.Options) throws {
        self.init(regularization: options.regularization ?? 500)
        guard regularization > 0, regularization.isFinite else {
            throw RecommenderError.invalidOptions(model: Self.name, reason: "λ must be positive")
        }
    }

    public static func validate(_ options: TrainedModel.Options) throws { _ = try EASE(options: options) }

    public static func decode(from archive: ModelArchive) throws -> EASE {
        var ease = try EASE(options: archive.options)
        ease.weights = try archive.matrix("itemFactors", rows: archive.items, cols: archive.items)
        return ease
    }

    public func encode(into archive: inout ModelArchive) throws { archive.set("itemFactors", matrix: weights) }

    public var label: String { "EASE (λ \(regularization))" }

    /// `Σ_{i liked} B[i, ·]` per query.
    public func score(_ block: ScoringBlock, into scores: MutableMatrixView, parts: ScoreParts?, kernels: any Kernels) throws {
        let n = weights.cols
        weights.withView { b in
            for (r, q) in block.queries.enumerated() {
                let row = scores.base + r * scores.stride
                row.update(repeating: 0, count: n)
                for (i, _) in q.liked { VectorOps.axpy(1, b.base + i * b.stride, row, n) }
            }
        }
    }

    /// The item's row of weights.
    public func similarItems(to item: Int, kernels: any Kernels) throws -> SimilarScores {
        SimilarScores(scores: Array(weights.row(item)))
    }
}
