/// Hand-written parsers for the numbers in MovieLens files, straight from bytes (no `String`).
enum NumberParsing {
    /// A decimal integer with optional sign; `nil` for anything else (empty, spaces, overflow).
    @inline(__always)
    static func integer(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int64? {
        var i = start
        guard i < end else { return nil }
        let negative = sign(b, &i)
        guard i < end, end - i <= 18 else { return nil }
        var value: Int64 = 0
        while i < end {
            let d = b[i] &- 48
            guard d < 10 else { return nil }
            value = value &* 10 &+ Int64(d)
            i += 1
        }
        return negative ? -value : value
    }

    /// Skips a leading `+` or `-` at `i`; returns whether it was `-`.
    @inline(__always)
    static func sign(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Bool {
        guard b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+") else { return false }
        defer { i += 1 }
        return b[i] == UInt8(ascii: "-")
    }

    static let powersOfTen: [Double] = (0...22).map { e in (0..<e).reduce(1.0) { acc, _ in acc * 10 } }

    /// A decimal number such as `4`, `3.5`, `-0.25`, `1e-3` or `.5`; `nil` for anything else.
    ///
    /// Up to 19 significant digits are exact; the result is the correctly rounded `Double` for the
    /// short decimals MovieLens files hold (ratings, five-decimal genome relevances).
    @inline(__always)
    static func decimal(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
        var i = start
        guard i < end else { return nil }
        let negative = sign(b, &i)
        var mantissa: UInt64 = 0
        var digits = 0
        var scale = 0
        var sawDigit = false
        while i < end, case let d = b[i] &- 48, d < 10 {
            if digits < 19 { mantissa = mantissa &* 10 &+ UInt64(d); digits += 1 } else { scale += 1 }
            sawDigit = true
            i += 1
        }
        if i < end && b[i] == UInt8(ascii: ".") {
            i += 1
            while i < end, case let d = b[i] &- 48, d < 10 {
                if digits < 19 { mantissa = mantissa &* 10 &+ UInt64(d); digits += 1; scale -= 1 }
                sawDigit = true
                i += 1
            }
        }
        guard sawDigit else { return nil }
        if i < end && (b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E")) {
            i += 1
            guard let e = integer(b, i, end), abs(e) < 400 else { return nil }
            scale += Int(e)
            i = end
        }
        guard i == end else { return nil }
        var value = Double(mantissa)
        if scale < 0 {
            let s = -scale
            value = s <= 22 ? value / powersOfTen[s] : value / pow10(s)
        } else if scale > 0 {
            value = scale <= 22 ? value * powersOfTen[scale] : value * pow10(scale)
        }
        return negative ? -value : value
    }

    static func pow10(_ e: Int) -> Double {
        var r = 1.0
        for _ in 0..<e { r *= 10 }
        return r
    }

    /// Seconds since 1970-01-01 00:00:00 UTC for `YYYY-MM-DD HH:MM:SS` (the Kaggle copy's timestamps),
    /// or `nil` when the text is not such a date.
    static func dateTime(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int64? {
        guard end - start == 19,
              b[start + 4] == UInt8(ascii: "-"), b[start + 7] == UInt8(ascii: "-"),
              b[start + 10] == UInt8(ascii: " ") || b[start + 10] == UInt8(ascii: "T"),
              b[start + 13] == UInt8(ascii: ":"), b[start + 16] == UInt8(ascii: ":"),
              let year = integer(b, start, start + 4), let month = integer(b, start + 5, start + 7),
              let day = integer(b, start + 8, start + 10), let hour = integer(b, start + 11, start + 13),
              let minute = integer(b, start + 14, start + 16), let second = integer(b, start + 17, start + 19),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61,
              year >= 0, month >= 1, day >= 1, hour >= 0, minute >= 0, second >= 0
        else { return nil }
        return daysFromCivil(year: year, month: month, day: day) * 86_400 + hour * 3_600 + minute * 60 + second
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
