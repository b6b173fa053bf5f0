import Foundation
import LinearAlgebra

/// Ratings as columns (struct of arrays), in file order.
///
/// 20M ratings take 400 MB: 4 + 4 + 4 + 8 bytes each.
public struct Ratings: Sendable, Equatable {
    /// MovieLens user id of each rating.
    public var userIDs: [Int32]
    /// MovieLens movie id of each rating.
    public var movieIDs: [Int32]
    /// Stars, 0.5–5.0 in half steps (whole stars in the older releases).
    public var values: [Float]
    /// Seconds since 1970-01-01 UTC.
    public var timestamps: [Int64]

    /// Number of ratings.
    public var count: Int { values.count }

    /// An empty table.
    public init() {
        userIDs = []; movieIDs = []; values = []; timestamps = []
    }

    /// A table from its columns (all the same length).
    public init(userIDs: [Int32], movieIDs: [Int32], values: [Float], timestamps: [Int64]) {
        precondition(userIDs.count == movieIDs.count && movieIDs.count == values.count && values.count == timestamps.count,
                     "rating columns must have equal lengths")
        self.userIDs = userIDs
        self.movieIDs = movieIDs
        self.values = values
        self.timestamps = timestamps
    }

    /// Bytes held by the four columns.
    public var memoryBytes: Int { count * (4 + 4 + 4 + 8) }

    /// The ratings at `indices`, in that order (gathered in parallel).
    /// - Complexity: O(indices.count).
    public func subset(_ indices: [Int], threads: Int = Parallel.cores) -> Ratings {
        func gather<T: Sendable>(_ column: [T]) -> [T] {
            [T](count: indices.count, threads: threads) { column[indices[$0]] }
        }
        return Ratings(userIDs: gather(userIDs), movieIDs: gather(movieIDs), values: gather(values), timestamps: gather(timestamps))
    }
}

extension Ratings {
    /// Where each field of a ratings record is.
    struct Layout: Sendable {
        var user: Int, movie: Int, rating: Int, timestamp: Int, fieldCount: Int

        /// `userId,movieId,rating,timestamp` in a CSV: the tokenizer-free fast path applies.
        func isStandard(_ dialect: Dialect) -> Bool {
            dialect == .csv && user == 0 && movie == 1 && rating == 2 && timestamp == 3 && fieldCount == 4
        }
    }

    /// Loads a ratings file (`ratings.csv`, Kaggle `rating.csv`, `ratings.dat`, `u.data`) in parallel.
    ///
    /// Ratings must be 0.5–5.0 in half steps; timestamps Unix seconds or `YYYY-MM-DD HH:MM:SS` (UTC).
    /// Duplicate (user, movie) pairs are reported and only the latest by timestamp is kept.
    ///
    /// - Complexity: O(file size) parsing on all cores; duplicate detection is free for files sorted
    ///   by (user, movie) as GroupLens ships them, O(n log n) otherwise.
    public static func load(_ url: URL, format: DatasetFiles.Format, policy: ErrorPolicy = .strict,
                            threads: Int = Parallel.cores) throws -> (Ratings, LoadReport) {
        try load(url, format: format, policy: policy, threads: threads, chunkSize: 8 << 20)
    }

    /// ``load(_:format:policy:threads:)`` with a chosen chunk size (tests use tiny chunks to put
    /// chunk seams everywhere).
    static func load(_ url: URL, format: DatasetFiles.Format, policy: ErrorPolicy, threads: Int,
                     chunkSize: Int) throws -> (Ratings, LoadReport) {
        let input = try DataInput.open(url)
        var (ratings, report) = try input.isCompressed
            ? loadStreaming(input, format: format, policy: policy, threads: threads, chunkSize: chunkSize)
            : loadFile(url, format: format, policy: policy, threads: threads, chunkSize: chunkSize)
        report.records = ratings.count
        if !ratings.isStrictlySortedByUserMovie(threads: threads) {
            report.duplicatesDropped = ratings.dropDuplicatesKeepingLatest()
            report.records = ratings.count
        }
        return (ratings, report)
    }

    /// The dialect of a format and whether its files have a header line.
    private static func dialect(_ format: DatasetFiles.Format) -> (Dialect, hasHeader: Bool) {
        switch format {
        case .groupLens, .kaggle: (.csv, true)
        case .dat: (.doubleColon, false)
        case .ml100k: (.tab, false)
        }
    }

    /// Where the four fields are, from the header (header-less formats: in file order).
    private static func layout(_ header: CSVHeader, hasHeader: Bool, file: String) throws -> Layout {
        guard hasHeader else { return Layout(user: 0, movie: 1, rating: 2, timestamp: 3, fieldCount: 4) }
        return Layout(user: try header.index(of: "userId", file: file), movie: try header.index(of: "movieId", file: file),
                      rating: try header.index(of: "rating", file: file), timestamp: try header.index(of: "timestamp", file: file),
                      fieldCount: header.columns.count)
    }

    /// A plain file: two parallel passes (count the lines, then parse into preallocated columns).
    private static func loadFile(_ url: URL, format: DatasetFiles.Format, policy: ErrorPolicy, threads: Int,
                                 chunkSize: Int) throws -> (Ratings, LoadReport) {
        let file = try InputFile(path: url.path, name: url.lastPathComponent)
        var report = LoadReport(file: file.name)
        let (dialect, hasHeader) = Self.dialect(format)
        let header: CSVHeader
        if hasHeader {
            header = try CSVHeader.read(file, dialect: dialect)
        } else {
            guard file.size > 0 else { throw MovieLensError.emptyFile(file.name) }
            header = CSVHeader(columns: ["userId", "movieId", "rating", "timestamp"], dataStart: 0, lines: 0)
        }
        let layout = try Self.layout(header, hasHeader: hasHeader, file: file.name)
        var reader = ChunkedCSVReader(file: file, dialect: dialect, header: header)
        reader.threads = threads
        reader.chunkSize = max(1, chunkSize)
        let plan = try reader.plan()
        var ratings = Ratings()
        var rows = 0
        try ratings.withUninitializedColumns(capacity: plan.capacity) { columns in
            let fastPath: (@Sendable (UnsafeBufferPointer<UInt8>, Int, Int) -> Int?)?
            if layout.isStandard(dialect) {
                fastPath = { bytes, p, row in columns.fastDecode(bytes, p, row: row) }
            } else {
                fastPath = nil
            }
            rows = try reader.parse(plan, policy: policy, report: &report, fastPath: fastPath,
                                    decode: { tokenizer, row throws(RecordProblem) in
                try columns.decode(tokenizer, layout, row: row)
            }, move: columns.move)
            return rows
        }
        return (ratings, report)
    }

    /// A zip entry or a `.gz` file: one sequential pass over the inflated chunks. Each region of
    /// complete lines is cut into one part per thread, parsed in parallel (``parseParts``) while the
    /// reading thread inflates the next chunk. A zip entry states its size, so its rows go straight
    /// into columns sized for it (a record takes at least 6 bytes; pages past the rows written are
    /// never touched); a gzip file's regions go into columns of their own, appended.
    private static func loadStreaming(_ input: DataInput, format: DatasetFiles.Format, policy: ErrorPolicy,
                                      threads: Int, chunkSize: Int) throws -> (Ratings, LoadReport) {
        var report = LoadReport(file: input.displayName)
        let (dialect, hasHeader) = Self.dialect(format)
        var reader = StreamingCSVReader(input: input, dialect: dialect)
        reader.chunkSize = max(1 << 16, min(chunkSize, 8 << 20))
        var layout = Layout(user: 0, movie: 1, rating: 2, timestamp: 3, fieldCount: 4)
        let start: (CSVHeader) throws -> Void = { header in layout = try Self.layout(header, hasHeader: hasHeader, file: input.displayName) }
        var ratings = Ratings()
        guard case .zipEntry(_, let entry) = input, entry.uncompressedSize / 6 + 1 < 1 << 31 else {
            try reader.read(hasHeader: hasHeader, policy: policy, report: &report, start: start) { parser, bytes, atEnd in
                var chunk = Ratings(), result = ChunkedCSVReader.ChunkResult()
                let parts = Self.parts(bytes, atEnd: atEnd, threads: threads)
                chunk.withUninitializedColumns(capacity: parts.reduce(0) { $0 + $1.lines }) { columns in
                    result = Self.parseParts(parser, parts, layout: layout, dialect: dialect, policy: policy, columns: columns, firstRow: 0)
                    return result.rows
                }
                ratings.append(contentsOf: chunk)
                return result
            }
            return (ratings, report)
        }
        let capacity = entry.uncompressedSize / 6 + 1
        var failure: (any Error)?
        ratings.withUninitializedColumns(capacity: capacity) { columns in
            var filled = 0
            do {
                try reader.read(hasHeader: hasHeader, policy: policy, report: &report, start: start) { parser, bytes, atEnd in
                    let parts = Self.parts(bytes, atEnd: atEnd, threads: threads)
                    guard filled + parts.reduce(0, { $0 + $1.lines }) <= capacity else {
                        throw MovieLensError.io(path: input.displayName, reason: "more lines than its stated size allows")
                    }
                    let result = Self.parseParts(parser, parts, layout: layout, dialect: dialect, policy: policy, columns: columns, firstRow: filled)
                    filled += result.rows
                    return result
                }
            } catch {
                failure = error
            }
            return failure == nil ? filled : 0
        }
        if let failure { throw failure }
        return (ratings, report)
    }

    /// One core's share of a region, with its line count (counted in parallel).
    private typealias CountedPart = (part: StreamingCSVReader.Part, lines: Int)

    private static func parts(_ bytes: UnsafeBufferPointer<UInt8>, atEnd: Bool, threads: Int) -> [CountedPart] {
        let parts = StreamingCSVReader.split(bytes, parts: max(1, threads), atEnd: atEnd)
        var lines = [Int](repeating: 0, count: parts.count)
        lines.withUnsafeMutableBufferPointer { lb in
            guard let base = lb.baseAddress else { return }
            let out = UnsafeSendable(base)
            Parallel.forEach(count: parts.count, threads: parts.count) { i in
                out.pointer[i] = StreamingCSVReader.lines(in: parts[i].bytes, atEnd: parts[i].atEnd)
            }
        }
        return Array(zip(parts, lines))
    }

    /// Parses `parts` in parallel into `columns`, part `i` from row `firstRow` + the lines of the
    /// parts before it, then closes the gaps a part leaves when it keeps fewer rows than lines
    /// (skipped or blank lines). Returns the merged result (rows, errors numbered from the region's
    /// first line).
    private static func parseParts(_ parser: ChunkedCSVReader, _ parts: [CountedPart], layout: Layout, dialect: Dialect,
                                   policy: ErrorPolicy, columns: RatingColumns, firstRow: Int) -> ChunkedCSVReader.ChunkResult {
        var results = [ChunkedCSVReader.ChunkResult](repeating: .init(), count: parts.count)
        var starts = [Int](), next = firstRow
        for p in parts { starts.append(next); next += p.lines }
        let standard = layout.isStandard(dialect)
        results.withUnsafeMutableBufferPointer { rb in
            guard let rp = rb.baseAddress else { return }
            let shared = UnsafeSendableBox((UnsafeSendable(rp), parser, parts, starts))
            Parallel.forEach(count: parts.count, threads: parts.count) { i in
                let (results, parser, parts, starts) = shared.value
                var result = ChunkedCSVReader.ChunkResult()
                result.lines = parts[i].lines
                let fast: ((UnsafeBufferPointer<UInt8>, Int, Int) -> Int?)? = standard ? { b, p, row in columns.fastDecode(b, p, row: row) } : nil
                let decode: (CSVTokenizer, Int) throws(RecordProblem) -> Void = { tokenizer, row throws(RecordProblem) in
                    try columns.decode(tokenizer, layout, row: row)
                }
                let bytes = parts[i].part.bytes
                parser.parseRegion(bytes, readStart: 0, owned: bytes.count, chunk: 0, firstRow: starts[i], policy: policy,
                                   into: &result, fastPath: fast, decode: decode, atEnd: parts[i].part.atEnd)
                results.pointer[i] = result
            }
        }
        var row = firstRow
        for (i, result) in results.enumerated() {
            if starts[i] != row { columns.move(from: starts[i], to: row, count: result.rows) }
            row += result.rows
        }
        return ChunkedCSVReader.ChunkResult.merged(results)
    }

    /// Reserves room for `n` ratings in every column.
    mutating func reserveCapacity(_ n: Int) {
        userIDs.reserveCapacity(n); movieIDs.reserveCapacity(n); values.reserveCapacity(n); timestamps.reserveCapacity(n)
    }

    /// Appends the rows of `other`.
    mutating func append(contentsOf other: Ratings) {
        userIDs.append(contentsOf: other.userIDs); movieIDs.append(contentsOf: other.movieIDs)
        values.append(contentsOf: other.values); timestamps.append(contentsOf: other.timestamps)
    }

    /// Removes all but the latest rating (by timestamp; the later row on ties) of every (user, movie)
    /// pair, keeping file order otherwise. Returns how many were removed.
    /// - Complexity: O(n log n).
    @discardableResult
    public mutating func dropDuplicatesKeepingLatest() -> Int {
        let n = count
        guard n > 1 else { return 0 }
        var order = [Int32](unsafeUninitializedCapacity: n) { b, c in
            for i in 0..<n { b[i] = Int32(truncatingIfNeeded: i) }
            c = n
        }
        userIDs.withUnsafeBufferPointer { u in
            movieIDs.withUnsafeBufferPointer { m in
                order.sort { a, b in
                    let ka = UInt64(UInt32(bitPattern: u[Int(a)])) << 32 | UInt64(UInt32(bitPattern: m[Int(a)]))
                    let kb = UInt64(UInt32(bitPattern: u[Int(b)])) << 32 | UInt64(UInt32(bitPattern: m[Int(b)]))
                    return ka < kb || (ka == kb && a < b)
                }
            }
        }
        var drop = [Bool](repeating: false, count: n)
        var removed = 0
        var i = 0
        while i < n {
            var j = i + 1
            let a = Int(order[i])
            while j < n, userIDs[Int(order[j])] == userIDs[a], movieIDs[Int(order[j])] == movieIDs[a] { j += 1 }
            if j - i > 1 {
                // Keep the latest timestamp; among equal timestamps the later row.
                var keep = Int(order[i])
                for t in (i + 1)..<j {
                    let r = Int(order[t])
                    if timestamps[r] >= timestamps[keep] { keep = r }
                }
                for t in i..<j where Int(order[t]) != keep { drop[Int(order[t])] = true; removed += 1 }
            }
            i = j
        }
        guard removed > 0 else { return 0 }
        self = subset((0..<n).filter { !drop[$0] })
        return removed
    }
}

extension Ratings {
    /// Fills the four columns through raw pointers: `body` gets writable storage for `capacity`
    /// rows and returns how many it initialised.
    mutating func withUninitializedColumns(capacity: Int, _ body: (RatingColumns) throws -> Int) rethrows {
        var filled = 0
        var users = [Int32](), movies = [Int32](), values = [Float](), times = [Int64]()
        try users = Array(unsafeUninitializedCapacity: capacity) { u, uc in
            try movies = Array(unsafeUninitializedCapacity: capacity) { m, mc in
                try values = Array(unsafeUninitializedCapacity: capacity) { v, vc in
                    try times = Array(unsafeUninitializedCapacity: capacity) { t, tc in
                        guard let up = u.baseAddress, let mp = m.baseAddress, let vp = v.baseAddress, let tp = t.baseAddress else { return }
                        HugePages.advise(up, count: capacity)
                        HugePages.advise(mp, count: capacity)
                        HugePages.advise(vp, count: capacity)
                        HugePages.advise(tp, count: capacity)
                        filled = try body(RatingColumns(users: up, movies: mp, values: vp, times: tp))
                        tc = filled
                    }
                    vc = filled
                }
                mc = filled
            }
            uc = filled
        }
        self = Ratings(userIDs: users, movieIDs: movies, values: values, timestamps: times)
    }

    /// Whether every (user, movie) key is strictly greater than the one before (then there are no
    /// duplicate pairs). GroupLens files are sorted this way.
    /// - Complexity: O(n), parallel.
    func isStrictlySortedByUserMovie(threads: Int) -> Bool {
        let n = count
        guard n > 1 else { return true }
        let unsorted = FirstError()
        userIDs.withUnsafeBufferPointer { u in
            movieIDs.withUnsafeBufferPointer { m in
                let input = UnsafeSendableBox((u, m))
                Parallel.forChunks(count: n - 1, threads: threads, minChunk: 1 << 16) { range in
                    let (u, m) = input.value
                    for i in range {
                        let a = UInt64(UInt32(bitPattern: u[i])) << 32 | UInt64(UInt32(bitPattern: m[i]))
                        let b = UInt64(UInt32(bitPattern: u[i + 1])) << 32 | UInt64(UInt32(bitPattern: m[i + 1]))
                        if b <= a { unsorted.record(i, MovieLensError.invalidArgument("unsorted")); return }
                    }
                }
            }
        }
        return unsorted.first == nil
    }
}

/// Raw column storage the parallel ratings parser writes rows into.
struct RatingColumns: @unchecked Sendable {
    let users: UnsafeMutablePointer<Int32>
    let movies: UnsafeMutablePointer<Int32>
    let values: UnsafeMutablePointer<Float>
    let times: UnsafeMutablePointer<Int64>

    @inline(__always)
    func store(_ row: Int, user: Int64, movie: Int64, rating: Float, time: Int64) {
        users[row] = Int32(truncatingIfNeeded: user)
        movies[row] = Int32(truncatingIfNeeded: movie)
        values[row] = rating
        times[row] = time
    }

    func move(from: Int, to: Int, count: Int) {
        (users + to).update(from: users + from, count: count)
        (movies + to).update(from: movies + from, count: count)
        (values + to).update(from: values + from, count: count)
        (times + to).update(from: times + from, count: count)
    }

    /// Parses a plain `userId,movieId,rating,timestamp` line (unquoted, Unix seconds, LF or CRLF)
    /// straight from the bytes into `row` and returns the next line's start; `nil` for anything else,
    /// which then goes through the tokenizer and ``decode(_:_:row:)`` for an exact error.
    @inline(__always)
    func fastDecode(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, row: Int) -> Int? {
        let end = b.count
        var p = start
        @inline(__always) func digits(_ limit: Int) -> Int64? {
            var v: Int64 = 0
            let s = p
            while p < end, case let d = b[p] &- 48, d < 10 { v = v &* 10 &+ Int64(d); p += 1 }
            return p > s && p - s <= limit ? v : nil
        }
        guard let user = digits(9), p < end, b[p] == 44 else { return nil }
        p += 1
        guard let movie = digits(9), p < end, b[p] == 44 else { return nil }
        p += 1
        guard let whole = digits(1) else { return nil }
        var rating = Float(whole)
        if p < end && b[p] == 46 {
            p += 1
            guard p < end else { return nil }
            let d = b[p] &- 48
            guard d == 0 || d == 5 else { return nil }
            rating += d == 5 ? 0.5 : 0
            p += 1
            while p < end && b[p] == 48 { p += 1 }
        }
        guard rating >= 0.5 && rating <= 5, p < end, b[p] == 44 else { return nil }
        p += 1
        guard let time = digits(18), p < end else { return nil }
        if b[p] == 13 { p += 1; guard p < end else { return nil } }
        guard b[p] == 10 else { return nil }
        store(row, user: user, movie: movie, rating: rating, time: time)
        return p + 1
    }

    /// Decodes a tokenized ratings record into `row`, or throws what is wrong with it.
    func decode(_ t: CSVTokenizer, _ layout: Ratings.Layout, row: Int) throws(RecordProblem) {
        let f = t.fields
        guard f.count == layout.fieldCount else {
            throw RecordProblem(column: 0, defect: .wrongFieldCount(expected: layout.fieldCount, found: f.count),
                                text: t.lineExcerpt(from: f.first.map { $0.quoted ? $0.start - 1 : $0.start } ?? 0, end: t.bytes.count))
        }
        let b = t.bytes
        let uf = f[layout.user], mf = f[layout.movie], rf = f[layout.rating], tf = f[layout.timestamp]
        guard let user = NumberParsing.integer(b, uf.start, uf.end), user >= 0, user <= Int64(Int32.max) else {
            throw RecordProblem(column: layout.user + 1, defect: .notAnInteger(column: "userId"), text: t.excerpt(uf))
        }
        guard let movie = NumberParsing.integer(b, mf.start, mf.end), movie >= 0, movie <= Int64(Int32.max) else {
            throw RecordProblem(column: layout.movie + 1, defect: .notAnInteger(column: "movieId"), text: t.excerpt(mf))
        }
        guard let rating = NumberParsing.decimal(b, rf.start, rf.end) else {
            throw RecordProblem(column: layout.rating + 1, defect: .notANumber(column: "rating"), text: t.excerpt(rf))
        }
        guard rating >= 0.5 && rating <= 5.0 else {
            throw RecordProblem(column: layout.rating + 1, defect: .ratingOutOfRange, text: t.excerpt(rf))
        }
        guard (rating * 2).rounded() == rating * 2 else {
            throw RecordProblem(column: layout.rating + 1, defect: .ratingNotHalfStep, text: t.excerpt(rf))
        }
        guard let time = NumberParsing.integer(b, tf.start, tf.end) ?? NumberParsing.dateTime(b, tf.start, tf.end) else {
            throw RecordProblem(column: layout.timestamp + 1, defect: .badTimestamp, text: t.excerpt(tf))
        }
        store(row, user: user, movie: movie, rating: Float(rating), time: time)
    }
}
