import Foundation
import LinearAlgebra

/// Sampled softmax for the sequence models' output layer: each target is scored against a few
/// candidates instead of the whole catalogue, with the log-Q correction so the learned scores
/// still estimate the full softmax's.
///
/// Per batch, `N` movies are drawn by popularity `p` with replacement (duplicates kept once) as
/// negatives shared by every row. With in-batch negatives (the default; Yi et al., RecSys 2019)
/// the batch's `n` targets join them in one candidate set `C` that every row scores. Without,
/// each row's softmax runs over the draws and its own target, `C ∪ {t}` (the shared-negative
/// sampled softmax of SASRec-style trainers, e.g. Klenitskiy & Vasilev, RecSys 2023): `N + 1`
/// dot products per target whatever the batch, where in-batch negatives cost `n + N`.
///
/// The candidates are treated as draws from `p` (the negatives, and with in-batch negatives the
/// targets, which are such draws): each logit is lowered by `log Q_j`, `Q_j = 1 − (1 − p_j)^D`
/// the probability that movie `j` is among `D` draws (`D = N`, or `n + N` with in-batch
/// negatives; Bengio & Senécal 2008; Jean et al. 2015). The loss of a target `t` is then
///
///     log Σ_{j ∈ C ∪ {t}} exp(s_j − log Q_j) − (s_t − log Q_t)
///
/// `p_j` is proportional to 1 + the number of times movie `j` is a training target, so every movie
/// can be drawn. With `negatives` ≥ the number of movies the candidate set is every movie and
/// `Q = 1`: the loss is the full softmax's. Scoring and evaluation always use the full catalogue.
///
/// - Complexity: per batch O(N log V) to draw, O(H · |C|) to gather and scatter the output weights.
public struct NegativeSampling: Sendable {
    /// Movies drawn per batch.
    public let negatives: Int
    /// `p_j`, the probability of drawing movie `j`.
    public let probabilities: [Double]
    /// Running sums of ``probabilities`` (the last is 1), for drawing by binary search.
    let cumulative: [Double]

    /// Popularity over `items` movies from how often each is a target in `targets` (−1: none);
    /// no targets give every movie the same chance (gBCE's uniform negatives).
    public init(negatives: Int, items: Int, targets: some Sequence<Int32>) {
        var counts = [Double](repeating: 1, count: items)
        for t in targets where t >= 0 && Int(t) < items { counts[Int(t)] += 1 }
        let total = counts.reduce(0, +)
        probabilities = counts.map { $0 / total }
        var sum = 0.0
        cumulative = probabilities.map { sum += $0; return sum }
        self.negatives = negatives
    }

    /// Whether a batch takes every movie (no sampling, `Q = 1`).
    var coversCatalogue: Bool { negatives >= probabilities.count }

    /// One movie drawn with probability `p_j`.
    func draw(using g: inout SeededGenerator) -> Int {
        let u = g.nextUnitDouble() * (cumulative.last ?? 1)
        var lo = 0, hi = cumulative.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulative[mid] > u { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    /// `log Q_j` for a set of `draws` draws.
    func logInclusion(_ item: Int, draws: Int) -> Float {
        let p = probabilities[item]
        guard p < 1 else { return 0 }
        return Float(log(-expm1(Double(draws) * log1p(-p))))
    }
}

/// One batch's candidate movies under ``NegativeSampling``, and the output layer restricted to
/// them: buffers reused from batch to batch.
final class OutputCandidates {
    let sampling: NegativeSampling
    /// Whether the batch's targets join the shared candidates (each row then scores every
    /// target of the batch); else each row scores its own target and the drawn negatives.
    let inBatch: Bool
    /// gBCE's `β` (``SequenceRecommender/SequenceLoss/gbce``): the candidates are then scored by
    /// gBCE, uncorrected; nil: the sampled softmax with the log-Q correction.
    let gbceBeta: Float?
    /// Targets sharing one draw: each block of this many rows gets fresh candidates (nil: the
    /// whole batch shares one draw).
    let rowsPerDraw: Int?
    var generator: SeededGenerator
    /// The candidates' item indices.
    var items = [Int32]()
    /// Draws the candidate set stands for in `Q` (the batch's targets with ``inBatch``, plus the negatives).
    private(set) var draws = 0
    /// `column[item]`: the item's column among the candidates, or −1.
    var column: [Int32]
    /// The candidates' output weights in the layer's layout (`hidden × |C|` for
    /// ``OutputLayer/Layout/columns``, `|C| × hidden` for rows), their biases less `log Q`, and the
    /// gradients of both.
    var weights = [Float](), bias = [Float](), weightGradient = [Float](), biasGradient = [Float]()

    init(sampling: NegativeSampling, inBatch: Bool, seed: UInt64, gbceBeta: Float? = nil, rowsPerDraw: Int? = nil) {
        self.sampling = sampling
        self.inBatch = inBatch
        self.gbceBeta = gbceBeta
        self.rowsPerDraw = rowsPerDraw.map { max(1, $0) }
        generator = SeededGenerator(seed: seed, stream: 4)
        column = [Int32](repeating: -1, count: sampling.probabilities.count)
    }

    /// Whether every target of the batch is among the candidates (with ``inBatch`` or when
    /// they cover the catalogue), so no row needs its own target scored apart.
    var holdsTargets: Bool { inBatch || sampling.coversCatalogue }

    /// `log Q` of `item` for this batch's draws (0 under gBCE, which takes no correction).
    func logInclusion(_ item: Int) -> Float {
        guard !sampling.coversCatalogue, gbceBeta == nil else { return 0 }
        // Without in-batch negatives every draw is of `negatives` movies: log Q is computed once per movie.
        if inBatch { return sampling.logInclusion(item, draws: draws) }
        if logQ.isEmpty { logQ = (0..<sampling.probabilities.count).map { sampling.logInclusion($0, draws: sampling.negatives) } }
        return logQ[item]
    }
    /// `log Q` of every movie for `negatives` draws, filled on first use without in-batch negatives.
    private var logQ = [Float]()

    /// One block's draw for ``OutputLayer``'s blocks in parallel: its distinct negatives, their
    /// biases less `log Q`, and for each of the block's targets its column among them (−1: none).
    struct Draw {
        var items: [Int32]
        var bias: [Float]
        var targetColumns: [Int32]
        /// Each target's bias less `log Q`, for the rows that score it in a column of their own.
        var targetOffsets: [Float]
    }

    /// Draws negatives for each block of `rowsPerBlock` consecutive `targets`, in block order from
    /// the stream ``prepare(targets:layer:)`` draws from. Without in-batch negatives only.
    func drawBlocks(targets: [Int], rowsPerBlock: Int, layer: OutputLayer) -> [Draw] {
        for i in items { column[Int(i)] = -1 }
        items.removeAll(keepingCapacity: true)
        _ = logInclusion(0)   // fills the log-Q table before any parallel reader
        return stride(from: 0, to: targets.count, by: rowsPerBlock).map { first in
            var picked = [Int32]()
            for _ in 0..<sampling.negatives {
                let j = sampling.draw(using: &generator)
                guard column[j] < 0 else { continue }
                column[j] = Int32(picked.count)
                picked.append(Int32(j))
            }
            let bias = picked.map { (layer.bias?[Int($0)] ?? 0) - logInclusion(Int($0)) }
            let blockTargets = targets[first..<min(targets.count, first + rowsPerBlock)]
            let columns = blockTargets.map { column[$0] }
            for i in picked { column[Int(i)] = -1 }
            return Draw(items: picked, bias: bias, targetColumns: columns,
                        targetOffsets: blockTargets.map { (layer.bias?[$0] ?? 0) - logInclusion($0) })
        }
    }

    /// Draws this batch's candidates for `targets` (item indices) and gathers their weights from
    /// `layer` into `hidden × |C|` with their biases less `log Q`.
    func prepare(targets: some Collection<Int>, layer: OutputLayer) {
        for i in items { column[Int(i)] = -1 }
        items.removeAll(keepingCapacity: true)
        func add(_ item: Int) {
            guard column[item] < 0 else { return }
            column[item] = Int32(items.count)
            items.append(Int32(item))
        }
        if sampling.coversCatalogue {
            for j in 0..<column.count { add(j) }
        } else {
            if inBatch { for t in targets { add(t) } }
            for _ in 0..<sampling.negatives { add(sampling.draw(using: &generator)) }
        }
        let m = items.count, h = layer.hidden
        draws = (inBatch ? targets.count : 0) + sampling.negatives
        Self.zero(&weights, h * m)
        weights.withUnsafeMutableBufferPointer { w in
            guard let w = w.baseAddress else { return }
            switch layer.layout {
            case .rows:
                for (c, item) in items.enumerated() { (w + c * h).update(from: layer.weights + Int(item) * h, count: h) }
            case .columns:
                for r in 0..<h {
                    let src = layer.weights + r * layer.items, dst = w + r * m
                    for (c, item) in items.enumerated() { dst[c] = src[Int(item)] }
                }
            }
        }
        bias.removeAll(keepingCapacity: true)
        for c in items { bias.append((layer.bias?[Int(c)] ?? 0) - logInclusion(Int(c))) }
        Self.zero(&weightGradient, h * m)
        Self.zero(&biasGradient, m)
    }

    /// Makes `buffer` `count` zeros, keeping its storage.
    private static func zero(_ buffer: inout [Float], _ count: Int) {
        if buffer.count != count {
            buffer.removeAll(keepingCapacity: true)
            buffer.append(contentsOf: repeatElement(0, count: count))
        } else {
            buffer.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        }
    }

    /// Adds the candidates' gradients into `layer`'s weight and bias gradients.
    func scatter(layer: OutputLayer) {
        let m = items.count, h = layer.hidden, v = layer.items
        let dw = layer.weightGradient
        weightGradient.withUnsafeBufferPointer { g in
            guard let g = g.baseAddress else { return }
            switch layer.layout {
            case .rows:
                for (c, item) in items.enumerated() { VectorOps.axpy(1, g + c * h, dw + Int(item) * h, h) }
            case .columns:
                for r in 0..<h {
                    let src = g + r * m, dst = dw + r * v
                    for (c, item) in items.enumerated() { dst[Int(item)] += src[c] }
                }
            }
        }
        if let db = layer.biasGradient {
            for (c, item) in items.enumerated() { db[Int(item)] += biasGradient[c] }
        }
    }
}
