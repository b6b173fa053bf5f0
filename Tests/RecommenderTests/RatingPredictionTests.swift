import Foundation
import LinearAlgebra
import MovieLens
import Testing
@testable import Recommender

/// Ratings of `users` × `items` with a rating on most cells, valued by `value`, one day apart per
/// user and movie so the time order is known.
private func ratings(users: Int, items: Int, keep: (Int, Int) -> Bool = { ($0 + $1) % 5 != 0 },
                     value: (Int, Int) -> Float) -> Ratings {
    var r = Ratings()
    for u in 0..<users {
        for i in 0..<items where keep(u, i) {
            r.userIDs.append(Int32(u + 1)); r.movieIDs.append(Int32(100 + i))
            r.values.append(value(u, i)); r.timestamps.append(Int64(1_000_000 + 86_400 * (u + 7 * ((i * 13) % items))))
        }
    }
    return r
}

@Suite("Rating prediction: timed ratings, SVD++, the blend")
struct RatingPredictionTests {
    @Test("timed ratings group by user in time order; days round down, also before 1970")
    func timedRatings() {
        let r = Ratings(userIDs: [7, 3, 7, 7], movieIDs: [10, 11, 12, 11], values: [1, 2, 3, 4], timestamps: [300_000, 5, 100, 100])
        let t = TimedRatings(r, users: IDMap(r.userIDs), items: IDMap(r.movieIDs))
        #expect(t.users.ids == [3, 7])
        #expect(t.rowStarts == [0, 1, 4])
        // User 7: (100, movie 11), (100, movie 12), (300000, movie 10): ties by movie id.
        #expect(t.itemIndices.map { t.items.ids[Int($0)] } == [11, 11, 12, 10])
        #expect(t.values == [2, 4, 3, 1])
        #expect(t.days == [0, 0, 0, 3])
        #expect(TimedRatings.day(-1) == -1 && TimedRatings.day(86_399) == 0 && TimedRatings.day(-86_400) == -1 && TimedRatings.day(-86_401) == -2)
    }

    @Test("the temporal carve holds out each user's latest tenth (at least one, from 5 ratings); the random carve is seeded")
    func carve() {
        let r = ratings(users: 3, items: 20, keep: { u, i in u != 2 || i < 4 }) { u, i in Float((u + i) % 5 + 1) }
        let t = TimedRatings(r, users: IDMap(r.userIDs), items: IDMap(r.movieIDs))
        let (fit, probe) = t.carve(.temporal, fraction: 0.1, seed: 0)
        #expect(probe.rowStarts == [0, 2, 4, 4])   // 20 ratings → 2; 4 ratings → none
        #expect(fit.count + probe.count == t.count)
        for u in 0..<2 {
            let all = Array(t.entries(ofUser: u))
            #expect(Array(probe.itemIndices[probe.entries(ofUser: u)]) == all.suffix(2).map { t.itemIndices[$0] })
            #expect(Array(fit.days[fit.entries(ofUser: u)]) == all.dropLast(2).map { t.days[$0] })
        }
        let a = t.carve(.random, fraction: 0.3, seed: 5).probe, b = t.carve(.random, fraction: 0.3, seed: 5).probe
        #expect(a.itemIndices == b.itemIndices && a.rowStarts == b.rowStarts && a.count > 0)
    }

    /// SVD++ as Surprise writes it: every `y_j` of the user updated after every rating.
    private func naiveSVDPlusPlus(_ t: TimedRatings, _ s: SVDPlusPlus) -> (bu: [Float], bi: [Float], p: [Float], q: [Float], y: [Float]) {
        let k = s.factors
        var g = SeededGenerator(seed: s.seed)
        func gaussian(_ n: Int) -> [Float] { (0..<n).map { _ in Float(g.nextGaussian()) * s.initialScale } }
        var bu = [Float](repeating: 0, count: t.users.count), bi = [Float](repeating: 0, count: t.items.count)
        var p = gaussian(t.users.count * k), q = gaussian(t.items.count * k), y = gaussian(t.items.count * k)
        let mu = t.values.reduce(0, +) / Float(t.count)
        var order = Array(0..<t.users.count)
        for _ in 0..<s.epochs {
            order.shuffle(using: &g)
            for u in order {
                let range = t.entries(ofUser: u)
                let norm = 1 / Float(range.count).squareRoot()
                for e in range {
                    let i = Int(t.itemIndices[e])
                    var z = [Float](repeating: 0, count: k)
                    for j in range { for f in 0..<k { z[f] += y[Int(t.itemIndices[j]) * k + f] * norm } }
                    var dot: Float = 0
                    for f in 0..<k { dot += q[i * k + f] * (p[u * k + f] + z[f]) }
                    let err = t.values[e] - (mu + bu[u] + bi[i] + dot)
                    bu[u] += s.biasLearningRate * (err - s.biasRegularization * bu[u])
                    bi[i] += s.biasLearningRate * (err - s.biasRegularization * bi[i])
                    for f in 0..<k {
                        let pf = p[u * k + f], qf = q[i * k + f]
                        p[u * k + f] += s.learningRate * (err * qf - s.regularization * pf)
                        q[i * k + f] += s.learningRate * (err * (pf + z[f]) - s.regularization * qf)
                        for j in range {
                            let jf = Int(t.itemIndices[j]) * k + f
                            y[jf] += s.learningRate * (err * qf * norm - s.regularization * y[jf])
                        }
                    }
                }
            }
        }
        return (bu, bi, p, q, y)
    }

    @Test("the O(k)-per-rating implicit update gives the numbers of updating every y_j after every rating")
    func exactImplicitUpdate() throws {
        let r = ratings(users: 9, items: 12) { u, i in Float((u * 3 + i * 7) % 9) / 2 + 1 }
        let t = TimedRatings(r, users: IDMap(r.userIDs), items: IDMap(r.movieIDs))
        var model = SVDPlusPlus.surprise
        model.factors = 3; model.epochs = 4; model.seed = 11
        _ = try model.fit(t)
        let naive = naiveSVDPlusPlus(t, model)
        func close(_ a: [Float], _ b: [Float]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-4 } }
        #expect(close(model.userBias, naive.bu) && close(model.itemBias, naive.bi))
        #expect(close(model.userFactors, naive.p) && close(model.itemFactors, naive.q))
        #expect(close(model.implicitFactors, naive.y))
    }

    @Test("SVD++ fits a low-rank matrix, the same seed repeats it, and unknown users or items fall back to the mean")
    func svdPlusPlusFits() throws {
        let r = ratings(users: 30, items: 25) { u, i in
            let a = Float(u % 3 - 1), b = Float(i % 4) - 1.5
            return 3 + a * b / 2
        }
        let t = TimedRatings(r, users: IDMap(r.userIDs), items: IDMap(r.movieIDs))
        var model = SVDPlusPlus(factors: 4, epochs: 60, regularization: 0.01, timeEffects: false, seed: 3)
        let history = try model.fit(t)
        #expect(try #require(history.last) < 0.1 && history[0] > history.last! * 3)
        var again = SVDPlusPlus(factors: 4, epochs: 60, regularization: 0.01, timeEffects: false, seed: 3)
        _ = try again.fit(t)
        #expect(again.userVectors == model.userVectors && again.itemBias == model.itemBias)
        #expect(model.predict(user: -1, item: -1) == model.globalMean)
        #expect(model.predict(user: 0, item: 999) == model.globalMean + model.userBias[0])
        #expect(throws: RecommenderError.self) { var m = SVDPlusPlus(learningRate: .nan); _ = try m.fit(t) }
    }

    @Test("time effects: a user's day bias applies on that day only; a later day falls in the last item span")
    func timeEffects() throws {
        // User 0 rates every movie 1 star above the others on its first day and 1 below on its second.
        var r = Ratings()
        for u in 0..<4 { for i in 0..<6 {
            let second = u == 0 && i % 2 == 1
            r.userIDs.append(Int32(u)); r.movieIDs.append(Int32(i))
            r.values.append(u == 0 ? (second ? 2 : 4) : 3); r.timestamps.append(second ? 86_400 * 10 : 0)
        } }
        let t = TimedRatings(r, users: IDMap(r.userIDs), items: IDMap(r.movieIDs))
        // Factors start at zero, so they stay zero: only the biases learn.
        var model = SVDPlusPlus(factors: 1, epochs: 200, biasRegularization: 0.5, initialScale: 0, dayLearningRate: 0.02,
                                dayRegularization: 0.01, driftLearningRate: 0, timeBins: 2, binLearningRate: 0, seed: 1)
        _ = try model.fit(t)
        let first = model.predict(user: 0, item: 0, day: 0), second = model.predict(user: 0, item: 0, day: 10)
        let unseen = model.predict(user: 0, item: 0, day: 5)
        #expect(first > unseen + 0.3 && second < unseen - 0.3)
        #expect(model.predict(user: 0, item: 0, day: nil) == unseen)
        #expect(model.bin(-100) == 0 && model.bin(10) == 1 && model.bin(10_000) == 1 && model.bin(4) == 0 && model.bin(6) == 1)
    }

    /// Predicts `f(user, item)`, or a constant.
    private struct Planted: RatingPredictor {
        var label: String
        var constant: Float?
        mutating func fit(_ ratings: TimedRatings, kernels: any Kernels) throws {}
        func predict(user: Int, item: Int, day: Int32?) -> Float { constant ?? Float((user * 3 + item) % 5) + 1 }
    }

    @Test("the blend puts its weight on the member that predicts the probe, and refits every member")
    func blendWeights() throws {
        let r = ratings(users: 12, items: 20) { u, i in Float((u * 3 + i) % 5) + 1 }
        let users = IDMap(r.userIDs), items = IDMap(r.movieIDs)
        let t = TimedRatings(r, users: users, items: items)
        var blend = RatingBlend(members: [Planted(label: "right"), Planted(label: "flat", constant: 3)], probe: .temporal)
        try blend.fit(t, kernels: SwiftKernels(threads: 1))
        #expect(abs(blend.weights[1] - 1) < 1e-3 && abs(blend.weights[2] * 3 + blend.weights[0]) < 1e-2)
        #expect(blend.probeRMSE.count == 3 && blend.probeRMSE[2] < 1e-3 && blend.probeRMSE[1] > 1)
        #expect(abs(blend.predict(user: 4, item: 7, day: nil) - Float((4 * 3 + 7) % 5 + 1)) < 1e-2)
        #expect(blend.label.contains("1.00·right"))
        #expect(throws: RecommenderError.self) { var b = RatingBlend(members: []); try b.fit(t, kernels: SwiftKernels(threads: 1)) }
    }

    @Test("SVD++ settings by name: every listed name sets, unknown names and bad values are refused")
    func settingsByName() throws {
        var model = SVDPlusPlus()
        for (name, _) in SVDPlusPlus.settingNames {
            let value = name == "order" ? "shuffled" : name == "time" ? "false" : name == "factors" || name == "epochs" || name == "bins" ? "7" : "0.5"
            try model.set(name, to: value)
        }
        #expect(model.factors == 7 && model.timeBins == 7 && model.order == .shuffled && !model.timeEffects && model.binRegularization == 0.5)
        #expect(throws: RecommenderError.self) { try model.set("speed", to: "1") }
        #expect(throws: RecommenderError.self) { try model.set("factors", to: "x") }
        #expect(throws: RecommenderError.self) { try model.set("order", to: "backwards") }
    }
}
