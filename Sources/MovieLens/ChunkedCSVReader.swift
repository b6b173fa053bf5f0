#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LinearAlgebra

/// A problem with one record, before it is placed in its file (line numbers are filled in later).
struct RecordProblem: Error, Sendable {
    /// 1-based field index, or 0 for the whole record.
    var column: Int
    var defect: RecordDefect
    var text: String

    init(column: Int, defect: RecordDefect, text: String) {
        self.column = column
        self.defect = defect
        self.text = text
    }

    /// The problem a tokenizer failure describes.
    init(_ failure: TokenizeFailure, text: String) {
        switch failure {
        case .unterminatedQuote(let c): self.init(column: c, defect: .unterminatedQuote, text: text)
        case .junkAfterQuote(let c, _): self.init(column: c, defect: .textAfterQuote, text: text)
        case .tooManyFields: self.init(column: 0, defect: .other("more than 4096 fields"), text: text)
        }
    }
}

/// An open file read with `pread`, so that parallel workers can each read their own byte range
/// and the process never holds the whole file in memory.
final class InputFile: @unchecked Sendable {
    let path: String
    let name: String
    let size: Int
    private let fd: Int32

    init(path: String, name: String) throws {
        self.path = path
        self.name = name
        fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw MovieLensError.io(path: path, reason: String(cString: strerror(errno))) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            close(fd)
            throw MovieLensError.io(path: path, reason: "cannot stat")
        }
        size = Int(st.st_size)
    }

    deinit { close(fd) }

    /// Reads `count` bytes at `offset` into `buffer`; returns how many were read.
    func read(into buffer: UnsafeMutablePointer<UInt8>, offset: Int, count: Int) throws -> Int {
        var done = 0
        while done < count {
            let n = pread(fd, buffer + done, count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw MovieLensError.io(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// The whole file's bytes (for the small files: movies, tags, links).
    func readAll() throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: size)
        let n = try bytes.withUnsafeMutableBufferPointer { b -> Int in
            guard let base = b.baseAddress else { return 0 }
            return try read(into: base, offset: 0, count: size)
        }
        if n < size { bytes.removeLast(size - n) }
        return bytes
    }
}

/// Header of a delimited file: its column names and where the data starts.
struct CSVHeader: Sendable {
    var columns: [String]
    /// Byte offset of the first data record.
    var dataStart: Int
    /// Physical lines the header occupies (1, or 0 for header-less formats).
    var lines: Int

    /// Index of the column named `name` (case-sensitive, as MovieLens writes them), or a
    /// ``MovieLensError/missingColumn(file:column:header:)`` error.
    func index(of name: String, alternatives: [String] = [], file: String) throws -> Int {
        for candidate in [name] + alternatives {
            if let i = columns.firstIndex(of: candidate) { return i }
        }
        throw MovieLensError.missingColumn(file: file, column: name, header: columns)
    }

    /// Reads the header of `file` (skipping a UTF-8 byte-order mark).
    static func read(_ file: InputFile, dialect: Dialect) throws -> CSVHeader {
        let probe = min(file.size, 1 << 16)
        var bytes = [UInt8](repeating: 0, count: probe)
        let n = try bytes.withUnsafeMutableBufferPointer { b in try file.read(into: b.baseAddress!, offset: 0, count: probe) }
        guard n > 0 else { throw MovieLensError.emptyFile(file.name) }
        return try bytes.withUnsafeBufferPointer { b -> CSVHeader in
            let start = (n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) ? 3 : 0
            guard start < n else { throw MovieLensError.emptyFile(file.name) }
            var tokenizer = CSVTokenizer(bytes: UnsafeBufferPointer(rebasing: b[0..<n]), dialect: dialect)
            let next: Int
            do {
                next = try tokenizer.nextRecord(from: start, end: n).next
            } catch {
                throw MovieLensError.malformedRecord(SourceLocation(file: file.name, line: 1, column: 0),
                                                     .other("unreadable header"), text: tokenizer.lineExcerpt(from: start, end: n))
            }
            guard next < n || n == file.size else {
                throw MovieLensError.malformedRecord(SourceLocation(file: file.name, line: 1, column: 0),
                                                     .other("header line longer than 64 KiB"), text: "")
            }
            var names = [String]()
            for (i, f) in tokenizer.fields.enumerated() {
                guard let s = tokenizer.string(f) else {
                    throw MovieLensError.malformedRecord(SourceLocation(file: file.name, line: 1, column: i + 1), .invalidUTF8, text: tokenizer.excerpt(f))
                }
                names.append(s.trimmingSpaces())
            }
            if names == [""] { throw MovieLensError.emptyFile(file.name) }
            return CSVHeader(columns: names, dataStart: next, lines: 1)
        }
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}

/// Parses the records of a large delimited file in parallel.
///
/// The data region is cut into fixed-size chunks; chunk `j` owns every line that *starts* inside its
/// byte range, reads a little past its end to finish its last line, and parses its lines into a
/// chunk-local output with `decode`. Chunks run in rounds of a few per thread and are merged in file
/// order, so memory stays at the output plus a few chunks, whatever the file size. Line numbers in
/// errors are physical line numbers in the whole file.
struct ChunkedCSVReader {
    let file: InputFile
    let dialect: Dialect
    let header: CSVHeader
    var chunkSize = 8 << 20
    var maxLineLength = 1 << 20
    var threads = Backend.defaultThreads

    struct ChunkResult<Output> {
        var output: Output
        var lines = 0
        var errors: [(line: Int, problem: RecordProblem)] = []
        var skipped = 0
        var fatal: MovieLensError?

        /// Counts a bad record, keeping the first ten.
        mutating func note(_ line: Int, _ problem: RecordProblem) {
            skipped += 1
            if errors.count < 10 { errors.append((line, problem)) }
        }
    }

    /// Parses every record. `decode(tokenizer, &output)` handles one record (its fields are in
    /// `tokenizer.fields`) and throws a ``RecordProblem`` for a bad one; `merge` receives each chunk's
    /// output in file order. Blank lines are skipped.
    func parse<Output>(policy: ErrorPolicy, report: inout LoadReport,
                       makeOutput: @Sendable () -> Output,
                       decode: @Sendable (CSVTokenizer, inout Output) throws(RecordProblem) -> Void,
                       merge: (Output) -> Void) throws {
        let dataBytes = max(0, file.size - header.dataStart)
        let chunkCount = max(1, (dataBytes + chunkSize - 1) / chunkSize)
        let roundSize = max(1, threads) * 3
        var lineOffset = header.lines
        var round = 0
        while round < chunkCount {
            let ids = Array(round..<min(chunkCount, round + roundSize))
            let slots = UnsafeMutablePointer<ChunkResult<Output>?>.allocate(capacity: ids.count)
            slots.initialize(repeating: nil, count: ids.count)
            defer { slots.deinitialize(count: ids.count); slots.deallocate() }
            let out = UnsafeSendable(slots)
            let input = UnsafeSendableBox(self)
            Parallel.forEach(count: ids.count, threads: threads) { k in
                out.pointer[k] = input.value.parseChunk(ids[k], policy: policy, makeOutput: makeOutput, decode: decode)
            }
            for k in 0..<ids.count {
                guard let result = slots[k] else { continue }
                if let fatal = result.fatal { throw fatal }
                for (line, problem) in result.errors {
                    let error = MovieLensError.malformedRecord(
                        SourceLocation(file: file.name, line: lineOffset + line, column: problem.column),
                        problem.defect, text: problem.text)
                    if policy == .strict { throw error }
                    if report.firstErrors.count < 10 { report.firstErrors.append(error) }
                }
                report.skipped += result.skipped
                lineOffset += result.lines
                merge(result.output)
            }
            round += roundSize
        }
    }

    /// Parses chunk `j` into a fresh output.
    func parseChunk<Output>(_ j: Int, policy: ErrorPolicy, makeOutput: () -> Output,
                            decode: (CSVTokenizer, inout Output) throws(RecordProblem) -> Void) -> ChunkResult<Output> {
        var result = ChunkResult(output: makeOutput())
        let a = header.dataStart + j * chunkSize
        let b = min(a + chunkSize, file.size)
        let readStart = j == 0 ? a : a - 1
        let readEnd = min(file.size, b + maxLineLength)
        let count = readEnd - readStart
        guard count > 0 else { return result }
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: count)
        defer { buffer.deallocate() }
        let got: Int
        do { got = try file.read(into: buffer, offset: readStart, count: count) } catch {
            result.fatal = (error as? MovieLensError) ?? .io(path: file.path, reason: "\(error)")
            return result
        }
        let bytes = UnsafeBufferPointer(start: buffer, count: got)
        let ownedEnd = b - readStart
        // First line start at or after `a`.
        var p = 0
        if j > 0 {
            while p < got && bytes[p] != CSVTokenizer.lf { p += 1 }
            p += 1
        }
        var tokenizer = CSVTokenizer(bytes: bytes, dialect: dialect)
        let fileEndInWindow = readStart + got == file.size
        while p < ownedEnd && p < got {
            let lineNumber = result.lines + 1
            if tokenizer.isBlankLine(at: p, end: got) {
                while p < got && bytes[p] != CSVTokenizer.lf { p += 1 }
                p += 1
                result.lines += 1
                continue
            }
            let next: Int
            let newlines: Int
            do throws(TokenizeFailure) {
                (next, newlines) = try tokenizer.nextRecord(from: p, end: got)
            } catch {
                result.note(lineNumber, RecordProblem(error, text: tokenizer.lineExcerpt(from: p, end: got)))
                if policy == .strict { return result }
                // Resynchronise at the next physical line.
                while p < got && bytes[p] != CSVTokenizer.lf { p += 1 }
                p += 1
                result.lines += 1
                continue
            }
            if next == got && !fileEndInWindow && bytes[got - 1] != CSVTokenizer.lf {
                result.note(lineNumber, RecordProblem(column: 0, defect: .lineTooLong, text: tokenizer.lineExcerpt(from: p, end: got)))
                return result
            }
            result.lines += max(1, newlines)
            do {
                try decode(tokenizer, &result.output)
            } catch {
                result.note(lineNumber, error)
                if policy == .strict { return result }
            }
            p = next
        }
        return result
    }
}

/// Carries a non-`Sendable` value into a parallel loop whose iterations only read it.
struct UnsafeSendableBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
