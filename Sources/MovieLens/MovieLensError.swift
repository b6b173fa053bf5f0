/// Where in an input file a problem was found.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    /// The file's name or path as given.
    public let file: String
    /// 1-based line number (physical lines, counting the header).
    public let line: Int
    /// 1-based column number (field index), or 0 when the whole line is meant.
    public let column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { column > 0 ? "\(file):\(line): column \(column)" : "\(file):\(line)" }
}

/// What is wrong with a record.
public enum RecordDefect: Sendable, Hashable, CustomStringConvertible {
    /// The record has `found` fields where the header has `expected`.
    case wrongFieldCount(expected: Int, found: Int)
    /// A field that must be an integer id is not one (or is out of range).
    case notAnInteger(column: String)
    /// A field that must be a number is not one.
    case notANumber(column: String)
    /// A rating outside 0.5–5.0.
    case ratingOutOfRange
    /// A rating that is not a multiple of 0.5.
    case ratingNotHalfStep
    /// A timestamp that is neither Unix seconds nor `YYYY-MM-DD HH:MM:SS`.
    case badTimestamp
    /// A quoted field that is never closed.
    case unterminatedQuote
    /// Characters after a closing quote, before the separator.
    case textAfterQuote
    /// Text that is not valid UTF-8.
    case invalidUTF8
    /// A physical line longer than the reader's limit (1 MiB).
    case lineTooLong
    /// Anything else, described.
    case other(String)

    public var description: String {
        switch self {
        case let .wrongFieldCount(expected, found): return "expected \(expected) fields, found \(found)"
        case let .notAnInteger(column): return "\(column) is not an integer id"
        case let .notANumber(column): return "\(column) is not a number"
        case .ratingOutOfRange: return "rating is outside 0.5–5.0"
        case .ratingNotHalfStep: return "rating is not a multiple of 0.5"
        case .badTimestamp: return "timestamp is neither Unix seconds nor YYYY-MM-DD HH:MM:SS"
        case .unterminatedQuote: return "quoted field is never closed"
        case .textAfterQuote: return "text after a closing quote"
        case .invalidUTF8: return "text is not valid UTF-8"
        case .lineTooLong: return "line longer than 1 MiB"
        case let .other(text): return text
        }
    }
}

/// Errors raised while reading MovieLens data. Each names the file and, for a bad record, the line,
/// the column and the first characters of the offending text.
public enum MovieLensError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A record could not be read: wrong field count, non-numeric id, rating off the half-star scale,
    /// unterminated quote, invalid UTF-8, … `text` is the start of the offending field or line.
    case malformedRecord(SourceLocation, RecordDefect, text: String)
    /// The file has no header or no bytes at all.
    case emptyFile(String)
    /// The header lacks a column the loader needs.
    case missingColumn(file: String, column: String, header: [String])
    /// No file of a required kind exists in the folder; lists every name looked for.
    case missingFile(kind: String, directory: String, lookedFor: [String])
    /// The file could not be opened or read.
    case io(path: String, reason: String)
    /// An id in one file that another file does not define.
    case unknownID(kind: String, id: Int, context: String)
    /// A request that makes no sense (e.g. an unknown preset name).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .malformedRecord(loc, defect, text):
            return "\(loc): \(defect): \"\(text)\""
        case let .emptyFile(file):
            return "\(file): file is empty (no header line)"
        case let .missingColumn(file, column, header):
            return "\(file): header has no '\(column)' column (found: \(header.joined(separator: ", ")))"
        case let .missingFile(kind, directory, names):
            return "\(directory): no \(kind) file; looked for \(names.joined(separator: ", "))"
        case let .io(path, reason):
            return "\(path): \(reason)"
        case let .unknownID(kind, id, context):
            return "unknown \(kind) id \(id) (\(context))"
        case let .invalidArgument(text):
            return text
        }
    }
}

/// What to do with a bad record.
public enum ErrorPolicy: Sendable, Hashable {
    /// Stop at the first bad record with an error naming it.
    case strict
    /// Skip bad records, count them and keep the first few (see ``LoadReport``).
    case lenient
}

/// What a loader skipped or fixed, for the user to see.
public struct LoadReport: Sendable, Equatable {
    /// File the report is about.
    public var file: String
    /// Records read successfully.
    public var records: Int = 0
    /// Records skipped as malformed (lenient mode only).
    public var skipped: Int = 0
    /// The first skipped records' errors (at most 10).
    public var firstErrors: [MovieLensError] = []
    /// Duplicate (user, movie) ratings dropped, keeping the latest by timestamp.
    public var duplicatesDropped: Int = 0
    /// Rows that referred to unknown ids and were skipped (e.g. genome rows for unknown tags).
    public var unknownReferencesSkipped: Int = 0

    public init(file: String) { self.file = file }

    mutating func record(_ error: MovieLensError) {
        skipped += 1
        if firstErrors.count < 10 { firstErrors.append(error) }
    }

    /// One line for people: counts and the first problem.
    public var summary: String {
        var parts = ["\(records) records"]
        if skipped > 0 { parts.append("\(skipped) malformed skipped") }
        if duplicatesDropped > 0 { parts.append("\(duplicatesDropped) duplicate ratings dropped (kept the latest)") }
        if unknownReferencesSkipped > 0 { parts.append("\(unknownReferencesSkipped) rows with unknown ids skipped") }
        return "\(file): " + parts.joined(separator: ", ")
    }
}
