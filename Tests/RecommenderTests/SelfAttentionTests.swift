import Foundation
import LinearAlgebra
import MovieLens
import Testing
@testable import Recommender

@Suite("Self-attention sequence model (SASRec)")
struct SelfAttentionTests {
    /// Two blocks of two heads over 7 movies, and a batch of two windows with padding and
    /// targets at several positions.
    static func tiny(kernels: any Kernels, seed: UInt64 = 3) throws -> (SelfAttentionNetwork, [Int32], [Int32]) {
        let net = try SelfAttentionNetwork(items: 7, dimension: 4, blocks: 2, heads: 2, positions: 4, seed: seed)
        let tokens: [Int32] = [0, 3, 5, 1,   2, 7, 4, 4]
        let targets: [Int32] = [-1, 4, 0, 6,   6, 3, -1, 2]
        return (net, tokens, targets)
    }

    static func loss(_ net: SelfAttentionNetwork, _ tokens: [Int32], _ targets: [Int32], negatives: Int? = nil, dropout: Float = 0,
                     rowsPerDraw: Int? = nil, kernels: any Kernels) throws -> (loss: Double, gradient: [Float]) {
        let r = try SampledSoftmaxTests.lossAndGradient(net, tokens, targets, batch: 2, negatives: negatives, dropout: dropout,
                                                        rowsPerDraw: rowsPerDraw, kernels: kernels)
        return (r.loss, r.gradient)
    }

    /// Every tensor of the layout (the embedding without its padding row), by name.
    static func tensors(_ net: SelfAttentionNetwork) -> [(String, Range<Int>)] {
        let l = net.layout
        var out = [("embedding", (l.embedding.lowerBound + net.dimension)..<l.embedding.upperBound), ("position", l.position)]
        for (i, b) in l.blocks.enumerated() {
            out += [("ln1γ", b.ln1g), ("ln1β", b.ln1b), ("wqkv", b.wqkv), ("bqkv", b.bqkv), ("wo", b.wo), ("bo", b.bo),
                    ("ln2γ", b.ln2g), ("ln2β", b.ln2b), ("w1", b.w1), ("b1", b.b1), ("w2", b.w2), ("b2", b.b2)].map { ("block \(i) \($0.0)", $0.1) }
        }
        return out + [("lnfγ", l.lnfg), ("lnfβ", l.lnfb)]
    }

    @Test("backpropagation matches finite differences for every tensor, on both backends, full and sampled softmax (one draw, and a draw per 3 targets), with dropout")
    func gradientCheck() throws {
        for kernels in allKernels {
            for (negatives, dropout, perDraw) in [(nil, Float(0), nil), (3, 0, nil), (3, 0, 3), (nil, 0.3, nil)] as [(Int?, Float, Int?)] {
                let (net, tokens, targets) = try Self.tiny(kernels: kernels)
                let (_, gradient) = try Self.loss(net, tokens, targets, negatives: negatives, dropout: dropout, rowsPerDraw: perDraw, kernels: kernels)
                #expect(gradient[0..<net.dimension].allSatisfy { $0 == 0 }, "the padding row gets no gradient")
                for (name, range) in Self.tensors(net) {
                    var largest = 0.0
                    for i in Swift.stride(from: range.lowerBound, to: range.upperBound, by: max(1, range.count / 7)) {
                        var plus = net, minus = net
                        let h: Float = 1e-3
                        plus.parameters[i] += h
                        minus.parameters[i] -= h
                        let numeric = (try Self.loss(plus, tokens, targets, negatives: negatives, dropout: dropout, rowsPerDraw: perDraw, kernels: kernels).loss
                                       - Self.loss(minus, tokens, targets, negatives: negatives, dropout: dropout, rowsPerDraw: perDraw, kernels: kernels).loss) / Double(2 * h)
                        let analytic = Double(gradient[i])
                        largest = max(largest, abs(analytic))
                        #expect(abs(numeric - analytic) <= 2e-3 + 3e-2 * abs(numeric),
                                "\(kernels.backend) \(name) [\(i - range.lowerBound)], negatives \(negatives ?? 0) per \(perDraw ?? 0), dropout \(dropout): numeric \(numeric), analytic \(analytic)")
                    }
                    #expect(largest > 0, "\(name) gets a gradient")
                }
            }
        }
    }

    @Test("attention is causal: changing a later movie leaves every earlier position's output bit-identical")
    func causal() throws {
        for kernels in allKernels {
            let (net, tokens, _) = try Self.tiny(kernels: kernels)
            func outputs(_ tokens: [Int32]) throws -> [Float] {
                let w = net.makeWorkspace(batch: 2, steps: 4)
                var g = SeededGenerator(seed: 0)
                try tokens.withUnsafeBufferPointer { try net.forward($0, batch: 2, w, dropout: 0, generator: &g, kernels: kernels) }
                return Array(UnsafeBufferPointer(start: w.output, count: 8 * net.dimension))
            }
            let before = try outputs(tokens)
            var changed = tokens
            changed[6] = 1   // second window, position 2
            let after = try outputs(changed)
            let d = net.dimension
            #expect(Array(before[0..<(6 * d)]) == Array(after[0..<(6 * d)]), "positions before the change and the other window")
            #expect(Array(before[(6 * d)...]) != Array(after[(6 * d)...]), "the changed position and the one after it move")
        }
    }

    @Test("with every movie as a negative, the sampled loss and gradient are the full softmax's (tied output embeddings)")
    func sampledAllEqualsFull() throws {
        for kernels in allKernels {
            let (net, tokens, targets) = try Self.tiny(kernels: kernels)
            let full = try Self.loss(net, tokens, targets, kernels: kernels)
            let all = try Self.loss(net, tokens, targets, negatives: net.items, kernels: kernels)
            #expect(abs(full.loss - all.loss) <= 1e-6 * abs(full.loss))
            #expect((zip(full.gradient, all.gradient).map { abs($0 - $1) }.max() ?? 1) <= 1e-6)
        }
    }

    @Test("a batch cut to its longest window (leading padding dropped) gives the same loss and gradient")
    func leadingPaddingCut() throws {
        for kernels in allKernels {
            let (net, _, _) = try Self.tiny(kernels: kernels)
            let tokens: [Int32] = [0, 0, 3, 5,   0, 2, 7, 4]
            let targets: [Int32] = [-1, -1, 4, 0,   -1, 3, 6, 2]
            let cut: [Int32] = [0, 3, 5,   2, 7, 4]
            let cutTargets: [Int32] = [-1, 4, 0,   3, 6, 2]
            for negatives in [nil, 3] as [Int?] {
                let full = try SampledSoftmaxTests.lossAndGradient(net, tokens, targets, batch: 2, negatives: negatives, kernels: kernels)
                let short = try SampledSoftmaxTests.lossAndGradient(net, cut, cutTargets, batch: 2, negatives: negatives, workspaceSteps: 4,
                                                                    kernels: kernels)
                #expect(abs(full.loss - short.loss) <= 1e-6 * abs(full.loss), "\(kernels.backend): \(full.loss) vs \(short.loss)")
                let diff = zip(full.gradient, short.gradient).map { abs($0 - $1) }.max() ?? 1
                #expect(diff <= 1e-6, "\(kernels.backend), negatives \(negatives ?? 0): largest gradient difference \(diff)")
            }
        }
    }

    @Test("the causal products over tiles of 64 rows equal the plain products of the lower triangle, on both backends")
    func causalTiles() throws {
        let n = 150, k = 5
        var g = SeededGenerator(seed: 4)
        let a = (0..<(n * k)).map { _ in g.nextUnitFloat() - 0.5 }, b = (0..<(n * k)).map { _ in g.nextUnitFloat() - 0.5 }
        // L: lower triangular, zero above the diagonal.
        let l = (0..<(n * n)).map { i in i % n <= i / n ? g.nextUnitFloat() - 0.5 : 0 }
        func dot(_ x: (Int) -> Float, _ y: (Int) -> Float, _ range: Range<Int>) -> Float { range.reduce(0) { $0 + x($1) * y($1) } }
        for kernels in allKernels {
            var s = [Float](repeating: 9, count: n * n), c = [Float](repeating: 0, count: n * k), ct = c
            try a.withUnsafeBufferPointer { ap in
                try b.withUnsafeBufferPointer { bp in
                    try l.withUnsafeBufferPointer { lp in
                        guard let ap = ap.baseAddress, let bp = bp.baseAddress, let lp = lp.baseAddress else { return }
                        let av = MatrixView(base: ap, rows: n, cols: k, stride: k), bv = MatrixView(base: bp, rows: n, cols: k, stride: k)
                        try s.withUnsafeMutableBufferPointer { sp in
                            guard let sp = sp.baseAddress else { return }
                            try SelfAttentionNetwork.lowerProduct(av, bv, alpha: 2, into: sp, kernels: kernels)
                        }
                        try c.withUnsafeMutableBufferPointer { cp in
                            guard let cp = cp.baseAddress else { return }
                            try SelfAttentionNetwork.lowerTimes(lp, count: n, alpha: 2, bv, into: MutableMatrixView(base: cp, rows: n, cols: k, stride: k), kernels: kernels)
                        }
                        try ct.withUnsafeMutableBufferPointer { cp in
                            guard let cp = cp.baseAddress else { return }
                            try SelfAttentionNetwork.lowerTransposedTimes(lp, count: n, alpha: 2, bv, into: MutableMatrixView(base: cp, rows: n, cols: k, stride: k), kernels: kernels)
                        }
                    }
                }
            }
            var worst: Float = 0
            for i in 0..<n {
                for j in 0...i { worst = max(worst, abs(s[i * n + j] - 2 * dot({ a[i * k + $0] }, { b[j * k + $0] }, 0..<k))) }
                for q in 0..<k {
                    worst = max(worst, abs(c[i * k + q] - 2 * dot({ l[i * n + $0] }, { b[$0 * k + q] }, 0..<n)))
                    worst = max(worst, abs(ct[i * k + q] - 2 * dot({ l[$0 * n + i] }, { b[$0 * k + q] }, 0..<n)))
                }
            }
            #expect(worst < 1e-4, "\(kernels.backend): largest difference \(worst)")
        }
    }

    @Test("dropout masks do not depend on the thread count")
    func dropoutThreads() {
        var masks = [[Float]]()
        for threads in [1, 2] {
            var x = [Float](repeating: 1, count: 1000 * 4), mask = x
            var g = SeededGenerator(seed: 8)
            x.withUnsafeMutableBufferPointer { xb in
                mask.withUnsafeMutableBufferPointer { mb in
                    guard let xp = xb.baseAddress, let mp = mb.baseAddress else { return }
                    SelfAttentionNetwork.dropout(xp, mask: mp, rows: 1000, 4, rate: 0.25, generator: &g, threads: threads)
                }
            }
            #expect(x == mask)
            masks.append(mask)
        }
        #expect(masks[0] == masks[1])
        let dropped = masks[0].filter { $0 == 0 }.count
        #expect(abs(dropped - 1000) < 100, "\(dropped) of 4000 dropped at rate 0.25")
    }

    static func configuration(epochs: Int) -> SequenceRecommender.Configuration {
        var c = SequenceRecommender.Configuration.selfAttention
        c.embedding = 16
        c.blocks = 1
        c.heads = 2
        c.length = 5
        c.dropout = 0
        c.batchSize = 16
        c.learningRate = 1e-2
        c.epochs = epochs
        return c
    }

    @Test("a deterministic next-movie task is learned; same seed gives identical weights; model files round-trip")
    func learnsCycle() throws {
        let kernels = allKernels[0]
        let histories = SequenceModelTests.cycle()
        let ratings = Ratings(userIDs: histories.indices.flatMap { u in histories[u].map { _ in Int32(u + 1) } },
                              movieIDs: histories.flatMap { $0.map { $0 + 1 } },
                              values: histories.flatMap { $0.map { _ in Float(4) } },
                              timestamps: histories.flatMap { $0.indices.map(Int64.init) })
        let data = TrainingSet(ratings: ratings, minRating: 4)
        var options = TrainedModel.Options()
        options.selfAttention = Self.configuration(epochs: 40)
        let a = try SelfAttentionRecommender.fit(data, options: options, kernels: kernels, progress: { _ in })
        let b = try SelfAttentionRecommender.fit(data, options: options, kernels: kernels, progress: { _ in })
        #expect(a.network.parameters == b.network.parameters)
        // Item index i is movie i + 1; the cycle's next movie after s, s+1, s+2, s+3 is s+4 (mod 12).
        let index = (0..<12).map { Int32(data.items.index(of: Int32($0 + 1)) ?? -1) }
        let queries: [[Int32]] = (0..<12).map { s in (0..<4).map { index[(s + $0) % 12] } }
        let scores = try SequenceTraining.scores(a.network, steps: 4, histories: queries, kernels: kernels)
        let correct = (0..<12).filter { q in (0..<12).max { scores[q, $0] < scores[q, $1] } == Int(index[(q + 4) % 12]) }.count
        #expect(correct == 12, "\(correct)/12")
        // Through a model file: the same recommendations.
        let movies = (1...12).map { Movie(id: Int32($0), title: "m\($0)", genres: []) }
        let model = try TrainedModel.train(SelfAttentionRecommender.self, ratings: ratings, movies: movies, options: options, kernels: kernels)
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("sasrec.model")
        try model.save(to: file)
        let loaded = try TrainedModel.load(from: file)
        #expect(try loaded.recommend(user: 3, k: 3).map(\.movieID) == model.recommend(user: 3, k: 3).map(\.movieID))
        #expect(loaded.model.label == model.model.label && model.model.label.hasPrefix("SASRec"))
    }

    @Test("OpenBLAS and pure-Swift training agree over a few steps", .enabled(if: allKernels.count == 2, "needs both backends: this build has no OpenBLAS"))
    func backendsAgree() throws {
        var c = Self.configuration(epochs: 2)
        c.dropout = 0.2
        c.learningRate = 1e-3   // Adam moves every weight by up to the rate: differences in float rounding stay below it
        let runs = try allKernels.map { k -> SelfAttentionNetwork in
            var net = try SelfAttentionNetwork(items: 12, dimension: 16, blocks: 1, heads: 2, positions: 4, seed: 1)
            try SequenceTraining.fit(&net, SequenceExamples(histories: SequenceModelTests.cycle(), length: 5, mode: .windows),
                                     validation: nil, configuration: c, kernels: k, progress: { _, _, _ in }, epochDone: { _ in })
            return net
        }
        let diff = zip(runs[0].parameters, runs[1].parameters).map { abs($0 - $1) }.max() ?? 1
        #expect(diff < 1e-3, "max difference \(diff)")
    }

    @Test("a batch whose activations cannot fit in memory is refused with its sizes before anything is allocated")
    func activationBudget() throws {
        var net = try SelfAttentionNetwork(items: 10, dimension: 1024, blocks: 2, heads: 2, positions: 4999, seed: 0)
        let histories = (0..<64).map { u in (0..<5000).map { Int32(($0 + u) % 10) } }
        var c = Self.configuration(epochs: 1)
        c.batchSize = 64
        #expect(net.workspaceFloats(batch: 64, steps: 4999) * 4 > Int(ProcessInfo.processInfo.physicalMemory / 2))
        #expect(throws: RecommenderError.self) {
            try SequenceTraining.fit(&net, SequenceExamples(histories: histories, length: 5000, mode: .windows), validation: nil,
                                     configuration: c, kernels: allKernels[0], progress: { _, _, _ in }, epochDone: { _ in })
        }
    }

    @Test("sizes that do not describe the parameters, or heads that do not divide d, are refused")
    func badSizes() throws {
        #expect(throws: LinearAlgebraError.self) { try SelfAttentionNetwork(items: 7, dimension: 4, blocks: 1, heads: 2, positions: 4, parameters: [1, 2, 3]) }
        #expect(throws: LinearAlgebraError.self) { try SelfAttentionNetwork(items: 7, dimension: 6, blocks: 1, heads: 4, positions: 4, seed: 0) }
        var c = SequenceRecommender.Configuration.selfAttention
        c.heads = 5
        #expect(throws: RecommenderError.self) { try c.validate() }
        // SASRec's option errors name SASRec, not the LSTM.
        var options = TrainedModel.Options()
        options.selfAttention = .selfAttention
        options.selfAttention?.negatives = -1
        #expect(throws: RecommenderError.invalidOptions(model: "sasrec", reason: "negatives must not be negative (0: full softmax)")) {
            try SelfAttentionRecommender.validate(options)
        }
    }
}
