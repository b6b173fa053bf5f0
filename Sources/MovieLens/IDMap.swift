/// A dense, order-preserving map between MovieLens ids and 0-based indices.
///
/// Indices follow ascending id order. Lookups go through a direct table when the largest id is
/// small enough (MovieLens ids are: ≤ 300k movies, ≤ 300k users), so mapping 20M ratings is a
/// single gather.
public struct IDMap: Sendable, Equatable {
    /// The ids, ascending; `ids[index]` is the id of `index`.
    public let ids: [Int32]
    /// `table[id]` = index, or -1 (present when the largest id is ≤ 64M).
    private let table: [Int32]
    private let dictionary: [Int32: Int32]

    /// Number of distinct ids.
    public var count: Int { ids.count }

    /// The map over the distinct values of `ids` (any order, duplicates allowed).
    /// - Complexity: O(n + max id) with the direct table, else O(n log n).
    public init<S: Sequence>(_ values: S) where S.Element == Int32 {
        var maxID: Int32 = -1
        var minID: Int32 = .max
        var array = [Int32]()
        if let c = values as? [Int32] { array = c } else { array = Array(values) }
        for v in array { maxID = max(maxID, v); minID = min(minID, v) }
        if !array.isEmpty && minID >= 0 && maxID < 1 << 26 {
            var present = [Bool](repeating: false, count: Int(maxID) + 1)
            for v in array { present[Int(v)] = true }
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
    public func indices(of values: [Int32]) -> [Int32] {
        if table.isEmpty { return values.map { dictionary[$0] ?? -1 } }
        return table.withUnsafeBufferPointer { t in
            values.map { v in v >= 0 && Int(v) < t.count ? t[Int(v)] : -1 }
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
