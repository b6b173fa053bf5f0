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

    mutating func reserveCapacity(_ n: Int) {
        userIDs.reserveCapacity(n); movieIDs.reserveCapacity(n); values.reserveCapacity(n); timestamps.reserveCapacity(n)
    }

    mutating func append(contentsOf other: Ratings) {
        userIDs += other.userIDs; movieIDs += other.movieIDs; values += other.values; timestamps += other.timestamps
    }

    /// Bytes held by the four columns.
    public var memoryBytes: Int { count * (4 + 4 + 4 + 8) }

    /// The ratings at `indices`, in that order.
    public func subset(_ indices: [Int]) -> Ratings {
        Ratings(userIDs: indices.map { userIDs[$0] }, movieIDs: indices.map { movieIDs[$0] },
                values: indices.map { values[$0] }, timestamps: indices.map { timestamps[$0] })
    }
}

extension Ratings {
    /// Where each field of a ratings record is.
    struct Layout: Sendable {
        var user: Int, movie: Int, rating: Int, timestamp: Int, fieldCount: Int
    }

    /// Loads a ratings file (`ratings.csv`, Kaggle `rating.csv`, `ratings.dat`, `u.data`) in parallel.
    ///
    /// Ratings must be 0.5–5.0 in half steps; timestamps Unix seconds or `YYYY-MM-DD HH:MM:SS` (UTC).
    /// Duplicate (user, movie) pairs are reported and only the latest by timestamp is kept.
    ///
    /// - Complexity: O(file size) parsing on all cores; duplicate detection is free for files sorted
    ///   by (user, movie) as GroupLens ships them, O(n log n) otherwise.
    public static func load(_ url: URL, format: DatasetFiles.Format, policy: ErrorPolicy = .strict,
                            threads: Int = Backend.defaultThreads) throws -> (Ratings, LoadReport) {
        let file = try InputFile(path: url.path, name: url.lastPathComponent)
        var report = LoadReport(file: file.name)
        let dialect: Dialect
        let header: CSVHeader
        let layout: Layout
        switch format {
        case .groupLens, .kaggle:
            dialect = .csv
            header = try CSVHeader.read(file, dialect: dialect)
            layout = Layout(user: try header.index(of: "userId", file: file.name),
                            movie: try header.index(of: "movieId", file: file.name),
                            rating: try header.index(of: "rating", file: file.name),
                            timestamp: try header.index(of: "timestamp", file: file.name),
                            fieldCount: header.columns.count)
        case .dat, .ml100k:
            dialect = format == .dat ? .doubleColon : .tab
            guard file.size > 0 else { throw MovieLensError.emptyFile(file.name) }
            header = CSVHeader(columns: ["userId", "movieId", "rating", "timestamp"], dataStart: 0, lines: 0)
            layout = Layout(user: 0, movie: 1, rating: 2, timestamp: 3, fieldCount: 4)
        }
        var reader = ChunkedCSVReader(file: file, dialect: dialect, header: header)
        reader.threads = threads
        var ratings = Ratings()
        var sortedByUserMovie = true
        var lastKey: UInt64? = nil
        var estimated = false
        try reader.parse(policy: policy, report: &report, makeOutput: { RatingsChunk() }, decode: { tokenizer, chunk throws(RecordProblem) in
            try chunk.decode(tokenizer, layout)
        }, merge: { chunk in
            if !estimated, chunk.ratings.count > 0 {
                // Reserve once from the first chunk's bytes per row, so the columns never reallocate.
                let perRow = Double(reader.chunkSize) / Double(chunk.ratings.count)
                ratings.reserveCapacity(Int(Double(file.size) / perRow * 1.02) + 1024)
                estimated = true
            }
            if !chunk.sorted { sortedByUserMovie = false }
            if let first = chunk.firstKey, let last = lastKey, first <= last { sortedByUserMovie = false }
            if let last = chunk.lastKey { lastKey = last }
            ratings.append(contentsOf: chunk.ratings)
        })
        report.records = ratings.count
        if !sortedByUserMovie {
            report.duplicatesDropped = ratings.dropDuplicatesKeepingLatest()
            report.records = ratings.count
        }
        return (ratings, report)
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

/// One chunk's parsed ratings and whether they were strictly increasing by (user, movie).
struct RatingsChunk {
    var ratings = Ratings()
    var sorted = true
    var firstKey: UInt64?
    var lastKey: UInt64?

    init() { ratings.reserveCapacity(1 << 16) }

    @inline(__always)
    mutating func decode(_ t: CSVTokenizer, _ layout: Ratings.Layout) throws(RecordProblem) {
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
        let key = UInt64(user) << 32 | UInt64(movie)
        if let last = lastKey, key <= last { sorted = false }
        if firstKey == nil { firstKey = key }
        lastKey = key
        ratings.userIDs.append(Int32(user))
        ratings.movieIDs.append(Int32(movie))
        ratings.values.append(Float(rating))
        ratings.timestamps.append(time)
    }
}
