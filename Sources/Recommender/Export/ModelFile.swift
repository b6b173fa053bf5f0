import Foundation
import LinearAlgebra
import MovieLens

/// A trained collaborative model with what it needs to answer queries: id maps, titles and each
/// user's seen items. Saved as a versioned, checksummed ``BinaryArchive`` written atomically.
public struct TrainedModel: Sendable {
    public enum Kind: String, Sendable, Codable { case implicitALS = "als", ease }

    public struct Header: Sendable, Codable {
        public var kind: Kind
        public var factors: Int
        public var regularization: Float
        public var alpha: Float
        public var iterations: Int
        public var seed: UInt64
        public var minRating: Float
        public var users: Int
        public var items: Int
    }

    public var header: Header
    public var users: IDMap
    public var items: IDMap
    /// Title of each item (aligned with ``items``).
    public var titles: [String]
    /// users × items: everything the user rated (the seen mask).
    public var seen: SparseMatrix
    /// ALS: users × factors and items × factors. EASE: empty and items × items.
    public var userFactors: Matrix
    public var itemFactors: Matrix

    static let magic = "MRMODEL1"
    static let version: UInt32 = 1

    // MARK: - Training

    /// Trains on `ratings` (all of them form the seen mask; ratings ≥ `minRating` are the positives).
    public static func train(kind: Kind, ratings: Ratings, movies: [Movie], factors: Int = 64, regularization: Float? = nil,
                             alpha: Float = 1, iterations: Int = 15, seed: UInt64 = 0, minRating: Float = 4,
                             kernels: any Kernels, progress: (String) -> Void = { _ in }) throws -> TrainedModel {
        let users = IDMap(ratings.userIDs), items = IDMap(ratings.movieIDs)
        let (seen, positives) = interactionMatrices(ratings, users: users, items: items, minRating: minRating)
        let catalogue = Dictionary(movies.map { ($0.id, $0.title) }, uniquingKeysWith: { a, _ in a })
        let titles = items.ids.map { catalogue[$0] ?? "movie \($0)" }
        var header = Header(kind: kind, factors: factors, regularization: regularization ?? (kind == .ease ? 500 : 0.05),
                            alpha: alpha, iterations: iterations, seed: seed, minRating: minRating,
                            users: users.count, items: items.count)
        switch kind {
        case .implicitALS:
            var model = ImplicitALS(factors: factors, regularization: header.regularization, alpha: alpha, iterations: iterations, seed: seed)
            _ = try model.fit(positives, kernels: kernels) { it in
                progress("iteration \(it.index)/\(iterations): \(String(format: "%.3f", it.seconds)) s, loss \(it.loss.map { String(format: "%.5f", $0) } ?? "-")")
            }
            return TrainedModel(header: header, users: users, items: items, titles: titles, seen: seen,
                                userFactors: model.userFactors, itemFactors: model.itemFactors)
        case .ease:
            progress("EASE: \(items.count)² weights = \(EASE.memoryBytes(items: items.count) / 1_048_576) MiB")
            var model = EASE(regularization: header.regularization)
            try model.fit(positives, kernels: kernels)
            header.factors = 0
            return TrainedModel(header: header, users: users, items: items, titles: titles, seen: seen,
                                userFactors: Matrix(rows: 0, cols: 0), itemFactors: model.weights)
        }
    }

    // MARK: - Queries

    /// Top-`count` movies for the user with MovieLens id `userID`, excluding seen movies unless asked.
    /// - Throws: ``MovieLensError/unknownID(kind:id:context:)`` naming the nearest known ids.
    public func recommend(userID: Int32, count: Int, includeSeen: Bool = false) throws -> [(movieID: Int32, title: String, score: Float)] {
        guard let u = users.index(of: userID) else {
            throw MovieLensError.unknownID(kind: "user", id: Int(userID),
                                           context: "not in the model; nearest known: \(users.nearest(to: userID).map(String.init).joined(separator: ", "))")
        }
        var scores = [Float](repeating: 0, count: items.count)
        switch header.kind {
        case .implicitALS:
            ImplicitALS.scores(user: u, userFactors: userFactors, itemFactors: itemFactors, into: &scores)
        case .ease:
            let positives = seen.range(ofRow: u).filter { seen.values[$0] >= header.minRating }.map { Int(seen.columns[$0]) }
            EASE.scores(weights: itemFactors, positives: positives, into: &scores)
        }
        if !includeSeen { for e in seen.range(ofRow: u) { scores[Int(seen.columns[e])] = -.infinity } }
        return scores.withUnsafeBufferPointer { TopK.select($0, k: count) }.filter { $0.value > -.infinity }
            .map { (items.ids[$0.index], titles[$0.index], $0.value) }
    }

    /// The `count` movies most similar to `movieID`: cosine of item factors (ALS) or EASE weights.
    public func similar(movieID: Int32, count: Int) throws -> [(movieID: Int32, title: String, score: Float)] {
        guard let m = items.index(of: movieID) else {
            throw MovieLensError.unknownID(kind: "movie", id: Int(movieID),
                                           context: "not in the model; nearest known: \(items.nearest(to: movieID).map(String.init).joined(separator: ", "))")
        }
        var scores = [Float](repeating: 0, count: items.count)
        itemFactors.withView { y in
            switch header.kind {
            case .implicitALS:
                let k = y.cols
                let a = y.base + m * y.stride
                let na = dotProduct(a, a, k).squareRoot()
                for i in 0..<y.rows {
                    let b = y.base + i * y.stride
                    let nb = dotProduct(b, b, k).squareRoot()
                    scores[i] = na > 0 && nb > 0 ? dotProduct(a, b, k) / (na * nb) : 0
                }
            case .ease:
                for i in 0..<y.rows { scores[i] = y[m, i] }
            }
        }
        scores[m] = -.infinity
        return scores.withUnsafeBufferPointer { TopK.select($0, k: count) }.filter { $0.value > -.infinity }
            .map { (items.ids[$0.index], titles[$0.index], $0.value) }
    }

    // MARK: - Files

    /// Writes the model atomically.
    public func write(to url: URL) throws {
        var a = BinaryArchive(magic: Self.magic, version: Self.version)
        try a.set("header", json: header)
        a.set("users", ints: users.ids)
        a.set("items", ints: items.ids)
        try a.set("titles", json: titles)
        a.set("seen.rowStarts", longs: seen.rowStarts.map(Int64.init))
        a.set("seen.columns", ints: seen.columns)
        a.set("seen.values", floats: seen.values)
        a.set("userFactors", floats: userFactors.elements)
        a.set("itemFactors", floats: itemFactors.elements)
        try a.write(to: url)
    }

    /// Reads a model file; a truncated, corrupted or wrong-version file gives an ``ArchiveError``.
    public static func load(from url: URL) throws -> TrainedModel {
        let a = try BinaryArchive.read(from: url, magic: magic, version: version)
        let header = try a.json("header", as: Header.self)
        let users = IDMap(sortedUnique: try a.ints("users")), items = IDMap(sortedUnique: try a.ints("items"))
        let titles = try a.json("titles", as: [String].self)
        let starts = try a.longs("seen.rowStarts").map(Int.init)
        let columns = try a.ints("seen.columns"), values = try a.floats("seen.values")
        guard users.count == header.users, items.count == header.items, titles.count == items.count,
              starts.count == users.count + 1, starts.last == columns.count, columns.count == values.count,
              columns.allSatisfy({ $0 >= 0 && Int($0) < items.count }), zip(starts, starts.dropFirst()).allSatisfy({ $0 <= $1 })
        else { throw ArchiveError.badSection(path: url.path, name: "seen", reason: "inconsistent with the header") }
        let seen = SparseMatrix(rows: users.count, cols: items.count, rowStarts: starts, columns: columns, values: values)
        let userValues = try a.floats("userFactors"), itemValues = try a.floats("itemFactors")
        let userShape = header.kind == .ease ? (0, 0) : (users.count, header.factors)
        let itemShape = header.kind == .ease ? (items.count, items.count) : (items.count, header.factors)
        guard userValues.count == userShape.0 * userShape.1, itemValues.count == itemShape.0 * itemShape.1 else {
            throw ArchiveError.badSection(path: url.path, name: "factors", reason: "sizes do not match the header")
        }
        return TrainedModel(header: header, users: users, items: items, titles: titles, seen: seen,
                            userFactors: try Matrix(rows: userShape.0, cols: userShape.1, elements: userValues),
                            itemFactors: try Matrix(rows: itemShape.0, cols: itemShape.1, elements: itemValues))
    }
}
