import Foundation
import LinearAlgebra

/// The part of a model file that belongs to one model: named sections it writes in
/// ``RecommenderModel/encode(into:)`` and reads back in ``RecommenderModel/decode(from:)``, beside the
/// shape every model shares (user and item counts, the options it was trained with).
///
/// Readers check what they read: ``matrix(_:rows:cols:)`` and ``floats(_:count:)`` refuse a
/// section of the wrong size or with a non-finite value, naming the file and the section.
public struct ModelArchive: Sendable {
    /// Users the model was trained on.
    public let users: Int
    /// Items (movies) the model ranks.
    public let items: Int
    /// The options the model was trained with.
    public let options: TrainedModel.Options
    /// The file read (empty while writing), for error messages.
    public var path: String { archive.path }
    /// The file's format version (see ``TrainedModel/formatVersion``).
    public var version: UInt32 { archive.version }

    var archive: BinaryArchive
    /// A checking archive stores nothing: it only notes the first float section that is not finite.
    private let checking: Bool
    /// The first float section set with a NaN or an infinity (checking archives only).
    private(set) var firstNonFiniteSection: String?

    init(archive: BinaryArchive, users: Int, items: Int, options: TrainedModel.Options, checking: Bool = false) {
        self.archive = archive
        self.users = users
        self.items = items
        self.options = options
        self.checking = checking
    }

    /// An archive that stores nothing and notes ``firstNonFiniteSection``: a model's parameters
    /// checked through the same ``RecommenderModel/encode(into:)`` that saves them, without a copy.
    init(checkingUsers users: Int, items: Int, options: TrainedModel.Options) {
        self.init(archive: BinaryArchive(magic: TrainedModel.magic, version: TrainedModel.formatVersion), users: users, items: items,
                  options: options, checking: true)
    }

    // MARK: - Writing

    public mutating func set(_ name: String, floats: [Float]) {
        guard checking else { return archive.set(name, floats: floats) }
        if firstNonFiniteSection == nil, floats.contains(where: { !$0.isFinite }) { firstNonFiniteSection = name }
    }
    public mutating func set(_ name: String, ints: [Int32]) { if !checking { archive.set(name, ints: ints) } }
    public mutating func set(_ name: String, longs: [Int64]) { if !checking { archive.set(name, longs: longs) } }
    public mutating func set(_ name: String, matrix: Matrix) { set(name, floats: matrix.elements) }
    public mutating func set<T: Encodable>(_ name: String, json value: T) throws { if !checking { try archive.set(name, json: value) } }

    /// Stores ragged rows of item indices as `name.starts` (offsets) and `name.items`.
    public mutating func set(_ name: String, rows: [[Int32]]) {
        guard !checking else { return }
        archive.set("\(name).starts", longs: rows.reduce(into: [Int64(0)]) { $0.append(($0.last ?? 0) + Int64($1.count)) })
        archive.set("\(name).items", ints: rows.flatMap { $0 })
    }

    // MARK: - Reading

    /// Whether the file has a section called `name`.
    public func contains(_ name: String) -> Bool { archive.contains(name) }

    /// The error for section `name` of this file.
    public func bad(_ name: String, _ reason: String) -> ArchiveError {
        ArchiveError.badSection(path: path, name: name, reason: reason)
    }

    /// A section of finite floats, of exactly `count` values when given.
    public func floats(_ name: String, count: Int? = nil) throws -> [Float] {
        let values = try archive.floats(name)
        if let count, values.count != count { throw bad(name, "expected \(count) values, found \(values.count)") }
        guard values.allSatisfy({ $0.isFinite }) else { throw bad(name, "holds a non-finite value") }
        return values
    }

    /// A rows × cols matrix of finite values.
    public func matrix(_ name: String, rows: Int, cols: Int) throws -> Matrix {
        let values = try archive.floats(name)
        let (size, overflow) = rows.multipliedReportingOverflow(by: cols)
        guard rows >= 0, cols >= 0, !overflow, values.count == size, values.allSatisfy({ $0.isFinite }) else {
            throw bad(name, "expected \(rows) × \(cols) finite values")
        }
        return try Matrix(rows: rows, cols: cols, elements: values)
    }

    /// A matrix of `rows` rows whose column count the section's size tells (0 rows: 0 columns).
    public func matrix(_ name: String, rows: Int) throws -> Matrix {
        let count = try archive.floats(name).count
        guard rows > 0 ? count % rows == 0 : count == 0 else { throw bad(name, "\(count) values do not make \(rows) rows") }
        return try matrix(name, rows: rows, cols: rows > 0 ? count / rows : 0)
    }

    public func ints(_ name: String) throws -> [Int32] { try archive.ints(name) }
    public func longs(_ name: String) throws -> [Int64] { try archive.longs(name) }
    public func json<T: Decodable>(_ name: String, as type: T.Type) throws -> T { try archive.json(name, as: type) }

    /// Ragged rows written by ``set(_:rows:)``: exactly `count` rows of item indices in `0..<items`.
    public func rows(_ name: String, count: Int) throws -> [[Int32]] {
        let starts = try archive.longs("\(name).starts"), flat = try archive.ints("\(name).items")
        guard starts.count == count + 1, starts.first == 0, starts.last == Int64(flat.count),
              zip(starts, starts.dropFirst()).allSatisfy({ $0 <= $1 }), flat.allSatisfy({ $0 >= 0 && Int($0) < items })
        else { throw bad(name, "inconsistent with the header") }
        return (0..<count).map { Array(flat[Int(starts[$0])..<Int(starts[$0 + 1])]) }
    }
}
