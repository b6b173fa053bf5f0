import Foundation
import LinearAlgebra
import MovieLens
import Testing
@testable import Recommender

@Suite("Sampled softmax")
struct SampledSoftmaxTests {
    /// The mean loss and gradient of `net` on one batch, sampled with `negatives` (seeded) or
    /// full (nil); also the candidate items the batch used.
    static func lossAndGradient<N: SequenceNetwork>(_ net: N, _ tokens: [Int32], _ targets: [Int32], batch: Int, negatives: Int?,
                                                    inBatch: Bool = false, dropout: Float = 0, workspaceSteps: Int? = nil,
                                                    gbceBeta: Float? = nil, rowsPerDraw: Int? = nil,
                                                    kernels: any Kernels) throws -> (loss: Double, gradient: [Float], candidates: [Int32]) {
        let w = net.makeWorkspace(batch: batch, steps: workspaceSteps ?? tokens.count / batch)
        if let negatives {
            w.candidates = OutputCandidates(sampling: NegativeSampling(negatives: negatives, items: net.items, targets: gbceBeta == nil ? targets : []),
                                            inBatch: inBatch, seed: 3, gbceBeta: gbceBeta, rowsPerDraw: rowsPerDraw)
        }
        var gradient = [Float](repeating: 0, count: net.parameters.count)
        var g = SeededGenerator(seed: 1)
        let (loss, n) = try tokens.withUnsafeBufferPointer { tb in
            try targets.withUnsafeBufferPointer { gb in
                try net.lossAndGradient(tokens: tb, targets: gb, batch: batch, workspace: w, gradient: &gradient, dropout: dropout,
                                        generator: &g, kernels: kernels)
            }
        }
        return (loss / Double(n), gradient, w.candidates?.items ?? [])
    }

    @Test("with every movie as a negative, the sampled loss and gradient are the full softmax's")
    func allItemsEqualFull() throws {
        for kernels in allKernels {
            let (net, tokens, targets) = try SequenceModelTests.tiny(kernels: kernels)
            let full = try Self.lossAndGradient(net, tokens, targets, batch: 3, negatives: nil, kernels: kernels)
            let all = try Self.lossAndGradient(net, tokens, targets, batch: 3, negatives: net.items, kernels: kernels)
            #expect(all.candidates == (0..<Int32(net.items)).map { $0 })
            #expect(abs(full.loss - all.loss) <= 1e-6 * abs(full.loss), "\(kernels.backend): \(full.loss) vs \(all.loss)")
            let diff = zip(full.gradient, all.gradient).map { abs($0 - $1) }.max() ?? 1
            #expect(diff <= 1e-6, "\(kernels.backend): largest gradient difference \(diff)")
        }
    }

    @Test("Q_j = 1 − (1 − p_j)^draws from popularity counted with one added per movie")
    func inclusionProbability() {
        // Targets: movie 0 twice, movie 2 once; counts + 1 = 3, 1, 2, 1 of 7.
        let s = NegativeSampling(negatives: 2, items: 4, targets: [0, -1, 2, 0])
        #expect(s.probabilities.map { ($0 * 7).rounded() } == [3, 1, 2, 1])
        // 3 draws of p = 3/7: 1 − (4/7)³ = 1 − 64/343 = 279/343.
        #expect(abs(Double(s.logInclusion(0, draws: 3)) - log(279.0 / 343)) < 1e-6)
        #expect(abs(Double(s.logInclusion(1, draws: 1)) - log(1.0 / 7)) < 1e-6)
        // Draws follow p: over 70,000 draws movie 0 comes up ≈ 3/7 of the time.
        var g = SeededGenerator(seed: 9)
        var counts = [0, 0, 0, 0]
        for _ in 0..<70_000 { counts[s.draw(using: &g)] += 1 }
        #expect(zip(counts, [30_000, 10_000, 20_000, 10_000]).allSatisfy { abs($0 - $1) < 700 }, "\(counts)")
    }

    @Test("the log-Q-corrected loss of one target equals the formula computed by hand from the full logits, with shared and in-batch negatives")
    func correctedLossByHand() throws {
        let kernels = allKernels[0]
        let net = try NextMovieNetwork(items: 40, embedding: 3, hidden: 4, seed: 11, kernels: kernels)
        let tokens: [Int32] = [0, 2, 3, 1]
        let targets: [Int32] = [-1, -1, -1, 7]
        // Log-probabilities of the full softmax: the logits up to one constant, which the loss ignores.
        let s = try net.predict(tokens, batch: 1, steps: 4, kernels: kernels).row(0).map(Double.init)
        let sampling = NegativeSampling(negatives: 5, items: 40, targets: targets)
        for inBatch in [false, true] {
            let sampled = try Self.lossAndGradient(net, tokens, targets, batch: 1, negatives: 5, inBatch: inBatch, kernels: kernels)
            #expect(Set(sampled.candidates).count == sampled.candidates.count && !sampled.candidates.isEmpty)
            if inBatch { #expect(sampled.candidates.first == 7 && sampled.candidates.count > 1) }
            // Shared negatives: the softmax runs over the draws and the row's own target, Q from 5 draws;
            // in-batch: over the target and the draws as one set, Q from 1 + 5 draws.
            let draws = inBatch ? 1 + 5 : 5
            func logQ(_ j: Int) -> Double { log(1 - pow(1 - sampling.probabilities[j], Double(draws))) }
            let scored = Set(sampled.candidates.map(Int.init)).union([7])
            let corrected = scored.sorted().map { s[$0] - logQ($0) }
            let top = corrected.max() ?? 0
            let expected = top + log(corrected.map { exp($0 - top) }.reduce(0, +)) - (s[7] - logQ(7))
            #expect(abs(sampled.loss - expected) < 1e-4, "in-batch \(inBatch): \(sampled.loss) vs \(expected)")
            // Only the scored movies' output columns get a gradient.
            let l = net.layout
            let touched = Set((0..<net.items).filter { j in (0..<net.hidden).contains { sampled.gradient[l.wo.lowerBound + $0 * net.items + j] != 0 } })
            #expect(touched.isSubset(of: scored) && touched.contains(7))
        }
    }

    @Test("the sampled loss's gradient matches finite differences (the same seed draws the same candidates)")
    func gradientCheck() throws {
        for kernels in allKernels {
            let (small, tokens, targets) = try SequenceModelTests.tiny(kernels: kernels)
            let net = try NextMovieNetwork(items: 20, embedding: small.embedding, hidden: small.hidden, seed: 7, kernels: kernels)
            for inBatch in [false, true] {
                let (_, gradient, candidates) = try Self.lossAndGradient(net, tokens, targets, batch: 3, negatives: 4, inBatch: inBatch, kernels: kernels)
                #expect(candidates.count < net.items)
                // Shared negatives: some target is not drawn, so its own column carries the gradient.
                if !inBatch { #expect(targets.contains { $0 >= 0 && !candidates.contains($0) }) }
                try SequenceModelTests.expectGradient(gradient, of: net, kernels: kernels) {
                    try Self.lossAndGradient($0, tokens, targets, batch: 3, negatives: 4, inBatch: inBatch, kernels: kernels).loss
                }
            }
        }
    }

    @Test("gBCE's β from the sampling rate: 1 at t = 0 (plain BCE) and α at t = 1")
    func gbceBeta() {
        typealias L = SequenceRecommender.SequenceLoss
        #expect(L.gbceBeta(negatives: 256, items: 10_001, calibration: 0) == 1)
        #expect(abs(L.gbceBeta(negatives: 256, items: 10_001, calibration: 1) - 0.0256) < 1e-7)
        // α = 0.0256: β = 1 + t (α − 1) = 1 − 0.75 · 0.9744 = 0.2692.
        #expect(abs(L.gbceBeta(negatives: 256, items: 10_001, calibration: 0.75) - 0.2692) < 1e-6)
        // Every movie a negative: α = 1 and β = 1 at any t.
        #expect(L.gbceBeta(negatives: 50, items: 20, calibration: 0.75) == 1)
    }

    @Test("the gBCE loss of one target equals β·softplus(−s_t) + Σ softplus(s_j) over the uniform draws, computed by hand from the logits")
    func gbceLossByHand() throws {
        let kernels = allKernels[0]
        let net = try NextMovieNetwork(items: 40, embedding: 3, hidden: 4, seed: 11, kernels: kernels)
        let tokens: [Int32] = [0, 2, 3, 1]
        let targets: [Int32] = [-1, -1, -1, 7]
        let beta: Float = 0.4
        let sampled = try Self.lossAndGradient(net, tokens, targets, batch: 1, negatives: 5, gbceBeta: beta, kernels: kernels)
        // The raw logits (gBCE, unlike the softmax, is not blind to a constant): the last state
        // times the output weights, plus the bias.
        let w = NextMovieNetwork.Workspace(network: net, batch: 1, steps: 4, chunkRows: 1)
        try tokens.withUnsafeBufferPointer { try net.forwardLSTM($0, batch: 1, w, kernels: kernels) }
        var out = Matrix(rows: 1, cols: net.items)
        try out.withMutableView { o in
            try net.logits(MatrixView(base: w.hs + 4 * net.hidden, rows: 1, cols: net.hidden, stride: net.hidden), into: o, kernels: kernels)
        }
        let logits = out.row(0).map(Double.init)
        func softplus(_ x: Double) -> Double { max(x, 0) + log1p(exp(-abs(x))) }
        let negatives = Set(sampled.candidates.map(Int.init)).subtracting([7])
        let expected = Double(beta) * softplus(-logits[7]) + negatives.map { softplus(logits[$0]) }.reduce(0, +)
        #expect(abs(sampled.loss - expected) < 1e-4 * max(1, expected), "\(sampled.loss) vs \(expected)")
        // Uniform draws, no log-Q: only the target's and the draws' output columns get a gradient.
        let l = net.layout
        let touched = Set((0..<net.items).filter { j in (0..<net.hidden).contains { sampled.gradient[l.wo.lowerBound + $0 * net.items + j] != 0 } })
        #expect(touched == negatives.union([7]))
    }

    @Test("the gBCE gradient matches finite differences, on both backends")
    func gbceGradientCheck() throws {
        for kernels in allKernels {
            let (small, tokens, targets) = try SequenceModelTests.tiny(kernels: kernels)
            let net = try NextMovieNetwork(items: 20, embedding: small.embedding, hidden: small.hidden, seed: 7, kernels: kernels)
            let (_, gradient, candidates) = try Self.lossAndGradient(net, tokens, targets, batch: 3, negatives: 4, gbceBeta: 0.3, kernels: kernels)
            #expect(candidates.count < net.items && targets.contains { $0 >= 0 && !candidates.contains($0) })
            try SequenceModelTests.expectGradient(gradient, of: net, kernels: kernels) {
                try Self.lossAndGradient($0, tokens, targets, batch: 3, negatives: 4, gbceBeta: 0.3, kernels: kernels).loss
            }
        }
    }

    @Test("negatives drawn per block of targets: a block as large as the batch is one draw; smaller blocks draw apart, and their gradient matches finite differences")
    func drawsPerBlock() throws {
        for kernels in allKernels {
            let (small, tokens, targets) = try SequenceModelTests.tiny(kernels: kernels)
            let net = try NextMovieNetwork(items: 20, embedding: small.embedding, hidden: small.hidden, seed: 7, kernels: kernels)
            let rows = targets.filter { $0 >= 0 }.count
            #expect(rows >= 4)
            let once = try Self.lossAndGradient(net, tokens, targets, batch: 3, negatives: 4, kernels: kernels)
            let whole = try Self.lossAndGradient(net, tokens, targets, batch: 3, negatives: 4, rowsPerDraw: rows, kernels: kernels)
            #expect(once.loss == whole.loss && once.gradient == whole.gradient)
            let blocks = try Self.lossAndGradient(net, tokens, targets, batch: 3, negatives: 4, rowsPerDraw: 2, kernels: kernels)
            // The last block's draw is left in the candidates: not the first block's.
            #expect(blocks.candidates != once.candidates && blocks.loss != once.loss)
            try SequenceModelTests.expectGradient(blocks.gradient, of: net, kernels: kernels) {
                try Self.lossAndGradient($0, tokens, targets, batch: 3, negatives: 4, rowsPerDraw: 2, kernels: kernels).loss
            }
        }
    }

    @Test("gBCE and per-block draws are checked: gBCE needs sampled negatives without in-batch ones, t in [0, 1]")
    func lossOptions() throws {
        var c = SequenceRecommender.Configuration()
        c.loss = .gbce
        #expect(throws: RecommenderError.self) { try c.validate() }          // no negatives
        c.negatives = 256
        try c.validate()
        c.inBatchNegatives = true
        #expect(throws: RecommenderError.self) { try c.validate() }
        c.inBatchNegatives = false
        c.gbceCalibration = 1.5
        #expect(throws: RecommenderError.self) { try c.validate() }
        c.gbceCalibration = 0
        try c.validate()
        #expect(c.softmaxLabel == "gBCE, 256 uniform negatives, t = 0.0")
        var d = SequenceRecommender.Configuration()
        d.gbceCalibration = 0.5                                               // t without gBCE
        #expect(throws: RecommenderError.self) { try d.validate() }
        d.gbceCalibration = nil
        d.targetsPerDraw = 64                                                 // per-block draws without negatives
        #expect(throws: RecommenderError.self) { try d.validate() }
        d.negatives = 256
        d.inBatchNegatives = false
        try d.validate()
        #expect(d.softmaxLabel == "sampled softmax, 256 negatives, drawn per 64 targets (no in-batch negatives)")
        d.targetsPerDraw = -1
        #expect(throws: RecommenderError.self) { try d.validate() }
    }

    @Test("length buckets: every example once, each pool's batches longest first, the batch order a seeded permutation")
    func buckets() {
        let lengths = (0..<1000).map { ($0 * 7919) % 37 + 1 }
        var order = Array((0..<1000).reversed()), batchOrder = Array(0..<63)
        var g = SeededGenerator(seed: 5)
        SequenceTraining.bucket(&order, &batchOrder, lengths: lengths, batch: 16, generator: &g)
        #expect(order.sorted() == Array(0..<1000) && batchOrder.sorted() == Array(0..<63) && batchOrder != Array(0..<63))
        // One pool of 64 batches of 16 covers all 1,000: sorted by length, ties in the order given.
        #expect(zip(order, order.dropFirst()).allSatisfy { a, b in lengths[a] > lengths[b] || (lengths[a] == lengths[b] && a > b) })
        var again = Array((0..<1000).reversed()), againBatches = Array(0..<63)
        var h = SeededGenerator(seed: 5)
        SequenceTraining.bucket(&again, &againBatches, lengths: lengths, batch: 16, generator: &h)
        #expect(again == order && againBatches == batchOrder)
    }

    @Test("negative --negatives are refused")
    func badNegatives() {
        var bad = SequenceRecommender.Configuration()
        bad.negatives = -1
        #expect(throws: RecommenderError.self) { try bad.validate() }
    }
}
