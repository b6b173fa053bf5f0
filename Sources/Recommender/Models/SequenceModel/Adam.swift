import Foundation
import LinearAlgebra

/// Adam (Kingma & Ba 2015) over a flat parameter vector, with global gradient-norm clipping.
public struct AdamOptimizer: Sendable {
    public var learningRate: Float
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    /// Gradients whose global L2 norm exceeds this are scaled down to it (0: no clipping).
    public var clipNorm: Float
    var m: [Float], v: [Float]
    var step = 0

    public init(parameterCount: Int, learningRate: Float = 1e-3, clipNorm: Float = 5) {
        self.learningRate = learningRate
        self.clipNorm = clipNorm
        m = [Float](repeating: 0, count: parameterCount)
        v = [Float](repeating: 0, count: parameterCount)
    }

    /// A table of rows inside the parameter vector (an embedding) of which a batch touches few:
    /// `range` holds `range.count / width` rows of `width` parameters.
    public struct RowTable: Sendable, Hashable {
        public var range: Range<Int>
        public var width: Int
        public init(range: Range<Int>, width: Int) { self.range = range; self.width = width }
    }

    /// One update of `parameters` with `gradient`; returns the gradient's norm before clipping.
    /// Chunks of the parameter vector are updated in parallel on `threads` cores, eight lanes at a time.
    ///
    /// Lazy Adam (TensorFlow Addons' `LazyAdam`) in the `lazyRows` tables: a row whose gradient is
    /// all zero — a movie the batch neither read nor scored — keeps its parameters and its moments
    /// (they do not decay either), so its memory is not touched. Everything else, and every row
    /// without `lazyRows`, gets the dense update.
    @discardableResult
    public mutating func update(_ parameters: inout [Float], gradient: [Float], threads: Int = 1, lazyRows: [RowTable] = []) -> Float {
        let count = parameters.count
        let chunks = Parallel.split(count, parts: max(1, min(threads, count / 65_536 + 1)))
        var partial = [Double](repeating: 0, count: chunks.count)
        gradient.withUnsafeBufferPointer { gb in
            partial.withUnsafeMutableBufferPointer { pb in
                guard let g = gb.baseAddress, let out = pb.baseAddress else { return }
                let input = UnsafeSendableBox(g), sums = UnsafeSendable(out)
                Parallel.forEach(count: chunks.count, threads: threads) { c in
                    var acc = SIMD8<Float>(repeating: 0), total = 0.0
                    var i = chunks[c].lowerBound
                    while i < chunks[c].upperBound {
                        let end = min(chunks[c].upperBound, i + 4096)   // Float lanes, flushed to Double per block
                        while i + 8 <= end {
                            let v = UnsafeRawPointer(input.value + i).loadUnaligned(as: SIMD8<Float>.self)
                            acc += v * v
                            i += 8
                        }
                        while i < end { total += Double(input.value[i] * input.value[i]); i += 1 }
                        total += Double(acc.sum())
                        acc = .zero
                    }
                    sums.pointer[c] = total
                }
            }
        }
        let norm = Float(partial.reduce(0, +).squareRoot())
        step += 1
        let correction1 = 1 - Float(pow(Double(beta1), Double(step))), correction2 = 1 - Float(pow(Double(beta2), Double(step)))
        let rule = Rule(scale: clipNorm > 0 && norm > clipNorm ? clipNorm / norm : 1, beta1: beta1, beta2: beta2,
                        rate: learningRate * correction2.squareRoot() / correction1, epsilon: epsilon * correction2.squareRoot())
        let pieces = Self.pieces(count: count, lazyRows: lazyRows, threads: threads)
        m.withUnsafeMutableBufferPointer { mb in
            v.withUnsafeMutableBufferPointer { vb in
                parameters.withUnsafeMutableBufferPointer { pb in
                    gradient.withUnsafeBufferPointer { gb in
                        guard let mp = mb.baseAddress, let vp = vb.baseAddress, let pp = pb.baseAddress, let gp = gb.baseAddress else { return }
                        let state = UnsafeSendableBox((UnsafeSendable(mp), UnsafeSendable(vp), UnsafeSendable(pp), gp))
                        Parallel.forEach(count: pieces.count, threads: threads) { c in
                            let (m, v, p, g) = state.value
                            let piece = pieces[c]
                            guard let width = piece.rowWidth else {
                                return rule.apply(m.pointer, v.pointer, p.pointer, g, piece.range)
                            }
                            var row = piece.range.lowerBound
                            while row < piece.range.upperBound {
                                let end = row + width
                                var touched = false
                                for i in row..<end where g[i] != 0 { touched = true; break }
                                if touched { rule.apply(m.pointer, v.pointer, p.pointer, g, row..<end) }
                                row = end
                            }
                        }
                    }
                }
            }
        }
        return norm
    }

    /// One step's constants: the clipping scale, the moments' decays and the bias-corrected rate and ε.
    private struct Rule: Sendable {
        let scale, beta1, beta2, rate, epsilon: Float

        /// The Adam update of the parameters in `range`.
        @inline(__always)
        func apply(_ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>, _ p: UnsafeMutablePointer<Float>,
                   _ g: UnsafePointer<Float>, _ range: Range<Int>) {
            let b1 = beta1, b2 = beta2
            var i = range.lowerBound
            let end = range.upperBound
            while i + 8 <= end {
                let gi = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self) * scale
                let mi = b1 * UnsafeRawPointer(m + i).loadUnaligned(as: SIMD8<Float>.self) + (1 - b1) * gi
                let vi = b2 * UnsafeRawPointer(v + i).loadUnaligned(as: SIMD8<Float>.self) + (1 - b2) * gi * gi
                let pi = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self) - rate * mi / (vi.squareRoot() + epsilon)
                UnsafeMutableRawPointer(m + i).storeBytes(of: mi, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(v + i).storeBytes(of: vi, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(p + i).storeBytes(of: pi, as: SIMD8<Float>.self)
                i += 8
            }
            while i < end {
                let gi = g[i] * scale
                m[i] = b1 * m[i] + (1 - b1) * gi
                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                p[i] -= rate * m[i] / (v[i].squareRoot() + epsilon)
                i += 1
            }
        }
    }

    /// The parameter vector cut into work for `threads` cores: dense ranges, and the `lazyRows`
    /// tables in whole rows (`rowWidth` set).
    static func pieces(count: Int, lazyRows: [RowTable], threads: Int) -> [(range: Range<Int>, rowWidth: Int?)] {
        let parts = max(1, min(threads, count / 65_536 + 1))
        let tables = lazyRows.filter { $0.width > 0 && !$0.range.isEmpty }.sorted { $0.range.lowerBound < $1.range.lowerBound }
        var pieces = [(range: Range<Int>, rowWidth: Int?)]()
        var start = 0
        func dense(_ r: Range<Int>) {
            guard !r.isEmpty else { return }
            for c in Parallel.split(r.count, parts: max(1, min(parts, r.count / 65_536 + 1))) {
                pieces.append(((r.lowerBound + c.lowerBound)..<(r.lowerBound + c.upperBound), nil))
            }
        }
        for t in tables where t.range.lowerBound >= start && t.range.upperBound <= count {
            dense(start..<t.range.lowerBound)
            let rows = t.range.count / t.width
            for c in Parallel.split(rows, parts: max(1, min(parts, t.range.count / 65_536 + 1))) {
                pieces.append(((t.range.lowerBound + c.lowerBound * t.width)..<(t.range.lowerBound + c.upperBound * t.width), t.width))
            }
            dense((t.range.lowerBound + rows * t.width)..<t.range.upperBound)
            start = t.range.upperBound
        }
        dense(start..<count)
        return pieces
    }
}
