import Foundation

/// A chart rendered as one standalone SVG element: x–y series as lines and/or points, or grouped
/// bars (categories × series). Axes get "nice" ticks (1, 2 or 5 × 10ᵏ), either axis of an x–y
/// chart may be logarithmic, colours come from the Okabe–Ito palette (told apart with colour-blind
/// vision), and the chart, each series and each mark carry `<title>`s for screen readers and
/// hover. Every label is XML-escaped; the output parses as XML.
///
/// ```swift
/// var chart = Chart(title: "Recall@K", xLabel: "K", yLabel: "Recall")
/// chart.series = [.init(name: "EASE", points: [(1, 0.02), (10, 0.10), (50, 0.25)])]
/// let svg = chart.svg()
/// ```
///
/// Degenerate data renders sensibly: no data says so, one point or a constant series gets a
/// padded axis, and a log axis drops values ≤ 0 (saying how many in the chart's description).
public struct Chart: Sendable {
    public enum Scale: String, Sendable, Codable { case linear, log }
    public enum Kind: String, Sendable, Codable {
        /// Series joined by lines, with a dot at each point.
        case lines
        /// Dots only.
        case points
        /// One group of bars per category (``Chart/categories``), one bar per series; a series'
        /// `y` values align with the categories (its `x` values are ignored).
        case bars
    }

    /// One named series.
    public struct Series: Sendable, Codable, Equatable {
        public var name: String
        public var points: [Point]

        public init(name: String, points: [(Double, Double)]) {
            self.name = name
            self.points = points.map { Point(x: $0.0, y: $0.1) }
        }
    }

    public struct Point: Sendable, Codable, Equatable {
        public var x: Double
        public var y: Double
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var kind: Kind = .lines
    public var xScale: Scale = .linear
    public var yScale: Scale = .linear
    /// Bar charts: the category of each group.
    public var categories: [String] = []
    public var series: [Series] = []
    public var width = 640
    public var height = 360
    /// Whether a linear y axis of an x–y chart starts at zero (rates, counts) or fits the data (losses).
    public var yFromZero = true

    public init(title: String, xLabel: String = "", yLabel: String = "", kind: Kind = .lines) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.kind = kind
    }

    /// The Okabe–Ito palette (Okabe & Ito 2008), darkest hues first.
    public static let palette = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

    // MARK: - Rendering

    private static let margin = (left: 64.0, right: 16.0, top: 36.0, bottom: 48.0)

    /// The chart as an `<svg>` element.
    public func svg() -> String {
        let w = Double(width), h = Double(height), m = Self.margin
        let plot = (x: m.left, y: m.top, w: max(1, w - m.left - m.right - legendWidth), h: max(1, h - m.top - m.bottom))
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" role=\"img\" width=\"\(width)\" height=\"\(height)\" "
        out += "viewBox=\"0 0 \(width) \(height)\" font-family=\"sans-serif\" font-size=\"12\">"
        out += "<title>\(Self.escape(title))</title><desc>\(Self.escape(description))</desc>"
        out += "<text x=\"\(Self.number(w / 2))\" y=\"20\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">\(Self.escape(Self.fitted(title, width: w - 16)))</text>"
        let usable = usableSeries
        if usable.allSatisfy({ $0.points.isEmpty }) {
            out += "<text x=\"\(Self.number(plot.x + plot.w / 2))\" y=\"\(Self.number(plot.y + plot.h / 2))\" text-anchor=\"middle\" fill=\"#555\">no data</text></svg>"
            return out
        }
        switch kind {
        case .bars: out += bars(usable, plot: plot)
        case .lines, .points: out += lines(usable, plot: plot)
        }
        out += legend(usable, x: plot.x + plot.w + 12, y: plot.y)
        out += "<text x=\"\(Self.number(plot.x + plot.w / 2))\" y=\"\(Self.number(h - 8))\" text-anchor=\"middle\">\(Self.escape(xLabel))</text>"
        out += "<text transform=\"translate(14 \(Self.number(plot.y + plot.h / 2))) rotate(-90)\" text-anchor=\"middle\">\(Self.escape(yLabel))</text>"
        return out + "</svg>"
    }

    /// The series with their non-finite points (and, on a log axis, points ≤ 0) removed.
    var usableSeries: [Series] {
        series.map { s in
            var t = s
            t.points = s.points.filter { p in
                p.x.isFinite && p.y.isFinite && (kind == .bars || xScale == .linear || p.x > 0) && (yScale == .linear || p.y > 0)
            }
            return t
        }
    }

    /// What the chart shows, in words (its `<desc>`).
    var description: String {
        let dropped = zip(series, usableSeries).reduce(0) { $0 + $1.0.points.count - $1.1.points.count }
        var text = "\(kind == .bars ? "Bar" : "Line") chart of \(yLabel.isEmpty ? "values" : yLabel)"
        if kind != .bars && !xLabel.isEmpty { text += " against \(xLabel)" }
        text += "; series: " + (series.isEmpty ? "none" : series.map(\.name).joined(separator: ", ")) + "."
        if dropped > 0 { text += " \(dropped) point\(dropped == 1 ? "" : "s") left out (not finite, or not positive on a log axis)." }
        return text
    }

    private var legendWidth: Double {
        guard series.count > 1 || kind == .bars else { return 0 }
        return min(200, Double(series.map(\.name.count).max() ?? 0) * 7 + 28)
    }

    private func legend(_ series: [Series], x: Double, y: Double) -> String {
        guard legendWidth > 0 else { return "" }
        var out = "<g class=\"legend\">"
        for (i, s) in series.enumerated() {
            let top = y + Double(i) * 18
            out += "<rect x=\"\(Self.number(x))\" y=\"\(Self.number(top))\" width=\"12\" height=\"12\" fill=\"\(Self.colour(i))\"/>"
            out += "<text x=\"\(Self.number(x + 18))\" y=\"\(Self.number(top + 10))\">\(Self.escape(s.name))</text>"
        }
        return out + "</g>"
    }

    private func lines(_ series: [Series], plot: (x: Double, y: Double, w: Double, h: Double)) -> String {
        let points = series.flatMap(\.points)
        let xs = Axis(values: points.map(\.x), scale: xScale, includeZero: false)
        let ys = Axis(values: points.map(\.y), scale: yScale, includeZero: yScale == .linear && yFromZero)
        func px(_ v: Double) -> Double { plot.x + xs.fraction(v) * plot.w }
        func py(_ v: Double) -> Double { plot.y + (1 - ys.fraction(v)) * plot.h }
        var out = axes(plot: plot, x: xs, y: ys)
        for (i, s) in series.enumerated() where !s.points.isEmpty {
            let colour = Self.colour(i)
            out += "<g class=\"series\"><title>\(Self.escape(s.name))</title>"
            if kind == .lines && s.points.count > 1 {
                let path = s.points.map { "\(Self.number(px($0.x))),\(Self.number(py($0.y)))" }.joined(separator: " ")
                out += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"\(path)\"/>"
            }
            for p in s.points {
                out += "<circle cx=\"\(Self.number(px(p.x)))\" cy=\"\(Self.number(py(p.y)))\" r=\"\(kind == .points ? 4 : 2.5)\" fill=\"\(colour)\">"
                out += "<title>\(Self.escape(s.name)): \(Self.label(p.x)), \(Self.label(p.y))</title></circle>"
            }
            out += "</g>"
        }
        return out
    }

    private func bars(_ series: [Series], plot: (x: Double, y: Double, w: Double, h: Double)) -> String {
        let groups = max(categories.count, series.map(\.points.count).max() ?? 0)
        let ys = Axis(values: series.flatMap { $0.points.map(\.y) }, scale: .linear, includeZero: true)
        func py(_ v: Double) -> Double { plot.y + (1 - ys.fraction(v)) * plot.h }
        var out = axes(plot: plot, x: nil, y: ys)
        let groupWidth = plot.w / Double(max(1, groups))
        let barWidth = groupWidth * 0.8 / Double(max(1, series.count))
        for g in 0..<groups {
            let left = plot.x + Double(g) * groupWidth + groupWidth * 0.1
            let name = g < categories.count ? categories[g] : "\(g + 1)"
            out += "<text x=\"\(Self.number(left + groupWidth * 0.4))\" y=\"\(Self.number(plot.y + plot.h + 16))\" text-anchor=\"middle\">\(Self.escape(name))</text>"
            for (i, s) in series.enumerated() where g < s.points.count {
                let v = s.points[g].y, top = py(max(v, 0)), bottom = py(min(v, 0))
                out += "<rect x=\"\(Self.number(left + Double(i) * barWidth))\" y=\"\(Self.number(top))\" width=\"\(Self.number(max(1, barWidth - 1)))\" "
                out += "height=\"\(Self.number(max(0.5, bottom - top)))\" fill=\"\(Self.colour(i))\"><title>\(Self.escape(s.name)), \(Self.escape(name)): \(Self.label(v))</title></rect>"
            }
        }
        return out
    }

    /// Grid lines and tick labels; no x axis for bars (their categories label it).
    private func axes(plot: (x: Double, y: Double, w: Double, h: Double), x: Axis?, y: Axis) -> String {
        var grid = "", labels = ""
        for t in y.ticks {
            let ty = Self.number(plot.y + (1 - y.fraction(t)) * plot.h)
            grid += "<line x1=\"\(Self.number(plot.x))\" x2=\"\(Self.number(plot.x + plot.w))\" y1=\"\(ty)\" y2=\"\(ty)\"/>"
            labels += "<text x=\"\(Self.number(plot.x - 6))\" y=\"\(ty)\" dy=\"4\" text-anchor=\"end\">\(Self.label(t))</text>"
        }
        for t in x?.ticks ?? [] {
            let tx = Self.number(plot.x + (x?.fraction(t) ?? 0) * plot.w)
            grid += "<line x1=\"\(tx)\" x2=\"\(tx)\" y1=\"\(Self.number(plot.y))\" y2=\"\(Self.number(plot.y + plot.h))\"/>"
            labels += "<text x=\"\(tx)\" y=\"\(Self.number(plot.y + plot.h + 16))\" text-anchor=\"middle\">\(Self.label(t))</text>"
        }
        return "<g class=\"axes\" stroke=\"#ccc\">\(grid)</g><g class=\"tick-labels\" fill=\"#333\">\(labels)</g>"
            + "<rect x=\"\(Self.number(plot.x))\" y=\"\(Self.number(plot.y))\" width=\"\(Self.number(plot.w))\" height=\"\(Self.number(plot.h))\" fill=\"none\" stroke=\"#888\"/>"
    }

    static func colour(_ i: Int) -> String { palette[i % palette.count] }

    /// A coordinate with at most two decimals.
    static func number(_ v: Double) -> String {
        let r = (v * 100).rounded() / 100
        return r == r.rounded() ? String(Int(r)) : String(format: "%.2f", r)
    }

    /// A value for people: 0.1234, 12.5, 3.2e+06.
    static func label(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e6 || a < 1e-3 { return String(format: "%.3g", v) }
        if a >= 100 { return String(format: "%.0f", v) }
        let s = String(format: a >= 1 ? "%.2f" : "%.4f", v)
        guard s.contains(".") else { return s }
        var t = Substring(s)
        while t.hasSuffix("0") { t = t.dropLast() }
        if t.hasSuffix(".") { t = t.dropLast() }
        return String(t)
    }

    /// `text` cut with an ellipsis to what fits `width` pixels of bold 14-pixel sans-serif
    /// (~8 pixels a character, wide for most fonts); the chart's `<title>` keeps it whole.
    static func fitted(_ text: String, width: Double) -> String {
        let fits = max(4, Int(width / 8))
        return text.count <= fits ? text : String(text.prefix(fits - 1)) + "…"
    }

    /// `text` with `&`, `<`, `>`, `"` and `'` escaped, and control characters dropped.
    public static func escape(_ text: String) -> String {
        var out = ""
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: if c.value >= 0x20 || c == "\t" || c == "\n" { out.unicodeScalars.append(c) }
            }
        }
        return out
    }
}

/// One axis: its domain and ticks, linear or logarithmic.
struct Axis {
    let low: Double, high: Double
    let scale: Chart.Scale
    let ticks: [Double]

    /// The axis over `values` (finite; positive for a log axis), padded when they are all equal.
    init(values: [Double], scale: Chart.Scale, includeZero: Bool) {
        self.scale = scale
        var lo = values.min() ?? 0, hi = values.max() ?? 1
        if scale == .log {
            lo = max(lo, .leastNormalMagnitude)
            hi = max(hi, lo)
            if hi == lo { lo /= 10; hi *= 10 }
            let (a, b) = (floor(log10(lo)), ceil(log10(hi)))
            low = pow(10, a)
            high = pow(10, b == a ? a + 1 : b)
            ticks = Axis.logTicks(low: low, high: high)
            return
        }
        if includeZero { lo = min(lo, 0); hi = max(hi, 0) }
        if hi == lo {
            let pad = lo == 0 ? 1 : abs(lo) * 0.1
            lo -= includeZero && lo == 0 ? 0 : pad
            hi += pad
        }
        let t = Axis.niceTicks(low: lo, high: hi, count: 5)
        low = min(lo, t.first ?? lo)
        high = max(hi, t.last ?? hi)
        ticks = t
    }

    /// Where `v` falls along the axis, 0 at ``low`` and 1 at ``high``.
    func fraction(_ v: Double) -> Double {
        switch scale {
        case .linear: high > low ? (v - low) / (high - low) : 0.5
        case .log: high > low ? (log10(max(v, low)) - log10(low)) / (log10(high) - log10(low)) : 0.5
        }
    }

    /// About `count` ticks covering [low, high] at a step of 1, 2 or 5 × 10ᵏ (Heckbert, Graphics Gems 1990).
    static func niceTicks(low: Double, high: Double, count: Int) -> [Double] {
        guard high > low, low.isFinite, high.isFinite else { return [low] }
        let step = nice((high - low) / Double(max(1, count - 1)), round: true)
        let first = floor(low / step) * step, last = ceil(high / step) * step
        let count = min(50, Int(((last - first) / step).rounded()) + 1)
        return (0..<count).map { i in
            let v = first + Double(i) * step
            return abs(v) < step * 1e-9 ? 0 : v
        }
    }

    /// 1, 2, 5 or 10 × a power of ten near `x`.
    static func nice(_ x: Double, round: Bool) -> Double {
        let e = floor(log10(x)), f = x / pow(10, e)
        let n: Double = round ? (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) : (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10)
        return n * pow(10, e)
    }

    /// Powers of ten from `low` to `high`, with 2 and 5 between when they span at most two decades.
    static func logTicks(low: Double, high: Double) -> [Double] {
        let decades = Int((log10(high) - log10(low)).rounded())
        var ticks = [Double]()
        for d in 0...max(0, decades) {
            let base = low * pow(10, Double(d))
            ticks.append(base)
            if decades <= 2 && d < decades { ticks += [2 * base, 5 * base] }
        }
        return ticks
    }
}
