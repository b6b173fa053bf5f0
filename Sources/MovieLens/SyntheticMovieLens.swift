import Foundation
import LinearAlgebra

/// A seeded generator of MovieLens-shaped data: the full GroupLens file set with the shapes of the
/// real releases. No real ML-20M ratings exist on the machines this project is built on, so every
/// full-scale benchmark runs on this generator's output.
///
/// The model, in brief:
/// - **Movies**: ids are a sorted random sample of `1…maxMovieID`; 1–3 genres (45/35/20 %) drawn
///   without replacement with ML-20M's genre-label frequencies (Drama 24.5 %, Comedy 15.4 %, …);
///   titles like `Synthetic Movie 42 (1987)`, every 10th with `, The` and every 50th with double
///   quotes, so the CSV needs RFC 4180 quoting as the real one does.
/// - **Popularity**: Zipf-like, `p ∝ (rank + 10)^(−a)` over a random rank order.
/// - **Taste**: 8-d latent vectors for genres, movies (their genres' mean plus noise) and users.
///   Users belong to one of 96 taste communities: a user's vector is the community's prototype
///   plus a personal offset. Which movies a user rates: a mixture of global popularity (25 %) and
///   the community's choice weights `popularity · exp(0.6·⟨prototype, q_m⟩)` (75 %), without
///   replacement (exact Gumbel top-k for heavy users). Real MovieLens users choose by taste, not by
///   popularity alone: on ml-latest-small implicit ALS ranks held-out movies ~2× better than a
///   most-popular list, and so it does here.
/// - **Activity**: at least 20 ratings per user plus a log-normal excess (σ 1.38, ML-20M's
///   mean/median), scaled to the exact total and capped at a share of the catalogue.
/// - **Ratings**: `μ + b_u + b_i + 0.45·⟨p_u, q_i⟩ + N(0, 0.6²)`, rounded to half stars (or whole
///   stars per user, as before 2003), clipped to the scale.
/// - **Time**: strictly increasing along each user's history (sessions seconds apart, days between
///   sessions), inside the release's date range; the order of a user's movies in time is a seeded
///   shuffle (no sequential signal beyond taste, and none of the sampler's order).
/// - **Genome**: the most-rated movies × 1,128 tags, relevance `σ(b_t + 1.3·⟨q_i, t_k⟩/√8 + noise)`.
///
/// Output is identical for the same preset and seed, whatever the thread count.
public struct SyntheticMovieLens: Sendable {
    /// The shape of one imitated release.
    public struct Preset: Sendable, Hashable {
        public var name: String
        public var users: Int
        /// Movies in movies.csv.
        public var movies: Int
        /// Movies with at least one rating (≤ movies).
        public var ratedMovies: Int
        public var ratings: Int
        public var maxMovieID: Int
        public var genomeMovies: Int
        public var genomeTags: Int
        public var tags: Int
        /// Share of users rating in half stars (the rest whole stars).
        public var halfStarUsers: Double
        /// Largest share of the rated catalogue one user may rate.
        public var activityCap: Double
        /// Zipf exponent of movie popularity.
        public var zipf: Double
        /// First and last rating time (Unix seconds).
        public var timeRange: ClosedRange<Int64>

        public static let small = Preset(name: "small", users: 610, movies: 9_742, ratedMovies: 9_724, ratings: 100_836,
                                         maxMovieID: 193_609, genomeMovies: 3_700, genomeTags: 1_128, tags: 3_683,
                                         halfStarUsers: 0.6, activityCap: 0.3, zipf: 0.95,
                                         timeRange: 828_124_615...1_537_799_250)
        public static let ml1m = Preset(name: "1m", users: 6_040, movies: 3_883, ratedMovies: 3_706, ratings: 1_000_209,
                                        maxMovieID: 3_952, genomeMovies: 1_440, genomeTags: 1_128, tags: 0,
                                        halfStarUsers: 0, activityCap: 0.6, zipf: 0.75,
                                        timeRange: 956_703_932...1_046_454_590)
        public static let ml20m = Preset(name: "20m", users: 138_493, movies: 27_278, ratedMovies: 26_744, ratings: 20_000_263,
                                         maxMovieID: 131_262, genomeMovies: 10_381, genomeTags: 1_128, tags: 465_564,
                                         halfStarUsers: 0.55, activityCap: 0.35, zipf: 1.0,
                                         timeRange: 789_652_009...1_427_784_002)
        public static let ml32m = Preset(name: "32m", users: 200_948, movies: 87_585, ratedMovies: 84_432, ratings: 32_000_204,
                                         maxMovieID: 292_757, genomeMovies: 13_816, genomeTags: 1_128, tags: 2_000_072,
                                         halfStarUsers: 0.75, activityCap: 0.2, zipf: 1.05,
                                         timeRange: 789_652_009...1_697_164_147)

        /// All presets by name.
        public static let all: [String: Preset] = ["small": .small, "1m": .ml1m, "20m": .ml20m, "32m": .ml32m]

        /// The preset called `name` (`small`, `1m`, `20m`, `32m`).
        public static func named(_ name: String) throws -> Preset {
            guard let p = all[name] else {
                throw MovieLensError.invalidArgument("unknown preset '\(name)'; choose one of small, 1m, 20m, 32m")
            }
            return p
        }
    }

    public var preset: Preset
    public var seed: UInt64
    public var includeGenome = true
    /// Write CRLF line ends (as the real ml-latest-small does) instead of LF.
    public var crlf = false
    public var threads = Parallel.cores

    public init(preset: Preset, seed: UInt64) {
        self.preset = preset
        self.seed = seed
    }

    /// ML-20M's number of movies per genre label (their shares of all labels are what the balancing
    /// step reports: Drama 24.5 %, Comedy 15.4 %).
    public static let genreFrequencies: [(String, Int)] = [
        ("Drama", 13_344), ("Comedy", 8_374), ("Thriller", 4_178), ("Romance", 4_127), ("Action", 3_520),
        ("Crime", 2_939), ("Horror", 2_611), ("Documentary", 2_471), ("Adventure", 2_329), ("Sci-Fi", 1_743),
        ("Mystery", 1_514), ("Fantasy", 1_412), ("War", 1_194), ("Children", 1_139), ("Musical", 1_036),
        ("Animation", 1_027), ("Western", 676), ("Film-Noir", 330), ("IMAX", 196),
    ]

    static let dims = 8
    /// Taste communities: users of one community choose from the same taste-weighted popularity.
    static let communities = 96
    /// γ in a community's choice weight `popularity · exp(γ·⟨prototype, q_m⟩)`.
    static let tasteStrength = 0.6
    /// Share of a user's picks drawn from global popularity alone.
    static let popularShare = 0.25

    /// What the generator wrote.
    public struct Summary: Sendable, Codable {
        public var preset: String
        public var seed: UInt64
        public var users: Int
        public var movies: Int
        public var ratedMovies: Int
        public var ratings: Int
        public var genomeMovies: Int
        public var genomeTags: Int
        public var tags: Int
        public var files: [String]
        public var seconds: Double
    }

    // MARK: - Model

    /// Everything about the movies and users that the files are written from.
    struct World {
        var movieIDs: [Int32]
        var genres: [[Int]]              // genre indices per movie
        var popularity: [Double]         // normalised weights, rated movies only (others 0)
        var factors: [Float]             // movies × dims
        var bias: [Float]
        var prototypes: [Float]          // taste communities × dims
        var activity: [Int]              // ratings per user
        var offsets: [Int]               // prefix sums of activity
    }

    func buildWorld() -> World {
        var g = SeededGenerator(seed: seed, stream: 1)
        let p = preset
        // Movie ids: a sorted sample of 1…maxMovieID.
        var ids = Set<Int32>()
        while ids.count < p.movies { ids.insert(Int32(1 + Int(g.next() % UInt64(p.maxMovieID)))) }
        let movieIDs = ids.sorted()
        // Genres.
        let total = Double(Self.genreFrequencies.reduce(0) { $0 + $1.1 })
        let weights = Self.genreFrequencies.map { Double($0.1) / total }
        var genres = [[Int]]()
        genres.reserveCapacity(p.movies)
        for _ in 0..<p.movies {
            if g.nextUnitDouble() < 0.01 { genres.append([]); continue }   // (no genres listed)
            let u = g.nextUnitDouble()
            let k = u < 0.45 ? 1 : (u < 0.80 ? 2 : 3)
            var chosen = [Int]()
            while chosen.count < k {
                var x = g.nextUnitDouble() * (1 - chosen.reduce(0) { $0 + weights[$1] })
                for (c, w) in weights.enumerated() where !chosen.contains(c) {
                    x -= w
                    if x < 0 { chosen.append(c); break }
                }
                if x >= 0, let last = (0..<weights.count).last(where: { !chosen.contains($0) }) { chosen.append(last) }
            }
            genres.append(chosen.sorted())
        }
        // Latent space.
        let d = Self.dims
        let genreVectors = (0..<(Self.genreFrequencies.count * d)).map { _ in Float(g.nextGaussian()) }
        var factors = [Float](repeating: 0, count: p.movies * d)
        for m in 0..<p.movies {
            for k in 0..<d {
                var s: Float = 0
                for c in genres[m] { s += genreVectors[c * d + k] }
                factors[m * d + k] = (genres[m].isEmpty ? 0 : s / Float(genres[m].count)) + 0.6 * Float(g.nextGaussian())
            }
        }
        // Popularity over the rated subset, Zipf over a random rank order.
        var order = Array(0..<p.movies)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(g.next() % UInt64(i + 1))) }
        var popularity = [Double](repeating: 0, count: p.movies)
        for (rank, m) in order.prefix(p.ratedMovies).enumerated() { popularity[m] = pow(Double(rank) + 10, -p.zipf) }
        let popSum = popularity.reduce(0, +)
        popularity = popularity.map { $0 / popSum }
        let bias = (0..<p.movies).map { m -> Float in
            let popular = popularity[m] > 0 ? Float(log(popularity[m] * Double(p.ratedMovies))) * 0.06 : 0
            return Float(g.nextGaussian()) * 0.35 + popular
        }
        let prototypes = (0..<(Self.communities * d)).map { _ in Float(g.nextGaussian()) * 0.8 }
        let activity = Self.activity(users: p.users, total: p.ratings, cap: max(20, Int(Double(p.ratedMovies) * p.activityCap)), generator: &g)
        var offsets = [0]
        offsets.reserveCapacity(p.users + 1)
        for a in activity { offsets.append(offsets[offsets.count - 1] + a) }
        return World(movieIDs: movieIDs, genres: genres, popularity: popularity, factors: factors, bias: bias,
                     prototypes: prototypes, activity: activity, offsets: offsets)
    }

    /// Ratings per user: 20 + log-normal excess, scaled to sum exactly to `total`, each at most `cap`.
    static func activity(users: Int, total: Int, cap: Int, generator g: inout SeededGenerator) -> [Int] {
        let floor = min(20, total / max(1, users))
        let excess = (0..<users).map { _ in exp(1.38 * g.nextGaussian()) }
        var capped = [Bool](repeating: false, count: users)
        var result = [Int](repeating: floor, count: users)
        for _ in 0..<50 {
            let cappedTotal = (0..<users).reduce(0) { $0 + (capped[$1] ? cap : 0) }
            let free = (0..<users).filter { !capped[$0] }
            let budget = Double(total - cappedTotal - floor * free.count)
            let mass = free.reduce(0.0) { $0 + excess[$1] }
            var newCap = false
            var fractions = [(Double, Int)]()
            var assigned = cappedTotal
            for u in free {
                let x = budget * excess[u] / mass
                let whole = Int(x)
                result[u] = floor + whole
                assigned += result[u]
                fractions.append((x - Double(whole), u))
                if result[u] > cap { capped[u] = true; newCap = true }
            }
            for u in 0..<users where capped[u] { result[u] = cap }
            if newCap { continue }
            // Largest remainders take the last units.
            fractions.sort { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
            var left = total - assigned
            var i = 0
            while left > 0 && !fractions.isEmpty {
                let u = fractions[i % fractions.count].1
                if result[u] < cap { result[u] += 1; left -= 1 }
                i += 1
            }
            break
        }
        return result
    }
}
