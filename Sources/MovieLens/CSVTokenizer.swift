import Foundation

/// One field of a record: a byte range of the input and whether it was quoted (and so may hold `""`).
struct FieldSpan: Sendable {
    var start: Int
    var end: Int
    var quoted: Bool
}

/// How fields are separated.
struct Dialect: Sendable, Hashable {
    /// The separator byte (`,`, tab, `|`, or `:` for `::`).
    var separator: UInt8
    /// Whether the separator is the byte doubled (`::` in the ML-1M/10M `.dat` files).
    var doubled: Bool = false
    /// Whether RFC 4180 double quotes are honoured.
    var quoting: Bool = true

    static let csv = Dialect(separator: UInt8(ascii: ","))
    static let tab = Dialect(separator: UInt8(ascii: "\t"), quoting: false)
    static let pipe = Dialect(separator: UInt8(ascii: "|"), quoting: false)
    static let doubleColon = Dialect(separator: UInt8(ascii: ":"), doubled: true, quoting: false)
}

/// Why a record could not be tokenized.
enum TokenizeFailure: Error {
    case unterminatedQuote(column: Int)
    case junkAfterQuote(column: Int, at: Int)
    case tooManyFields
}

/// The fields of the current record, in storage the tokenizer owns (no allocation per record).
final class FieldList {
    static let capacity = 4096
    private let storage = UnsafeMutablePointer<FieldSpan>.allocate(capacity: FieldList.capacity)
    /// Number of fields in the current record.
    private(set) var count = 0

    deinit { storage.deallocate() }

    @inline(__always) func removeAll() { count = 0 }

    /// Appends a field; returns false when the record has too many fields.
    @inline(__always) func append(_ f: FieldSpan) -> Bool {
        guard count < FieldList.capacity else { return false }
        storage[count] = f
        count += 1
        return true
    }

    /// Field `i` (callers check `i < count`, e.g. through the record's field-count check).
    @inline(__always) subscript(i: Int) -> FieldSpan {
        assert(i < count, "field index out of range")
        return storage[i]
    }

    var first: FieldSpan? { count > 0 ? storage[0] : nil }

    var all: [FieldSpan] { (0..<count).map { storage[$0] } }
}

/// A byte-level RFC 4180 record splitter over a borrowed buffer: no allocation per record.
///
/// Records end at LF or CRLF (a lone CR inside a field is kept); with quoting, a field that starts
/// with `"` runs to the next unpaired `"`, may contain separators, newlines and `""`.
struct CSVTokenizer {
    let bytes: UnsafeBufferPointer<UInt8>
    let dialect: Dialect
    /// The current record's fields.
    let fields = FieldList()

    init(bytes: UnsafeBufferPointer<UInt8>, dialect: Dialect) {
        self.bytes = bytes
        self.dialect = dialect
    }

    static let lf = UInt8(ascii: "\n")
    static let cr = UInt8(ascii: "\r")
    static let quote = UInt8(ascii: "\"")

    /// Splits the record starting at `position` into ``fields`` and returns the index just past its
    /// line terminator, plus how many newlines it consumed (more than one when a quoted field spans lines).
    ///
    /// - Precondition: `position < end`.
    @inline(__always)
    func nextRecord(from position: Int, end: Int) throws(TokenizeFailure) -> (next: Int, newlines: Int) {
        fields.removeAll()
        var i = position
        var newlines = 0
        let sep = dialect.separator
        let sepWidth = dialect.doubled ? 2 : 1
        while true {
            if dialect.quoting && i < end && bytes[i] == Self.quote {
                // Quoted field.
                let start = i + 1
                var j = start
                while true {
                    guard j < end else { throw .unterminatedQuote(column: fields.count + 1) }
                    let b = bytes[j]
                    if b == Self.quote {
                        if j + 1 < end && bytes[j + 1] == Self.quote { j += 2; continue }
                        break
                    }
                    if b == Self.lf { newlines += 1 }
                    j += 1
                }
                guard fields.append(FieldSpan(start: start, end: j, quoted: true)) else { throw .tooManyFields }
                j += 1  // closing quote
                if j >= end { return (end, newlines) }
                let b = bytes[j]
                if b == Self.lf { return (j + 1, newlines + 1) }
                if b == Self.cr && j + 1 < end && bytes[j + 1] == Self.lf { return (j + 2, newlines + 1) }
                if isSeparator(at: j, end: end, sep) { i = j + sepWidth; continue }
                throw .junkAfterQuote(column: fields.count, at: j)
            }
            // Unquoted field: scan to separator or end of line.
            var j = i
            while j < end {
                let b = bytes[j]
                if b == sep && (!dialect.doubled || (j + 1 < end && bytes[j + 1] == sep)) { break }
                if b == Self.lf { break }
                j += 1
            }
            if j >= end {
                guard fields.append(FieldSpan(start: i, end: trimCR(i, end), quoted: false)) else { throw .tooManyFields }
                return (end, newlines)
            }
            if bytes[j] == Self.lf {
                guard fields.append(FieldSpan(start: i, end: trimCR(i, j), quoted: false)) else { throw .tooManyFields }
                return (j + 1, newlines + 1)
            }
            guard fields.append(FieldSpan(start: i, end: j, quoted: false)) else { throw .tooManyFields }
            i = j + sepWidth
        }
    }

    @inline(__always)
    func isSeparator(at j: Int, end: Int, _ sep: UInt8) -> Bool {
        bytes[j] == sep && (!dialect.doubled || (j + 1 < end && bytes[j + 1] == sep))
    }

    /// `end`, less one if the byte before it is a CR (the CR of a CRLF).
    @inline(__always)
    func trimCR(_ start: Int, _ end: Int) -> Int {
        end > start && bytes[end - 1] == Self.cr ? end - 1 : end
    }

    /// Whether the line at `position` is empty (just a terminator).
    @inline(__always)
    func isBlankLine(at position: Int, end: Int) -> Bool {
        let b = bytes[position]
        return b == Self.lf || (b == Self.cr && position + 1 < end && bytes[position + 1] == Self.lf)
    }

    /// The text of a field, unescaping `""`; `nil` when it is not valid UTF-8.
    func string(_ f: FieldSpan, latin1: Bool = false) -> String? {
        let raw = UnsafeBufferPointer(rebasing: bytes[f.start..<f.end])
        if latin1 { return String(raw.lazy.map { Character(Unicode.Scalar($0)) }) }
        guard var s = String(validating: raw, as: UTF8.self) else { return nil }
        if f.quoted && s.contains("\"\"") { s = s.replacingOccurrences(of: "\"\"", with: "\"") }
        return s
    }

    /// Up to 60 characters of the field for error messages (invalid bytes replaced).
    func excerpt(_ f: FieldSpan) -> String {
        let end = min(f.end, f.start + 60)
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[f.start..<end]), as: UTF8.self)
    }

    /// Up to 80 characters of the line starting at `position`.
    func lineExcerpt(from position: Int, end: Int) -> String {
        var j = position
        while j < end && j < position + 80 && bytes[j] != Self.lf && bytes[j] != Self.cr { j += 1 }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[position..<j]), as: UTF8.self)
    }
}
