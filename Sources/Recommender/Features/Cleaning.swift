import LinearAlgebra
import MovieLens

/// The activity filters: keep movies with **more than** `minMovieRatings` ratings and users with
/// **more than** `minUserRatings` ratings (both counted on the full ratings), then the ratings of
/// kept users on kept (and allowed) movies. With `kCore`, the two filters are re-applied to what is
/// left until nothing changes.
public struct RatingFilter: Sendable, Hashable {
    public var minMovieRatings = 50
    public var minUserRatings = 10
    public var kCore = false

    public init(minMovieRatings: Int = 50, minUserRatings: Int = 10, kCore: Bool = false) {
        self.minMovieRatings = minMovieRatings
        self.minUserRatings = minUserRatings
        self.kCore = kCore
    }

    /// What the filter kept.
    public struct Report: Sendable, Codable, Equatable {
        public var moviesKept: Int
        public var usersKept: Int
        public var ratingsKept: Int
        /// Rounds until the fixed point (1 without k-core).
        public var rounds: Int
    }

    /// The indices of the ratings to keep, in file order. `allowed(movieID)` excludes movies
    /// beforehand (e.g. those the balancing dropped); they still count towards users' activity.
    /// - Complexity: O(ratings × rounds), parallel over the ratings.
    public func keptRatings(_ ratings: Ratings, allowedMovies allowed: IDMap? = nil,
                            threads: Int = Parallel.cores) -> (indices: [Int], report: Report) {
        let n = ratings.count
        guard n > 0 else { return ([], Report(moviesKept: 0, usersKept: 0, ratingsKept: 0, rounds: 0)) }
        // Dense indices first: every array below follows the number of users and movies, never
        // the size of their ids.
        let userMap = IDMap(ratings.userIDs, threads: threads), movieMap = IDMap(ratings.movieIDs, threads: threads)
        let userIndex = userMap.indices(of: ratings.userIDs, threads: threads), movieIndex = movieMap.indices(of: ratings.movieIDs, threads: threads)
        let maxUser = userMap.count - 1, maxMovie = movieMap.count - 1
        var alive = [Bool](repeating: true, count: n)
        var movieOK = [Bool](repeating: false, count: maxMovie + 1)
        var userOK = [Bool](repeating: false, count: maxUser + 1)
        let allowedTable: [Bool]? = allowed.map { map in movieMap.ids.map { map.index(of: $0) != nil } }
        let parts = Parallel.split(n, parts: n < 1 << 16 ? 1 : max(1, threads))
        var rounds = 0
        while true {
            rounds += 1
            // Count on the ratings still alive (all of them in round 1), one histogram per part.
            var userCount = [Int32](repeating: 0, count: (maxUser + 1) * parts.count)
            var movieCount = [Int32](repeating: 0, count: (maxMovie + 1) * parts.count)
            userIndex.withUnsafeBufferPointer { u in
                movieIndex.withUnsafeBufferPointer { m in
                    alive.withUnsafeBufferPointer { a in
                        userCount.withUnsafeMutableBufferPointer { uc in
                            movieCount.withUnsafeMutableBufferPointer { mc in
                                guard let ucp = uc.baseAddress, let mcp = mc.baseAddress else { return }
                                let io = UnsafeSendableBox((u, m, a, UnsafeSendable(ucp), UnsafeSendable(mcp)))
                                Parallel.forEach(count: parts.count, threads: threads) { p in
                                    let (u, m, a, uc, mc) = io.value
                                    let myUsers = uc.pointer + p * (maxUser + 1), myMovies = mc.pointer + p * (maxMovie + 1)
                                    for i in parts[p] where a[i] {
                                        myUsers[Int(u[i])] += 1
                                        myMovies[Int(m[i])] += 1
                                    }
                                }
                            }
                        }
                    }
                }
            }
            for m in 0...maxMovie {
                var c = 0
                for p in 0..<parts.count { c += Int(movieCount[p * (maxMovie + 1) + m]) }
                movieOK[m] = c > minMovieRatings && (allowedTable?[m] ?? true)
            }
            for u in 0...maxUser {
                var c = 0
                for p in 0..<parts.count { c += Int(userCount[p * (maxUser + 1) + u]) }
                userOK[u] = c > minUserRatings
            }
            var changed = [Bool](repeating: false, count: parts.count)
            userIndex.withUnsafeBufferPointer { u in
                movieIndex.withUnsafeBufferPointer { m in
                    alive.withUnsafeMutableBufferPointer { a in
                        changed.withUnsafeMutableBufferPointer { ch in
                            guard let ap = a.baseAddress, let cp = ch.baseAddress else { return }
                            let io = UnsafeSendableBox((u, m, UnsafeSendable(ap), UnsafeSendable(cp), movieOK, userOK))
                            Parallel.forEach(count: parts.count, threads: threads) { p in
                                let (u, m, a, ch, movieOK, userOK) = io.value
                                for i in parts[p] where a.pointer[i] {
                                    if !(movieOK[Int(m[i])] && userOK[Int(u[i])]) {
                                        a.pointer[i] = false
                                        ch.pointer[p] = true
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if !kCore || !changed.contains(true) { break }
        }
        // Gather the kept indices in parallel: count per part, then fill each part's slice.
        var partCounts = [Int](repeating: 0, count: parts.count)
        alive.withUnsafeBufferPointer { a in
            partCounts.withUnsafeMutableBufferPointer { pc in
                guard let pcp = pc.baseAddress else { return }
                let io = UnsafeSendableBox((a, UnsafeSendable(pcp)))
                Parallel.forEach(count: parts.count, threads: threads) { p in
                    let (a, pc) = io.value
                    var c = 0
                    for i in parts[p] where a[i] { c += 1 }
                    pc.pointer[p] = c
                }
            }
        }
        let total = partCounts.reduce(0, +)
        var offsets = [Int](repeating: 0, count: parts.count)
        for p in 1..<max(1, parts.count) { offsets[p] = offsets[p - 1] + partCounts[p - 1] }
        var userSeen = [Bool](repeating: false, count: maxUser + 1), movieSeen = [Bool](repeating: false, count: maxMovie + 1)
        for u in 0...maxUser where userOK[u] { userSeen[u] = true }
        let indices = [Int](unsafeUninitializedCapacity: total) { out, count in
            alive.withUnsafeBufferPointer { a in
                guard let o = out.baseAddress else { return }
                let io = UnsafeSendableBox((a, UnsafeSendable(o), offsets))
                Parallel.forEach(count: parts.count, threads: threads) { p in
                    let (a, o, offsets) = io.value
                    var k = offsets[p]
                    for i in parts[p] where a[i] {
                        (o.pointer + k).initialize(to: i)
                        k += 1
                    }
                }
            }
            count = total
        }
        // Users and movies that still have a rating.
        var usersLeft = 0, moviesLeft = 0
        var userHas = [Bool](repeating: false, count: maxUser + 1)
        for i in indices { userHas[Int(userIndex[i])] = true; movieSeen[Int(movieIndex[i])] = true }
        for u in 0...maxUser where userHas[u] && userSeen[u] { usersLeft += 1 }
        for m in 0...maxMovie where movieSeen[m] { moviesLeft += 1 }
        return (indices, Report(moviesKept: moviesLeft, usersKept: usersLeft, ratingsKept: indices.count, rounds: rounds))
    }
}

/// Min–max scaling of ratings to [0, 1]: `(r − min) / (max − min)`.
public struct MinMaxScaler: Sendable, Hashable, Codable {
    public let minimum: Float
    public let maximum: Float

    /// Fits the scaler to `values`.
    /// - Throws: ``PreparationError/constantRatings(value:)`` when every value is the same (the scale is
    ///   undefined; scikit-learn would silently map everything to 0).
    public init(fitting values: [Float]) throws {
        guard let lo = values.min(), let hi = values.max() else { throw PreparationError.noRatingsLeft }
        guard hi > lo else { throw PreparationError.constantRatings(value: lo) }
        minimum = lo
        maximum = hi
    }

    @inlinable public func transform(_ r: Float) -> Float { (r - minimum) / (maximum - minimum) }
    @inlinable public func inverse(_ x: Float) -> Float { minimum + x * (maximum - minimum) }
}

/// Errors of the preparation pipeline.
public enum PreparationError: Error, Sendable, Equatable, CustomStringConvertible {
    case noRatingsLeft
    case constantRatings(value: Float)
    case invalidParameter(String)

    public var description: String {
        switch self {
        case .noRatingsLeft: return "no ratings are left after balancing and filtering; lower --min-movie-ratings / --min-user-ratings"
        case let .constantRatings(value): return "every kept rating is \(value): min-max scaling is undefined"
        case let .invalidParameter(text): return text
        }
    }
}
