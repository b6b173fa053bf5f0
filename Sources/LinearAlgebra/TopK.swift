/// Selection of the `k` largest entries of vectors and matrix rows.
///
/// Order: larger value first; equal values by lower index first. NaN entries are never selected.
/// Fewer than `k` results are returned when the input has fewer non-NaN entries.
public enum TopK {
    /// The indices and values of the `k` largest entries of `values`, best first.
    /// - Complexity: O(n + k·log k) typical, O(n·log k) worst case.
    public static func select(_ values: UnsafeBufferPointer<Float>, k: Int) -> [(index: Int, value: Float)] {
        guard k > 0, values.count > 0 else { return [] }
        var heap = Heap(capacity: min(k, values.count))
        heap.push(values)
        return heap.sortedDescending()
    }

    /// Row-wise top-`k` of a matrix, computed in parallel: `indices` and `values` are `rows × k`
    /// row-major; rows with fewer than `k` eligible entries are padded with index `-1` and `-∞`.
    /// - Complexity: O(rows · (cols + k·log k)) typical.
    public static func rows(of m: MatrixView, k: Int, threads: Int = 1) -> (indices: [Int32], values: [Float]) {
        let k = max(0, k)
        var indices = [Int32](repeating: -1, count: m.rows * k)
        var values = [Float](repeating: -.infinity, count: m.rows * k)
        guard k > 0, m.rows > 0 else { return (indices, values) }
        indices.withUnsafeMutableBufferPointer { ib in
            values.withUnsafeMutableBufferPointer { vb in
                guard let ip = ib.baseAddress, let vp = vb.baseAddress else { return }
                let outI = UnsafeSendable(ip), outV = UnsafeSendable(vp)
                Parallel.forChunks(count: m.rows, threads: threads, minChunk: 64) { range in
                    var heap = Heap(capacity: min(k, max(1, m.cols)))
                    for r in range {
                        heap.removeAll()
                        heap.push(UnsafeBufferPointer(start: m.base + r * m.stride, count: m.cols))
                        for (slot, entry) in heap.sortedDescending().enumerated() {
                            outI.pointer[r * k + slot] = Int32(truncatingIfNeeded: entry.index)
                            outV.pointer[r * k + slot] = entry.value
                        }
                    }
                }
            }
        }
        return (indices, values)
    }

    /// A bounded min-heap whose root is the worst of the kept entries.
    struct Heap {
        let capacity: Int
        var keys: [Float]
        var ids: [Int]

        init(capacity: Int) {
            self.capacity = capacity
            keys = []
            ids = []
            keys.reserveCapacity(capacity)
            ids.reserveCapacity(capacity)
        }

        mutating func removeAll() {
            keys.removeAll(keepingCapacity: true)
            ids.removeAll(keepingCapacity: true)
        }

        /// Whether (a, ia) ranks below (b, ib).
        @inline(__always)
        static func worse(_ a: Float, _ ia: Int, _ b: Float, _ ib: Int) -> Bool {
            a < b || (a == b && ia > ib)
        }

        mutating func push(_ values: UnsafeBufferPointer<Float>) {
            var i = 0
            let n = values.count
            while i < n && keys.count < capacity {
                let x = values[i]
                if !x.isNaN { insert(x, i) }
                i += 1
            }
            guard keys.count == capacity, capacity > 0 else { return }
            var threshold = keys[0]
            keys.withUnsafeMutableBufferPointer { kb in
                ids.withUnsafeMutableBufferPointer { ib in
                    while i < n {
                        let x = values[i]
                        // Later indices lose ties, so only strictly larger values enter.
                        if x > threshold {
                            kb[0] = x
                            ib[0] = i
                            Heap.siftDown(kb, ib, from: 0)
                            threshold = kb[0]
                        }
                        i += 1
                    }
                }
            }
        }

        mutating func insert(_ x: Float, _ index: Int) {
            keys.append(x)
            ids.append(index)
            var c = keys.count - 1
            while c > 0 {
                let p = (c - 1) / 2
                guard Heap.worse(keys[c], ids[c], keys[p], ids[p]) else { break }
                keys.swapAt(c, p)
                ids.swapAt(c, p)
                c = p
            }
        }

        static func siftDown(_ k: UnsafeMutableBufferPointer<Float>, _ id: UnsafeMutableBufferPointer<Int>, from start: Int) {
            var p = start
            let n = k.count
            while true {
                let l = 2 * p + 1
                if l >= n { return }
                var c = l
                if l + 1 < n && worse(k[l + 1], id[l + 1], k[l], id[l]) { c = l + 1 }
                guard worse(k[c], id[c], k[p], id[p]) else { return }
                k.swapAt(c, p)
                id.swapAt(c, p)
                p = c
            }
        }

        func sortedDescending() -> [(index: Int, value: Float)] {
            zip(ids, keys).map { (index: $0, value: $1) }.sorted {
                $0.value > $1.value || ($0.value == $1.value && $0.index < $1.index)
            }
        }
    }
}
