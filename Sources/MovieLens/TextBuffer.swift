#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import LinearAlgebra

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
        var digits = TextBuffer.scratch
        let count = withUnsafeMutableBytes(of: &digits) { TextBuffer.format(value, fractionDigits: 0, into: $0) }
        withUnsafeBytes(of: &digits) { bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[(32 - count)...])) }
    }

    @inline(__always) public mutating func append(_ value: Int) { append(Int64(value)) }
    @inline(__always) public mutating func append(_ value: Int32) { append(Int64(value)) }

    /// Appends `value` with exactly `decimals` (≤ 9) digits after the point, rounded half away from zero.
    public mutating func append(_ value: Double, decimals: Int) {
        let places = min(max(decimals, 0), 9)
        var scale: Int64 = 1
        for _ in 0..<places { scale *= 10 }
        let magnitude = (abs(value) * Double(scale)).rounded()
        guard magnitude < 9e17 else { append(String(value)); return }
        let scaled = Int64(magnitude)
        let signed = value < 0 && scaled != 0 ? -scaled : scaled
        var digits = TextBuffer.scratch
        let count = withUnsafeMutableBytes(of: &digits) { TextBuffer.format(signed, fractionDigits: places, into: $0) }
        withUnsafeBytes(of: &digits) { bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[(32 - count)...])) }
    }

    /// Appends one line built field by field in stack scratch space (up to 240 bytes), with a single
    /// copy into the buffer: the fast way to write many short numeric rows.
    @inline(__always)
    public mutating func appendLine(_ build: (inout LineBuilder) -> Void) {
        var line = LineBuilder()
        build(&line)
        withUnsafeBytes(of: &line.storage) { raw in
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[0..<min(line.count, LineBuilder.capacity)]))
        }
    }

    /// 32 bytes of stack scratch space for number formatting.
    static var scratch: (UInt64, UInt64, UInt64, UInt64) { (0, 0, 0, 0) }

    /// Writes `value / 10^fractionDigits` right-aligned at the end of `out` (32 bytes) and returns
    /// how many bytes it used: digits, a point before the last `fractionDigits` digits, a sign.
    @inline(__always)
    static func format(_ value: Int64, fractionDigits: Int, into out: UnsafeMutableRawBufferPointer) -> Int {
        var v = value.magnitude
        var i = 32
        var written = 0
        repeat {
            if fractionDigits > 0 && written == fractionDigits {
                i -= 1
                out[i] = UInt8(ascii: ".")
            }
            i -= 1
            out[i] = UInt8(48 + v % 10)
            v /= 10
            written += 1
        } while v > 0 || written <= fractionDigits
        if value < 0 {
            i -= 1
            out[i] = UInt8(ascii: "-")
        }
        return 32 - i
    }
}

/// A short line under construction on the stack (see ``TextBuffer/appendLine(_:)``). Fields past
/// the capacity are dropped, so keep lines short (numbers, not free text).
public struct LineBuilder {
    static let capacity = 240
    var storage: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                  UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                  UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var count = 0

    @inline(__always) public mutating func byte(_ b: UInt8) {
        guard count < LineBuilder.capacity else { return }
        withUnsafeMutableBytes(of: &storage) { $0[count] = b }
        count += 1
    }

    /// A decimal integer.
    @inline(__always) public mutating func integer(_ value: Int64) { decimal(value, fractionDigits: 0) }

    /// `value` with exactly `places` (≤ 9) digits after the point, rounded half away from zero.
    @inline(__always) public mutating func number(_ value: Double, places: Int) {
        let places = min(max(places, 0), 9)
        var scale: Int64 = 1
        for _ in 0..<places { scale *= 10 }
        let magnitude = (abs(value) * Double(scale)).rounded()
        guard magnitude < 9e17 else { for b in String(value).utf8 { byte(b) }; return }
        let scaled = Int64(magnitude)
        decimal(value < 0 && scaled != 0 ? -scaled : scaled, fractionDigits: places)
    }

    @inline(__always) mutating func decimal(_ value: Int64, fractionDigits: Int) {
        var digits = TextBuffer.scratch
        let n = withUnsafeMutableBytes(of: &digits) { TextBuffer.format(value, fractionDigits: fractionDigits, into: $0) }
        guard count + n <= LineBuilder.capacity else { return }
        let start = count
        withUnsafeBytes(of: &digits) { src in
            withUnsafeMutableBytes(of: &storage) { dst in
                for k in 0..<n { dst[start + k] = src[32 - n + k] }
            }
        }
        count += n
    }
}
