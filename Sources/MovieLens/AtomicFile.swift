#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import LinearAlgebra

/// Writes a file so that it appears whole or not at all: bytes go to a hidden temporary file in the
/// same folder, which ``commit()`` fsyncs and renames over the destination. If the writer is dropped
/// without committing (an error, an interrupted run), the temporary file is removed and any earlier
/// file at the destination is untouched.
public final class AtomicFileWriter {
    /// Final path.
    public let destination: URL
    /// Temporary path in the same folder.
    public let temporary: URL
    private var fd: Int32
    private var committed = false
    private var buffer = [UInt8]()
    private let bufferLimit = 1 << 20

    /// Opens a temporary file beside `destination` (creating the folder if needed).
    public init(destination: URL) throws {
        self.destination = destination
        let dir = destination.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        temporary = dir.appendingPathComponent(".\(destination.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        fd = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw MovieLensError.io(path: temporary.path, reason: String(cString: strerror(errno))) }
        buffer.reserveCapacity(bufferLimit)
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !committed { unlink(temporary.path) }
    }

    /// Appends bytes.
    public func write(_ bytes: [UInt8]) throws {
        if buffer.count + bytes.count > bufferLimit { try flush() }
        if bytes.count >= bufferLimit { try writeAll(bytes) } else { buffer += bytes }
    }

    /// Appends UTF-8 text.
    public func write(_ text: String) throws { try write(Array(text.utf8)) }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        try writeAll(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var offset = 0
            while offset < raw.count {
                let n = systemWrite(fd, base + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw MovieLensError.io(path: temporary.path, reason: String(cString: strerror(errno)))
                }
                offset += n
            }
        }
    }

    /// Flushes, syncs and renames the temporary file to the destination.
    public func commit() throws {
        try flush()
        guard fsync(fd) == 0 else { throw MovieLensError.io(path: temporary.path, reason: String(cString: strerror(errno))) }
        close(fd)
        fd = -1
        guard rename(temporary.path, destination.path) == 0 else {
            throw MovieLensError.io(path: destination.path, reason: String(cString: strerror(errno)))
        }
        committed = true
    }

    /// Writes `bytes` to `url` atomically.
    public static func write(_ bytes: [UInt8], to url: URL) throws {
        let w = try AtomicFileWriter(destination: url)
        try w.write(bytes)
        try w.commit()
    }
}

#if canImport(Glibc)
private let systemWrite = Glibc.write
#else
private let systemWrite = Darwin.write
#endif

/// A byte buffer with fast number formatting, for writing large CSV files.
public struct TextBuffer: Sendable {
    public var bytes: [UInt8] = []

    public init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    @inline(__always) public mutating func append(_ b: UInt8) { bytes.append(b) }

    @inline(__always) public mutating func append(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public mutating func append(_ s: String) { bytes.append(contentsOf: s.utf8) }

    /// Appends a CSV field, quoting it (RFC 4180) when it holds a comma, quote or newline.
    public mutating func appendCSVField(_ s: String) {
        let needsQuotes = s.utf8.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 10 || $0 == 13 }
        guard needsQuotes else { append(s); return }
        bytes.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            if b == UInt8(ascii: "\"") { bytes.append(b) }
            bytes.append(b)
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends a decimal integer.
    @inline(__always) public mutating func append(_ value: Int64) {
        var v = value
        if v < 0 { bytes.append(UInt8(ascii: "-")); v = -v }
        if v < 10 { bytes.append(UInt8(48 + v)); return }
        var tmp: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                  UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &tmp) { t in
            while v > 0 { t[n] = UInt8(48 + v % 10); v /= 10; n += 1 }
            for i in stride(from: n - 1, through: 0, by: -1) { bytes.append(t[i]) }
        }
    }

    @inline(__always) public mutating func append(_ value: Int) { append(Int64(value)) }
    @inline(__always) public mutating func append(_ value: Int32) { append(Int64(value)) }

    /// Appends `value` with exactly `decimals` digits after the point (half away from zero).
    public mutating func append(_ value: Double, decimals: Int) {
        var scale: Int64 = 1
        for _ in 0..<decimals { scale *= 10 }
        let scaled = Int64((abs(value) * Double(scale)).rounded())
        if value < 0 && scaled != 0 { bytes.append(UInt8(ascii: "-")) }
        append(scaled / scale)
        guard decimals > 0 else { return }
        bytes.append(UInt8(ascii: "."))
        var frac = scaled % scale
        var digits = [UInt8](repeating: 48, count: decimals)
        for i in stride(from: decimals - 1, through: 0, by: -1) { digits[i] = UInt8(48 + frac % 10); frac /= 10 }
        bytes.append(contentsOf: digits)
    }
}

extension AtomicFileWriter {
    /// Writes `header` and then the text of `count` items to `url` atomically, formatting blocks of
    /// `blockSize` items in parallel (`format(range, &buffer)`) and writing them in order, so memory
    /// stays at a few blocks whatever the file size.
    public static func writeBlocks(to url: URL, header: String, count: Int, blockSize: Int, threads: Int,
                                   format: @Sendable (Range<Int>, inout TextBuffer) -> Void) throws {
        let writer = try AtomicFileWriter(destination: url)
        try writer.write(header)
        let blocks = (count + blockSize - 1) / blockSize
        let round = max(1, threads) * 4
        var first = 0
        while first < blocks {
            let ids = Array(first..<min(blocks, first + round))
            let slots = UnsafeMutablePointer<TextBuffer>.allocate(capacity: ids.count)
            slots.initialize(repeating: TextBuffer(), count: ids.count)
            defer { slots.deinitialize(count: ids.count); slots.deallocate() }
            let out = UnsafeSendable(slots)
            Parallel.forEach(count: ids.count, threads: threads) { k in
                var text = TextBuffer()
                format((ids[k] * blockSize)..<min(count, (ids[k] + 1) * blockSize), &text)
                out.pointer[k] = text
            }
            for k in 0..<ids.count { try writer.write(slots[k].bytes) }
            first += round
        }
        try writer.commit()
    }
}
