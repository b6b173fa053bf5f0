import LinearAlgebra

/// A dense, order-preserving map between MovieLens ids and 0-based indices.
///
/// Indices follow ascending id order. Lookups go through a direct table when the largest id is
/// small next to the amount of data (MovieLens ids are: ≤ 300k movies, ≤ 300k users), so mapping
/// 20M ratings is a single gather; otherwise through a dictionary. Either way memory follows the
/// number of values, never the size of an id.
public struct IDMap: Sendable, Equatable {
    /// The ids, ascending; `ids[index]` is the id of `index`.
    public let ids: [Int32]
    /// `table[id]` = index, or -1 (present when ``usesTable(maxID:values:)``).
    private let table: [Int32]
    private let dictionary: [Int32: Int32]

    /// Number of distinct ids.
    public var count: Int { ids.count }

    /// Whether a direct table of `maxID + 1` entries is worth it for `values` ids: when it is at
    /// most 1M entries or 4 per value (memory O(values), whatever the ids).
    static func usesTable(maxID: Int32, values: Int) -> Bool { Int(maxID) < max(1 << 20, 4 * values) }

    /// The map over the distinct values of `ids` (any order, duplicates allowed).
    /// - Complexity: O(n) with the direct table, else O(n log n).
    public init<S: Sequence>(_ values: S, threads: Int = Parallel.cores) where S.Element == Int32 {
        let array = (values as? [Int32]) ?? Array(values)
        let (minID, maxID) = IDMap.range(of: array, threads: threads)
        if !array.isEmpty && minID >= 0 && IDMap.usesTable(maxID: maxID, values: array.count) {
            let present = IDMap.presence(of: array, size: Int(maxID) + 1, threads: threads)
            var ids = [Int32]()
            var table = [Int32](repeating: -1, count: Int(maxID) + 1)
            for (id, here) in present.enumerated() where here {
                table[id] = Int32(ids.count)
                ids.append(Int32(id))
            }
            self.ids = ids
            self.table = table
            self.dictionary = [:]
        } else {
            let ids = Array(Set(array)).sorted()
            self.ids = ids
            self.table = []
            self.dictionary = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, Int32($0)) })
        }
    }

    /// The map over `ids`, which must be ascending and distinct (a programming error otherwise:
    /// readers of files check their ids before they call this).
    /// - Complexity: O(n).
    public init(sortedUnique ids: [Int32]) {
        precondition(zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 }, "ids must be ascending and distinct")
        if let last = ids.last, let first = ids.first, first >= 0, IDMap.usesTable(maxID: last, values: ids.count) {
            var table = [Int32](repeating: -1, count: Int(last) + 1)
            for (i, id) in ids.enumerated() { table[Int(id)] = Int32(i) }
            self.ids = ids
            self.table = table
            self.dictionary = [:]
        } else {
            self.ids = ids
            self.table = []
            self.dictionary = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, Int32($0)) })
        }
    }

    /// Smallest and largest value (`Int32.max`, `-1` for an empty array), in parallel.
    static func range(of values: [Int32], threads: Int) -> (Int32, Int32) {
        let parts = Parallel.split(values.count, parts: values.count < 1 << 16 ? 1 : threads)
        var mins = [Int32](repeating: .max, count: parts.count), maxs = [Int32](repeating: -1, count: parts.count)
        values.withUnsafeBufferPointer { v in
            mins.withUnsafeMutableBufferPointer { mn in
                maxs.withUnsafeMutableBufferPointer { mx in
                    guard let mnp = mn.baseAddress, let mxp = mx.baseAddress else { return }
                    let io = UnsafeSendableBox((v, UnsafeSendable(mnp), UnsafeSendable(mxp)))
                    Parallel.forEach(count: parts.count, threads: threads) { p in
                        let (v, mn, mx) = io.value
                        var lo = Int32.max, hi: Int32 = -1
                        for i in parts[p] { lo = min(lo, v[i]); hi = max(hi, v[i]) }
                        mn.pointer[p] = lo
                        mx.pointer[p] = hi
                    }
                }
            }
        }
        return (mins.min() ?? .max, maxs.max() ?? -1)
    }

    /// `present[id]` for every id of `values` (all in `0..<size`), marked in parallel per part then merged.
    static func presence(of values: [Int32], size: Int, threads: Int) -> [Bool] {
        let parts = Parallel.split(values.count, parts: values.count < 1 << 16 ? 1 : threads)
        var marks = [Bool](repeating: false, count: size * parts.count)
        values.withUnsafeBufferPointer { v in
            marks.withUnsafeMutableBufferPointer { mb in
                guard let m = mb.baseAddress else { return }
                let io = UnsafeSendableBox((v, UnsafeSendable(m)))
                Parallel.forEach(count: parts.count, threads: threads) { p in
                    let (v, m) = io.value
                    let mine = m.pointer + p * size
                    for i in parts[p] { mine[Int(v[i])] = true }
                }
            }
        }
        guard parts.count > 1 else { return marks }
        var present = [Bool](repeating: false, count: size)
        for p in 0..<parts.count { for id in 0..<size where marks[p * size + id] { present[id] = true } }
        return present
    }

    /// The index of `id`, or `nil` when the id is unknown.
    /// - Complexity: O(1).
    @inlinable
    public func index(of id: Int32) -> Int? {
        let i = lookup(id)
        return i >= 0 ? Int(i) : nil
    }

    /// The index of `id`, or -1.
    @usableFromInline
    func lookup(_ id: Int32) -> Int32 {
        if !table.isEmpty {
            return id >= 0 && Int(id) < table.count ? table[Int(id)] : -1
        }
        return dictionary[id] ?? -1
    }

    /// Maps every id of `values` to its index (-1 for unknown ids).
    /// - Complexity: O(n).
    public func indices(of values: [Int32], threads: Int = 1) -> [Int32] {
        if table.isEmpty { return values.map { dictionary[$0] ?? -1 } }
        let table = self.table
        return [Int32](count: values.count, threads: threads) { i in
            let id = values[i]
            return id >= 0 && Int(id) < table.count ? table[Int(id)] : -1
        }
    }

    /// Up to `limit` known ids nearest to `id`, for "did you mean" messages.
    public func nearest(to id: Int32, limit: Int = 3) -> [Int32] {
        guard !ids.isEmpty else { return [] }
        var lo = 0, hi = ids.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ids[mid] < id { lo = mid + 1 } else { hi = mid }
        }
        let window = ids[max(0, lo - limit)..<min(ids.count, lo + limit)]
        return window.sorted { abs(Int($0) - Int(id)) < abs(Int($1) - Int(id)) || (abs(Int($0) - Int(id)) == abs(Int($1) - Int(id)) && $0 < $1) }
            .prefix(limit).map { $0 }
    }
}
