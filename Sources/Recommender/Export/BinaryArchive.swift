import Foundation
import MovieLens

/// Errors reading MovieRec's binary files.
public enum ArchiveError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file does not start with the expected magic bytes (it is not this kind of file).
    case notAnArchive(path: String, expected: String)
    /// The file was written by a format version this build does not read.
    case unsupportedVersion(path: String, found: UInt32, supported: UInt32)
    /// The file ends before its declared contents (an interrupted copy, a partial download).
    case truncated(path: String)
    /// The checksum does not match: the bytes were changed after writing.
    case corrupted(path: String)
    /// A section the reader needs is missing or has the wrong type or size.
    case badSection(path: String, name: String, reason: String)

    public var description: String {
        switch self {
        case let .notAnArchive(path, expected): return "\(path): not a \(expected) file"
        case let .unsupportedVersion(path, found, supported):
            let old = found < supported ? " (an old format: write the file again with this build)" : ""
            return "\(path): format version \(found), this build reads version \(supported)\(old)"
        case let .truncated(path): return "\(path): file is truncated"
        case let .corrupted(path): return "\(path): checksum mismatch, the file is corrupted"
        case let .badSection(path, name, reason): return "\(path): section '\(name)': \(reason)"
        }
    }
}

/// A simple, versioned, checksummed container of named typed arrays, for prepared data and models.
///
/// Layout: 8 magic bytes, a `UInt32` version, a `UInt32` section count, then per section a `UInt16`
/// name length, the UTF-8 name, a `UInt8` element type, a `UInt64` element count and the raw
/// little-endian elements; last, a `UInt64` checksum of everything before it. Written atomically.
public struct BinaryArchive: Sendable {
    /// Element types.
    enum Kind: UInt8 { case float32 = 1, int32 = 2, int64 = 3, bytes = 4 }

    struct Section: Sendable {
        var kind: Kind
        var count: Int
        var data: [UInt8]
    }

    public let magic: String
    /// The format version: the one to write, or the one a read file has.
    public private(set) var version: UInt32
    private(set) var sections: [String: Section] = [:]
    private(set) var order: [String] = []
    /// Path the archive was read from (for error messages).
    public private(set) var path = ""

    /// An empty archive with an 8-character `magic` and a format `version`.
    public init(magic: String, version: UInt32) {
        precondition(magic.utf8.count == 8, "magic must be 8 bytes")
        self.magic = magic
        self.version = version
    }

    private mutating func put(_ name: String, _ kind: Kind, _ count: Int, _ data: [UInt8]) {
        if sections[name] == nil { order.append(name) }
        sections[name] = Section(kind: kind, count: count, data: data)
    }

    public mutating func set(_ name: String, floats: [Float]) {
        put(name, .float32, floats.count, floats.withUnsafeBytes { Array($0) })
    }

    public mutating func set(_ name: String, ints: [Int32]) {
        put(name, .int32, ints.count, ints.withUnsafeBytes { Array($0) })
    }

    public mutating func set(_ name: String, longs: [Int64]) {
        put(name, .int64, longs.count, longs.withUnsafeBytes { Array($0) })
    }

    public mutating func set(_ name: String, bytes: [UInt8]) { put(name, .bytes, bytes.count, bytes) }

    /// Stores any `Encodable` value as JSON.
    public mutating func set<T: Encodable>(_ name: String, json value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        set(name, bytes: Array(try encoder.encode(value)))
    }

    private func section(_ name: String, _ kind: Kind) throws -> Section {
        guard let s = sections[name] else { throw ArchiveError.badSection(path: path, name: name, reason: "missing") }
        guard s.kind == kind else { throw ArchiveError.badSection(path: path, name: name, reason: "has type \(s.kind), expected \(kind)") }
        return s
    }

    private func elements<T>(_ s: Section, as: T.Type) -> [T] {
        [T](unsafeUninitializedCapacity: s.count) { buffer, count in
            s.data.withUnsafeBytes { raw in
                if let dst = buffer.baseAddress, let src = raw.baseAddress { UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: raw.count) }
            }
            count = s.count
        }
    }

    public func floats(_ name: String) throws -> [Float] { elements(try section(name, .float32), as: Float.self) }
    public func ints(_ name: String) throws -> [Int32] { elements(try section(name, .int32), as: Int32.self) }
    public func longs(_ name: String) throws -> [Int64] { elements(try section(name, .int64), as: Int64.self) }
    public func bytes(_ name: String) throws -> [UInt8] { try section(name, .bytes).data }

    public func json<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(try bytes(name)))
        } catch let error as ArchiveError {
            throw error
        } catch {
            throw ArchiveError.badSection(path: path, name: name, reason: "unreadable: \(error)")
        }
    }

    /// Whether a section exists.
    public func contains(_ name: String) -> Bool { sections[name] != nil }

    // MARK: - Files

    /// The size of the file ``write(to:)`` writes.
    public var byteCount: Int {
        order.reduce(8 + 4 + 4 + 8) { total, name in total + 2 + name.utf8.count + 1 + 8 + (sections[name]?.data.count ?? 0) }
    }

    /// Writes the archive to `url` atomically, streaming the sections (no whole-file copy in memory).
    /// - Returns: the checksum stored in the file's last 8 bytes.
    @discardableResult
    public func write(to url: URL) throws -> UInt64 {
        let writer = try AtomicFileWriter(destination: url)
        var checksum = Checksum()
        func emit(_ bytes: [UInt8]) throws {
            checksum.update(bytes)
            try writer.write(bytes)
        }
        var head = Array(magic.utf8)
        Self.append(&head, version)
        Self.append(&head, UInt32(order.count))
        try emit(head)
        for name in order {
            guard let s = sections[name] else { continue }
            var sectionHead = [UInt8]()
            let nameBytes = Array(name.utf8)
            Self.append(&sectionHead, UInt16(nameBytes.count))
            sectionHead += nameBytes
            sectionHead.append(s.kind.rawValue)
            Self.append(&sectionHead, UInt64(s.count))
            try emit(sectionHead)
            try emit(s.data)
        }
        var tail = [UInt8]()
        let sum = checksum.finalize()
        Self.append(&tail, sum)
        try writer.write(tail)
        try writer.commit()
        return sum
    }

    /// Reads an archive, checking magic, version, size and checksum.
    public static func read(from url: URL, magic: String, version: UInt32) throws -> BinaryArchive {
        try read(from: url, magic: magic, versions: version...version)
    }

    /// Reads an archive of any format version in `versions` (``version`` tells which).
    public static func read(from url: URL, magic: String, versions: ClosedRange<UInt32>) throws -> BinaryArchive {
        let path = url.path
        try requireRegularFile(path)
        let data: [UInt8]
        do { data = Array(try Data(contentsOf: url)) } catch {
            throw MovieLensError.io(path: path, reason: "cannot read: \(error.localizedDescription)")
        }
        var archive = BinaryArchive(magic: magic, version: versions.upperBound)
        archive.path = path
        guard data.count >= 8, Array(data[0..<8]) == Array(magic.utf8) else {
            throw ArchiveError.notAnArchive(path: path, expected: magic.trimmingCharacters(in: .whitespaces))
        }
        var p = 8
        func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n >= 0, p + n <= data.count - 8 else { throw ArchiveError.truncated(path: path) }
            defer { p += n }
            return data[p..<(p + n)]
        }
        func integer<T: FixedWidthInteger>(_: T.Type) throws -> T {
            let bytes = try take(MemoryLayout<T>.size)
            return bytes.reversed().reduce(T(0)) { $0 << 8 | T($1) }
        }
        guard data.count >= 24 else { throw ArchiveError.truncated(path: path) }
        let found = try integer(UInt32.self)
        guard versions.contains(found) else {
            throw ArchiveError.unsupportedVersion(path: path, found: found, supported: versions.upperBound)
        }
        archive.version = found
        let stored = data[(data.count - 8)...].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let count = try integer(UInt32.self)
        for _ in 0..<count {
            let nameLength = Int(try integer(UInt16.self))
            guard let name = String(bytes: try take(nameLength), encoding: .utf8) else { throw ArchiveError.corrupted(path: path) }
            guard let kind = Kind(rawValue: try take(1).first ?? 0) else { throw ArchiveError.corrupted(path: path) }
            let elements = try integer(UInt64.self)
            let width: Int
            switch kind {
            case .float32, .int32: width = 4
            case .int64: width = 8
            case .bytes: width = 1
            }
            guard elements <= UInt64(data.count) else { throw ArchiveError.truncated(path: path) }
            let body = try take(Int(elements) * width)
            archive.put(name, kind, Int(elements), Array(body))
        }
        guard p == data.count - 8 else { throw ArchiveError.corrupted(path: path) }
        var checksum = Checksum()
        checksum.update(data[0..<(data.count - 8)])
        guard checksum.finalize() == stored else { throw ArchiveError.corrupted(path: path) }
        return archive
    }

    /// `bytes` with its last 8 bytes replaced by the checksum of the rest (or the checksum
    /// appended, for fewer than 24 bytes): a file whose checksum holds whatever its contents, so
    /// that fuzzing reaches the section readers behind the checksum.
    public static func resealed(_ bytes: [UInt8]) -> [UInt8] {
        let body = bytes.count >= 24 ? Array(bytes.dropLast(8)) : bytes
        var checksum = Checksum()
        checksum.update(body)
        var out = body
        append(&out, checksum.finalize())
        return out
    }

    static func append<T: FixedWidthInteger>(_ out: inout [UInt8], _ value: T) {
        var v = value.littleEndian
        withUnsafeBytes(of: &v) { out += $0 }
    }
}

/// A streaming 64-bit checksum over 8-byte little-endian words (multiply–rotate mixing); the
/// result does not depend on how the bytes are split across `update` calls.
struct Checksum {
    private var h: UInt64 = 0x9E37_79B9_7F4A_7C15
    private var pending: UInt64 = 0
    private var pendingCount = 0
    private var total: UInt64 = 0

    @inline(__always)
    private mutating func mix(_ w: UInt64) {
        h = (h ^ (w &* 0xC2B2_AE3D_27D4_EB4F)) &* 0x1656_67B1_9E37_79F9
        h = h << 31 | h >> 33
    }

    mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let handled: Bool? = bytes.withContiguousStorageIfAvailable { buffer in
            update(UnsafeRawBufferPointer(buffer))
            return true
        }
        if handled == nil { Array(bytes).withUnsafeBytes { update($0) } }
    }

    mutating func update(_ raw: UnsafeRawBufferPointer) {
        total &+= UInt64(raw.count)
        var i = 0
        while pendingCount > 0 && pendingCount < 8 && i < raw.count {
            pending |= UInt64(raw[i]) << (8 * UInt64(pendingCount))
            pendingCount += 1
            i += 1
            if pendingCount == 8 { mix(pending); pending = 0; pendingCount = 0 }
        }
        while i + 8 <= raw.count {
            mix(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)))
            i += 8
        }
        while i < raw.count {
            pending |= UInt64(raw[i]) << (8 * UInt64(pendingCount))
            pendingCount += 1
            i += 1
        }
    }

    func finalize() -> UInt64 {
        var x = h
        if pendingCount > 0 { x = (x ^ (pending &* 0xC2B2_AE3D_27D4_EB4F)) &* 0x1656_67B1_9E37_79F9 }
        x ^= total &* 0xFF51_AFD7_ED55_8CCD
        x ^= x >> 29
        x = x &* 0xBF58_476D_1CE4_E5B9
        return x ^ (x >> 32)
    }
}
