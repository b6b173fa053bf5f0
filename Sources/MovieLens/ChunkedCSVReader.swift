import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LinearAlgebra
import Synchronization

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
/// and the process never holds the whole file in memory — or, for a compressed input's small
/// files (movies, tags, links), its inflated bytes held in memory.
final class InputFile: @unchecked Sendable {
    let path: String
    let name: String
    let size: Int
    private let fd: Int32
    private let memory: [UInt8]?

    init(path: String, name: String) throws {
        self.path = path
        self.name = name
        memory = nil
        fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw MovieLensError.io(path: path, reason: String(cString: strerror(errno))) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            close(fd)
            throw MovieLensError.io(path: path, reason: "cannot stat")
        }
        size = Int(st.st_size)
    }

    /// A file whose bytes are `bytes`, called `name` in errors.
    init(bytes: [UInt8], path: String, name: String) {
        self.path = path
        self.name = name
        memory = bytes
        size = bytes.count
        fd = -1
    }

    /// The file at `url` read with `pread`, or — for a zip entry or a `.gz` file (``DataInput``) —
    /// inflated into memory; `name` is what errors call it (an entry as `archive.zip/folder/file`).
    static func forReading(_ url: URL) throws -> InputFile {
        let input = try DataInput.open(url)
        if case .file(let path) = input { return try InputFile(path: path, name: url.lastPathComponent) }
        return InputFile(bytes: try input.readAll(), path: input.path, name: input.displayName)
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Reads `count` bytes at `offset` into `buffer`; returns how many were read.
    func read(into buffer: UnsafeMutablePointer<UInt8>, offset: Int, count: Int) throws -> Int {
        if let memory {
            let n = max(0, min(count, memory.count - offset))
            if n > 0 { memory.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress! + offset, count: n) } }
            return n
        }
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

    /// Calls `body` with the bytes `offset..<offset+count` (clamped to the file), read with `pread`
    /// into a buffer from `pool`. (Mapping the file was measured ~5% faster but turns a file truncated
    /// under the reader into a SIGBUS crash instead of an error.)
    func withRegion<R>(offset: Int, count: Int, pool: BufferPool,
                       _ body: (UnsafeBufferPointer<UInt8>) throws -> R) throws -> R {
        let count = max(0, min(count, size - offset))
        guard count > 0 else { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
        let buffer = pool.take()
        defer { pool.give(buffer) }
        let got = try read(into: buffer, offset: offset, count: count)
        return try body(UnsafeBufferPointer(start: buffer, count: got))
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
            let tokenizer = CSVTokenizer(bytes: UnsafeBufferPointer(rebasing: b[0..<n]), dialect: dialect)
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
            for (i, f) in tokenizer.fields.all.enumerated() {
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

/// Parses the records of a large delimited file in parallel, straight into preallocated columns.
///
/// The data region is cut into fixed-size chunks; chunk `j` owns every line that *starts* inside its
/// byte range and reads a little past its end to finish its last line. A first parallel pass counts
/// each chunk's lines (an upper bound on its records), which fixes where each chunk's rows go; the
/// caller allocates the columns once, and a second parallel pass parses every chunk into its slice
/// (`decode(tokenizer, row)` / `fastPath(bytes, lineStart, row)` write row `row`). Slices left
/// short by blank or skipped lines are closed up at the end with `move`. Memory is the columns plus
/// one read buffer per thread; error line numbers are physical line numbers in the whole file.
struct ChunkedCSVReader {
    let file: InputFile
    let dialect: Dialect
    let header: CSVHeader
    var chunkSize = 8 << 20
    var maxLineLength = 1 << 20
    var threads = Parallel.cores

    /// Where each chunk's rows go.
    struct Plan {
        /// Lines owned by each chunk (upper bound of its records).
        var lines: [Int]
        /// First row of each chunk.
        var rowStart: [Int]
        /// Upper bound on the number of records.
        var capacity: Int
    }

    struct ChunkResult {
        var rows = 0
        /// Lines the region held (set by streaming readers, which number errors from it).
        var lines = 0
        var errors: [(line: Int, problem: RecordProblem)] = []
        var skipped = 0
        var fatal: MovieLensError?

        /// Counts a bad record, keeping the first ten.
        mutating func note(_ line: Int, _ problem: RecordProblem) {
            skipped += 1
            if errors.count < 10 { errors.append((line, problem)) }
        }

        /// The results of consecutive parts of one region: error lines renumbered from the region's
        /// start, the first ten kept, the first fatal error.
        static func merged(_ parts: [ChunkResult]) -> ChunkResult {
            var out = ChunkResult()
            for part in parts {
                out.rows += part.rows
                out.skipped += part.skipped
                out.errors += part.errors.map { ($0.line + out.lines, $0.problem) }
                if out.fatal == nil { out.fatal = part.fatal }
                out.lines += part.lines
            }
            out.errors = Array(out.errors.prefix(10))
            return out
        }
    }

    var chunkCount: Int { max(1, (max(0, file.size - header.dataStart) + chunkSize - 1) / chunkSize) }

    func range(ofChunk j: Int) -> (start: Int, end: Int) {
        let a = header.dataStart + j * chunkSize
        return (a, min(a + chunkSize, file.size))
    }

    /// First pass: counts the lines each chunk owns, in parallel.
    func plan() throws -> Plan {
        let n = chunkCount
        var lines = [Int](repeating: 0, count: n)
        let failure = FirstError()
        let pool = BufferPool(size: chunkSize + 1)
        defer { pool.release() }
        lines.withUnsafeMutableBufferPointer { lb in
            guard let base = lb.baseAddress else { return }
            let out = UnsafeSendable(base)
            let input = UnsafeSendableBox(self)
            Parallel.forEach(count: n, threads: threads) { j in
                let reader = input.value
                let (a, b) = reader.range(ofChunk: j)
                // Line starts in [a, b): a itself for the first chunk, else every byte after a '\n' in [a-1, b-1).
                let readStart = j == 0 ? a : a - 1
                let count = b - 1 - readStart
                var total = j == 0 && a < b ? 1 : 0
                if count > 0 {
                    do {
                        total += try reader.file.withRegion(offset: readStart, count: count, pool: pool) { countNewlines($0) }
                    } catch {
                        failure.record(j, error)
                    }
                }
                out.pointer[j] = total
            }
        }
        if let error = failure.first { throw error }
        var rowStart = [Int](repeating: 0, count: n)
        var sum = 0
        for j in 0..<n { rowStart[j] = sum; sum += lines[j] }
        return Plan(lines: lines, rowStart: rowStart, capacity: sum)
    }

    /// Second pass: parses every chunk into rows `plan.rowStart[j]...`, then closes the gaps with
    /// `move(from, to, count)`. Returns the number of records. Bad records throw (strict) or are
    /// counted in `report` (lenient).
    func parse(_ plan: Plan, policy: ErrorPolicy, report: inout LoadReport,
               fastPath: (@Sendable (UnsafeBufferPointer<UInt8>, Int, Int) -> Int?)? = nil,
               decode: @Sendable (CSVTokenizer, Int) throws(RecordProblem) -> Void,
               move: (_ from: Int, _ to: Int, _ count: Int) -> Void) throws -> Int {
        let n = chunkCount
        let results = UnsafeMutablePointer<ChunkResult>.allocate(capacity: n)
        results.initialize(repeating: ChunkResult(), count: n)
        defer { results.deinitialize(count: n); results.deallocate() }
        let pool = BufferPool(size: chunkSize + maxLineLength + 1)
        defer { pool.release() }
        let out = UnsafeSendable(results)
        let input = UnsafeSendableBox((self, plan))
        Parallel.forEach(count: n, threads: threads) { j in
            let (reader, plan) = input.value
            reader.parseChunk(j, pool: pool, firstRow: plan.rowStart[j], policy: policy, into: &out.pointer[j],
                              fastPath: fastPath, decode: decode)
        }
        var lineOffset = header.lines
        var rows = 0
        for j in 0..<n {
            let result = results[j]
            if let fatal = result.fatal { throw fatal }
            for (line, problem) in result.errors {
                let error = MovieLensError.malformedRecord(
                    SourceLocation(file: file.name, line: lineOffset + line, column: problem.column),
                    problem.defect, text: problem.text)
                if policy == .strict { throw error }
                if report.firstErrors.count < 10 { report.firstErrors.append(error) }
            }
            report.skipped += result.skipped
            lineOffset += plan.lines[j]
            if plan.rowStart[j] != rows && result.rows > 0 { move(plan.rowStart[j], rows, result.rows) }
            rows += result.rows
        }
        return rows
    }

    /// Parses chunk `j` into rows from `firstRow`.
    func parseChunk(_ j: Int, pool: BufferPool, firstRow: Int, policy: ErrorPolicy,
                    into result: inout ChunkResult,
                    fastPath: ((UnsafeBufferPointer<UInt8>, Int, Int) -> Int?)?,
                    decode: (CSVTokenizer, Int) throws(RecordProblem) -> Void) {
        let (a, b) = range(ofChunk: j)
        let readStart = j == 0 ? a : a - 1
        let readEnd = min(file.size, b + maxLineLength)
        let count = readEnd - readStart
        guard count > 0 else { return }
        do {
            try file.withRegion(offset: readStart, count: count, pool: pool) { bytes in
                parseRegion(bytes, readStart: readStart, owned: b, chunk: j, firstRow: firstRow, policy: policy,
                            into: &result, fastPath: fastPath, decode: decode)
            }
        } catch {
            result.fatal = (error as? MovieLensError) ?? .io(path: file.path, reason: "\(error)")
        }
    }

    /// Parses the lines of chunk `j` held in `bytes` (which start at file offset `readStart`).
    /// `atEnd` tells whether `bytes` run to the end of the data (nil: whether they reach the file's size).
    func parseRegion(_ bytes: UnsafeBufferPointer<UInt8>, readStart: Int, owned b: Int, chunk j: Int, firstRow: Int,
                     policy: ErrorPolicy, into result: inout ChunkResult,
                     fastPath: ((UnsafeBufferPointer<UInt8>, Int, Int) -> Int?)?,
                     decode: (CSVTokenizer, Int) throws(RecordProblem) -> Void, atEnd: Bool? = nil) {
        let got = bytes.count
        let ownedEnd = b - readStart
        // First line start at or after `a`.
        var p = 0
        if j > 0 {
            while p < got && bytes[p] != CSVTokenizer.lf { p += 1 }
            p += 1
        }
        let tokenizer = CSVTokenizer(bytes: bytes, dialect: dialect)
        let fileEndInWindow = atEnd ?? (readStart + got == file.size)
        var line = 0
        if let fast = fastPath {
            // Plain lines go through the caller's fast path; the first line it declines ends the
            // tight loop's turn and is handled below, then the loop resumes.
            while p < ownedEnd && p < got {
                var rows = result.rows
                while p < ownedEnd, let next = fast(bytes, p, firstRow + rows) {
                    rows += 1
                    line += 1
                    p = next
                }
                result.rows = rows
                guard p < ownedEnd && p < got else { break }
                line += 1
                if !slowLine(&p, &line, got: got, ownedEnd: ownedEnd, bytes: bytes, tokenizer: tokenizer,
                             fileEndInWindow: fileEndInWindow, firstRow: firstRow, policy: policy,
                             result: &result, decode: decode) { return }
            }
            return
        }
        while p < ownedEnd && p < got {
            line += 1
            if !slowLine(&p, &line, got: got, ownedEnd: ownedEnd, bytes: bytes, tokenizer: tokenizer,
                         fileEndInWindow: fileEndInWindow, firstRow: firstRow, policy: policy,
                         result: &result, decode: decode) { return }
        }
    }

    /// Handles the line at `p` through the tokenizer; returns false when the chunk must stop.
    @inline(__always)
    func slowLine(_ p: inout Int, _ line: inout Int, got: Int, ownedEnd: Int, bytes: UnsafeBufferPointer<UInt8>,
                  tokenizer: CSVTokenizer, fileEndInWindow: Bool, firstRow: Int, policy: ErrorPolicy,
                  result: inout ChunkResult, decode: (CSVTokenizer, Int) throws(RecordProblem) -> Void) -> Bool {
        if tokenizer.isBlankLine(at: p, end: got) {
            while p < got && bytes[p] != CSVTokenizer.lf { p += 1 }
            p += 1
            return true
        }
        let next: Int
        let newlines: Int
        do throws(TokenizeFailure) {
            (next, newlines) = try tokenizer.nextRecord(from: p, end: got)
        } catch {
            result.note(line, RecordProblem(error, text: tokenizer.lineExcerpt(from: p, end: got)))
            if policy == .strict { return false }
            // Resynchronise at the next physical line.
            while p < got && bytes[p] != CSVTokenizer.lf { p += 1 }
            p += 1
            return true
        }
        if next == got && !fileEndInWindow && bytes[got - 1] != CSVTokenizer.lf {
            result.note(line, RecordProblem(column: 0, defect: .lineTooLong, text: tokenizer.lineExcerpt(from: p, end: got)))
            return false
        }
        do {
            try decode(tokenizer, firstRow + result.rows)
            result.rows += 1
        } catch {
            result.note(line, error)
            if policy == .strict { return false }
        }
        line += max(0, newlines - 1)
        p = next
        return true
    }
}

/// Number of `\n` bytes in `buffer[0..<count]`, eight bytes at a time.
func countNewlines(_ buffer: UnsafeBufferPointer<UInt8>) -> Int {
    guard let base = buffer.baseAddress else { return 0 }
    let count = buffer.count
    var total = 0
    var i = 0
    let raw = UnsafeRawPointer(base)
    let highs: UInt64 = 0x8080_8080_8080_8080
    let pattern: UInt64 = 0x0A0A_0A0A_0A0A_0A0A
    while i + 8 <= count {
        let x = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ pattern
        // High bit set in each byte of x that is zero (exact: no false positives with this form).
        let zero = ~(((x & ~highs) &+ ~highs) | x) & highs
        total += zero.nonzeroBitCount
        i += 8
    }
    while i < count {
        if buffer[i] == 10 { total += 1 }
        i += 1
    }
    return total
}

/// A few large read buffers shared by the workers of a parallel pass.
final class BufferPool: @unchecked Sendable {
    private let size: Int
    private var free: [UnsafeMutablePointer<UInt8>] = []
    private var all: [UnsafeMutablePointer<UInt8>] = []
    private let lock = NSLockLike()

    init(size: Int) { self.size = size }

    func take() -> UnsafeMutablePointer<UInt8> {
        lock.withLock {
            if let b = free.popLast() { return b }
            let b = UnsafeMutablePointer<UInt8>.allocate(capacity: size)
            all.append(b)
            return b
        }
    }

    func give(_ b: UnsafeMutablePointer<UInt8>) { lock.withLock { free.append(b) } }

    /// Frees every buffer (call once the pass is over).
    func release() {
        lock.withLock {
            for b in all { b.deallocate() }
            all.removeAll()
            free.removeAll()
        }
    }
}

/// A mutex around a critical section.
final class NSLockLike: @unchecked Sendable {
    private let mutex = Mutex<Void>(())
    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        try mutex.withLock { _ in try body() }
    }
}
