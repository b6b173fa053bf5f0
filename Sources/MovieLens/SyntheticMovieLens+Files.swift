import Foundation
import LinearAlgebra

extension SyntheticMovieLens {
    /// Independent random streams, one per purpose, each split per user or movie.
    enum Stream: UInt64 {
        case taste = 0x7A57E, picks = 0x91C65, ratings = 0x2A7E5, genome = 0x6E40E, fixup = 0xF1C5, tags = 0x7A65
    }

    func generator(_ purpose: Stream, _ index: Int) -> SeededGenerator {
        SeededGenerator(seed: seed &+ purpose.rawValue &* 0x9E37_79B9_7F4A_7C15, stream: UInt64(index))
    }

    /// A user's taste: latent vector (their community's prototype plus a personal offset), the
    /// community, bias and star granularity.
    struct Taste {
        var vector: [Float]
        var community: Int
        var bias: Float
        var halfStars: Bool
    }

    func taste(of user: Int, world: World) -> Taste {
        var g = generator(.taste, user)
        let d = Self.dims
        let community = Int(g.next() % UInt64(Self.communities))
        let vector = (0..<d).map { k in world.prototypes[community * d + k] + Float(g.nextGaussian()) * 0.35 }
        return Taste(vector: vector, community: community, bias: Float(g.nextGaussian()) * 0.4,
                     halfStars: g.nextUnitDouble() < preset.halfStarUsers)
    }

    /// Cumulative choice weights over the rated movies: global popularity, and each taste
    /// community's `popularity · exp(γ·⟨prototype, q_m⟩)`.
    struct Samplers {
        var global: (cdf: [Double], movies: [Int32])
        var byCommunity: [(cdf: [Double], movies: [Int32])]

        static func draw(_ s: (cdf: [Double], movies: [Int32]), _ u: Double) -> Int32 {
            var lo = 0, hi = s.cdf.count - 1
            let x = u * (s.cdf.last ?? 0)
            while lo < hi {
                let mid = (lo + hi) / 2
                if s.cdf[mid] <= x { lo = mid + 1 } else { hi = mid }
            }
            return s.movies[lo]
        }

        /// The normalised weight of the `i`-th rated movie in sampler `s`.
        static func weight(_ s: (cdf: [Double], movies: [Int32]), _ i: Int) -> Double {
            let total = max(1e-300, s.cdf.last ?? 1)
            return (s.cdf[i] - (i > 0 ? s.cdf[i - 1] : 0)) / total
        }
    }

    func samplers(_ world: World) -> Samplers {
        let d = Self.dims
        let rated = (0..<preset.movies).filter { world.popularity[$0] > 0 }
        let movies = rated.map { Int32($0) }
        func cdf(_ weight: (Int) -> Double) -> [Double] {
            var acc = 0.0
            return rated.map { m in acc += weight(m); return acc }
        }
        let global = cdf { world.popularity[$0] }
        let byCommunity = (0..<Self.communities).map { c in
            cdf { m in
                var dot: Float = 0
                for k in 0..<d { dot += world.prototypes[c * d + k] * world.factors[m * d + k] }
                return world.popularity[m] * exp(Self.tasteStrength * Double(dot))
            }
        }
        return Samplers(global: (global, movies), byCommunity: byCommunity.map { ($0, movies) })
    }

    /// Phase 1: every user's movies, in the order the user rates them (indices into the movie list).
    func pickMovies(_ world: World, _ samplers: Samplers) -> [Int32] {
        var picks = [Int32](repeating: 0, count: preset.ratings)
        let heavy = max(64, preset.ratedMovies / 16)
        picks.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            let out = UnsafeSendable(base)
            let input = UnsafeSendableBox((self, world, samplers))
            Parallel.forChunks(count: preset.users, threads: threads, minChunk: 256) { users in
                let (gen, world, samplers) = input.value
                var stamp = [Int32](repeating: -1, count: gen.preset.movies)
                for u in users {
                    let n = world.activity[u]
                    let dst = out.pointer + world.offsets[u]
                    let taste = gen.taste(of: u, world: world)
                    var g = gen.generator(.picks, u)
                    if n >= heavy {
                        gen.gumbelTopK(n, taste, world, samplers, &g, dst)
                        continue
                    }
                    var count = 0
                    var attempts = 0
                    while count < n {
                        attempts += 1
                        if attempts > 200 * n {
                            // Pathological rejection rate: finish exactly.
                            gen.gumbelTopK(n, taste, world, samplers, &g, dst)
                            break
                        }
                        let m = g.nextUnitDouble() < Self.popularShare
                            ? Samplers.draw(samplers.global, g.nextUnitDouble())
                            : Samplers.draw(samplers.byCommunity[taste.community], g.nextUnitDouble())
                        if stamp[Int(m)] == Int32(u) { continue }
                        stamp[Int(m)] = Int32(u)
                        dst[count] = m
                        count += 1
                    }
                }
            }
        }
        return picks
    }

    /// Exact weighted sampling of `n` distinct movies without replacement (Gumbel top-k), in
    /// descending key order.
    func gumbelTopK(_ n: Int, _ taste: Taste, _ world: World, _ samplers: Samplers, _ g: inout SeededGenerator,
                    _ dst: UnsafeMutablePointer<Int32>) {
        var keys = [Float](repeating: -.infinity, count: preset.movies)
        let community = samplers.byCommunity[taste.community]
        for (i, m) in samplers.global.movies.enumerated() {
            let w = Self.popularShare * Samplers.weight(samplers.global, i)
                + (1 - Self.popularShare) * Samplers.weight(community, i)
            let u = max(1e-300, g.nextUnitDouble())
            keys[Int(m)] = Float(log(max(1e-300, w)) - log(-log(u)))
        }
        let top = keys.withUnsafeBufferPointer { TopK.select($0, k: n) }
        for (i, entry) in top.enumerated() { dst[i] = Int32(entry.index) }
    }

    /// Phase 2: gives every movie of the rated set at least one rating, by swapping it into a
    /// random user's list in place of that user's most-rated movie. Returns the final counts.
    func ensureEveryRatedMovieIsRated(_ picks: inout [Int32], _ world: World) -> [Int] {
        var counts = [Int](repeating: 0, count: preset.movies)
        for m in picks { counts[Int(m)] += 1 }
        var g = generator(.fixup, 0)
        for m in 0..<preset.movies where world.popularity[m] > 0 && counts[m] == 0 {
            for _ in 0..<1000 {
                let u = Int(g.next() % UInt64(preset.users))
                let range = world.offsets[u]..<world.offsets[u + 1]
                guard let slot = range.max(by: { counts[Int(picks[$0])] < counts[Int(picks[$1])] || (counts[Int(picks[$0])] == counts[Int(picks[$1])] && $0 > $1) }),
                      counts[Int(picks[slot])] > 1 else { continue }
                counts[Int(picks[slot])] -= 1
                picks[slot] = Int32(m)
                counts[m] = 1
                break
            }
        }
        return counts
    }

    // MARK: - Writing

    /// Writes the file set into `directory` and returns what was written. Each file is written
    /// atomically (temporary file, then rename).
    public func write(to directory: URL, progress: (String) -> Void = { _ in }) throws -> Summary {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        progress("model")
        let world = buildWorld()
        let samplers = samplers(world)
        progress("choosing \(preset.ratings) (user, movie) pairs")
        var picks = pickMovies(world, samplers)
        let counts = ensureEveryRatedMovieIsRated(&picks, world)
        var files = [String]()
        progress("movies.csv")
        try writeMovies(world, to: directory.appendingPathComponent("movies.csv")); files.append("movies.csv")
        progress("ratings.csv")
        try writeRatings(world, picks, to: directory.appendingPathComponent("ratings.csv")); files.append("ratings.csv")
        progress("tags.csv, links.csv")
        try writeTags(world, picks, to: directory.appendingPathComponent("tags.csv")); files.append("tags.csv")
        try writeLinks(world, to: directory.appendingPathComponent("links.csv")); files.append("links.csv")
        var genomeMovies = 0
        if includeGenome && preset.genomeMovies > 0 {
            progress("genome-scores.csv, genome-tags.csv")
            genomeMovies = try writeGenome(world, counts, to: directory)
            files += ["genome-scores.csv", "genome-tags.csv"]
        }
        let summary = Summary(preset: preset.name, seed: seed, users: preset.users, movies: preset.movies,
                              ratedMovies: counts.filter { $0 > 0 }.count, ratings: preset.ratings,
                              genomeMovies: genomeMovies, genomeTags: genomeMovies > 0 ? preset.genomeTags : 0,
                              tags: preset.tags, files: files,
                              seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFileWriter.write(Array(try encoder.encode(summary)) + [10], to: directory.appendingPathComponent("synth.json"))
        return summary
    }

    var eol: StaticString { crlf ? "\r\n" : "\n" }

    func title(_ m: Int, year: Int) -> String {
        if m % 50 == 7 { return "Synthetic \"Movie\" \(m) (\(year))" }
        if m % 10 == 3 { return "Synthetic Movie \(m), The (\(year))" }
        return "Synthetic Movie \(m) (\(year))"
    }

    func writeMovies(_ world: World, to url: URL) throws {
        var g = generator(.taste, Int.max)
        var out = TextBuffer(capacity: preset.movies * 48)
        out.append("movieId,title,genres"); out.append(eol)
        for m in 0..<preset.movies {
            let year = 2015 - Int(pow(g.nextUnitDouble(), 1.6) * 100)
            out.append(world.movieIDs[m]); out.append(UInt8(ascii: ","))
            out.appendCSVField(title(Int(world.movieIDs[m]), year: year)); out.append(UInt8(ascii: ","))
            let names = world.genres[m].map { Self.genreFrequencies[$0].0 }
            out.appendCSVField(names.isEmpty ? "(no genres listed)" : names.joined(separator: "|"))
            out.append(eol)
        }
        try AtomicFileWriter.write(out.bytes, to: url)
    }

    func writeRatings(_ world: World, _ picks: [Int32], to url: URL) throws {
        let input = UnsafeSendableBox((self, world, picks))
        try AtomicFileWriter.writeBlocks(to: url, header: "userId,movieId,rating,timestamp" + (crlf ? "\r\n" : "\n"),
                                         count: preset.users, blockSize: 2048, threads: threads) { users, text in
            let (gen, world, picks) = input.value
            gen.ratingLines(users, world, picks, into: &text)
        }
    }

    /// The ratings.csv lines of `users`, each user's rows sorted by movie id.
    func ratingLines(_ users: Range<Int>, _ world: World, _ picks: [Int32], into out: inout TextBuffer) {
        out.bytes.reserveCapacity((world.offsets[users.upperBound] - world.offsets[users.lowerBound]) * 30)
        let d = Self.dims
        let (start, end) = (preset.timeRange.lowerBound, preset.timeRange.upperBound)
        for u in users {
            let taste = taste(of: u, world: world)
            var g = generator(.ratings, u)
            let range = world.offsets[u]..<world.offsets[u + 1]
            let n = range.count
            // Time: session gaps of seconds, days between sessions, scaled into the window.
            var gaps = [Double](repeating: 0, count: n)
            for i in 1..<max(1, n) {
                gaps[i] = g.nextUnitDouble() < 0.85 ? 10 + 590 * g.nextUnitDouble()
                                                    : -log(max(1e-12, g.nextUnitDouble())) * 86_400 * 20
            }
            let window = Double(end - start)
            let span = gaps.reduce(0, +)
            let squeeze = span > window * 0.9 ? window * 0.9 / span : 1
            var t = Double(start) + g.nextUnitDouble() * max(0, window - span * squeeze)
            var rows = [(movie: Int32, stars: Double, time: Int64)]()
            rows.reserveCapacity(n)
            var last: Int64 = .min
            // The picks come in sampling order (popular or preferred first); watching order is a
            // seeded shuffle of them, so time carries no artefact of the sampler.
            var order = Array(range)
            for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(g.next() % UInt64(i + 1))) }
            for (i, slot) in order.enumerated() {
                t += max(1, gaps[i] * squeeze)
                var time = Int64(t)
                if time <= last { time = last + 1 }
                last = time
                let m = Int(picks[slot])
                var dot: Float = 0
                for k in 0..<d { dot += taste.vector[k] * world.factors[m * d + k] }
                let raw = 3.4 + Double(taste.bias + world.bias[m] + 0.18 * dot) + 0.6 * g.nextGaussian()
                let stars = taste.halfStars ? min(5, max(0.5, (raw * 2).rounded() / 2)) : min(5, max(1, raw.rounded()))
                rows.append((world.movieIDs[m], stars, time))
            }
            rows.sort { $0.movie < $1.movie }
            for r in rows {
                out.append(Int64(u + 1)); out.append(UInt8(ascii: ","))
                out.append(r.movie); out.append(UInt8(ascii: ","))
                out.append(r.stars, decimals: 1); out.append(UInt8(ascii: ","))
                out.append(r.time); out.append(eol)
            }
        }
    }

    /// 1,128-ish genome tag names: two-word phrases, a few with commas or quotes.
    func tagNames(_ count: Int) -> [String] {
        let first = ["dark", "funny", "violent", "romantic", "classic", "cult", "quirky", "atmospheric", "visually",
                     "great", "slow", "witty", "epic", "bleak", "tense", "gentle", "surreal", "gritty", "stylish",
                     "heartwarming", "absurd", "clever", "moody", "brutal", "tragic", "uplifting", "dreamlike",
                     "campy", "cerebral", "satirical", "nostalgic", "haunting", "offbeat"]
        let second = ["comedy", "soundtrack", "plot twist", "ending", "dialogue", "cinematography", "villain",
                      "hero", "heist", "romance", "war", "space", "family", "friendship", "revenge", "music",
                      "politics", "history", "future", "childhood", "road trip", "mystery", "courtroom",
                      "animation", "noir", "western", "horror", "monsters", "robots", "dystopia", "sports",
                      "cooking", "small town", "big city", "based on a book"]
        var names = [String]()
        var seen = Set<String>()
        var g = generator(.genome, Int.max)
        while names.count < count {
            var name = first[Int(g.next() % UInt64(first.count))] + " " + second[Int(g.next() % UInt64(second.count))]
            if seen.contains(name) { name += " \(names.count)" }
            if names.count % 97 == 5 { name = "\"\(name)\"" }
            if names.count % 89 == 11 { name = name.replacingOccurrences(of: " ", with: ", ") }
            guard seen.insert(name).inserted else { continue }
            names.append(name)
        }
        return names
    }

    func writeTags(_ world: World, _ picks: [Int32], to url: URL) throws {
        var g = generator(.tags, 0)
        let vocabulary = tagNames(preset.genomeTags)
        var rows = [(user: Int, movie: Int32, tag: Int, time: Int64)]()
        rows.reserveCapacity(preset.tags)
        let (start, end) = (preset.timeRange.lowerBound, preset.timeRange.upperBound)
        for _ in 0..<preset.tags {
            let u = Int(g.next() % UInt64(preset.users))
            let range = world.offsets[u]..<world.offsets[u + 1]
            let m = picks[range.lowerBound + Int(g.next() % UInt64(range.count))]
            rows.append((u + 1, world.movieIDs[Int(m)], Int(g.next() % UInt64(vocabulary.count)),
                         start + Int64(g.nextUnitDouble() * Double(end - start))))
        }
        rows.sort { ($0.user, $0.movie, $0.tag, $0.time) < ($1.user, $1.movie, $1.tag, $1.time) }
        var out = TextBuffer(capacity: preset.tags * 40)
        out.append("userId,movieId,tag,timestamp"); out.append(eol)
        for r in rows {
            out.append(Int64(r.user)); out.append(UInt8(ascii: ","))
            out.append(r.movie); out.append(UInt8(ascii: ","))
            out.appendCSVField(vocabulary[r.tag]); out.append(UInt8(ascii: ","))
            out.append(r.time); out.append(eol)
        }
        try AtomicFileWriter.write(out.bytes, to: url)
    }

    func writeLinks(_ world: World, to url: URL) throws {
        var g = generator(.tags, 1)
        var out = TextBuffer(capacity: preset.movies * 24)
        out.append("movieId,imdbId,tmdbId"); out.append(eol)
        for m in 0..<preset.movies {
            out.append(world.movieIDs[m]); out.append(UInt8(ascii: ","))
            let imdb = String(100_000 + Int(world.movieIDs[m]) * 7 + Int(g.next() % 7))
            out.append(String(repeating: "0", count: max(0, 7 - imdb.count)) + imdb); out.append(UInt8(ascii: ","))
            if g.nextUnitDouble() >= 0.005 { out.append(Int64(1 + g.next() % 500_000)) }
            out.append(eol)
        }
        try AtomicFileWriter.write(out.bytes, to: url)
    }

    /// Writes genome-tags.csv and genome-scores.csv for the most-rated movies; returns their count.
    func writeGenome(_ world: World, _ counts: [Int], to directory: URL) throws -> Int {
        let names = tagNames(preset.genomeTags)
        var tagsOut = TextBuffer()
        tagsOut.append("tagId,tag"); tagsOut.append(eol)
        for (i, name) in names.enumerated() {
            tagsOut.append(Int64(i + 1)); tagsOut.append(UInt8(ascii: ","))
            tagsOut.appendCSVField(name); tagsOut.append(eol)
        }
        try AtomicFileWriter.write(tagsOut.bytes, to: directory.appendingPathComponent("genome-tags.csv"))

        let d = Self.dims
        var g = generator(.genome, 0)
        let tagVectors = (0..<(names.count * d)).map { _ in Float(g.nextGaussian()) }
        let tagBias = (0..<names.count).map { _ in Float(g.nextGaussian() - 2) }
        let chosen = (0..<preset.movies).filter { counts[$0] > 0 }
            .sorted { counts[$0] > counts[$1] || (counts[$0] == counts[$1] && $0 < $1) }
            .prefix(preset.genomeMovies).sorted { world.movieIDs[$0] < world.movieIDs[$1] }
        let input = UnsafeSendableBox((self, world, Array(chosen), tagVectors, tagBias))
        try AtomicFileWriter.writeBlocks(to: directory.appendingPathComponent("genome-scores.csv"),
                                         header: "movieId,tagId,relevance" + (crlf ? "\r\n" : "\n"),
                                         count: chosen.count, blockSize: 64, threads: threads) { movies, text in
            let (gen, world, chosen, tagVectors, tagBias) = input.value
            text.bytes.reserveCapacity(movies.count * tagBias.count * 20)
            for idx in movies {
                let m = chosen[idx]
                var rg = gen.generator(.genome, m + 1)
                for t in 0..<tagBias.count {
                    var dot: Float = 0
                    for j in 0..<d { dot += world.factors[m * d + j] * tagVectors[t * d + j] }
                    let z = Double(tagBias[t] + 1.3 * dot / Float(d).squareRoot()) + 0.5 * rg.nextGaussian()
                    text.append(world.movieIDs[m]); text.append(UInt8(ascii: ","))
                    text.append(Int64(t + 1)); text.append(UInt8(ascii: ","))
                    text.append(1 / (1 + exp(-z)), decimals: 5); text.append(gen.eol)
                }
            }
        }
        return chosen.count
    }
}
