import Foundation
import LinearAlgebra

/// Parses the records of a compressed input (a zip entry, a `.gz` file) as its inflated chunks
/// arrive from a ``ChunkStream``, in one sequential pass: each chunk's complete lines are parsed
/// while the next chunk is inflated; a line cut by the chunk's end is carried into the next.
///
/// Memory: the stream's three chunks, one working buffer of a chunk plus the longest line, and
/// the caller's columns. Errors name the file as ``DataInput/displayName`` (`ml-20m.zip/ml-20m/
/// ratings.csv`) with the physical line number in the whole file, as for plain files.
struct StreamingCSVReader {
    let input: DataInput
    let dialect: Dialect
    var chunkSize = 8 << 20
    var maxLineLength = 1 << 20

    /// Reads the header (when `hasHeader`), hands it to `start`, then calls `region` with every
    /// run of complete lines and whether it is the last; `region` parses them with the given reader
    /// into its columns and returns the chunk's result, with ``ChunkedCSVReader/ChunkResult/lines``
    /// set to the lines it held (``lines(in:atEnd:)``).
    /// - Throws: the stream's errors, a malformed record (strict) or a line over ``maxLineLength``.
    func read(hasHeader: Bool, policy: ErrorPolicy, report: inout LoadReport,
              start: (CSVHeader) throws -> Void,
              region: (ChunkedCSVReader, UnsafeBufferPointer<UInt8>, _ atEnd: Bool) throws -> ChunkedCSVReader.ChunkResult) throws {
        let stream = try ChunkStream(input, chunkSize: chunkSize)
        do {
            try read(stream, hasHeader: hasHeader, policy: policy, report: &report, start: start, region: region)
        } catch {
            // A damaged archive inflates to garbage: its own error (checksum, inflate) is the one to
            // report, so the rest is read first; the stream repeats its error to every call.
            while try stream.next() != nil {}
            throw error
        }
    }

    /// Lines in `bytes`: its newlines, plus a last line without one when `atEnd`.
    static func lines(in bytes: UnsafeBufferPointer<UInt8>, atEnd: Bool) -> Int {
        countNewlines(bytes) + (atEnd && bytes.last.map { $0 != CSVTokenizer.lf } == true ? 1 : 0)
    }

    /// One piece of a region of complete lines.
    struct Part: @unchecked Sendable {
        var bytes: UnsafeBufferPointer<UInt8>
        var atEnd: Bool
    }

    /// `bytes` (complete lines; the last may lack its newline when `atEnd`) cut into up to `parts`
    /// consecutive pieces of about equal size, each ending at a line end; regions under 256 KiB
    /// stay whole.
    static func split(_ bytes: UnsafeBufferPointer<UInt8>, parts: Int, atEnd: Bool) -> [Part] {
        guard let base = bytes.baseAddress else { return [] }
        let n = bytes.count
        let count = n < 1 << 18 ? 1 : max(1, parts)
        var pieces = [Part](), begin = 0
        for k in 1...count {
            var end = k == count ? n : max(begin, n * k / count)
            if k < count {
                while end < n && bytes[end - 1] != CSVTokenizer.lf { end += 1 }
            }
            guard end > begin else { continue }
            pieces.append(Part(bytes: UnsafeBufferPointer(start: base + begin, count: end - begin), atEnd: end == n && atEnd))
            begin = end
        }
        return pieces
    }

    private func read(_ stream: ChunkStream, hasHeader: Bool, policy: ErrorPolicy, report: inout LoadReport,
                      start: (CSVHeader) throws -> Void,
                      region: (ChunkedCSVReader, UnsafeBufferPointer<UInt8>, _ atEnd: Bool) throws -> ChunkedCSVReader.ChunkResult) throws {
        let capacity = chunkSize + maxLineLength + 1
        let work = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { work.deallocate() }
        var count = 0
        var atEnd = false
        // The first chunks, until they hold the first line (or 64 KiB, or the whole input).
        while count <= 1 << 16 && !UnsafeBufferPointer(start: work, count: count).contains(CSVTokenizer.lf) {
            guard let chunk = try stream.next(), let base = chunk.baseAddress else { atEnd = true; break }
            guard count + chunk.count <= capacity else {
                throw MovieLensError.malformedRecord(SourceLocation(file: input.displayName, line: 1, column: 0), .lineTooLong, text: "")
            }
            (work + count).update(from: base, count: chunk.count)
            count += chunk.count
        }
        let name = input.displayName
        let header: CSVHeader
        if hasHeader {
            // One byte past what the header reader probes, so that it can tell a header over 64 KiB.
            let probe = InputFile(bytes: Array(UnsafeBufferPointer(start: work, count: min(count, (1 << 16) + 1))), path: input.path, name: name)
            header = try CSVHeader.read(probe, dialect: dialect)
        } else {
            guard count > 0 else { throw MovieLensError.emptyFile(name) }
            header = CSVHeader(columns: [], dataStart: 0, lines: 0)
        }
        try start(header)
        let parser = ChunkedCSVReader(file: InputFile(bytes: [], path: input.path, name: name), dialect: dialect, header: header)
        var begin = header.dataStart
        var lineOffset = header.lines
        while true {
            // Parse the complete lines held (all of them at the end), carry the cut one, fetch a chunk.
            var end = count
            if !atEnd {
                while end > begin && work[end - 1] != CSVTokenizer.lf { end -= 1 }
            }
            if end > begin {
                let bytes = UnsafeBufferPointer(start: work + begin, count: end - begin)
                let result = try region(parser, bytes, atEnd)
                if let fatal = result.fatal { throw fatal }
                for (line, problem) in result.errors {
                    let error = MovieLensError.malformedRecord(SourceLocation(file: name, line: lineOffset + line, column: problem.column),
                                                               problem.defect, text: problem.text)
                    if policy == .strict { throw error }
                    if report.firstErrors.count < 10 { report.firstErrors.append(error) }
                }
                report.skipped += result.skipped
                lineOffset += result.lines
                begin = end
            }
            if atEnd { break }
            let carry = count - begin
            guard carry <= maxLineLength else {
                throw MovieLensError.malformedRecord(SourceLocation(file: name, line: lineOffset + 1, column: 0), .lineTooLong,
                                                     text: String(decoding: UnsafeBufferPointer(start: work + begin, count: 60), as: UTF8.self))
            }
            if begin > 0 { memmove(work, work + begin, carry) }
            count = carry
            begin = 0
            if let chunk = try stream.next(), let base = chunk.baseAddress {   // never empty
                (work + count).update(from: base, count: chunk.count)
                count += chunk.count
            } else {
                atEnd = true
            }
        }
    }
}
