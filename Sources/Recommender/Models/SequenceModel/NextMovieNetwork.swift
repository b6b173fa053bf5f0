import Foundation
import LinearAlgebra

/// Embedding → LSTM → dropout → dense softmax over every movie: the next-movie network, with its
/// own forward pass and backpropagation through time on the ``Kernels`` GEMMs (trained by ``AdamOptimizer``).
///
/// Shapes (row-major; `V` movies, `E` embedding, `H` hidden, `T` steps, `B` batch):
///
///     embedding  (V + 1) × E     row 0 is the padding token, kept at zero
///     wx         E × 4H          input weights of the gates i, f, g, o (side by side)
///     wh         H × 4H          recurrent weights
///     b          4H              gate biases
///     wo         H × V, bo  V    the output layer
///
/// Forward: `Zx = X·wx` for all steps in one GEMM; then per step `Z_t = Zx_t + b + h_{t−1}·wh`
/// (one GEMM), `i, f, o = σ(·)`, `g = tanh(·)`, `c_t = f∘c_{t−1} + i∘g`, `h_t = o∘tanh(c_t)`. A
/// padding input leaves `h` and `c` unchanged (so left padding is invisible). Every position with
/// a target takes its `h_t` through dropout (inverted: kept units scaled by 1/(1 − p)) and the
/// dense layer; the loss is the mean cross-entropy of the full softmax, by a stable log-sum-exp.
/// Backward mirrors it: `dwo = Hᵀ·dlogits`, `dH = dlogits·woᵀ`, then through time
/// `dh_{t−1} = dZ_t·whᵀ`, and at the end `dwh = H_prevᵀ·dZ`, `dwx = Xᵀ·dZ`, `dX = dZ·wxᵀ` — all GEMMs.
public struct NextMovieNetwork: Sendable {
    public let items: Int
    public let embedding: Int
    public let hidden: Int
    /// Every parameter, in the order embedding, wx, wh, b, wo, bo.
    public var parameters: [Float]

    public init(items: Int, embedding: Int, hidden: Int, parameters: [Float]) throws {
        self.items = items
        self.embedding = embedding
        self.hidden = hidden
        self.parameters = parameters
        // Sizes beyond what the parameters could hold are refused before the layout is computed, so
        // no product of them can overflow.
        let n = parameters.count
        guard items > 0, embedding > 0, hidden > 0, items <= n, embedding <= n, hidden <= n / max(1, 4 * min(hidden, n)) + 1,
              parameters.count == layout.total else {
            throw LinearAlgebraError.dimensionMismatch(operation: "NextMovieNetwork",
                                                       detail: "\(parameters.count) parameters for \(items) items, E \(embedding), H \(hidden)")
        }
    }

    /// How the weights start.
    public enum Initialisation: String, Sendable, Codable, Hashable, CaseIterable {
        /// Glorot-uniform input and output weights, orthogonal recurrent weights, forget-gate bias 1,
        /// other biases 0 — the reference design's "Glorot / orthogonal as usual".
        case glorot
        /// PyTorch's defaults for `nn.LSTM` and `nn.Linear`: every LSTM weight uniform in ±1/√H,
        /// the gate bias the sum of two such draws (PyTorch keeps `b_ih` and `b_hh`), the output
        /// weights and bias uniform in ±1/√H. It trains the windows mode better on real data
        /// (BENCHMARKS.md, "The next-movie task").
        case uniform
    }

    /// Seeded initial weights by `initialisation`, with standard normal embeddings in either
    /// scheme (as PyTorch's `nn.Embedding`: every movie starts distinguishable, which matters
    /// because a rare movie's row is updated only in the batches it appears in).
    public init(items: Int, embedding: Int, hidden: Int, seed: UInt64, initialisation: Initialisation = .glorot,
                kernels: any Kernels) throws {
        self.items = items
        self.embedding = embedding
        self.hidden = hidden
        let l = Layout(items: items, embedding: embedding, hidden: hidden)
        var p = [Float](repeating: 0, count: l.total)
        var g = SeededGenerator(seed: seed)
        func uniform(_ range: Range<Int>, limit: Float) { for i in range { p[i] = (g.nextUnitFloat() * 2 - 1) * limit } }
        for i in l.embedding.lowerBound + embedding..<l.embedding.upperBound { p[i] = Float(g.nextGaussian()) }
        switch initialisation {
        case .glorot:
            uniform(l.wx, limit: (6 / Float(embedding + 4 * hidden)).squareRoot())
            let gaussian = Matrix.gaussian(rows: 4 * hidden, cols: hidden, using: &g)
            let q = try gaussian.withView { try kernels.orthonormalBasis($0) }
            for r in 0..<hidden { for c in 0..<4 * hidden { p[l.wh.lowerBound + r * 4 * hidden + c] = q[c, r] } }
            for j in hidden..<2 * hidden { p[l.b.lowerBound + j] = 1 }
            uniform(l.wo, limit: (6 / Float(hidden + items)).squareRoot())
        case .uniform:
            let k = 1 / Float(hidden).squareRoot()
            uniform(l.wx, limit: k)
            uniform(l.wh, limit: k)
            uniform(l.b, limit: k)
            for i in l.b { p[i] += (g.nextUnitFloat() * 2 - 1) * k }
            uniform(l.wo, limit: k)
            uniform(l.bo, limit: k)
        }
        parameters = p
    }

    /// Where each tensor lives in ``parameters``.
    struct Layout {
        let embedding, wx, wh, b, wo, bo: Range<Int>
        var total: Int { bo.upperBound }
        init(items: Int, embedding e: Int, hidden h: Int) {
            var start = 0
            func next(_ n: Int) -> Range<Int> { defer { start += n }; return start..<(start + n) }
            embedding = next((items + 1) * e)
            wx = next(e * 4 * h)
            wh = next(h * 4 * h)
            b = next(4 * h)
            wo = next(h * items)
            bo = next(items)
        }
    }

    var layout: Layout { Layout(items: items, embedding: embedding, hidden: hidden) }

    /// Buffers for one batch, reused across batches: owned, zero-initialised memory (freed with
    /// the workspace), so the passes below use them as plain pointers.
    final class Workspace {
        let batch, steps, chunkRows: Int
        let x, z, hs, cs, tc, dz, dX, dh, dc, dhCur, logits, dHout, dropMask: UnsafeMutablePointer<Float>
        var selected = [(row: Int, target: Int)]()
        /// The sampled-softmax candidates of each batch (nil: full softmax).
        var candidates: OutputCandidates?
        private let owned: FloatBuffers

        init(network n: NextMovieNetwork, batch: Int, steps: Int, chunkRows: Int = 1024) {
            self.batch = batch
            self.steps = steps
            self.chunkRows = chunkRows
            let rows = batch * steps, h = n.hidden
            let owned = FloatBuffers()
            let buffer = owned.zeroed
            x = buffer(rows * n.embedding)
            z = buffer(rows * 4 * h)
            hs = buffer((rows + batch) * h)
            cs = buffer((rows + batch) * h)
            tc = buffer(rows * h)
            dz = buffer(rows * 4 * h)
            dX = buffer(rows * n.embedding)
            dh = buffer(batch * h)
            dc = buffer(batch * h)
            dhCur = buffer(batch * h)
            dHout = buffer(rows * h)
            dropMask = buffer(rows * h)
            logits = buffer(min(rows, chunkRows) * n.items)
            self.owned = owned
        }
    }

    // MARK: - Forward

    /// Runs the LSTM over `tokens` (batch × steps, example-major, 0 = padding) into the workspace:
    /// `hs` rows `(t + 1)·B + b` hold `h_t`.
    func forwardLSTM(_ tokens: UnsafeBufferPointer<Int32>, batch bsz: Int, _ w: Workspace, kernels: any Kernels) throws {
        let e = embedding, h = hidden, g4 = 4 * h, steps = w.steps, l = layout
        let rows = steps * bsz
        let x = w.x, z = w.z, hs = w.hs, cs = w.cs, tcs = w.tc
        try parameters.withUnsafeBufferPointer { pb in
            guard let p = pb.baseAddress else { return }
            // Time-major embedded inputs: row t·B + b.
            for t in 0..<steps {
                for b in 0..<bsz {
                    let token = Int(tokens[b * steps + t])
                    (x + (t * bsz + b) * e).update(from: p + l.embedding.lowerBound + token * e, count: e)
                }
            }
            try kernels.gemm(.none, .none, alpha: 1, MatrixView(base: x, rows: rows, cols: e, stride: e),
                             MatrixView(base: p + l.wx.lowerBound, rows: e, cols: g4, stride: g4),
                             beta: 0, MutableMatrixView(base: z, rows: rows, cols: g4, stride: g4))
            for r in 0..<rows { VectorOps.axpy(1, p + l.b.lowerBound, z + r * g4, g4) }
            hs.update(repeating: 0, count: bsz * h)
            cs.update(repeating: 0, count: bsz * h)
            let wh = MatrixView(base: p + l.wh.lowerBound, rows: h, cols: g4, stride: g4)
            // The recurrence is independent across examples: each block of rows runs every step on
            // one thread — the step's GEMM, then its gates — with no barrier between steps.
            let shared = UnsafeSendableBox((tokens, z, hs, cs, tcs, wh))
            try kernels.withSingleThreadedCalls { single in
                try Parallel.tryForEach(count: Self.rowBlocks(bsz), threads: kernels.threads) { block in
                    let (tokens, z, hs, cs, tcs, wh) = shared.value
                    let rows = Self.rowBlock(block, of: bsz)
                    for t in 0..<steps {
                        let zt = z + (t * bsz + rows.lowerBound) * g4
                        let hPrev = hs + (t * bsz + rows.lowerBound) * h, cPrev = cs + (t * bsz + rows.lowerBound) * h
                        let hNext = hPrev + bsz * h, cNext = cPrev + bsz * h
                        try single.gemm(.none, .none, alpha: 1, MatrixView(base: hPrev, rows: rows.count, cols: h, stride: h), wh,
                                        beta: 1, MutableMatrixView(base: zt, rows: rows.count, cols: g4, stride: g4))
                        for (k, b) in rows.enumerated() {
                            let zr = zt + k * g4, hp = hPrev + k * h, cp = cPrev + k * h
                            let hn = hNext + k * h, cn = cNext + k * h, tcr = tcs + (t * bsz + b) * h
                            if tokens[b * steps + t] == 0 {
                                hn.update(from: hp, count: h)
                                cn.update(from: cp, count: h)
                                tcr.update(repeating: 0, count: h)
                                continue
                            }
                            VectorMath.sigmoid(zr, 2 * h)
                            VectorMath.tanh(zr + 2 * h, h)
                            VectorMath.sigmoid(zr + 3 * h, h)
                            for j in 0..<h { cn[j] = zr[h + j] * cp[j] + zr[j] * zr[2 * h + j] }
                            tcr.update(from: cn, count: h)
                            VectorMath.tanh(tcr, h)
                            for j in 0..<h { hn[j] = zr[3 * h + j] * tcr[j] }
                        }
                    }
                }
            }
        }
    }

    /// Rows per block of the recurrence: fixed, so results do not depend on the thread count.
    static let recurrenceRows = 32
    static func rowBlocks(_ batch: Int) -> Int { (batch + recurrenceRows - 1) / recurrenceRows }
    static func rowBlock(_ block: Int, of batch: Int) -> Range<Int> {
        (block * recurrenceRows)..<min(batch, (block + 1) * recurrenceRows)
    }

    /// `logits = H_rows·wo + bo` for the given rows of `hs` (already gathered into `input`, n × H).
    func logits(_ input: MatrixView, into out: MutableMatrixView, kernels: any Kernels) throws {
        let l = layout
        try parameters.withUnsafeBufferPointer { pb in
            guard let p = pb.baseAddress else { return }
            for r in 0..<out.rows { (out.base + r * out.stride).update(from: p + l.bo.lowerBound, count: items) }
            try kernels.gemm(.none, .none, alpha: 1, input, MatrixView(base: p + l.wo.lowerBound, rows: hidden, cols: items, stride: items),
                             beta: 1, out)
        }
    }

    /// Log-probabilities of every movie after each input sequence (batch × steps tokens): the
    /// scores the recommender ranks by. No dropout.
    public func predict(_ tokens: [Int32], batch: Int, steps: Int, kernels: any Kernels) throws -> Matrix {
        let w = Workspace(network: self, batch: batch, steps: steps, chunkRows: batch)
        try tokens.withUnsafeBufferPointer { try forwardLSTM($0, batch: batch, w, kernels: kernels) }
        var out = Matrix(rows: batch, cols: items)
        try out.withMutableView { o in
            try logits(MatrixView(base: w.hs + steps * batch * hidden, rows: batch, cols: hidden, stride: hidden), into: o, kernels: kernels)
            OutputLayer.logSoftmax(o, threads: kernels.threads)
        }
        return out
    }

    // MARK: - Loss and gradient

    /// Mean cross-entropy over the targets of one batch and its gradient (written into `gradient`,
    /// same layout as ``parameters``): of the full softmax, or of the sampled one when the workspace
    /// has ``Workspace/candidates``. `dropout` > 0 draws a fresh inverted-dropout mask from `generator`.
    /// Returns the summed loss and the number of targets.
    func lossAndGradient(tokens: UnsafeBufferPointer<Int32>, targets: UnsafeBufferPointer<Int32>, batch bsz: Int,
                         workspace w: Workspace, gradient: inout [Float], dropout: Float,
                         generator: inout SeededGenerator, kernels: any Kernels) throws -> (loss: Double, count: Int) {
        let h = hidden, steps = w.steps, l = layout, v = items
        let rows = steps * bsz
        try forwardLSTM(tokens, batch: bsz, w, kernels: kernels)
        // Positions with a target, in time-major row order.
        w.selected.removeAll(keepingCapacity: true)
        for t in 0..<steps { for b in 0..<bsz where targets[b * steps + t] >= 0 { w.selected.append((t * bsz + b, Int(targets[b * steps + t]))) } }
        let n = w.selected.count
        gradient.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        guard n > 0 else { return (0, 0) }
        var totalLoss = 0.0
        let hs = w.hs, dHout = w.dHout, logits = w.logits, mask = w.dropMask
        try parameters.withUnsafeBufferPointer { pb in
            guard let p = pb.baseAddress else { return }
            try gradient.withUnsafeMutableBufferPointer { gb in
                guard let grad = gb.baseAddress else { return }
                dHout.update(repeating: 0, count: rows * h)
                let output = OutputLayer(layout: .columns, hidden: h, items: v, weights: p + l.wo.lowerBound, bias: p + l.bo.lowerBound,
                                         weightGradient: grad + l.wo.lowerBound, biasGradient: grad + l.bo.lowerBound)
                totalLoss = try output.loss(selected: w.selected, count: n, states: hs + bsz * h, stateGradient: dHout, dropout: dropout,
                                            mask: mask, generator: &generator, candidates: w.candidates, logits: logits,
                                            chunkRows: w.chunkRows, kernels: kernels)
                try backwardLSTM(tokens: tokens, batch: bsz, w, parameters: p, gradient: grad, kernels: kernels)
            }
        }
        return (totalLoss, n)
    }

    /// Backpropagation through time from `dHout` (gradients reaching each `h_t`) into the LSTM and
    /// embedding gradients.
    func backwardLSTM(tokens: UnsafeBufferPointer<Int32>, batch bsz: Int, _ w: Workspace, parameters p: UnsafePointer<Float>,
                      gradient grad: UnsafeMutablePointer<Float>, kernels: any Kernels) throws {
        let h = hidden, e = embedding, g4 = 4 * h, steps = w.steps, l = layout
        let rows = steps * bsz
        let z = w.z, hs = w.hs, cs = w.cs, tcs = w.tc, dz = w.dz, dHout = w.dHout
        let dh = w.dh, dc = w.dc, dhCur = w.dhCur, x = w.x, dX = w.dX
        dh.update(repeating: 0, count: bsz * h)
        dc.update(repeating: 0, count: bsz * h)
        let wh = MatrixView(base: p + l.wh.lowerBound, rows: h, cols: g4, stride: g4)
        // Through time, each block of rows on one thread (the rows do not interact).
        let shared = UnsafeSendableBox((tokens, z, cs, tcs, dz, dHout, dh, dc, dhCur, wh))
        try kernels.withSingleThreadedCalls { single in
            try Parallel.tryForEach(count: Self.rowBlocks(bsz), threads: kernels.threads) { block in
                let (tokens, z, cs, tcs, dz, dHout, dh, dc, dhCur, wh) = shared.value
                let rows = Self.rowBlock(block, of: bsz)
                for t in stride(from: steps - 1, through: 0, by: -1) {
                    for b in rows {
                        let r = t * bsz + b
                        let cur = dhCur + b * h, dcr = dc + b * h
                        let out = dHout + r * h, prevDh = dh + b * h
                        for j in 0..<h { cur[j] = prevDh[j] + out[j] }
                        let dzr = dz + r * g4
                        if tokens[b * steps + t] == 0 {
                            dzr.update(repeating: 0, count: g4)
                            continue   // dc passes through unchanged
                        }
                        let zr = z + r * g4, tcr = tcs + r * h, cp = cs + t * bsz * h + b * h
                        for j in 0..<h {
                            let i = zr[j], f = zr[h + j], g = zr[2 * h + j], o = zr[3 * h + j], tc = tcr[j]
                            let dho = cur[j]
                            let dcT = dcr[j] + dho * o * (1 - tc * tc)
                            dzr[j] = dcT * g * i * (1 - i)
                            dzr[h + j] = dcT * cp[j] * f * (1 - f)
                            dzr[2 * h + j] = dcT * i * (1 - g * g)
                            dzr[3 * h + j] = dho * tc * o * (1 - o)
                            dcr[j] = dcT * f
                        }
                    }
                    // dh_{t−1} = dZ_t · whᵀ (padding rows pass dh through).
                    try single.gemm(.none, .transposed, alpha: 1,
                                    MatrixView(base: dz + (t * bsz + rows.lowerBound) * g4, rows: rows.count, cols: g4, stride: g4), wh,
                                    beta: 0, MutableMatrixView(base: dh + rows.lowerBound * h, rows: rows.count, cols: h, stride: h))
                    for b in rows where tokens[b * steps + t] == 0 {
                        (dh + b * h).update(from: dhCur + b * h, count: h)
                    }
                }
            }
        }
        let dZ = MatrixView(base: dz, rows: rows, cols: g4, stride: g4)
        try kernels.gemm(.transposed, .none, alpha: 1, MatrixView(base: hs, rows: rows, cols: h, stride: h), dZ,
                         beta: 1, MutableMatrixView(base: grad + l.wh.lowerBound, rows: h, cols: g4, stride: g4))
        try kernels.gemm(.transposed, .none, alpha: 1, MatrixView(base: x, rows: rows, cols: e, stride: e), dZ,
                         beta: 1, MutableMatrixView(base: grad + l.wx.lowerBound, rows: e, cols: g4, stride: g4))
        for r in 0..<rows { VectorOps.axpy(1, dz + r * g4, grad + l.b.lowerBound, g4) }
        try kernels.gemm(.none, .transposed, alpha: 1, dZ,
                         MatrixView(base: p + l.wx.lowerBound, rows: e, cols: g4, stride: g4),
                         beta: 0, MutableMatrixView(base: dX, rows: rows, cols: e, stride: e))
        for t in 0..<steps {
            for b in 0..<bsz {
                let token = Int(tokens[b * steps + t])
                guard token > 0 else { continue }
                VectorOps.axpy(1, dX + (t * bsz + b) * e, grad + l.embedding.lowerBound + token * e, e)
            }
        }
    }
}
