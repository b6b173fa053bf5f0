import Foundation
import LinearAlgebra

/// The tag genome: how strongly each of ~1,100 tags applies to each of ~10,000 movies, as a dense
/// movie × tag matrix of relevances in [0, 1] with the tag names.
public struct Genome: Sendable {
    /// The movies with genome data (rows of ``relevance``), ascending id.
    public var movies: IDMap
    /// Tag ids (columns of ``relevance``), ascending.
    public var tagIDs: [Int32]
    /// Tag names, aligned with ``tagIDs``.
    public var tagNames: [String]
    /// movies × tags; pairs absent from the file are 0.
    public var relevance: Matrix
    /// Number of (movie, tag) cells the file did not give (left at 0).
    public var missingPairs: Int

    /// Loads `genome-tags.csv` and then `genome-scores.csv` (in parallel), pivoting to the dense matrix.
    ///
    /// Score rows whose tag is not in the tag file, or whose movie is not in `knownMovies` (when
    /// given), are skipped and counted in the report's `unknownReferencesSkipped`.
    /// - Complexity: O(rows) parsing plus O(movies × tags) for the matrix.
    public static func load(scores: URL, tags: URL, knownMovies: IDMap? = nil, policy: ErrorPolicy = .strict,
                            threads: Int = Parallel.cores) throws -> (Genome, [LoadReport]) {
        let tagFile = try InputFile(path: tags.path, name: tags.lastPathComponent)
        var tagReport = LoadReport(file: tagFile.name)
        let tagHeader = try CSVHeader.read(tagFile, dialect: .csv).columns
        let tagCols = try ["tagId", "tag"].map { try SmallTable.column(tagHeader, $0, file: tagFile.name) }
        var tagPairs = [(Int32, String)]()
        try SmallTable.forEachRecord(tagFile, dialect: .csv, hasHeader: true, policy: policy, report: &tagReport) { t, _ throws(RecordProblem) in
            try SmallTable.fieldCount(t, tagHeader.count)
            tagPairs.append((Int32(try SmallTable.integer(t, tagCols[0], "tagId")), try SmallTable.text(t, tagCols[1])))
        }
        tagPairs.sort { $0.0 < $1.0 }
        let tagMap = IDMap(tagPairs.map(\.0))

        let file = try InputFile(path: scores.path, name: scores.lastPathComponent)
        var report = LoadReport(file: file.name)
        let header = try CSVHeader.read(file, dialect: .csv)
        let cols = try ["movieId", "tagId", "relevance"].map { try header.index(of: $0, file: file.name) }
        let fieldCount = header.columns.count
        var reader = ChunkedCSVReader(file: file, dialect: .csv, header: header)
        reader.threads = threads
        let plan = try reader.plan()
        var movieIDs = [Int32](), tagNumbers = [Int32](), values = [Float]()
        var rows = 0
        try movieIDs = Array(unsafeUninitializedCapacity: plan.capacity) { mb, mc in
            try tagNumbers = Array(unsafeUninitializedCapacity: plan.capacity) { tb, tc in
                try values = Array(unsafeUninitializedCapacity: plan.capacity) { vb, vc in
                    guard let mp = mb.baseAddress, let tp = tb.baseAddress, let vp = vb.baseAddress else { return }
                    let out = UnsafeSendableBox((mp, tp, vp))
                    let plainOrder = cols == [0, 1, 2] && fieldCount == 3
                    let fastPath: (@Sendable (UnsafeBufferPointer<UInt8>, Int, Int) -> Int?)?
                    if plainOrder {
                        fastPath = { bytes, p, row in
                            guard let (movie, tag, relevance, next) = Genome.fastRecord(bytes, p) else { return nil }
                            let (mp, tp, vp) = out.value
                            mp[row] = movie
                            tp[row] = tag
                            vp[row] = relevance
                            return next
                        }
                    } else {
                        fastPath = nil
                    }
                    rows = try reader.parse(plan, policy: policy, report: &report, fastPath: fastPath, decode: { t, row throws(RecordProblem) in
                        try SmallTable.fieldCount(t, fieldCount)
                        let movie = try SmallTable.integer(t, cols[0], "movieId")
                        let tag = try SmallTable.integer(t, cols[1], "tagId")
                        let f = t.fields[cols[2]]
                        guard let r = NumberParsing.decimal(t.bytes, f.start, f.end) else {
                            throw RecordProblem(column: cols[2] + 1, defect: .notANumber(column: "relevance"), text: t.excerpt(f))
                        }
                        guard r >= 0 && r <= 1 else {
                            throw RecordProblem(column: cols[2] + 1, defect: .other("relevance outside 0–1"), text: t.excerpt(f))
                        }
                        let (mp, tp, vp) = out.value
                        mp[row] = Int32(movie)
                        tp[row] = Int32(tag)
                        vp[row] = Float(r)
                    }, move: { from, to, count in
                        (mp + to).update(from: mp + from, count: count)
                        (tp + to).update(from: tp + from, count: count)
                        (vp + to).update(from: vp + from, count: count)
                    })
                    vc = rows
                }
                tc = rows
            }
            mc = rows
        }
        let tagIndex = tagMap.indices(of: tagNumbers, threads: threads)
        let knownIndex = knownMovies?.indices(of: movieIDs, threads: threads)
        // Movies that have at least one usable row (known tag, known movie).
        // Movies that have at least one usable row (known tag, known movie), marked over the file's
        // distinct movie ids: memory follows the rows, never the size of an id.
        let fileMovies = IDMap(movieIDs, threads: threads)
        var present = [Bool](repeating: false, count: fileMovies.count)
        var usable = 0
        for i in 0..<rows where tagIndex[i] >= 0 && (knownIndex?[i] ?? 0) >= 0 && movieIDs[i] >= 0 {
            if let m = fileMovies.index(of: movieIDs[i]) { present[m] = true }
            usable += 1
        }
        report.unknownReferencesSkipped = rows - usable
        report.records = usable
        let movieMap = IDMap(sortedUnique: fileMovies.ids.indices.filter { present[$0] }.map { fileMovies.ids[$0] })
        let tags = tagMap.count
        var matrix = Matrix(rows: movieMap.count, cols: tags)
        var filled = [Bool](repeating: false, count: movieMap.count * tags)
        matrix.withMutableView { m in
            filled.withUnsafeMutableBufferPointer { f in
                for i in 0..<rows where tagIndex[i] >= 0 && (knownIndex?[i] ?? 0) >= 0 {
                    guard let row = movieMap.index(of: movieIDs[i]) else { continue }
                    let col = Int(tagIndex[i])
                    m.base[row * m.stride + col] = values[i]
                    f[row * tags + col] = true
                }
            }
        }
        var missing = 0
        for f in filled where !f { missing += 1 }
        let genome = Genome(movies: movieMap, tagIDs: tagPairs.map(\.0), tagNames: tagPairs.map(\.1),
                            relevance: matrix, missingPairs: missing)
        return (genome, [tagReport, report])
    }
}

extension Genome {
    /// Parses a plain `movieId,tagId,relevance` line (unquoted, relevance `0.xxxxx` or `1.0…`), or
    /// returns `nil` so the line goes through the tokenizer for an exact error.
    @inline(__always)
    static func fastRecord(_ b: UnsafeBufferPointer<UInt8>, _ start: Int) -> (Int32, Int32, Float, Int)? {
        let end = b.count
        var p = start
        @inline(__always) func digits(_ limit: Int) -> (Int64, Int)? {
            var v: Int64 = 0
            let s = p
            while p < end, case let d = b[p] &- 48, d < 10 { v = v &* 10 &+ Int64(d); p += 1 }
            return p > s && p - s <= limit ? (v, p - s) : nil
        }
        guard let (movie, _) = digits(9), p < end, b[p] == 44 else { return nil }
        p += 1
        guard let (tag, _) = digits(9), p < end, b[p] == 44 else { return nil }
        p += 1
        guard let (whole, _) = digits(1), whole <= 1, p < end, b[p] == 46 else { return nil }
        p += 1
        guard let (fraction, places) = digits(9) else { return nil }
        if p < end && b[p] == 13 { p += 1 }
        guard p < end, b[p] == 10 else { return nil }
        let value = Double(whole) + Double(fraction) / NumberParsing.powersOfTen[places]
        guard value <= 1 else { return nil }
        return (Int32(movie), Int32(tag), Float(value), p + 1)
    }
}
