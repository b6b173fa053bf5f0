import LinearAlgebra

/// A compressed sparse row matrix of `Float` values: row `r`'s entries are
/// `columns[rowStarts[r]..<rowStarts[r+1]]` with `values` alongside, columns ascending within a row.
///
/// Built from ratings as user × movie (CSR, "user → items") or movie × user (CSC seen as the CSR
/// of the transpose, "item → users").
public struct SparseMatrix: Sendable, Equatable {
    public let rows: Int
    public let cols: Int
    /// `rows + 1` offsets into `columns`/`values`.
    public var rowStarts: [Int]
    /// Column index of each stored entry.
    public var columns: [Int32]
    /// Value of each stored entry.
    public var values: [Float]

    /// Number of stored entries.
    public var nonzeros: Int { columns.count }

    /// Stored entries of row `r` as (columns, values) index range.
    @inlinable public func range(ofRow r: Int) -> Range<Int> { rowStarts[r]..<rowStarts[r + 1] }

    /// Builds a `rows × cols` matrix from coordinate triples by two stable counting sorts
    /// (by column, then by row), so columns end up ascending within each row.
    ///
    /// Duplicate (row, col) pairs are kept as separate entries (drop them first, see
    /// ``Ratings/dropDuplicatesKeepingLatest()``). Negative indices are not allowed.
    /// - Complexity: O(nnz + rows + cols).
    public init(rows: Int, cols: Int, rowIndices: [Int32], colIndices: [Int32], values: [Float],
                threads: Int = Parallel.cores) {
        precondition(rowIndices.count == colIndices.count && colIndices.count == values.count, "coordinate arrays differ in length")
        let n = values.count
        if let starts = SparseMatrix.rowStartsIfSorted(rows: rows, rowIndices: rowIndices, colIndices: colIndices, threads: threads) {
            // Already in CSR order (GroupLens files are sorted by user, then movie): share the arrays.
            self.init(rows: rows, cols: cols, rowStarts: starts, columns: colIndices, values: values)
            return
        }
        // Pass 1: stable counting sort by column.
        let byColumn = SparseMatrix.countingOrder(keys: colIndices, buckets: cols, order: nil)
        // Pass 2: stable counting sort by row over that order.
        let order = SparseMatrix.countingOrder(keys: rowIndices, buckets: rows, order: byColumn.order)
        var columns = [Int32](repeating: 0, count: n)
        var vals = [Float](repeating: 0, count: n)
        colIndices.withUnsafeBufferPointer { c in
            values.withUnsafeBufferPointer { v in
                columns.withUnsafeMutableBufferPointer { oc in
                    vals.withUnsafeMutableBufferPointer { ov in
                        for k in 0..<n {
                            let src = Int(order.order[k])
                            oc[k] = c[src]
                            ov[k] = v[src]
                        }
                    }
                }
            }
        }
        self.init(rows: rows, cols: cols, rowStarts: order.starts, columns: columns, values: vals)
    }

    /// A matrix from its CSR arrays (callers guarantee they are consistent).
    public init(rows: Int, cols: Int, rowStarts: [Int], columns: [Int32], values: [Float]) {
        self.rows = rows
        self.cols = cols
        self.rowStarts = rowStarts
        self.columns = columns
        self.values = values
    }

    /// The row offsets, when the triples are already sorted by row and then strictly by column.
    static func rowStartsIfSorted(rows: Int, rowIndices: [Int32], colIndices: [Int32],
                                  threads: Int = Parallel.cores) -> [Int]? {
        let n = rowIndices.count
        let parts = Parallel.split(n, parts: n < 1 << 16 ? 1 : threads)
        // Each part checks its own order and counts its rows; the seams are checked after.
        var counts = [Int](repeating: 0, count: (rows + 1) * parts.count)
        var ok = [Bool](repeating: true, count: parts.count)
        rowIndices.withUnsafeBufferPointer { r in
            colIndices.withUnsafeBufferPointer { c in
                counts.withUnsafeMutableBufferPointer { cb in
                    ok.withUnsafeMutableBufferPointer { ob in
                        guard let cp = cb.baseAddress, let op = ob.baseAddress else { return }
                        let io = UnsafeSendableBox((r, c, UnsafeSendable(cp), UnsafeSendable(op)))
                        Parallel.forEach(count: parts.count, threads: threads) { p in
                            let (r, c, cp, op) = io.value
                            let mine = cp.pointer + p * (rows + 1)
                            var previousRow: Int32 = -1, previousCol: Int32 = -1
                            for k in parts[p] {
                                let row = r[k], col = c[k]
                                if (row == previousRow && col <= previousCol) || row < previousRow || row < 0 || Int(row) >= rows {
                                    op.pointer[p] = false
                                    return
                                }
                                mine[Int(row) + 1] += 1
                                previousRow = row
                                previousCol = col
                            }
                        }
                    }
                }
            }
        }
        guard ok.allSatisfy({ $0 }) else { return nil }
        for p in parts.dropFirst() where !p.isEmpty {
            let a = p.lowerBound - 1, b = p.lowerBound
            if rowIndices[b] < rowIndices[a] || (rowIndices[b] == rowIndices[a] && colIndices[b] <= colIndices[a]) { return nil }
        }
        var starts = [Int](repeating: 0, count: rows + 1)
        for p in 0..<parts.count { for r in 0...rows { starts[r] += counts[p * (rows + 1) + r] } }
        for r in 0..<rows { starts[r + 1] += starts[r] }
        return starts
    }

    /// The permutation that stably sorts `order` (or 0..<n) by `keys`, and the bucket starts.
    static func countingOrder(keys: [Int32], buckets: Int, order: [Int32]?) -> (order: [Int32], starts: [Int]) {
        let n = keys.count
        var starts = [Int](repeating: 0, count: buckets + 1)
        var out = [Int32](repeating: 0, count: n)
        keys.withUnsafeBufferPointer { k in
            starts.withUnsafeMutableBufferPointer { s in
                for i in 0..<n { s[Int(k[i]) + 1] += 1 }
                for b in 0..<buckets { s[b + 1] += s[b] }
                var next = Array(s.dropLast())
                out.withUnsafeMutableBufferPointer { o in
                    next.withUnsafeMutableBufferPointer { nx in
                        if let order {
                            for i in order {
                                let key = Int(k[Int(i)])
                                o[nx[key]] = i
                                nx[key] += 1
                            }
                        } else {
                            for i in 0..<n {
                                let key = Int(k[i])
                                o[nx[key]] = Int32(i)
                                nx[key] += 1
                            }
                        }
                    }
                }
            }
        }
        return (out, starts)
    }

    /// The transpose (CSR of the transpose = CSC of this matrix), by one counting sort; rows of
    /// the result have ascending columns because this matrix's rows are visited in order.
    /// - Complexity: O(nnz + rows + cols).
    public func transposed(threads: Int = Parallel.cores) -> SparseMatrix {
        let n = nonzeros
        // Split the rows into parts; each part counts its entries per column, so that every
        // (column, part) pair gets its own write cursor and the parts scatter in parallel, stably.
        let parts = n < 1 << 16 ? 1 : max(1, threads)
        let rowRanges = Parallel.split(rows, parts: parts)
        let p = rowRanges.count
        var counts = [Int](repeating: 0, count: p * cols)
        counts.withUnsafeMutableBufferPointer { cb in
            guard let base = cb.baseAddress else { return }
            let out = UnsafeSendable(base)
            columns.withUnsafeBufferPointer { c in
                rowStarts.withUnsafeBufferPointer { rs in
                    let input = UnsafeSendableBox((c, rs))
                    Parallel.forEach(count: p, threads: threads) { part in
                        let (c, rs) = input.value
                        let local = out.pointer + part * cols
                        for k in rs[rowRanges[part].lowerBound]..<rs[rowRanges[part].upperBound] { local[Int(c[k])] += 1 }
                    }
                }
            }
        }
        // Cursors: column-major over (column, part).
        var starts = [Int](repeating: 0, count: cols + 1)
        var cursor = [Int](repeating: 0, count: p * cols)
        var sum = 0
        for col in 0..<cols {
            starts[col] = sum
            for part in 0..<p {
                cursor[part * cols + col] = sum
                sum += counts[part * cols + col]
            }
        }
        starts[cols] = sum
        var tValues = [Float]()
        let tColumns = [Int32](unsafeUninitializedCapacity: n) { tcb, tcCount in
            tValues = [Float](unsafeUninitializedCapacity: n) { tvb, tvCount in
                cursor.withUnsafeMutableBufferPointer { cub in
                    columns.withUnsafeBufferPointer { c in
                        values.withUnsafeBufferPointer { v in
                            rowStarts.withUnsafeBufferPointer { rs in
                                guard let tc = tcb.baseAddress, let tv = tvb.baseAddress, let cu = cub.baseAddress else { return }
                                HugePages.advise(tc, count: n)
                                HugePages.advise(tv, count: n)
                                let out = UnsafeSendableBox((UnsafeSendable(tc), UnsafeSendable(tv), UnsafeSendable(cu), c, v, rs))
                                Parallel.forEach(count: p, threads: threads) { part in
                                    let (tc, tv, cu, c, v, rs) = out.value
                                    let next = cu.pointer + part * cols
                                    for r in rowRanges[part] {
                                        for k in rs[r]..<rs[r + 1] {
                                            let col = Int(c[k])
                                            let dst = next[col]
                                            tc.pointer[dst] = Int32(truncatingIfNeeded: r)
                                            tv.pointer[dst] = v[k]
                                            next[col] = dst + 1
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                tvCount = n
            }
            tcCount = n
        }
        return SparseMatrix(rows: cols, cols: rows, rowStarts: starts, columns: tColumns, values: tValues)
    }

    /// Number of stored entries in each row.
    public var rowCounts: [Int] { (0..<rows).map { rowStarts[$0 + 1] - rowStarts[$0] } }

    /// Bytes held by the arrays.
    public var memoryBytes: Int { rowStarts.count * 8 + columns.count * 4 + values.count * 4 }
}

/// The user × movie rating matrix of a ratings table, in both orientations.
public struct RatingMatrix: Sendable {
    /// Users in ascending id order; row `u` of ``byUser`` is `users.ids[u]`.
    public let users: IDMap
    /// Movies in ascending id order; column `m` of ``byUser`` is `movies.ids[m]`.
    public let movies: IDMap
    /// users × movies, CSR ("user → items").
    public let byUser: SparseMatrix
    /// movies × users, the CSC of ``byUser`` ("item → users").
    public let byMovie: SparseMatrix

    /// Builds both orientations from `ratings` (their values as stored).
    ///
    /// `movies` defaults to the movies that have ratings; pass the catalogue's map to keep unrated
    /// movies as empty columns. Ratings of movies not in `movies` are an error naming the first one.
    /// - Complexity: O(nnz + users + movies).
    public init(ratings: Ratings, movies: IDMap? = nil, threads: Int = Parallel.cores) throws {
        let users = IDMap(ratings.userIDs, threads: threads)
        let movieMap = movies ?? IDMap(ratings.movieIDs, threads: threads)
        let rowIdx = users.indices(of: ratings.userIDs, threads: threads)
        let colIdx = movieMap.indices(of: ratings.movieIDs, threads: threads)
        if let bad = colIdx.firstIndex(of: -1) {
            throw MovieLensError.unknownID(kind: "movie", id: Int(ratings.movieIDs[bad]), context: "rated in ratings row \(bad + 1) but not in the movie list")
        }
        self.users = users
        self.movies = movieMap
        byUser = SparseMatrix(rows: users.count, cols: movieMap.count, rowIndices: rowIdx, colIndices: colIdx,
                              values: ratings.values, threads: threads)
        byMovie = byUser.transposed(threads: threads)
    }
}
