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
    public init(rows: Int, cols: Int, rowIndices: [Int32], colIndices: [Int32], values: [Float]) {
        precondition(rowIndices.count == colIndices.count && colIndices.count == values.count, "coordinate arrays differ in length")
        let n = values.count
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
        self.rows = rows
        self.cols = cols
        self.rowStarts = order.starts
        self.columns = columns
        self.values = vals
    }

    init(rows: Int, cols: Int, rowStarts: [Int], columns: [Int32], values: [Float]) {
        self.rows = rows
        self.cols = cols
        self.rowStarts = rowStarts
        self.columns = columns
        self.values = values
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
    public func transposed() -> SparseMatrix {
        let n = nonzeros
        var starts = [Int](repeating: 0, count: cols + 1)
        var tColumns = [Int32](repeating: 0, count: n)
        var tValues = [Float](repeating: 0, count: n)
        columns.withUnsafeBufferPointer { c in
            values.withUnsafeBufferPointer { v in
                rowStarts.withUnsafeBufferPointer { rs in
                    starts.withUnsafeMutableBufferPointer { s in
                        for k in 0..<n { s[Int(c[k]) + 1] += 1 }
                        for b in 0..<cols { s[b + 1] += s[b] }
                        var next = Array(s.dropLast())
                        next.withUnsafeMutableBufferPointer { nx in
                            tColumns.withUnsafeMutableBufferPointer { tc in
                                tValues.withUnsafeMutableBufferPointer { tv in
                                    for r in 0..<rows {
                                        for k in rs[r]..<rs[r + 1] {
                                            let col = Int(c[k])
                                            let dst = nx[col]
                                            tc[dst] = Int32(truncatingIfNeeded: r)
                                            tv[dst] = v[k]
                                            nx[col] = dst + 1
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
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
    public init(ratings: Ratings, movies: IDMap? = nil) throws {
        let users = IDMap(ratings.userIDs)
        let movieMap = movies ?? IDMap(ratings.movieIDs)
        let rowIdx = users.indices(of: ratings.userIDs)
        let colIdx = movieMap.indices(of: ratings.movieIDs)
        if let bad = colIdx.firstIndex(of: -1) {
            throw MovieLensError.unknownID(kind: "movie", id: Int(ratings.movieIDs[bad]), context: "rated in ratings row \(bad + 1) but not in the movie list")
        }
        self.users = users
        self.movies = movieMap
        byUser = SparseMatrix(rows: users.count, cols: movieMap.count, rowIndices: rowIdx, colIndices: colIdx, values: ratings.values)
        byMovie = byUser.transposed()
    }
}
