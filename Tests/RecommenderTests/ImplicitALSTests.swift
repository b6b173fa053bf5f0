import Foundation
import LinearAlgebra
import MovieLens
import Testing
@testable import Recommender

@Suite("Implicit ALS")
struct ImplicitALSTests {
    /// Two communities: users 0–19 like items 0–9, users 20–39 like items 10–19, with one item of
    /// each user's community held back.
    static func communities() throws -> SparseMatrix {
        var users = [Int32](), items = [Int32]()
        for u in 0..<40 {
            let base = u < 20 ? 0 : 10
            for i in 0..<10 where i != u % 10 { users.append(Int32(u)); items.append(Int32(base + i)) }
        }
        let r = Ratings(userIDs: users, movieIDs: items, values: [Float](repeating: 4, count: users.count),
                        timestamps: [Int64](repeating: 0, count: users.count))
        return try RatingMatrix(ratings: r).byUser
    }

    @Test("the loss decreases every iteration, and both backends agree")
    func lossAndBackends() throws {
        let m = try Self.communities()
        var fitted = [ImplicitALS]()
        for kernels in allKernels {
            var model = ImplicitALS(factors: 8, regularization: 0.1, alpha: 2, iterations: 8, seed: 3)
            let history = try model.fit(m, kernels: kernels)
            let losses = history.compactMap(\.loss)
            #expect(losses.count == 8)
            #expect(zip(losses, losses.dropFirst()).allSatisfy { $1 <= $0 + 1e-6 }, "\(kernels.backend): \(losses)")
            fitted.append(model)
        }
        if fitted.count == 2 {
            #expect(fitted[0].userFactors.maxAbsDifference(fitted[1].userFactors) < 1e-3)
            #expect(fitted[0].itemFactors.maxAbsDifference(fitted[1].itemFactors) < 1e-3)
        }
    }

    @Test("recommendations come from the user's community and exclude what they have")
    func recommendations() throws {
        let m = try Self.communities()
        var model = ImplicitALS(factors: 8, regularization: 0.1, alpha: 2, iterations: 10, seed: 1)
        _ = try model.fit(m, kernels: allKernels[0], trackLoss: false)
        for u in [0, 7, 25, 39] {
            let top = try model.recommend(user: u, userItems: m, count: 1)
            let expected = (u < 20 ? 0 : 10) + u % 10
            #expect(top.first?.item == expected, "user \(u) got \(top)")
            let seen = Set(m.columns[m.range(ofRow: u)].map(Int.init))
            #expect(try model.recommend(user: u, userItems: m, count: 20).allSatisfy { !seen.contains($0.item) })
        }
        #expect(throws: RecommenderError.self) { _ = try model.recommend(user: 99, userItems: m, count: 3) }
    }

    @Test("the same seed gives identical factors")
    func determinism() throws {
        let m = try Self.communities()
        var a = ImplicitALS(factors: 4, iterations: 3, seed: 9), b = ImplicitALS(factors: 4, iterations: 3, seed: 9)
        _ = try a.fit(m, kernels: allKernels[0], trackLoss: false)
        _ = try b.fit(m, kernels: allKernels[0], trackLoss: false)
        #expect(a.userFactors == b.userFactors && a.itemFactors == b.itemFactors)
    }
}

@Suite("Implicit ALS, conjugate-gradient solver")
struct ImplicitALSConjugateGradientTests {
    @Test("CG steps approach the exact Cholesky solution and rank the held-out items first")
    func conjugateGradient() throws {
        let m = try ImplicitALSTests.communities()
        var exact = ImplicitALS(factors: 8, regularization: 0.1, alpha: 2, iterations: 10, seed: 1)
        var cg = ImplicitALS(factors: 8, regularization: 0.1, alpha: 2, iterations: 10, seed: 1, solver: .conjugateGradient(steps: 3))
        let exactLoss = try exact.fit(m, kernels: allKernels[0]).last?.loss ?? .infinity
        let cgLoss = try cg.fit(m, kernels: allKernels[0]).last?.loss ?? .infinity
        // Three inexact steps per row: within 10 % of the exact loss after 10 iterations.
        #expect(cgLoss <= exactLoss * 1.10, "CG loss \(cgLoss) vs exact \(exactLoss)")
        for u in [3, 30] {
            #expect(try cg.recommend(user: u, userItems: m, count: 1).first?.item == (u < 20 ? 0 : 10) + u % 10)
        }
    }
}

extension ImplicitALSConjugateGradientTests {
    @Test("with as many CG steps as factors, one half-iteration solves each row exactly (both backends)")
    func exactInKSteps() throws {
        let m = try ImplicitALSTests.communities()
        var g = SeededGenerator(seed: 4)
        var items = Matrix(rows: m.cols, cols: 6)
        items.withMutableView { v in for i in 0..<v.rows { for j in 0..<v.cols { v[i, j] = Float(g.nextGaussian()) } } }
        for kernels in allKernels {
            var exact = Matrix(rows: m.rows, cols: 6), cg = Matrix(rows: m.rows, cols: 6)
            try ImplicitALS.solveHalf(m, fixed: items, into: &exact, lambda: 0.5, alpha: 2, solver: .cholesky, kernels: kernels)
            try ImplicitALS.solveHalf(m, fixed: items, into: &cg, lambda: 0.5, alpha: 2, solver: .conjugateGradient(steps: 12),
                                      kernels: kernels)
            var worst: Float = 0
            for u in 0..<m.rows { for j in 0..<6 { worst = max(worst, abs(exact[u, j] - cg[u, j])) } }
            #expect(worst < 1e-3, "\(kernels.backend): largest difference \(worst)")
        }
    }

    @Test("chunks of near-equal work cover every row once, whatever the skew")
    func balancedChunks() throws {
        // One row with 500 entries, then 99 rows with 1: the heavy row gets a chunk of its own.
        var users = [Int32](), items = [Int32]()
        for i in 0..<500 { users.append(0); items.append(Int32(i)) }
        for u in 1..<100 { users.append(Int32(u)); items.append(0) }
        let r = Ratings(userIDs: users, movieIDs: items, values: [Float](repeating: 1, count: users.count),
                        timestamps: [Int64](repeating: 0, count: users.count))
        let m = try RatingMatrix(ratings: r).byUser
        let chunks = ImplicitALS.balancedChunks(m, parts: 8, cost: 1)
        #expect(chunks.first == 0..<1)
        #expect(chunks.map(\.count).reduce(0, +) == m.rows)
        #expect(zip(chunks, chunks.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        #expect(ImplicitALS.balancedChunks(m, parts: 1000, cost: 0).count <= m.rows)
    }
}

@Suite("Explicit ALS")
struct ExplicitALSTests {
    @Test("recovers an exactly low-rank matrix on observed and held-out cells, both backends")
    func lowRank() throws {
        var g = SeededGenerator(seed: 5)
        let users = 40, items = 30
        let p = (0..<(users * 2)).map { _ in Float(g.nextGaussian()) * 0.5 }
        let q = (0..<(items * 2)).map { _ in Float(g.nextGaussian()) * 0.5 }
        func value(_ u: Int, _ i: Int) -> Float { 3 + p[u * 2] * q[i * 2] + p[u * 2 + 1] * q[i * 2 + 1] }
        var us = [Int32](), its = [Int32](), vals = [Float](), held = [(Int, Int)]()
        for u in 0..<users {
            for i in 0..<items {
                if g.nextUnitDouble() < 0.7 { us.append(Int32(u)); its.append(Int32(i)); vals.append(value(u, i)) } else { held.append((u, i)) }
            }
        }
        let r = Ratings(userIDs: us, movieIDs: its, values: vals, timestamps: [Int64](repeating: 0, count: vals.count))
        let m = try RatingMatrix(ratings: r)
        for kernels in allKernels {
            var model = ExplicitALS(factors: 2, regularization: 0.0005, iterations: 40, seed: 1)
            let history = try model.fit(m.byUser, kernels: kernels)
            #expect((history.last ?? 1) < 0.02, "\(kernels.backend) train RMSE \(history.last ?? -1)")
            var sq: Float = 0
            for (u, i) in held {
                let d = model.predict(user: m.users.index(of: Int32(u)) ?? -1, item: m.movies.index(of: Int32(i)) ?? -1) - value(u, i)
                sq += d * d
            }
            #expect((sq / Float(held.count)).squareRoot() < 0.05, "\(kernels.backend) held-out RMSE")
        }
    }
}
