import Foundation
import LinearAlgebra
import MovieLens
import Testing
@testable import Recommender

@Suite("Sequence model (LSTM)")
struct SequenceModelTests {
    @Test("vector exp, sigmoid, tanh and softmax match Foundation")
    func vectorMath() {
        var xs = stride(from: -80.0 as Float, through: 80, by: 0.37).map { $0 }
        let expected = xs.map { Foundation.exp(Double($0)) }
        VectorMath.exp(&xs, xs.count)
        #expect(zip(xs, expected).allSatisfy { abs(Double($0) - $1) <= 3e-7 * $1 })
        var s: [Float] = [-3, -0.5, 0, 0.25, 9, 1, 2, 3, 4, -20]
        let original = s
        VectorMath.sigmoid(&s, s.count)
        #expect(zip(s, original).allSatisfy { abs(Double($0) - 1 / (1 + Foundation.exp(-Double($1)))) < 1e-6 })
        var t = original
        VectorMath.tanh(&t, t.count)
        #expect(zip(t, original).allSatisfy { abs(Double($0) - Foundation.tanh(Double($1))) < 1e-6 })
        var soft: [Float] = [1000, 1001, 999]
        let lse = VectorMath.softmax(&soft, 3)
        let reference = 1001 + Foundation.log(Foundation.exp(-1.0) + 1 + Foundation.exp(-2.0))
        #expect(abs(Double(lse) - reference) < 1e-3 && abs(soft.reduce(0, +) - 1) < 1e-6 && soft[1] > soft[0])
        // Probabilities below 10⁻²⁰ come back as 0, never subnormal; larger ones are kept (in the
        // SIMD body and in the tail alike).
        var wide = [Float](repeating: -200, count: 11)
        wide[0] = 0; wide[1] = -40; wide[2] = -50; wide[9] = -40; wide[10] = -47
        VectorMath.softmax(&wide, wide.count)
        #expect(wide[0] == 1 && wide[1] > 0 && wide[9] > 0 && abs(Double(wide[1]) - Foundation.exp(-40.0)) < 1e-3 * Foundation.exp(-40.0))
        #expect(wide[2] == 0 && wide[10] == 0 && wide[3...8].allSatisfy { $0 == 0 })
        #expect(wide.allSatisfy { $0 == 0 || $0.isNormal })
        // The cross-entropy gradient in one call equals softmax, − 1 at the target, × scale, bit for bit.
        var g = SeededGenerator(seed: 3)
        for n in [1, 7, 8, 29, 257] {
            let logits = (0..<n).map { _ in (g.nextUnitFloat() - 0.5) * 120 }
            for target in [0, n - 1, n / 2] {
                var a = logits, b = logits
                let lseA = VectorMath.softmax(&a, n)
                a[target] -= 1
                for j in 0..<n { a[j] *= 0.03 }
                let lseB = VectorMath.softmaxGradient(&b, n, target: target, scale: 0.03)
                #expect(a == b && lseA == lseB, "n \(n), target \(target)")
            }
        }
    }

    @Test("windows and last-movie examples are cut and left-padded as documented")
    func examples() {
        let last = SequenceExamples(histories: [[4, 5, 6], [7]], length: 3, mode: .last)
        #expect(last.count == 1 && last.tokens == [5, 6] && last.targets == [-1, 6])
        let short = SequenceExamples(histories: [[4, 5]], length: 4, mode: .last)
        #expect(short.tokens == [0, 0, 5] && short.targets == [-1, -1, 5])
        #expect(short.inputLengths == [1] && last.inputLengths == [2])
        // History 0…6 in windows of 3 movies from the end: [4 5 6], [2 3 4], [0 1 2]: every movie but the first is a target once.
        let windows = SequenceExamples(histories: [[0, 1, 2, 3, 4, 5, 6]], length: 3, mode: .windows)
        #expect(windows.tokens == [5, 6, 3, 4, 1, 2] && windows.targets == [5, 6, 3, 4, 1, 2])
        #expect(windows.targetCount == 6)
        // Windows of 5 ending 2 apart: [5…9], [3…7], [1…5], [0…3]; each predicts only the movies the next one does not.
        let stepped = SequenceExamples(histories: [Array(0...9)], length: 5, mode: .windows, step: 2)
        #expect(stepped.tokens == [6, 7, 8, 9,  4, 5, 6, 7,  2, 3, 4, 5,  0, 1, 2, 3])
        #expect(stepped.targets == [-1, -1, 8, 9,  -1, -1, 6, 7,  -1, -1, 4, 5,  -1, 1, 2, 3])
        #expect(stepped.targetCount == 9)
        #expect(SequenceExamples(histories: [Array(0...9)], length: 5, mode: .windows, step: 4).targets
                == SequenceExamples(histories: [Array(0...9)], length: 5, mode: .windows).targets)
        #expect(SequenceExamples.inputTokens([3], steps: 3) == [0, 0, 4])
    }

    @Test("the default cuts windows of 50 every 19 movies; configurations saved before the step existed keep windows overlapping by one")
    func windowStepDefaults() throws {
        let c = SequenceRecommender.Configuration()
        let history = [Array(Int32(0)..<200)]
        let examples = SequenceExamples(histories: history, length: c.length, mode: c.mode, step: c.windowStep)
        #expect(examples.steps == 49 && examples.targetCount == 199 && examples.count == 9)   // ⌈(199 − 49) / 19⌉ + 1
        // Every target but the first window's is predicted from at least 30 movies.
        for e in 0..<(examples.count - 1) {
            let firstTarget = (0..<49).first { examples.targets[e * 49 + $0] >= 0 }
            #expect(firstTarget == 30)
        }
        var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(c)) as? [String: Any] ?? [:]
        json["windowStep"] = nil
        json["initialisation"] = nil
        json["length"] = 20
        let old = try JSONDecoder().decode(SequenceRecommender.Configuration.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(old.windowStep == nil && old.initialisation == nil && c.initialisation == .uniform)
        #expect(SequenceExamples(histories: history, length: old.length, mode: old.mode, step: old.windowStep).targets
                == SequenceExamples(histories: history, length: 20, mode: .windows, step: 19).targets)
        #expect(SequenceRecommender.Configuration.reference.mode == .last && SequenceRecommender.Configuration.reference.length == 20
                && SequenceRecommender.Configuration.reference.initialisation == .glorot)
        #expect(c.examplesLabel == "windows of 50 every 19" && old.examplesLabel == "windows of 20 every 19"
                && SequenceRecommender.Configuration.reference.examplesLabel == "last of 20")
    }

    @Test("uniform initialisation draws every weight within ±1/√H (gate bias within ±2/√H), seeded; Glorot keeps forget bias 1")
    func initialisation() throws {
        let kernels = allKernels[0]
        let u = try NextMovieNetwork(items: 30, embedding: 6, hidden: 16, seed: 5, initialisation: .uniform, kernels: kernels)
        let again = try NextMovieNetwork(items: 30, embedding: 6, hidden: 16, seed: 5, initialisation: .uniform, kernels: kernels)
        #expect(u.parameters == again.parameters)
        let l = u.layout, k: Float = 0.25
        for range in [l.wx, l.wh, l.wo, l.bo] {
            #expect(u.parameters[range].allSatisfy { abs($0) <= k } && u.parameters[range].contains { abs($0) > k / 2 })
        }
        #expect(u.parameters[l.b].allSatisfy { abs($0) <= 2 * k } && u.parameters[l.b].contains { abs($0) > k })
        #expect(u.parameters[l.embedding].prefix(6).allSatisfy { $0 == 0 })   // the padding row
        let g = try NextMovieNetwork(items: 30, embedding: 6, hidden: 16, seed: 5, initialisation: .glorot, kernels: kernels)
        #expect(g.parameters[l.b].enumerated().allSatisfy { $0.element == ((16..<32).contains($0.offset) ? 1 : 0) })
        #expect(g.parameters[l.bo].allSatisfy { $0 == 0 })
    }

    /// A small network and batch with padding and targets at several positions.
    static func tiny(kernels: any Kernels) throws -> (NextMovieNetwork, [Int32], [Int32]) {
        let net = try NextMovieNetwork(items: 6, embedding: 3, hidden: 4, seed: 7, kernels: kernels)
        let tokens: [Int32] = [0, 0, 3, 5,   1, 2, 6, 4,   0, 2, 2, 1]
        let targets: [Int32] = [-1, -1, 4, 0,   1, -1, 3, 5,   -1, 1, 0, 2]
        return (net, tokens, targets)
    }

    static func meanLoss(_ net: NextMovieNetwork, _ tokens: [Int32], _ targets: [Int32], kernels: any Kernels) throws -> (Double, [Float]) {
        let w = NextMovieNetwork.Workspace(network: net, batch: 3, steps: 4)
        var gradient = [Float](repeating: 0, count: net.parameters.count)
        var g = SeededGenerator(seed: 1)
        let (loss, n) = try tokens.withUnsafeBufferPointer { tb in
            try targets.withUnsafeBufferPointer { gb in
                try net.lossAndGradient(tokens: tb, targets: gb, batch: 3, workspace: w, gradient: &gradient, dropout: 0,
                                        generator: &g, kernels: kernels)
            }
        }
        return (loss / Double(n), gradient)
    }

    /// Checks `gradient` against central differences of `loss` at about nine parameters of every
    /// tensor (the embedding without its padding row).
    static func expectGradient(_ gradient: [Float], of net: NextMovieNetwork, kernels: any Kernels,
                               loss: (NextMovieNetwork) throws -> Double) rethrows {
        let l = net.layout
        var checked = 0
        for range in [l.embedding.lowerBound + net.embedding..<l.embedding.upperBound, l.wx, l.wh, l.b, l.wo, l.bo] {
            for i in Swift.stride(from: range.lowerBound, to: range.upperBound, by: max(1, range.count / 9)) {
                var plus = net, minus = net
                let h: Float = 1e-2
                plus.parameters[i] += h
                minus.parameters[i] -= h
                let numeric = (try loss(plus) - loss(minus)) / Double(2 * h)
                let analytic = Double(gradient[i])
                #expect(abs(numeric - analytic) <= 2e-3 + 2e-2 * abs(numeric), "\(kernels.backend) parameter \(i): numeric \(numeric), analytic \(analytic)")
                checked += 1
            }
        }
        #expect(checked > 50)
    }

    @Test("backpropagation matches finite differences for the embedding, LSTM and dense layers")
    func gradientCheck() throws {
        for kernels in allKernels {
            let (net, tokens, targets) = try Self.tiny(kernels: kernels)
            let (_, gradient) = try Self.meanLoss(net, tokens, targets, kernels: kernels)
            let l = net.layout
            // Rows 1…6 of the embedding (row 0, the padding, must get no gradient), and every other tensor.
            #expect(gradient[l.embedding.lowerBound..<(l.embedding.lowerBound + 3)].allSatisfy { $0 == 0 })
            try Self.expectGradient(gradient, of: net, kernels: kernels) { try Self.meanLoss($0, tokens, targets, kernels: kernels).0 }
        }
    }

    @Test("left padding is invisible: a padded sequence scores like the same sequence unpadded")
    func paddingIgnored() throws {
        let (net, _, _) = try Self.tiny(kernels: allKernels[0])
        let padded = try net.predict([0, 0, 3, 5], batch: 1, steps: 4, kernels: allKernels[0])
        let unpadded = try net.predict([3, 5], batch: 1, steps: 2, kernels: allKernels[0])
        #expect(padded.maxAbsDifference(unpadded) < 1e-6)
        #expect(abs(padded.row(0).map { Foundation.exp(Double($0)) }.reduce(0, +) - 1) < 1e-4)
    }

    /// Every movie is always followed by the next one (mod 12).
    static func cycle() -> [[Int32]] {
        (0..<60).map { u in (0..<15).map { Int32((u + $0) % 12) } }
    }

    /// A small network (embedding 8, LSTM 16, windows of 5) without dropout, lr 0.02.
    static func smallConfiguration(epochs: Int, batchSize: Int) -> SequenceRecommender.Configuration {
        var c = SequenceRecommender.Configuration()
        c.embedding = 8
        c.hidden = 16
        c.length = 5
        c.epochs = epochs
        c.batchSize = batchSize
        c.learningRate = 0.02
        c.dropout = 0
        return c
    }

    @Test("a deterministic next-movie task is learned, with the full and with sampled softmax; same seed gives identical weights",
          arguments: [nil, 3] as [Int?])
    func learnsCycle(negatives: Int?) throws {
        var c = Self.smallConfiguration(epochs: 40, batchSize: 32)
        c.negatives = negatives
        let kernels = allKernels[0]
        let a = try SequenceRecommender.train(histories: Self.cycle(), items: 12, configuration: c, kernels: kernels)
        let b = try SequenceRecommender.train(histories: Self.cycle(), items: 12, configuration: c, kernels: kernels)
        #expect(a.network.parameters == b.network.parameters)
        let queries: [[Int32]] = (0..<12).map { s in (0..<4).map { Int32((s + $0) % 12) } }
        let scores = try a.scores(histories: queries, kernels: kernels)
        let correct = (0..<12).filter { q in
            let best = (0..<12).max { scores[q, $0] < scores[q, $1] }
            return best == (q + 4) % 12
        }.count
        #expect(correct == 12, "\(correct)/12")
    }

    @Test("OpenBLAS and pure-Swift training agree over a few steps", .enabled(if: allKernels.count == 2, "needs both backends: this build has no OpenBLAS"))
    func backendsAgree() throws {
        var c = SequenceRecommender.Configuration()
        c.embedding = 8
        c.hidden = 16
        c.length = 5
        c.epochs = 2
        c.batchSize = 16
        let runs = try allKernels.map { try SequenceRecommender.train(histories: Self.cycle(), items: 12, configuration: c, kernels: $0) }
        let diff = zip(runs[0].network.parameters, runs[1].network.parameters).map { abs($0 - $1) }.max() ?? 1
        #expect(diff < 1e-3, "max difference \(diff)")
    }

    @Test("Adam's steps equal a hand computation; lazy Adam leaves zero-gradient rows and their moments alone")
    func lazyAdam() throws {
        // Three rows of two parameters, then one dense parameter.
        let table = AdamOptimizer.RowTable(range: 0..<6, width: 2)
        var dense = AdamOptimizer(parameterCount: 7, learningRate: 0.1, clipNorm: 0)
        var lazy = dense
        var p = [Float](repeating: 1, count: 7), q = p
        let steps: [[Float]] = [[1, 2, 3, 4, 5, 6, 7], [1, -1, 0, 0, 2, 2, 1], [0, 0, 0.5, 0, 0, 0, -1]]
        for g in steps {
            dense.update(&p, gradient: g)
            lazy.update(&q, gradient: g, lazyRows: [table])
        }
        // By hand, in Double: per parameter, the steps whose gradient Adam sees.
        func adam(_ gs: [(step: Int, g: Double)]) -> Double {
            var m = 0.0, v = 0.0, x = 1.0
            for (t, g) in gs {
                m = 0.9 * m + 0.1 * g
                v = 0.999 * v + 0.001 * g * g
                let c1 = 1 - pow(0.9, Double(t)), c2 = 1 - pow(0.999, Double(t))
                x -= 0.1 * c2.squareRoot() / c1 * m / (v.squareRoot() + 1e-8 * c2.squareRoot())
            }
            return x
        }
        for i in 0..<7 {
            let all = steps.enumerated().map { (step: $0.offset + 1, g: Double($0.element[i])) }
            let row = i < 6 ? i / 2 : nil
            let seen = all.filter { s in row.map { r in steps[s.step - 1][2 * r] != 0 || steps[s.step - 1][2 * r + 1] != 0 } ?? true }
            #expect(abs(Double(p[i]) - adam(all)) < 1e-5, "dense \(i)")
            #expect(abs(Double(q[i]) - adam(seen)) < 1e-5, "lazy \(i)")
        }
        // Row 1 had no gradient in step 2 (dense still moved it), row 2 none in step 3; row 0 is the same either way until step 3.
        #expect(p[2] != q[2] && p[4] != q[4] && p[6] == q[6])
        // The work pieces cover every parameter once, rows whole.
        let pieces = AdamOptimizer.pieces(count: 200_003, lazyRows: [.init(range: 10..<150_010, width: 3)], threads: 2)
        var covered = [Int](repeating: 0, count: 200_003)
        for piece in pieces {
            for i in piece.range { covered[i] += 1 }
            if let w = piece.rowWidth { #expect(w == 3 && (piece.range.lowerBound - 10) % 3 == 0 && piece.range.count % 3 == 0) }
        }
        #expect(covered.allSatisfy { $0 == 1 } && pieces.count > 3)
    }

    @Test("training with lazy Adam learns the cycle and names itself; only the item tables are lazy", arguments: [false, true])
    func lazyAdamTrains(selfAttention: Bool) throws {
        var c = Self.smallConfiguration(epochs: 40, batchSize: 32)
        c.lazyAdam = true
        c.negatives = 3
        let kernels = allKernels[0]
        if selfAttention {
            var a = SequenceRecommender.Configuration.selfAttention
            a.lazyAdam = true
            let network = try SelfAttentionNetwork(items: 12, dimension: 8, blocks: 1, heads: 2, positions: 4, seed: 0)
            #expect(network.itemTables == [.init(range: network.layout.embedding, width: 8)])
            #expect(SelfAttentionRecommender(configuration: a, network: network, recent: []).label.contains("lazy Adam"))
            return
        }
        let model = try SequenceRecommender.train(histories: Self.cycle(), items: 12, configuration: c, kernels: kernels)
        let l = model.network.layout
        #expect(model.network.itemTables == [.init(range: l.embedding, width: model.network.embedding), .init(range: l.bo, width: 1)])
        let queries: [[Int32]] = (0..<12).map { s in (0..<4).map { Int32((s + $0) % 12) } }
        let scores = try model.scores(histories: queries, kernels: kernels)
        let correct = (0..<12).filter { q in (0..<12).max { scores[q, $0] < scores[q, $1] } == (q + 4) % 12 }.count
        #expect(correct == 12, "\(correct)/12")
    }
}

@Suite("LSTM validation and early stopping")
struct SequenceValidationTests {
    @Test("hold-out takes exactly the last movie of a seeded sample of long-enough histories")
    func holdOut() {
        let histories: [[Int32]] = (0..<40).map { u in (0..<(u % 5 + 1)).map { Int32(u * 10 + $0) } }
        let (training, v) = SequenceRecommender.Validation.holdOut(histories, users: 10, seed: 4)
        #expect(v.targets.count == 10)
        var held = 0
        for (u, h) in histories.enumerated() {
            if training[u] == h { continue }
            held += 1
            #expect(h.count >= 3, "user \(u) with \(h.count) movies was held out")
            #expect(training[u] == Array(h.dropLast()))
            #expect(v.histories.contains(training[u]) && v.targets.contains(h[h.count - 1]))
        }
        #expect(held == 10)
        let again = SequenceRecommender.Validation.holdOut(histories, users: 10, seed: 4)
        #expect(again.validation.targets == v.targets && again.training == training)
        #expect(SequenceRecommender.Validation.holdOut(histories, users: 10, seed: 5).validation.targets != v.targets)
        // More users asked for than have 3 movies: every eligible one, no more.
        #expect(SequenceRecommender.Validation.holdOut(histories, users: 1000, seed: 4).validation.targets.count == 24)
    }

    static func configuration() -> SequenceRecommender.Configuration {
        SequenceModelTests.smallConfiguration(epochs: 6, batchSize: 16)
    }

    @Test("validation HR@10 and NDCG@10 equal a brute-force ranking of the model's scores")
    func scoresMatchBruteForce() throws {
        let kernels = allKernels[0]
        var g = SeededGenerator(seed: 8)
        let histories: [[Int32]] = (0..<50).map { _ in (0..<8).map { _ in Int32(g.next() % 30) } }
        var c = Self.configuration()
        c.epochs = 1
        let model = try SequenceRecommender.train(histories: histories, items: 30, configuration: c, kernels: kernels)
        let v = SequenceRecommender.Validation(histories: histories.map { Array($0.dropLast()) }, targets: histories.map { $0[$0.count - 1] })
        let score = try model.validate(v, kernels: kernels, batchSize: 7)
        let all = try model.scores(histories: v.histories, kernels: kernels)
        var hits = 0.0, gain = 0.0, loss = 0.0
        for q in 0..<v.targets.count {
            let t = Int(v.targets[q])
            let ranked = (0..<30).filter { $0 == t || !v.histories[q].contains(Int32($0)) }
                .sorted { all[q, $0] > all[q, $1] || (all[q, $0] == all[q, $1] && $0 < $1) }
            let rank = ranked.firstIndex(of: t) ?? 99
            if rank < 10 { hits += 1; gain += 1 / log2(Double(rank) + 2) }
            loss -= Double(all[q, t])
        }
        let n = Double(v.targets.count)
        #expect(abs(score.hitRate - hits / n) < 1e-12 && abs(score.ndcg - gain / n) < 1e-9)
        #expect(abs(score.loss - loss / n) < 1e-4)
    }

    @Test("early stopping keeps the best epoch's weights and stops after `patience` epochs without a better one")
    func earlyStopping() throws {
        let kernels = allKernels[0]
        var c = Self.configuration()
        c.epochs = 12
        c.learningRate = 0.05   // large enough that validation NDCG moves both ways
        c.validationUsers = 20
        c.patience = 2
        var g = SeededGenerator(seed: 3)
        let histories: [[Int32]] = (0..<60).map { _ in (0..<10).map { _ in Int32(g.next() % 25) } }
        var seen = [Double]()
        let model = try SequenceRecommender.train(histories: histories, items: 25, configuration: c, kernels: kernels,
                                                  epochDone: { if let v = $0.validation { seen.append(v.ndcg) } })
        // This seed peaks at epoch 2 and stops after epoch 4, so the restore path is exercised.
        #expect(!seen.isEmpty && seen.count < 12, "\(seen)")
        let best = seen.max() ?? -1
        let bestEpoch = seen.firstIndex(of: best) ?? -1
        // Stopped exactly `patience` epochs after the best one, or ran every epoch.
        #expect(seen.count == 12 || seen.count == bestEpoch + 1 + 2, "\(seen)")
        let (_, v) = SequenceRecommender.Validation.holdOut(histories, users: 20, seed: c.seed)
        #expect(abs(try model.validate(v, kernels: kernels).ndcg - best) < 1e-12)
    }

    @Test("the cosine schedule decays from the rate to 0; constant stays")
    func schedule() {
        let cosine = SequenceRecommender.LearningRateSchedule.cosine
        #expect(cosine.rate(0.01, step: 0, total: 100) == 0.01)
        #expect(abs(cosine.rate(0.01, step: 50, total: 100) - 0.005) < 1e-9)
        #expect(abs(cosine.rate(0.01, step: 100, total: 100)) < 1e-9)
        let rates = (0...100).map { cosine.rate(0.01, step: $0, total: 100) }
        #expect(zip(rates, rates.dropFirst()).allSatisfy { $0 >= $1 })
        #expect(SequenceRecommender.LearningRateSchedule.constant.rate(0.01, step: 70, total: 100) == 0.01)
    }

    @Test("patience without validation users is refused")
    func patienceNeedsValidation() {
        var c = Self.configuration()
        c.patience = 2
        #expect(throws: RecommenderError.self) {
            _ = try SequenceRecommender.train(histories: [[1, 2, 3]], items: 4, configuration: c, kernels: allKernels[0])
        }
    }
}
