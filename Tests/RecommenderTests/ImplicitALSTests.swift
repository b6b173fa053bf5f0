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
        #expect(throws: LinearAlgebraError.self) { _ = try model.recommend(user: 99, userItems: m, count: 3) }
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
