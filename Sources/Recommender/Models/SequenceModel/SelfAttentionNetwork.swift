import Foundation
import LinearAlgebra

/// SASRec (Kang & McAuley, ICDM 2018): causal multi-head self-attention over the movies of a
/// window, predicting the next movie at every position — with its own forward and backward
/// passes on the ``Kernels`` GEMMs.
///
/// Shapes (row-major; `V` movies, `d` model size, `T` positions, `k` heads of `d / k`):
///
///     embedding  (V + 1) × d   row 0 is padding (kept at zero); rows 1…V also score the output
///     position   T × d         learned, position t of the left-padded window
///     per block  ln1 γ, β (d); wqkv d × 3d, bqkv 3d; wo d × d, bo d;
///                ln2 γ, β (d); w1 d × d, b1 d; w2 d × d, b2 d
///     final      ln γ, β (d)
///
/// Forward (pre-norm blocks, as in current transformer practice): `x = √d · E[token] + P[t]`
/// (padding positions 0), dropout; each block `x += dropout(Attention(LN₁(x)))`, then
/// `x += dropout(W₂ · ReLU(W₁ · LN₂(x) + b₁) + b₂)`; the output `LNf(x)` scores movie `j` by its
/// dot product with `E[j]` (shared input/output embeddings). Attention per head is
/// `softmax(Q Kᵀ / √(d/k)) V` over the keys at or before the query that are not padding, so a
/// position never sees a later one; padding queries output zero. Backward mirrors it, the
/// attention of each (sequence, head) in parallel, its leading padding skipped and its products
/// in tiles of ``causalTile`` query rows against the keys up to each tile's last.
public struct SelfAttentionNetwork: Sendable {
    public let items: Int
    public let dimension: Int
    public let blocks: Int
    public let heads: Int
    /// Input positions (the window's `length − 1`).
    public let positions: Int
    /// Every parameter, in the order of ``Layout``.
    public var parameters: [Float]

    /// Where each tensor lives in ``parameters``.
    struct Layout {
        struct Block { let ln1g, ln1b, wqkv, bqkv, wo, bo, ln2g, ln2b, w1, b1, w2, b2: Range<Int> }
        let embedding, position: Range<Int>
        let blocks: [Block]
        let lnfg, lnfb: Range<Int>
        var total: Int { lnfb.upperBound }

        init(items: Int, dimension d: Int, blocks: Int, positions: Int) {
            var start = 0
            func next(_ n: Int) -> Range<Int> { defer { start += n }; return start..<(start + n) }
            embedding = next((items + 1) * d)
            position = next(positions * d)
            self.blocks = (0..<blocks).map { _ in
                Block(ln1g: next(d), ln1b: next(d), wqkv: next(d * 3 * d), bqkv: next(3 * d), wo: next(d * d), bo: next(d),
                      ln2g: next(d), ln2b: next(d), w1: next(d * d), b1: next(d), w2: next(d * d), b2: next(d))
            }
            lnfg = next(d)
            lnfb = next(d)
        }
    }

    var layout: Layout { Layout(items: items, dimension: dimension, blocks: blocks, positions: positions) }

    /// A network over stored `parameters`.
    /// - Throws: ``LinearAlgebraError/dimensionMismatch(operation:detail:)`` when the sizes do not
    ///   describe `parameters` (checked before any product of them is formed).
    public init(items: Int, dimension: Int, blocks: Int, heads: Int, positions: Int, parameters: [Float]) throws {
        let n = parameters.count
        guard items > 0, dimension > 0, blocks > 0, heads > 0, positions > 0, items <= n, dimension <= 4096, blocks <= 64,
              positions <= n, dimension % heads == 0,
              Layout(items: items, dimension: dimension, blocks: blocks, positions: positions).total == n else {
            throw LinearAlgebraError.dimensionMismatch(operation: "SelfAttentionNetwork",
                                                       detail: "\(n) parameters for \(items) items, d \(dimension), \(blocks) blocks, \(heads) heads, \(positions) positions")
        }
        self.items = items
        self.dimension = dimension
        self.blocks = blocks
        self.heads = heads
        self.positions = positions
        self.parameters = parameters
    }

    /// Seeded initial weights: embeddings and positions normal with standard deviation 1/√d (so
    /// `√d · E` has unit scale and the tied output starts with unit-scale logits), every linear
    /// weight uniform in ±1/√fan-in (PyTorch's `nn.Linear`), biases 0, layer norms γ 1, β 0.
    /// The padding row stays zero.
    public init(items: Int, dimension d: Int, blocks: Int, heads: Int, positions: Int, seed: UInt64) throws {
        guard d > 0, heads > 0, d % heads == 0, blocks > 0, positions > 0, items > 0 else {
            throw LinearAlgebraError.dimensionMismatch(operation: "SelfAttentionNetwork", detail: "d \(d) must be a positive multiple of \(heads) heads")
        }
        let l = Layout(items: items, dimension: d, blocks: blocks, positions: positions)
        var p = [Float](repeating: 0, count: l.total)
        var g = SeededGenerator(seed: seed, stream: 5)
        let sigma = 1 / Float(d).squareRoot()
        for i in (l.embedding.lowerBound + d)..<l.embedding.upperBound { p[i] = Float(g.nextGaussian()) * sigma }
        for i in l.position { p[i] = Float(g.nextGaussian()) * sigma }
        func uniform(_ range: Range<Int>, fanIn: Int) {
            let k = 1 / Float(fanIn).squareRoot()
            for i in range { p[i] = (g.nextUnitFloat() * 2 - 1) * k }
        }
        for b in l.blocks {
            for r in [b.ln1g, b.ln2g] { for i in r { p[i] = 1 } }
            uniform(b.wqkv, fanIn: d)
            uniform(b.wo, fanIn: d)
            uniform(b.w1, fanIn: d)
            uniform(b.w2, fanIn: d)
        }
        for i in l.lnfg { p[i] = 1 }
        try self.init(items: items, dimension: d, blocks: blocks, heads: heads, positions: positions, parameters: p)
    }

    // MARK: - Workspace

    /// Activations of one batch kept for the backward pass, and scratch: owned, zero-initialised
    /// memory, freed with the workspace.
    final class Workspace: SequenceWorkspace {
        let batch, steps, chunkRows: Int
        /// Per block: its input, LN₁ output and normalised input, LN₁ 1/σ, Q|K|V, each attention
        /// row's log-sum-exp (the weights are recomputed from it in the backward pass, so memory
        /// grows with T, not T²), concatenated heads, dropout masks, the residual after attention,
        /// LN₂ output, normalised input and 1/σ, and the ReLU output.
        struct Block { let input, a, xhat1, rstd1, qkv, logSumExp, heads, mask1, x1, c, xhat2, rstd2, relu, mask2: UnsafeMutablePointer<Float> }
        let blocks: [Block]
        let mask0, final, xhatf, rstdf, output: UnsafeMutablePointer<Float>
        let dx, dOut, t1, t2, dqkv, logits, outputMask: UnsafeMutablePointer<Float>
        var selected = [(row: Int, target: Int)]()
        var candidates: OutputCandidates?
        private let owned: FloatBuffers

        init(network net: SelfAttentionNetwork, batch: Int, steps: Int, chunkRows: Int = 1024) {
            self.batch = batch
            self.steps = steps
            self.chunkRows = chunkRows
            let n = batch * steps, d = net.dimension, rowsPerHead = n * net.heads
            let owned = FloatBuffers()
            let buffer = owned.zeroed
            blocks = (0..<net.blocks).map { _ in
                Block(input: buffer(n * d), a: buffer(n * d), xhat1: buffer(n * d), rstd1: buffer(n), qkv: buffer(n * 3 * d),
                      logSumExp: buffer(rowsPerHead), heads: buffer(n * d), mask1: buffer(n * d), x1: buffer(n * d), c: buffer(n * d),
                      xhat2: buffer(n * d), rstd2: buffer(n), relu: buffer(n * d), mask2: buffer(n * d))
            }
            mask0 = buffer(n * d)
            final = buffer(n * d)
            xhatf = buffer(n * d)
            rstdf = buffer(n)
            output = buffer(n * d)
            dx = buffer(n * d)
            dOut = buffer(n * d)
            t1 = buffer(n * d)
            t2 = buffer(n * d)
            dqkv = buffer(n * 3 * d)
            logits = buffer(min(n, chunkRows) * net.items)
            outputMask = buffer(n * d)
            self.owned = owned
        }
    }

    // MARK: - Forward

    /// Runs the blocks over `tokens` (batch × steps, example-major, 0 = padding; steps ≤ the
    /// workspace's) into the workspace; `w.output` rows `b·steps + t` hold the final states.
    /// Windows shorter than ``positions`` are the last `steps` positions of a left-padded window:
    /// token `t` takes position `positions − steps + t`, so cutting leading padding changes no
    /// output. `dropout` > 0 draws masks from `generator`.
    func forward(_ tokens: UnsafeBufferPointer<Int32>, batch bsz: Int, _ w: Workspace, dropout: Float,
                 generator: inout SeededGenerator, kernels: any Kernels) throws {
        let d = dimension, steps = tokens.count / max(1, bsz), n = bsz * steps, l = layout, offset = positions - steps
        let threads = kernels.threads
        try parameters.withUnsafeBufferPointer { pb in
            guard let p = pb.baseAddress else { return }
            let scale = Float(d).squareRoot()
            var x = w.blocks.first?.input ?? w.final
            let input = UnsafeSendableBox((tokens, x, p + l.embedding.lowerBound, p + l.position.lowerBound))
            Self.forRowBlocks(n, threads: threads) { _, range in
                let (tokens, x, embedding, position) = input.value
                for r in range {
                    let token = Int(tokens[r]), row = x + r * d
                    guard token > 0 else { row.update(repeating: 0, count: d); continue }
                    let e = embedding + token * d, pos = position + (offset + r % steps) * d
                    for j in 0..<d { row[j] = scale * e[j] + pos[j] }
                }
            }
            Self.dropout(x, mask: w.mask0, rows: n, d, rate: dropout, generator: &generator, threads: threads)
            for (index, b) in l.blocks.enumerated() {
                let s = w.blocks[index]
                if s.input != x { Self.elementwise(.copy, x, into: s.input, rows: n, d, threads: threads) }
                Self.layerNorm(s.input, rows: n, d, gamma: p + b.ln1g.lowerBound, beta: p + b.ln1b.lowerBound, out: s.a, xhat: s.xhat1, rstd: s.rstd1, threads: threads)
                try linear(s.a, rows: n, p + b.wqkv.lowerBound, p + b.bqkv.lowerBound, out: s.qkv, inputs: d, outputs: 3 * d, kernels: kernels)
                try attention(tokens, batch: bsz, steps: steps, qkv: s.qkv, logSumExp: s.logSumExp, out: s.heads, kernels: kernels)
                try linear(s.heads, rows: n, p + b.wo.lowerBound, p + b.bo.lowerBound, out: s.x1, inputs: d, outputs: d, kernels: kernels)
                Self.dropout(s.x1, mask: s.mask1, rows: n, d, rate: dropout, generator: &generator, threads: threads)
                Self.elementwise(.add, s.input, into: s.x1, rows: n, d, threads: threads)
                Self.layerNorm(s.x1, rows: n, d, gamma: p + b.ln2g.lowerBound, beta: p + b.ln2b.lowerBound, out: s.c, xhat: s.xhat2, rstd: s.rstd2, threads: threads)
                try linear(s.c, rows: n, p + b.w1.lowerBound, p + b.b1.lowerBound, out: s.relu, inputs: d, outputs: d, kernels: kernels)
                Self.elementwise(.relu, s.relu, into: s.relu, rows: n, d, threads: threads)
                let next = index + 1 < w.blocks.count ? w.blocks[index + 1].input : w.final
                try linear(s.relu, rows: n, p + b.w2.lowerBound, p + b.b2.lowerBound, out: next, inputs: d, outputs: d, kernels: kernels)
                Self.dropout(next, mask: s.mask2, rows: n, d, rate: dropout, generator: &generator, threads: threads)
                Self.elementwise(.add, s.x1, into: next, rows: n, d, threads: threads)
                x = next
            }
            Self.layerNorm(w.final, rows: n, d, gamma: p + l.lnfg.lowerBound, beta: p + l.lnfb.lowerBound, out: w.output, xhat: w.xhatf, rstd: w.rstdf, threads: threads)
        }
    }

    /// `out = input · weight + bias` for `rows` rows.
    private func linear(_ input: UnsafePointer<Float>, rows: Int, _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
                        out: UnsafeMutablePointer<Float>, inputs: Int, outputs: Int, kernels: any Kernels) throws {
        let shared = UnsafeSendableBox((out, bias))
        Self.forRowBlocks(rows, threads: kernels.threads) { _, range in
            for r in range { (shared.value.0 + r * outputs).update(from: shared.value.1, count: outputs) }
        }
        try kernels.gemm(.none, .none, alpha: 1, MatrixView(base: input, rows: rows, cols: inputs, stride: inputs),
                         MatrixView(base: weight, rows: inputs, cols: outputs, stride: outputs),
                         beta: 1, MutableMatrixView(base: out, rows: rows, cols: outputs, stride: outputs))
    }

    /// `S = Q Kᵀ / √dh` of one (sequence, head)'s `count` positions after its leading padding
    /// into `s` (count × count), then per row the attention weights `exp(S − lse)` over the
    /// allowed keys (at or before the query, not padding) and 0 elsewhere; a padding query's row
    /// is 0. `qkv` points at the first position's Q of this head (rows 3d apart), `valid` at its
    /// token. Computes `lse` into `logSumExp` (count) when `computeLogSumExp`, else reads it.
    private func weights(valid: UnsafePointer<Int32>, qkv base: UnsafePointer<Float>, count: Int,
                         logSumExp: UnsafeMutablePointer<Float>, computeLogSumExp: Bool, into s: UnsafeMutablePointer<Float>,
                         kernels single: any Kernels) throws {
        let d = dimension, dh = d / heads
        try Self.lowerProduct(MatrixView(base: base, rows: count, cols: dh, stride: 3 * d),
                              MatrixView(base: base + d, rows: count, cols: dh, stride: 3 * d),
                              alpha: 1 / Float(dh).squareRoot(), into: s, kernels: single)
        for i in 0..<count {
            let row = s + i * count
            guard valid[i] != 0 else { row.update(repeating: 0, count: count); continue }
            // exp over the causal prefix in SIMD lanes; padding keys are zeroed after.
            let shift: Float
            if computeLogSumExp {
                var top = -Float.infinity
                for j in 0...i where valid[j] != 0 { top = max(top, row[j]) }
                shift = top
            } else {
                shift = logSumExp[i]
            }
            for j in 0...i { row[j] -= shift }
            VectorMath.exp(row, i + 1)
            // Weights too small to count become 0, so no product of theirs downstream is subnormal.
            for j in 0...i where valid[j] == 0 || row[j] < VectorMath.negligibleProbability { row[j] = 0 }
            (row + i + 1).update(repeating: 0, count: count - i - 1)
            if computeLogSumExp {
                var sum: Float = 0
                for j in 0...i { sum += row[j] }
                logSumExp[i] = shift + Foundation.log(sum)
                let inverse = 1 / sum
                for j in 0...i { row[j] *= inverse }
            }
        }
    }

    /// Rows per tile of the causal products: a tile of queries needs only the keys up to its last.
    static let causalTile = 64

    /// The lower triangle (and the diagonal tiles) of `alpha · A Bᵀ` for `count × k` matrices `A`,
    /// `B` into `s` (count × count, stride count), one tile of rows at a time; what lies above the
    /// diagonal tiles is left unwritten.
    static func lowerProduct(_ a: MatrixView, _ b: MatrixView, alpha: Float, into s: UnsafeMutablePointer<Float>, kernels: any Kernels) throws {
        let count = a.rows
        for r0 in stride(from: 0, to: count, by: causalTile) {
            let r1 = min(count, r0 + causalTile)
            try kernels.gemm(.none, .transposed, alpha: alpha, MatrixView(base: a.base + r0 * a.stride, rows: r1 - r0, cols: a.cols, stride: a.stride),
                             MatrixView(base: b.base, rows: r1, cols: b.cols, stride: b.stride),
                             beta: 0, MutableMatrixView(base: s + r0 * count, rows: r1 - r0, cols: r1, stride: count))
        }
    }

    /// `c = alpha · L · B` for a lower-triangular `L` (count × count, stride count; zero above the
    /// diagonal within the diagonal tiles, never read beyond them) and `B` (count × k).
    static func lowerTimes(_ l: UnsafePointer<Float>, count: Int, alpha: Float, _ b: MatrixView, into c: MutableMatrixView,
                           kernels: any Kernels) throws {
        for r0 in stride(from: 0, to: count, by: causalTile) {
            let r1 = min(count, r0 + causalTile)
            try kernels.gemm(.none, .none, alpha: alpha, MatrixView(base: l + r0 * count, rows: r1 - r0, cols: r1, stride: count),
                             MatrixView(base: b.base, rows: r1, cols: b.cols, stride: b.stride),
                             beta: 0, MutableMatrixView(base: c.base + r0 * c.stride, rows: r1 - r0, cols: c.cols, stride: c.stride))
        }
    }

    /// `c = alpha · Lᵀ · B` for ``lowerTimes(_:count:alpha:_:into:kernels:)``'s `L`: the rows of a
    /// tile of `c` take the rows of `L` and `B` from the tile's first on.
    static func lowerTransposedTimes(_ l: UnsafePointer<Float>, count: Int, alpha: Float, _ b: MatrixView, into c: MutableMatrixView,
                                     kernels: any Kernels) throws {
        for c0 in stride(from: 0, to: count, by: causalTile) {
            let c1 = min(count, c0 + causalTile)
            try kernels.gemm(.transposed, .none, alpha: alpha, MatrixView(base: l + c0 * count + c0, rows: count - c0, cols: c1 - c0, stride: count),
                             MatrixView(base: b.base + c0 * b.stride, rows: count - c0, cols: b.cols, stride: b.stride),
                             beta: 0, MutableMatrixView(base: c.base + c0 * c.stride, rows: c1 - c0, cols: c.cols, stride: c.stride))
        }
    }

    /// Runs `body(sequence, head, start, scratch)` for every (sequence, head) pair of a batch, in
    /// parallel with single-threaded kernel calls; `start` is the sequence's first
    /// position after its leading padding, `scratch` room for `scratchFloats` floats, allocated
    /// once per run of pairs.
    private func forEachPair(_ tokens: UnsafeBufferPointer<Int32>, batch bsz: Int, steps: Int, scratchFloats: Int, kernels: any Kernels,
                             _ body: @escaping @Sendable (_ b: Int, _ head: Int, _ start: Int, UnsafeMutablePointer<Float>, any Kernels) throws -> Void) throws {
        let k = heads, runs = Parallel.split(bsz * k, parts: 4 * kernels.threads)
        let shared = UnsafeSendableBox(tokens)
        try kernels.withSingleThreadedCalls { single in try Parallel.tryForEach(count: runs.count, threads: kernels.threads) { run in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(1, scratchFloats))
            defer { scratch.deallocate() }
            for pair in runs[run] {
                let b = pair / k, valid = shared.value.baseAddress.map { $0 + b * steps }
                let start = valid.flatMap { v in (0..<steps).first { v[$0] != 0 } } ?? steps
                try body(b, pair % k, start, scratch, single)
            }
        } }
    }

    /// Causal attention of every (sequence, head), in parallel: the heads side by side into `out`
    /// (rows × d), each attention row's log-sum-exp into `logSumExp` (pair-major, T per pair).
    /// Leading padding is skipped: its rows of `out` are zero.
    private func attention(_ tokens: UnsafeBufferPointer<Int32>, batch bsz: Int, steps: Int, qkv: UnsafeMutablePointer<Float>,
                           logSumExp: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>, kernels: any Kernels) throws {
        let d = dimension, k = heads, dh = d / k
        let shared = UnsafeSendableBox((tokens, qkv, logSumExp, out, self))
        try forEachPair(tokens, batch: bsz, steps: steps, scratchFloats: steps * steps, kernels: kernels) { b, head, start, s, single in
            let (tokens, qkv, logSumExp, out, net) = shared.value
            let outHead = out + b * steps * d + head * dh, n = steps - start
            for i in 0..<start { (outHead + i * d).update(repeating: 0, count: dh) }
            guard n > 0, let valid = tokens.baseAddress else { return }
            let base = qkv + (b * steps + start) * 3 * d + head * dh
            try net.weights(valid: valid + b * steps + start, qkv: base, count: n, logSumExp: logSumExp + (b * k + head) * steps + start,
                            computeLogSumExp: true, into: s, kernels: single)
            try SelfAttentionNetwork.lowerTimes(s, count: n, alpha: 1, MatrixView(base: base + 2 * d, rows: n, cols: dh, stride: 3 * d),
                                                into: MutableMatrixView(base: outHead + start * d, rows: n, cols: dh, stride: d), kernels: single)
        }
    }

    /// Rows per block of the row-parallel loops: fixed, so that the blocks (and the dropout
    /// streams and partial sums tied to them) do not depend on the thread count.
    static let rowBlock = 256

    /// Calls `body` with every block of ``rowBlock`` rows of `0..<rows` and its index, on `threads` threads.
    static func forRowBlocks(_ rows: Int, threads: Int, _ body: @Sendable (_ block: Int, _ rows: Range<Int>) -> Void) {
        let blocks = (rows + rowBlock - 1) / rowBlock
        Parallel.forEach(count: blocks, threads: blocks > 1 ? threads : 1) { k in
            body(k, (k * rowBlock)..<min(rows, (k + 1) * rowBlock))
        }
    }

    /// The elementwise steps of the forward and backward passes: `out[i] ← op(out[i], x[i])`.
    enum Elementwise { case copy, add, multiply, relu, zeroWhereNotPositive }

    /// `out[i] ← op(out[i], x[i])` over `rows × d` floats (`.relu` reads `x` only;
    /// `.zeroWhereNotPositive` zeroes `out[i]` where `x[i] ≤ 0`), blocks of rows in parallel.
    static func elementwise(_ op: Elementwise, _ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, rows: Int, _ d: Int,
                            threads: Int) {
        let shared = UnsafeSendableBox((x, out))
        forRowBlocks(rows, threads: threads) { _, range in
            let (x, out) = shared.value
            let elements = (range.lowerBound * d)..<(range.upperBound * d)
            switch op {
            case .copy: (out + elements.lowerBound).update(from: x + elements.lowerBound, count: elements.count)
            case .add: for i in elements { out[i] += x[i] }
            case .multiply: for i in elements { out[i] *= x[i] }
            case .relu: for i in elements { out[i] = max(x[i], 0) }
            case .zeroWhereNotPositive: for i in elements where x[i] <= 0 { out[i] = 0 }
            }
        }
    }

    /// `out[i] ← a[i] · b[i]` over `rows × d` floats, blocks of rows in parallel.
    static func product(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, rows: Int, _ d: Int,
                        threads: Int) {
        let shared = UnsafeSendableBox((a, b, out))
        forRowBlocks(rows, threads: threads) { _, range in
            let (a, b, out) = shared.value
            for i in (range.lowerBound * d)..<(range.upperBound * d) { out[i] = a[i] * b[i] }
        }
    }

    /// Adds the column sums of `rows × d` floats into `sums` (each block of rows summed apart,
    /// then the blocks in order, so the result does not depend on the thread count).
    static func sumRows(_ x: UnsafePointer<Float>, rows: Int, _ d: Int, into sums: UnsafeMutablePointer<Float>, threads: Int) {
        let blocks = (rows + rowBlock - 1) / rowBlock
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: max(1, blocks * d))
        defer { partial.deallocate() }
        partial.initialize(repeating: 0, count: max(1, blocks * d))
        let shared = UnsafeSendableBox((x, partial))
        forRowBlocks(rows, threads: threads) { k, range in
            let (x, partial) = shared.value
            for r in range { VectorOps.axpy(1, x + r * d, partial + k * d, d) }
        }
        for k in 0..<blocks { VectorOps.axpy(1, partial + k * d, sums, d) }
    }

    /// Row-wise layer normalisation (ε = 1e-5, as PyTorch's): `out = γ ∘ x̂ + β`, keeping `x̂` and 1/σ.
    static func layerNorm(_ x: UnsafePointer<Float>, rows: Int, _ d: Int, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                          out: UnsafeMutablePointer<Float>, xhat: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                          threads: Int = 1) {
        let shared = UnsafeSendableBox((x, gamma, beta, out, xhat, rstd))
        forRowBlocks(rows, threads: threads) { _, range in
            let (x, gamma, beta, out, xhat, rstd) = shared.value
            for r in range {
                let xr = x + r * d, hr = xhat + r * d, yr = out + r * d
                var mean: Float = 0
                for j in 0..<d { mean += xr[j] }
                mean /= Float(d)
                var variance: Float = 0
                for j in 0..<d { let c = xr[j] - mean; variance += c * c }
                let inv = 1 / (variance / Float(d) + 1e-5).squareRoot()
                rstd[r] = inv
                for j in 0..<d {
                    hr[j] = (xr[j] - mean) * inv
                    yr[j] = gamma[j] * hr[j] + beta[j]
                }
            }
        }
    }

    /// Backward of ``layerNorm``: adds `dx` (or writes it when `accumulate` is false) and the γ, β
    /// gradients (summed per block of rows, then over the blocks in order).
    static func layerNormBackward(_ dy: UnsafePointer<Float>, rows: Int, _ d: Int, gamma: UnsafePointer<Float>,
                                  xhat: UnsafePointer<Float>, rstd: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                  dGamma: UnsafeMutablePointer<Float>, dBeta: UnsafeMutablePointer<Float>, accumulate: Bool,
                                  threads: Int = 1) {
        let blocks = (rows + rowBlock - 1) / rowBlock
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: max(1, blocks * 2 * d))
        defer { partial.deallocate() }
        partial.initialize(repeating: 0, count: max(1, blocks * 2 * d))
        let shared = UnsafeSendableBox((dy, gamma, xhat, rstd, dx, partial))
        forRowBlocks(rows, threads: threads) { k, range in
            let (dy, gamma, xhat, rstd, dx, partial) = shared.value
            let pg = partial + k * 2 * d, pb = pg + d
            for r in range {
                let g = dy + r * d, h = xhat + r * d, out = dx + r * d
                var meanG: Float = 0, meanGX: Float = 0
                for j in 0..<d {
                    pg[j] += g[j] * h[j]
                    pb[j] += g[j]
                    let gj = g[j] * gamma[j]
                    meanG += gj
                    meanGX += gj * h[j]
                }
                meanG /= Float(d)
                meanGX /= Float(d)
                for j in 0..<d {
                    let v = rstd[r] * (g[j] * gamma[j] - meanG - h[j] * meanGX)
                    out[j] = accumulate ? out[j] + v : v
                }
            }
        }
        for k in 0..<blocks {
            let pg = partial + k * 2 * d
            for j in 0..<d {
                dGamma[j] += pg[j]
                dBeta[j] += pg[d + j]
            }
        }
    }

    /// Inverted dropout in place over `rows × d` floats (masks of 1/(1 − rate) or 0 into `mask`);
    /// rate 0 sets the mask to 1. Each block of rows draws from its own stream of a seed taken
    /// from `generator`, so the masks do not depend on the thread count; each 64-bit draw decides
    /// two entries, one per 32-bit half (kept when the half is below (1 − rate) · 2³²).
    static func dropout(_ x: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>, rows: Int, _ d: Int, rate: Float,
                        generator: inout SeededGenerator, threads: Int = 1) {
        guard rate > 0 else { mask.update(repeating: 1, count: rows * d); return }
        let keep = 1 - rate, seed = generator.next()
        let threshold = UInt64((Double(keep) * 4_294_967_296).rounded()), scale = 1 / keep
        let shared = UnsafeSendableBox((x, mask))
        forRowBlocks(rows, threads: threads) { k, range in
            let (x, mask) = shared.value
            var g = SeededGenerator(seed: seed, stream: UInt64(k))
            var i = range.lowerBound * d
            let end = range.upperBound * d
            while i < end {
                let bits = g.next()
                mask[i] = bits & 0xFFFF_FFFF < threshold ? scale : 0
                x[i] *= mask[i]
                if i + 1 < end {
                    mask[i + 1] = bits >> 32 < threshold ? scale : 0
                    x[i + 1] *= mask[i + 1]
                }
                i += 2
            }
        }
    }

    // MARK: - Scores

    /// Log-probabilities of every movie after each input sequence (batch × steps tokens, steps ≤
    /// ``positions``, left-padded to it): the scores the recommender ranks by. No dropout.
    public func predict(_ tokens: [Int32], batch: Int, steps: Int, kernels: any Kernels) throws -> Matrix {
        let d = dimension
        var out = Matrix(rows: batch, cols: items)
        let chunk = max(1, min(batch, 8192 / max(1, positions)))
        let w = Workspace(network: self, batch: chunk, steps: positions, chunkRows: 1)
        var unused = SeededGenerator(seed: 0)
        var first = 0
        while first < batch {
            let count = min(chunk, batch - first)
            var padded = [Int32](repeating: 0, count: count * positions)
            for b in 0..<count {
                for t in 0..<min(steps, positions) {
                    padded[b * positions + positions - 1 - t] = tokens[(first + b) * steps + steps - 1 - t]
                }
            }
            try padded.withUnsafeBufferPointer { try forward($0, batch: count, w, dropout: 0, generator: &unused, kernels: kernels) }
            let last = UnsafeMutablePointer<Float>.allocate(capacity: count * d)
            defer { last.deallocate() }
            for b in 0..<count { (last + b * d).update(from: w.output + (b * positions + positions - 1) * d, count: d) }
            try out.withMutableView { o in
                try parameters.withUnsafeBufferPointer { pb in
                    guard let p = pb.baseAddress else { return }
                    let rows = o.rows(first..<(first + count))
                    try kernels.gemm(.none, .transposed, alpha: 1, MatrixView(base: last, rows: count, cols: d, stride: d),
                                     MatrixView(base: p + layout.embedding.lowerBound + d, rows: items, cols: d, stride: d),
                                     beta: 0, rows)
                    OutputLayer.logSoftmax(rows, threads: kernels.threads)
                }
            }
            first += count
        }
        return out
    }

    // MARK: - Loss and gradient

    /// Mean cross-entropy over the targets of one batch (of the full softmax, or the sampled one
    /// with ``Workspace/candidates``) and its gradient, written into `gradient` (same layout as
    /// ``parameters``). Returns the summed loss and the number of targets.
    func lossAndGradient(tokens: UnsafeBufferPointer<Int32>, targets: UnsafeBufferPointer<Int32>, batch bsz: Int,
                         workspace w: Workspace, gradient: inout [Float], dropout: Float,
                         generator: inout SeededGenerator, kernels: any Kernels) throws -> (loss: Double, count: Int) {
        let d = dimension, steps = tokens.count / max(1, bsz), n = bsz * steps, l = layout
        guard steps <= w.steps, steps <= positions, steps * bsz == tokens.count, targets.count == tokens.count else {
            throw LinearAlgebraError.dimensionMismatch(operation: "SelfAttentionNetwork.lossAndGradient",
                                                       detail: "\(tokens.count) tokens for a batch of \(bsz) in a workspace of \(w.steps) steps")
        }
        try forward(tokens, batch: bsz, w, dropout: dropout, generator: &generator, kernels: kernels)
        w.selected.removeAll(keepingCapacity: true)
        for r in 0..<n where targets[r] >= 0 { w.selected.append((r, Int(targets[r]))) }
        let count = w.selected.count
        gradient.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        guard count > 0 else { return (0, 0) }
        var total = 0.0
        try parameters.withUnsafeBufferPointer { pb in
            guard let p = pb.baseAddress else { return }
            try gradient.withUnsafeMutableBufferPointer { gb in
                guard let g = gb.baseAddress else { return }
                w.dOut.update(repeating: 0, count: n * d)
                let output = OutputLayer(layout: .rows, hidden: d, items: items, weights: p + l.embedding.lowerBound + d, bias: nil,
                                         weightGradient: g + l.embedding.lowerBound + d, biasGradient: nil)
                total = try output.loss(selected: w.selected, count: count, states: w.output, stateGradient: w.dOut, dropout: 0,
                                        mask: w.outputMask, generator: &generator, candidates: w.candidates, logits: w.logits,
                                        chunkRows: w.chunkRows, kernels: kernels)
                try backward(tokens, batch: bsz, w, parameters: p, gradient: g, kernels: kernels)
            }
        }
        return (total, count)
    }

    /// `dW += inputᵀ · dy`, `dbias += Σ rows dy` and `dInput = dy · Wᵀ` for one linear layer.
    private func linearBackward(_ dy: UnsafePointer<Float>, input: UnsafePointer<Float>, rows: Int, weight: UnsafePointer<Float>,
                                inputs: Int, outputs: Int, dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>,
                                dInput: UnsafeMutablePointer<Float>, kernels: any Kernels) throws {
        let dyView = MatrixView(base: dy, rows: rows, cols: outputs, stride: outputs)
        try kernels.gemm(.transposed, .none, alpha: 1, MatrixView(base: input, rows: rows, cols: inputs, stride: inputs), dyView,
                         beta: 1, MutableMatrixView(base: dWeight, rows: inputs, cols: outputs, stride: outputs))
        Self.sumRows(dy, rows: rows, outputs, into: dBias, threads: kernels.threads)
        try kernels.gemm(.none, .transposed, alpha: 1, dyView, MatrixView(base: weight, rows: inputs, cols: outputs, stride: outputs),
                         beta: 0, MutableMatrixView(base: dInput, rows: rows, cols: inputs, stride: inputs))
    }

    /// Backpropagation from `w.dOut` (the loss's gradient at each final state) into every parameter.
    private func backward(_ tokens: UnsafeBufferPointer<Int32>, batch bsz: Int, _ w: Workspace, parameters p: UnsafePointer<Float>,
                          gradient g: UnsafeMutablePointer<Float>, kernels: any Kernels) throws {
        let d = dimension, steps = tokens.count / max(1, bsz), n = bsz * steps, l = layout, offset = positions - steps
        let threads = kernels.threads
        let dx = w.dx, t1 = w.t1, t2 = w.t2
        Self.layerNormBackward(w.dOut, rows: n, d, gamma: p + l.lnfg.lowerBound, xhat: w.xhatf, rstd: w.rstdf, dx: dx,
                               dGamma: g + l.lnfg.lowerBound, dBeta: g + l.lnfb.lowerBound, accumulate: false, threads: threads)
        for index in stride(from: l.blocks.count - 1, through: 0, by: -1) {
            let b = l.blocks[index], s = w.blocks[index]
            // x₂ = x₁ + m₂ ∘ (relu · W₂ + b₂): dx holds dx₂, and becomes dx₁.
            Self.product(dx, s.mask2, into: t1, rows: n, d, threads: threads)
            try linearBackward(t1, input: s.relu, rows: n, weight: p + b.w2.lowerBound, inputs: d, outputs: d,
                               dWeight: g + b.w2.lowerBound, dBias: g + b.b2.lowerBound, dInput: t2, kernels: kernels)
            Self.elementwise(.zeroWhereNotPositive, s.relu, into: t2, rows: n, d, threads: threads)
            try linearBackward(t2, input: s.c, rows: n, weight: p + b.w1.lowerBound, inputs: d, outputs: d,
                               dWeight: g + b.w1.lowerBound, dBias: g + b.b1.lowerBound, dInput: t1, kernels: kernels)
            Self.layerNormBackward(t1, rows: n, d, gamma: p + b.ln2g.lowerBound, xhat: s.xhat2, rstd: s.rstd2, dx: dx,
                                   dGamma: g + b.ln2g.lowerBound, dBeta: g + b.ln2b.lowerBound, accumulate: true, threads: threads)
            // x₁ = x + m₁ ∘ (heads · Wo + bo): dx becomes the block input's gradient.
            Self.product(dx, s.mask1, into: t1, rows: n, d, threads: threads)
            try linearBackward(t1, input: s.heads, rows: n, weight: p + b.wo.lowerBound, inputs: d, outputs: d,
                               dWeight: g + b.wo.lowerBound, dBias: g + b.bo.lowerBound, dInput: t2, kernels: kernels)
            try attentionBackward(tokens, batch: bsz, steps: steps, qkv: s.qkv, logSumExp: s.logSumExp, dHeads: t2, dqkv: w.dqkv,
                                  kernels: kernels)
            try linearBackward(w.dqkv, input: s.a, rows: n, weight: p + b.wqkv.lowerBound, inputs: d, outputs: 3 * d,
                               dWeight: g + b.wqkv.lowerBound, dBias: g + b.bqkv.lowerBound, dInput: t1, kernels: kernels)
            Self.layerNormBackward(t1, rows: n, d, gamma: p + b.ln1g.lowerBound, xhat: s.xhat1, rstd: s.rstd1, dx: dx,
                                   dGamma: g + b.ln1g.lowerBound, dBeta: g + b.ln1b.lowerBound, accumulate: true, threads: threads)
        }
        // x₀ = m₀ ∘ (√d · E[token] + P[t]).
        let scale = Float(d).squareRoot()
        for r in 0..<n {
            let token = Int(tokens[r])
            guard token > 0 else { continue }
            let src = dx + r * d, m = w.mask0 + r * d
            let e = g + l.embedding.lowerBound + token * d, pos = g + l.position.lowerBound + (offset + r % steps) * d
            for j in 0..<d {
                let v = src[j] * m[j]
                e[j] += scale * v
                pos[j] += v
            }
        }
    }

    /// Backward of ``attention(_:batch:steps:qkv:logSumExp:out:kernels:)``: from the heads'
    /// gradient (rows × d) into the gradient of Q|K|V (rows × 3d), recomputing each pair's weights.
    private func attentionBackward(_ tokens: UnsafeBufferPointer<Int32>, batch bsz: Int, steps: Int, qkv: UnsafeMutablePointer<Float>,
                                   logSumExp: UnsafeMutablePointer<Float>, dHeads: UnsafePointer<Float>,
                                   dqkv: UnsafeMutablePointer<Float>, kernels: any Kernels) throws {
        let d = dimension, k = heads, dh = d / k
        let shared = UnsafeSendableBox((tokens, qkv, logSumExp, dHeads, dqkv, self))
        let inverseRoot = 1 / Float(dh).squareRoot()
        try forEachPair(tokens, batch: bsz, steps: steps, scratchFloats: 2 * steps * steps, kernels: kernels) { b, head, start, a, single in
            let (tokens, qkv, logSumExp, dHeads, dqkv, net) = shared.value
            let n = steps - start
            // Padding positions get no gradient.
            for i in 0..<start {
                let row = dqkv + (b * steps + i) * 3 * d + head * dh
                for part in 0..<3 { (row + part * d).update(repeating: 0, count: dh) }
            }
            guard n > 0, let valid = tokens.baseAddress else { return }
            let base = qkv + (b * steps + start) * 3 * d + head * dh, dBase = dqkv + (b * steps + start) * 3 * d + head * dh
            let da = a + n * n
            try net.weights(valid: valid + b * steps + start, qkv: base, count: n, logSumExp: logSumExp + (b * k + head) * steps + start,
                            computeLogSumExp: false, into: a, kernels: single)
            let dO = MatrixView(base: dHeads + (b * steps + start) * d + head * dh, rows: n, cols: dh, stride: d)
            // dA = dO · Vᵀ; dV = Aᵀ · dO.
            try SelfAttentionNetwork.lowerProduct(dO, MatrixView(base: base + 2 * d, rows: n, cols: dh, stride: 3 * d), alpha: 1,
                                                  into: da, kernels: single)
            try SelfAttentionNetwork.lowerTransposedTimes(a, count: n, alpha: 1, dO,
                                                          into: MutableMatrixView(base: dBase + 2 * d, rows: n, cols: dh, stride: 3 * d), kernels: single)
            // Through the softmax: dS = A ∘ (dA − Σ_j A dA), over each row's causal prefix.
            for i in 0..<n {
                let ar = a + i * n, dr = da + i * n
                var dot: Float = 0
                for j in 0...i { dot += ar[j] * dr[j] }
                for j in 0...i { dr[j] = ar[j] * (dr[j] - dot) }
                (dr + i + 1).update(repeating: 0, count: n - i - 1)
            }
            // dQ = dS · K / √dh; dK = dSᵀ · Q / √dh.
            try SelfAttentionNetwork.lowerTimes(da, count: n, alpha: inverseRoot, MatrixView(base: base + d, rows: n, cols: dh, stride: 3 * d),
                                                into: MutableMatrixView(base: dBase, rows: n, cols: dh, stride: 3 * d), kernels: single)
            try SelfAttentionNetwork.lowerTransposedTimes(da, count: n, alpha: inverseRoot, MatrixView(base: base, rows: n, cols: dh, stride: 3 * d),
                                                          into: MutableMatrixView(base: dBase + d, rows: n, cols: dh, stride: 3 * d), kernels: single)
        }
    }
}

/// The buffers a sequence network trains a batch in; they carry the sampled-softmax candidates.
protocol SequenceWorkspace: AnyObject {
    var candidates: OutputCandidates? { get set }
}
