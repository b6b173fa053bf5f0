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
        let tagFile = try InputFile.forReading(tags)
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

        let input = try DataInput.open(scores)
        var report = LoadReport(file: input.isCompressed ? input.displayName : scores.lastPathComponent)
        let (movieIDs, tagNumbers, values) = input.isCompressed
            ? try Self.readScoresStreaming(input, policy: policy, report: &report)
            : try Self.readScores(scores, policy: policy, threads: threads, report: &report)
        let rows = movieIDs.count
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

extension Genome {
    /// Where the three fields are, and the columns a parsed record goes to.
    private struct ScoreColumns: @unchecked Sendable {
        var movie: Int, tag: Int, relevance: Int, fieldCount: Int
        var movies: UnsafeMutablePointer<Int32>, tags: UnsafeMutablePointer<Int32>, values: UnsafeMutablePointer<Float>

        var isPlain: Bool { movie == 0 && tag == 1 && relevance == 2 && fieldCount == 3 }

        /// The tokenizer-free reader of plain lines.
        func fastPath(_ bytes: UnsafeBufferPointer<UInt8>, _ p: Int, _ row: Int) -> Int? {
            guard let (m, t, r, next) = Genome.fastRecord(bytes, p) else { return nil }
            movies[row] = m
            tags[row] = t
            values[row] = r
            return next
        }

        /// Any line, with an exact error for a bad one.
        func decode(_ t: CSVTokenizer, _ row: Int) throws(RecordProblem) {
            try SmallTable.fieldCount(t, fieldCount)
            let m = try SmallTable.integer(t, movie, "movieId")
            let tagID = try SmallTable.integer(t, tag, "tagId")
            let f = t.fields[relevance]
            guard let r = NumberParsing.decimal(t.bytes, f.start, f.end) else {
                throw RecordProblem(column: relevance + 1, defect: .notANumber(column: "relevance"), text: t.excerpt(f))
            }
            guard r >= 0 && r <= 1 else {
                throw RecordProblem(column: relevance + 1, defect: .other("relevance outside 0–1"), text: t.excerpt(f))
            }
            movies[row] = Int32(m)
            tags[row] = Int32(tagID)
            values[row] = Float(r)
        }
    }

    /// The columns' positions in `header`.
    private static func scoreLayout(_ header: CSVHeader, file: String) throws -> [Int] {
        try ["movieId", "tagId", "relevance"].map { try header.index(of: $0, file: file) }
    }

    /// Three columns of `capacity` rows filled by `body` (which returns how many it filled).
    private static func columns(capacity: Int, _ body: (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Float>) throws -> Int) rethrows
        -> ([Int32], [Int32], [Float]) {
        var rows = 0
        var movieIDs = [Int32](), tagNumbers = [Int32](), values = [Float]()
        try movieIDs = Array(unsafeUninitializedCapacity: capacity) { mb, mc in
            try tagNumbers = Array(unsafeUninitializedCapacity: capacity) { tb, tc in
                try values = Array(unsafeUninitializedCapacity: capacity) { vb, vc in
                    guard let mp = mb.baseAddress, let tp = tb.baseAddress, let vp = vb.baseAddress else { return }
                    rows = try body(mp, tp, vp)
                    vc = rows
                }
                tc = rows
            }
            mc = rows
        }
        return (movieIDs, tagNumbers, values)
    }

    /// A plain scores file, parsed in parallel into preallocated columns.
    private static func readScores(_ url: URL, policy: ErrorPolicy, threads: Int, report: inout LoadReport) throws -> ([Int32], [Int32], [Float]) {
        let file = try InputFile(path: url.path, name: url.lastPathComponent)
        let header = try CSVHeader.read(file, dialect: .csv)
        let cols = try scoreLayout(header, file: file.name)
        var reader = ChunkedCSVReader(file: file, dialect: .csv, header: header)
        reader.threads = threads
        let plan = try reader.plan()
        var rows = 0
        return try columns(capacity: plan.capacity) { mp, tp, vp in
            let out = ScoreColumns(movie: cols[0], tag: cols[1], relevance: cols[2], fieldCount: header.columns.count, movies: mp, tags: tp, values: vp)
            let fastPath: (@Sendable (UnsafeBufferPointer<UInt8>, Int, Int) -> Int?)?
            if out.isPlain {
                fastPath = { b, p, row in out.fastPath(b, p, row) }
            } else {
                fastPath = nil
            }
            rows = try reader.parse(plan, policy: policy, report: &report, fastPath: fastPath, decode: { t, row throws(RecordProblem) in
                try out.decode(t, row)
            }, move: { from, to, count in
                (mp + to).update(from: mp + from, count: count)
                (tp + to).update(from: tp + from, count: count)
                (vp + to).update(from: vp + from, count: count)
            })
            return rows
        }
    }

    /// A zipped or gzipped scores file, in one sequential pass over its inflated chunks.
    private static func readScoresStreaming(_ input: DataInput, policy: ErrorPolicy, report: inout LoadReport) throws -> ([Int32], [Int32], [Float]) {
        var movieIDs = [Int32](), tagNumbers = [Int32](), values = [Float]()
        // A record takes at least 6 bytes ("1,1,0\n"); reserving for more only costs address space.
        if let size = input.sizeHint {
            let n = min(size / 6 + 1, 1 << 31)
            movieIDs.reserveCapacity(n); tagNumbers.reserveCapacity(n); values.reserveCapacity(n)
        }
        var cols = [0, 1, 2], fieldCount = 3
        try StreamingCSVReader(input: input, dialect: .csv).read(hasHeader: true, policy: policy, report: &report, start: { header in
            cols = try scoreLayout(header, file: input.displayName)
            fieldCount = header.columns.count
        }) { parser, bytes, atEnd in
            var result = ChunkedCSVReader.ChunkResult()
            result.lines = StreamingCSVReader.lines(in: bytes, atEnd: atEnd)
            let (m, t, v) = columns(capacity: result.lines) { mp, tp, vp in
                let out = ScoreColumns(movie: cols[0], tag: cols[1], relevance: cols[2], fieldCount: fieldCount, movies: mp, tags: tp, values: vp)
                let fast: ((UnsafeBufferPointer<UInt8>, Int, Int) -> Int?)? = out.isPlain ? { b, p, row in out.fastPath(b, p, row) } : nil
                let decode: (CSVTokenizer, Int) throws(RecordProblem) -> Void = { t, row throws(RecordProblem) in try out.decode(t, row) }
                parser.parseRegion(bytes, readStart: 0, owned: bytes.count, chunk: 0, firstRow: 0, policy: policy, into: &result,
                                   fastPath: fast, decode: decode, atEnd: atEnd)
                return result.rows
            }
            movieIDs.append(contentsOf: m); tagNumbers.append(contentsOf: t); values.append(contentsOf: v)
            return result
        }
        return (movieIDs, tagNumbers, values)
    }
}
