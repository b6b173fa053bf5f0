import Foundation
import LinearAlgebra

/// The softmax output layer of the sequence networks: scores hidden states against every movie
/// (or a batch's sampled candidates), takes the mean cross-entropy of the targets and
/// backpropagates into the weights and the states.
///
/// Two weight layouts: ``Layout/columns`` is a dense layer `hidden × items` with a bias (the
/// LSTM's `wo`, `bo`); ``Layout/rows`` is `items × hidden` without a bias — the item embeddings
/// themselves, shared between input and output (SASRec).
struct OutputLayer {
    enum Layout { case columns, rows }
    let layout: Layout
    let hidden: Int, items: Int
    let weights: UnsafePointer<Float>
    let bias: UnsafePointer<Float>?
    let weightGradient: UnsafeMutablePointer<Float>
    let biasGradient: UnsafeMutablePointer<Float>?

    /// Turns every row of logits into log-probabilities, in place, rows in parallel.
    static func logSoftmax(_ rows: MutableMatrixView, threads: Int) {
        let view = UnsafeSendableBox(rows)
        Parallel.forChunks(count: rows.rows, threads: threads, minChunk: 16) { range in
            // The softmax of a scratch copy gives log Σ e^logit.
            let n = view.value.cols
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(1, n))
            defer { scratch.deallocate() }
            for r in range {
                let row = view.value.base + r * view.value.stride
                scratch.update(from: row, count: n)
                let lse = VectorMath.softmax(scratch, n)
                for j in 0..<n { row[j] -= lse }
            }
        }
    }

    /// The loss of one row of `n` logits whose target is column `target` — softmax cross-entropy,
    /// or gBCE with `gbceBeta` — leaving its gradient times `scale` in the row.
    @inline(__always)
    static func rowLoss(_ row: UnsafeMutablePointer<Float>, _ n: Int, target: Int, gbceBeta: Float?, scale: Float) -> Double {
        if let gbceBeta { return binaryCrossEntropy(row, n, positive: target, beta: gbceBeta, scale: scale) }
        let picked = row[target]
        return Double(VectorMath.softmaxGradient(row, n, target: target, scale: scale) - picked)
    }

    /// gBCE of one row of `n` logits whose target is column `positive` (a −∞ logit counts for
    /// nothing): returns `β · softplus(−s_t) + Σ_{j ≠ t} softplus(s_j)` and leaves its gradient
    /// times `scale` in the row.
    static func binaryCrossEntropy(_ row: UnsafeMutablePointer<Float>, _ n: Int, positive: Int, beta: Float, scale: Float) -> Double {
        // softplus(x) = log(1 + eˣ) = max(x, 0) + log1p(e^−|x|), and σ(x) = e^softplus(x)'s derivative.
        @inline(__always) func softplus(_ x: Float) -> Float { max(x, 0) + log1p(exp(-abs(x))) }
        @inline(__always) func sigmoid(_ x: Float) -> Float { x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)) }
        var loss = 0.0
        for j in 0..<n {
            let s = row[j]
            if j == positive {
                loss += Double(beta * softplus(-s))
                let q = sigmoid(-s)
                row[j] = q < VectorMath.negligibleProbability ? 0 : -beta * q * scale
            } else {
                loss += Double(softplus(s))
                let p = sigmoid(s)
                row[j] = p < VectorMath.negligibleProbability ? 0 : p * scale   // no subnormal gradients
            }
        }
        return loss
    }

    /// Where the weight of `item` at hidden unit `r` lives, in either layout.
    @inline(__always) func index(_ r: Int, _ item: Int) -> Int {
        layout == .columns ? r * items + item : item * hidden + r
    }

    /// One weight of `item` at hidden unit `r`, in either layout.
    @inline(__always) func weight(_ r: Int, _ item: Int) -> Float { weights[index(r, item)] }

    /// Sums the cross-entropy of the `selected` rows' targets and adds the gradients of their mean
    /// over `count` targets (`count` ≥ the selected rows: a batch may call this once) into the
    /// weights and, row by row, into `stateGradient`.
    ///
    /// `states` holds one hidden state per row (stride ``hidden``). With `dropout` > 0 each
    /// state passes through a fresh inverted-dropout mask drawn from `generator` into `mask`
    /// (selected × hidden). With `candidates` each row's softmax runs over them (their
    /// log-Q-corrected copy of the weights, gathered here and scattered back at the end) and, when
    /// they do not hold it, the row's own target, scored from the layer's weights in one more
    /// column; else over every movie. Candidates with a gBCE `β` replace the softmax
    /// cross-entropy by gBCE over the same columns. `logits` holds `chunkRows × items` floats.
    func loss(selected: [(row: Int, target: Int)], count: Int, states: UnsafePointer<Float>,
              stateGradient: UnsafeMutablePointer<Float>, dropout: Float, mask: UnsafeMutablePointer<Float>,
              generator: inout SeededGenerator, candidates: OutputCandidates?, logits: UnsafeMutablePointer<Float>,
              chunkRows: Int, kernels: any Kernels) throws -> Double {
        let n = selected.count, h = hidden
        guard n > 0 else { return 0 }
        if let c = candidates, let block = c.rowsPerDraw, block <= chunkRows, dropout == 0, !c.holdsTargets {
            return try lossInBlocks(selected: selected, count: count, states: states, stateGradient: stateGradient, mask: mask,
                                    candidates: c, block: block, kernels: kernels)
        }
        var total = 0.0
        let gathered = UnsafeMutablePointer<Float>.allocate(capacity: min(n, chunkRows) * h)
        let dGathered = UnsafeMutablePointer<Float>.allocate(capacity: min(n, chunkRows) * h)
        defer { gathered.deallocate(); dGathered.deallocate() }
        // Rows sharing one draw of candidates: all of them, or blocks of `rowsPerDraw` in order.
        let block = candidates?.rowsPerDraw ?? n
        var start = 0
        while start < n {
            let end = min(n, start + block)
            candidates?.prepare(targets: selected[start..<end].lazy.map(\.target), layer: self)
            try withColumns(candidates) { wo, bo, dwo, dbo, m, transposed in
                let columns = candidates?.column
                // A row whose target is not a candidate scores it in column m (−∞ in the other rows).
                let extra = !(candidates?.holdsTargets ?? true), width = m + (extra ? 1 : 0)
                let keep = 1 - dropout
                // The weights as `hidden × m` (columns) or `m × hidden` (rows, multiplied transposed).
                let woView = transposed ? MatrixView(base: wo, rows: m, cols: h, stride: h) : MatrixView(base: wo, rows: h, cols: m, stride: m)
                var first = start
                while first < end {
                    let rows = min(chunkRows, end - first)
                    if dropout > 0 {
                        // One stream in row order: the masks do not depend on the thread count.
                        for k in 0..<rows {
                            let src = states + selected[first + k].row * h, dst = gathered + k * h, mk = mask + (first + k) * h
                            for j in 0..<h {
                                mk[j] = generator.nextUnitFloat() < keep ? 1 / keep : 0
                                dst[j] = src[j] * mk[j]
                            }
                        }
                    } else {
                        let shared = UnsafeSendableBox((states, gathered, mask, selected, first))
                        Parallel.forChunks(count: rows, threads: kernels.threads, minChunk: 64) { range in
                            let (states, gathered, mask, selected, first) = shared.value
                            for k in range {
                                (gathered + k * h).update(from: states + selected[first + k].row * h, count: h)
                                (mask + (first + k) * h).update(repeating: 1, count: h)
                            }
                        }
                    }
                    let input = MatrixView(base: gathered, rows: rows, cols: h, stride: h)
                    let out = MutableMatrixView(base: logits, rows: rows, cols: m, stride: width)
                    if let bo {
                        let fill = UnsafeSendableBox((logits, bo))
                        Parallel.forChunks(count: rows, threads: kernels.threads, minChunk: 16) { range in
                            let (logits, bo) = fill.value
                            for r in range { (logits + r * width).update(from: bo, count: m) }
                        }
                    }
                    try kernels.gemm(.none, transposed ? .transposed : .none, alpha: 1, input, woView, beta: bo == nil ? 0 : 1, out)
                    if extra, let columns, let c = candidates {
                        for k in 0..<rows {
                            let target = selected[first + k].target
                            guard columns[target] < 0 else { logits[k * width + m] = -.infinity; continue }
                            let x = gathered + k * h
                            var z = (bias?[target] ?? 0) - c.logInclusion(target)
                            for r in 0..<h { z += x[r] * weight(r, target) }
                            logits[k * width + m] = z
                        }
                    }
                    // Each row's loss, rows in parallel, and d loss / d logits / count in place: softmax
                    // cross-entropy (p − onehot), or gBCE (σ(s_j) for a negative, −β σ(−s_t) for the target).
                    let losses = UnsafeMutablePointer<Double>.allocate(capacity: rows)
                    defer { losses.deallocate() }
                    let shared = UnsafeSendableBox((logits, losses, selected, first, columns, candidates?.gbceBeta))
                    Parallel.forChunks(count: rows, threads: kernels.threads, minChunk: 32) { range in
                        let (logits, losses, selected, first, columns, beta) = shared.value
                        let scale = 1 / Float(count)
                        for k in range {
                            let row = logits + k * width
                            let target = selected[first + k].target
                            let column = columns.map { $0[target] >= 0 ? Int($0[target]) : m } ?? target
                            losses[k] = Self.rowLoss(row, width, target: column, gbceBeta: beta, scale: scale)
                        }
                    }
                    for k in 0..<rows { total += losses[k] }
                    let dl = MatrixView(base: logits, rows: rows, cols: m, stride: width)
                    // dW += inputᵀ · dlogits (or its transpose); dbias += column sums; dInput = dlogits · Wᵀ.
                    if transposed {
                        try kernels.gemm(.transposed, .none, alpha: 1, dl, input, beta: 1,
                                         MutableMatrixView(base: dwo, rows: m, cols: h, stride: h))
                    } else {
                        try kernels.gemm(.transposed, .none, alpha: 1, input, dl, beta: 1,
                                         MutableMatrixView(base: dwo, rows: h, cols: m, stride: m))
                    }
                    if let dbo {
                        // Column sums, columns in parallel (each column's sum in row order).
                        let sums = UnsafeSendableBox((logits, dbo))
                        Parallel.forChunks(count: m, threads: kernels.threads, minChunk: 4096) { columns in
                            let (logits, dbo) = sums.value
                            for k in 0..<rows { VectorOps.axpy(1, logits + k * width + columns.lowerBound, dbo + columns.lowerBound, columns.count) }
                        }
                    }
                    try kernels.gemm(.none, transposed ? .none : .transposed, alpha: 1, dl, woView,
                                     beta: 0, MutableMatrixView(base: dGathered, rows: rows, cols: h, stride: h))
                    if extra, let columns {
                        // The own-target column's gradient goes straight into the layer's weights and bias.
                        for k in 0..<rows {
                            let target = selected[first + k].target
                            guard columns[target] < 0 else { continue }
                            let dz = logits[k * width + m], x = gathered + k * h, dx = dGathered + k * h
                            for r in 0..<h {
                                dx[r] += dz * weight(r, target)
                                weightGradient[index(r, target)] += dz * x[r]
                            }
                            biasGradient?[target] += dz
                        }
                    }
                    // Each selected row is a distinct state, so rows scatter in parallel.
                    let back = UnsafeSendableBox((mask, dGathered, stateGradient, selected, first))
                    Parallel.forChunks(count: rows, threads: kernels.threads, minChunk: 64) { range in
                        let (mask, dGathered, stateGradient, selected, first) = back.value
                        for k in range {
                            let mk = mask + (first + k) * h, src = dGathered + k * h, dst = stateGradient + selected[first + k].row * h
                            for j in 0..<h { dst[j] += src[j] * mk[j] }
                        }
                    }
                    first += rows
                }
            }
            candidates?.scatter(layer: self)
            start = end
        }
        return total
    }

    /// ``loss(selected:count:states:stateGradient:dropout:mask:generator:candidates:logits:chunkRows:kernels:)``
    /// without dropout, each block of `block` rows with its own draw of negatives: the draws are
    /// made in block order first, then the blocks run in parallel (each on one thread, its
    /// candidates' gradients in its own buffer), then the gradients go into the layer's in block
    /// order — the same sums in the same order as one block after another.
    private func lossInBlocks(selected: [(row: Int, target: Int)], count: Int, states: UnsafePointer<Float>,
                              stateGradient: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>,
                              candidates c: OutputCandidates, block: Int, kernels: any Kernels) throws -> Double {
        let n = selected.count, h = hidden
        let draws = c.drawBlocks(targets: selected.map(\.target), rowsPerBlock: block, layer: self)
        // Each block's candidate gradients (weights, then biases) at its offset in one buffer.
        var offsets = [Int](), size = 0
        for d in draws { offsets.append(size); size += d.items.count * (h + 1) }
        let gradients = UnsafeMutablePointer<Float>.allocate(capacity: max(1, size))
        let losses = UnsafeMutablePointer<Double>.allocate(capacity: n)
        let ownGradient = UnsafeMutablePointer<Float>.allocate(capacity: n)   // d loss / d own-target logit
        defer { gradients.deallocate(); losses.deallocate(); ownGradient.deallocate() }
        mask.update(repeating: 1, count: n * h)
        let shared = UnsafeSendableBox((self, selected, draws, offsets, states, stateGradient, gradients, losses, ownGradient, c.gbceBeta))
        try kernels.withSingleThreadedCalls { single in
            try Parallel.tryForEach(count: draws.count, threads: kernels.threads) { b in
                let (layer, selected, draws, offsets, states, stateGradient, gradients, losses, ownGradient, beta) = shared.value
                try layer.block(draws[b], rows: (b * block)..<min(selected.count, (b + 1) * block), selected: selected, count: count,
                                states: states, stateGradient: stateGradient, candidateGradient: gradients + offsets[b],
                                losses: losses, ownGradient: ownGradient, gbceBeta: beta, kernels: single)
            }
        }
        // Into the layer, block by block: the own targets' columns, then the candidates'.
        for (b, d) in draws.enumerated() {
            for k in (b * block)..<min(n, (b + 1) * block) where d.targetColumns[k - b * block] < 0 {
                let target = selected[k].target, dz = ownGradient[k], x = states + selected[k].row * h
                for r in 0..<h { weightGradient[index(r, target)] += dz * x[r] }
                biasGradient?[target] += dz
            }
            let m = d.items.count, dw = gradients + offsets[b], db = dw + m * h
            for (j, item) in d.items.enumerated() {
                let i = Int(item)
                switch layout {
                case .rows: VectorOps.axpy(1, dw + j * h, weightGradient + i * h, h)
                case .columns: for r in 0..<h { weightGradient[r * items + i] += dw[r * m + j] }
                }
                biasGradient?[i] += db[j]
            }
        }
        return (0..<n).reduce(0.0) { $0 + losses[$1] }
    }

    /// One block of ``lossInBlocks(selected:count:states:stateGradient:mask:candidates:block:kernels:)``
    /// on the calling thread: its losses into `losses`, its candidates' weight then bias gradients
    /// into `candidateGradient` (the block's own buffer), the own-target logits' gradients into
    /// `ownGradient` and the states' gradients into their rows of `stateGradient`.
    private func block(_ draw: OutputCandidates.Draw, rows: Range<Int>, selected: [(row: Int, target: Int)], count: Int,
                       states: UnsafePointer<Float>, stateGradient: UnsafeMutablePointer<Float>, candidateGradient dw: UnsafeMutablePointer<Float>,
                       losses: UnsafeMutablePointer<Double>, ownGradient: UnsafeMutablePointer<Float>, gbceBeta: Float?,
                       kernels: any Kernels) throws {
        let h = hidden, m = draw.items.count, width = m + 1, nr = rows.count
        let w = UnsafeMutablePointer<Float>.allocate(capacity: max(1, m * h))
        let x = UnsafeMutablePointer<Float>.allocate(capacity: nr * h), dx = UnsafeMutablePointer<Float>.allocate(capacity: nr * h)
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: nr * width)
        defer { w.deallocate(); x.deallocate(); dx.deallocate(); logits.deallocate() }
        // The candidates' weights in the layer's layout, and the block's states.
        for (j, item) in draw.items.enumerated() {
            let i = Int(item)
            switch layout {
            case .rows: (w + j * h).update(from: weights + i * h, count: h)
            case .columns: for r in 0..<h { w[r * m + j] = weights[r * items + i] }
            }
        }
        for k in 0..<nr { (x + k * h).update(from: states + selected[rows.lowerBound + k].row * h, count: h) }
        let transposed = layout == .rows
        let wView = transposed ? MatrixView(base: w, rows: m, cols: h, stride: h) : MatrixView(base: w, rows: h, cols: m, stride: m)
        let input = MatrixView(base: x, rows: nr, cols: h, stride: h)
        for k in 0..<nr { for j in 0..<m { logits[k * width + j] = draw.bias[j] } }
        try kernels.gemm(.none, transposed ? .transposed : .none, alpha: 1, input, wView, beta: 1,
                         MutableMatrixView(base: logits, rows: nr, cols: m, stride: width))
        let scale = 1 / Float(count)
        for k in 0..<nr {
            let row = logits + k * width, target = selected[rows.lowerBound + k].target, column = Int(draw.targetColumns[k])
            if column >= 0 {
                row[m] = -.infinity
            } else {
                // The own target, scored from the layer's weights.
                var z = draw.targetOffsets[k]
                for r in 0..<h { z += x[k * h + r] * weight(r, target) }
                row[m] = z
            }
            losses[rows.lowerBound + k] = Self.rowLoss(row, width, target: column >= 0 ? column : m, gbceBeta: gbceBeta, scale: scale)
        }
        let dl = MatrixView(base: logits, rows: nr, cols: m, stride: width)
        if transposed {
            try kernels.gemm(.transposed, .none, alpha: 1, dl, input, beta: 0, MutableMatrixView(base: dw, rows: m, cols: h, stride: h))
        } else {
            try kernels.gemm(.transposed, .none, alpha: 1, input, dl, beta: 0, MutableMatrixView(base: dw, rows: h, cols: m, stride: m))
        }
        let db = dw + m * h
        db.update(repeating: 0, count: m)
        for k in 0..<nr { VectorOps.axpy(1, logits + k * width, db, m) }
        try kernels.gemm(.none, transposed ? .none : .transposed, alpha: 1, dl, wView, beta: 0,
                         MutableMatrixView(base: dx, rows: nr, cols: h, stride: h))
        for k in 0..<nr {
            let target = selected[rows.lowerBound + k].target, out = stateGradient + selected[rows.lowerBound + k].row * h
            let own = draw.targetColumns[k] < 0
            let dz: Float = own ? logits[k * width + m] : 0
            ownGradient[rows.lowerBound + k] = dz
            if own { for r in 0..<h { dx[k * h + r] += dz * weight(r, target) } }
            for r in 0..<h { out[r] += dx[k * h + r] }
        }
    }

    /// Calls `body` with the weights the softmax runs over — the layer itself, or the candidates'
    /// gathered copy in the same layout, with its bias — their gradients, `m` and whether they are
    /// stored `m × hidden`.
    private func withColumns(_ candidates: OutputCandidates?,
                             _ body: (UnsafePointer<Float>, UnsafePointer<Float>?, UnsafeMutablePointer<Float>,
                                      UnsafeMutablePointer<Float>?, Int, Bool) throws -> Void) throws {
        guard let c = candidates else {
            return try body(weights, bias, weightGradient, biasGradient, items, layout == .rows)
        }
        try c.weights.withUnsafeBufferPointer { w in
            try c.bias.withUnsafeBufferPointer { b in
                try c.weightGradient.withUnsafeMutableBufferPointer { dw in
                    try c.biasGradient.withUnsafeMutableBufferPointer { db in
                        guard let w = w.baseAddress, let b = b.baseAddress, let dw = dw.baseAddress, let db = db.baseAddress else { return }
                        try body(w, b, dw, db, c.items.count, layout == .rows)
                    }
                }
            }
        }
    }
}
