import LinearAlgebra
import Testing

@Suite("Top-k selection and the parallel loop")
struct TopKTests {
    @Test("top-k orders by value, breaks ties by lower index, skips NaN")
    func ordering() {
        let v: [Float] = [0.5, 3, .nan, 3, -1, 7, 0.5, 3]
        let top = v.withUnsafeBufferPointer { TopK.select($0, k: 4) }
        #expect(top.map(\.index) == [5, 1, 3, 7])
        #expect(top.map(\.value) == [7, 3, 3, 3])
        #expect(v.withUnsafeBufferPointer { TopK.select($0, k: 100) }.count == 7)
        #expect(v.withUnsafeBufferPointer { TopK.select($0, k: 0) }.isEmpty)
    }

    @Test("row-wise top-k equals sorting every row")
    func rows() throws {
        let m = randomMatrix(300, 57, seed: 4)
        let (idx, vals) = m.withView { TopK.rows(of: $0, k: 10, threads: 2) }
        for r in 0..<300 {
            let expected = (0..<57).sorted { m[r, $0] > m[r, $1] || (m[r, $0] == m[r, $1] && $0 < $1) }.prefix(10)
            #expect(idx[r * 10 ..< r * 10 + 10].map(Int.init) == Array(expected))
            #expect(vals[r * 10] == m[r, expected.first ?? 0])
        }
        let (narrow, _) = Matrix(rows: 2, cols: 3).withView { TopK.rows(of: $0, k: 5) }
        #expect(narrow[3] == -1 && narrow[4] == -1 && narrow[0] == 0)
    }

    @Test("parallel loop visits every index exactly once")
    func parallel() {
        var hits = [Int32](repeating: 0, count: 10_000)
        hits.withUnsafeMutableBufferPointer { b in
            let p = UnsafeSendable(b.baseAddress!)
            Parallel.forChunks(count: 10_000, threads: 2, minChunk: 7) { range in
                for i in range { p.pointer[i] += 1 }
            }
        }
        #expect(hits.allSatisfy { $0 == 1 })
        #expect(Parallel.split(10, parts: 3) == [0..<3, 3..<6, 6..<10])
    }

    @Test("seeded generator is deterministic and roughly uniform")
    func random() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42), c = SeededGenerator(seed: 43)
        let xs = (0..<1000).map { _ in a.nextUnitFloat() }
        #expect(xs == (0..<1000).map { _ in b.nextUnitFloat() })
        #expect(xs != (0..<1000).map { _ in c.nextUnitFloat() })
        let mean = xs.reduce(0, +) / 1000
        #expect(abs(mean - 0.5) < 0.05)
        #expect(xs.allSatisfy { $0 >= 0 && $0 < 1 })
    }
}
