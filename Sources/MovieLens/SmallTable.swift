/// Sequential record reading for the small files (movies, tags, links, genome tags): the whole file
/// in memory, full RFC 4180 (quoted fields may span lines), exact line numbers.
enum SmallTable {
    /// Calls `body` for every non-blank record after the header and returns the header (or `nil`
    /// when `hasHeader` is false). Bad records throw (strict) or are counted in `report` (lenient).
    @discardableResult
    static func forEachRecord(_ file: InputFile, dialect: Dialect, hasHeader: Bool, policy: ErrorPolicy,
                              report: inout LoadReport,
                              _ body: (CSVTokenizer, _ header: [String]) throws(RecordProblem) -> Void) throws -> [String] {
        let bytes = try file.readAll()
        guard !bytes.isEmpty else { throw MovieLensError.emptyFile(file.name) }
        return try bytes.withUnsafeBufferPointer { b -> [String] in
            let end = b.count
            var p = (end >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) ? 3 : 0
            let tokenizer = CSVTokenizer(bytes: b, dialect: dialect)
            var line = 1
            var header = [String]()
            if hasHeader {
                guard p < end else { throw MovieLensError.emptyFile(file.name) }
                let (next, newlines) = try readHeader(tokenizer, from: p, end: end, file: file.name)
                for (i, f) in tokenizer.fields.all.enumerated() {
                    guard let s = tokenizer.string(f) else {
                        throw MovieLensError.malformedRecord(SourceLocation(file: file.name, line: 1, column: i + 1), .invalidUTF8, text: tokenizer.excerpt(f))
                    }
                    header.append(s.trimmingSpaces())
                }
                p = next
                line += max(1, newlines)
            }
            while p < end {
                if tokenizer.isBlankLine(at: p, end: end) {
                    while p < end && b[p] != CSVTokenizer.lf { p += 1 }
                    p += 1
                    line += 1
                    continue
                }
                let start = p
                let next: Int, newlines: Int
                do throws(TokenizeFailure) {
                    (next, newlines) = try tokenizer.nextRecord(from: p, end: end)
                } catch {
                    let problem = RecordProblem(error, text: tokenizer.lineExcerpt(from: start, end: end))
                    try fail(problem, line: line, file: file.name, policy: policy, report: &report)
                    while p < end && b[p] != CSVTokenizer.lf { p += 1 }
                    p += 1
                    line += 1
                    continue
                }
                p = next
                do throws(RecordProblem) {
                    try body(tokenizer, header)
                    report.records += 1
                } catch {
                    try fail(error, line: line, file: file.name, policy: policy, report: &report)
                }
                line += max(1, newlines)
            }
            return header
        }
    }

    private static func readHeader(_ t: CSVTokenizer, from p: Int, end: Int, file: String) throws -> (Int, Int) {
        do {
            return try t.nextRecord(from: p, end: end)
        } catch {
            throw MovieLensError.malformedRecord(SourceLocation(file: file, line: 1, column: 0), .other("unreadable header"),
                                                 text: t.lineExcerpt(from: p, end: end))
        }
    }

    private static func fail(_ problem: RecordProblem, line: Int, file: String, policy: ErrorPolicy,
                             report: inout LoadReport) throws {
        let error = MovieLensError.malformedRecord(SourceLocation(file: file, line: line, column: problem.column),
                                                   problem.defect, text: problem.text)
        if policy == .strict { throw error }
        report.record(error)
    }

    /// The field's text as UTF-8, or (with `latin1Fallback`) as Latin-1 when it is not valid UTF-8.
    @inline(__always)
    static func text(_ t: CSVTokenizer, _ index: Int, latin1Fallback: Bool = false) throws(RecordProblem) -> String {
        let f = t.fields[index]
        if let s = t.string(f) { return s }
        if latin1Fallback, let s = t.string(f, latin1: true) { return s }
        throw RecordProblem(column: index + 1, defect: .invalidUTF8, text: t.excerpt(f))
    }

    @inline(__always)
    static func integer(_ t: CSVTokenizer, _ index: Int, _ name: String) throws(RecordProblem) -> Int64 {
        let f = t.fields[index]
        guard let v = NumberParsing.integer(t.bytes, f.start, f.end), v >= 0, v <= Int64(Int32.max) else {
            throw RecordProblem(column: index + 1, defect: .notAnInteger(column: name), text: t.excerpt(f))
        }
        return v
    }

    @inline(__always)
    static func fieldCount(_ t: CSVTokenizer, _ expected: Int) throws(RecordProblem) {
        guard t.fields.count == expected else {
            let first = t.fields.first.map { $0.quoted ? $0.start - 1 : $0.start } ?? 0
            throw RecordProblem(column: 0, defect: .wrongFieldCount(expected: expected, found: t.fields.count),
                                text: t.lineExcerpt(from: first, end: t.bytes.count))
        }
    }

    static func column(_ header: [String], _ name: String, file: String) throws -> Int {
        guard let i = header.firstIndex(of: name) else {
            throw MovieLensError.missingColumn(file: file, column: name, header: header)
        }
        return i
    }
}
