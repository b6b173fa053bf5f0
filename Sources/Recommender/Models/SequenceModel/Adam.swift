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

    /// One update of `parameters` with `gradient`; returns the gradient's norm before clipping.
    /// Chunks of the parameter vector are updated in parallel on `threads` cores, eight lanes at a time.
    @discardableResult
    public mutating func update(_ parameters: inout [Float], gradient: [Float], threads: Int = 1) -> Float {
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
        let scale: Float = clipNorm > 0 && norm > clipNorm ? clipNorm / norm : 1
        step += 1
        let b1 = beta1, b2 = beta2
        let correction1 = 1 - Float(pow(Double(b1), Double(step))), correction2 = 1 - Float(pow(Double(b2), Double(step)))
        let rate = learningRate * correction2.squareRoot() / correction1
        let eps = epsilon * correction2.squareRoot()
        m.withUnsafeMutableBufferPointer { mb in
            v.withUnsafeMutableBufferPointer { vb in
                parameters.withUnsafeMutableBufferPointer { pb in
                    gradient.withUnsafeBufferPointer { gb in
                        guard let mp = mb.baseAddress, let vp = vb.baseAddress, let pp = pb.baseAddress, let gp = gb.baseAddress else { return }
                        let state = UnsafeSendableBox((UnsafeSendable(mp), UnsafeSendable(vp), UnsafeSendable(pp), gp))
                        Parallel.forEach(count: chunks.count, threads: threads) { c in
                            let (m, v, p, g) = state.value
                            var i = chunks[c].lowerBound
                            let end = chunks[c].upperBound
                            while i + 8 <= end {
                                let gi = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self) * scale
                                let mi = b1 * UnsafeRawPointer(m.pointer + i).loadUnaligned(as: SIMD8<Float>.self) + (1 - b1) * gi
                                let vi = b2 * UnsafeRawPointer(v.pointer + i).loadUnaligned(as: SIMD8<Float>.self) + (1 - b2) * gi * gi
                                let pi = UnsafeRawPointer(p.pointer + i).loadUnaligned(as: SIMD8<Float>.self) - rate * mi / (vi.squareRoot() + eps)
                                UnsafeMutableRawPointer(m.pointer + i).storeBytes(of: mi, as: SIMD8<Float>.self)
                                UnsafeMutableRawPointer(v.pointer + i).storeBytes(of: vi, as: SIMD8<Float>.self)
                                UnsafeMutableRawPointer(p.pointer + i).storeBytes(of: pi, as: SIMD8<Float>.self)
                                i += 8
                            }
                            while i < end {
                                let gi = g[i] * scale
                                m.pointer[i] = b1 * m.pointer[i] + (1 - b1) * gi
                                v.pointer[i] = b2 * v.pointer[i] + (1 - b2) * gi * gi
                                p.pointer[i] -= rate * m.pointer[i] / (v.pointer[i].squareRoot() + eps)
                                i += 1
                            }
                        }
                    }
                }
            }
        }
        return norm
    }
}
