import Foundation
import LinearAlgebra
import MovieLens

/// Top-K recommendations for every user of a model (or a listed subset), streamed to a CSV or
/// JSON Lines file.
///
/// Users are scored in blocks — a block of queries against every item in one GEMM (ALS, hybrid),
/// the masked rows then reduced to their top K — with one worker per core, each owning its score
/// buffers and running single-threaded kernels. Blocks are written in user order as each round
/// finishes, so memory is a few blocks × items whatever the user count: never a users × items
/// matrix. The file is written to a temporary name and renamed at the end (``AtomicFileWriter``):
/// an interrupted export leaves no file posing as complete.
///
/// ```swift
/// let report = try BatchExport(count: 10).write(model, to: URL(fileURLWithPath: "recs.csv"), kernels: kernels)
/// ```
public struct BatchExport: Sendable {
    public enum Format: String, Sendable, CaseIterable, Codable {
        /// `userId,rank,movieId,score[,title]`, one row per recommendation.
        case csv
        /// One object per user: `{"userId":1,"recommendations":[{"movieId":…,"score":…[,"title":…]},…]}`.
        case jsonl
    }

    public struct Report: Sendable, Codable {
        public var users: Int
        public var rows: Int
        public var seconds: Double
        public var bytes: Int
    }

    /// K, recommendations per user.
    public var count: Int
    public var format: Format
    public var includeSeen: Bool
    /// Adds each movie's title.
    public var titles: Bool
    /// Users per block.
    public var blockSize: Int
    /// Movies that may be listed, applied before each user's top K (nil: all).
    public var filter: ItemFilter?
    /// Maximal-marginal-relevance λ over the model's content vectors (0: the plain ranking).
    public var diversity: Float

    public init(count: Int = 10, format: Format = .csv, includeSeen: Bool = false, titles: Bool = false, blockSize: Int = 256,
                filter: ItemFilter? = nil, diversity: Float = 0) {
        self.count = count
        self.format = format
        self.includeSeen = includeSeen
        self.titles = titles
        self.blockSize = blockSize
        self.filter = filter
        self.diversity = diversity
    }

    /// The model indices of `ids`, and the ids the model does not know (in input order).
    public static func resolve(_ ids: [Int32], in model: TrainedModel) -> (users: [Int], unknown: [Int32]) {
        var users = [Int](), unknown = [Int32]()
        for id in ids {
            if let u = model.users.index(of: id) { users.append(u) } else { unknown.append(id) }
        }
        return (users, unknown)
    }

    /// Writes the recommendations of `users` (model indices; all users when nil), in that order.
    /// `progress(done, total)` is called after each block.
    ///
    /// Each block is scored by the backend with all its threads (one multi-threaded GEMM), then its rows are reduced
    /// to their top K and formatted in parallel, one chunk of rows per core.
    /// - Complexity: O(users × items × (factors + log K)) for ALS; memory O(blockSize × items).
    @discardableResult
    public func write(_ model: TrainedModel, users: [Int]? = nil, to url: URL, kernels: any Kernels,
                      progress: (_ done: Int, _ total: Int) -> Void = { _, _ in }) throws -> Report {
        guard count > 0, blockSize > 0 else { throw RecommenderError.invalidOptions(model: model.header.model, reason: "export: K and the block size must be positive") }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let list = users ?? Array(0..<model.users.count)
        let selection = try ListSelection(model: model, filter: filter, diversity: diversity)
        let writer = try AtomicFileWriter(destination: url)
        if format == .csv { try writer.write(titles ? "userId,rank,movieId,score,title\n" : "userId,rank,movieId,score\n") }
        let workers = max(1, kernels.threads)
        let n = model.items.count
        let hybrid = model.model.explainsParts
        let rowsPerBlock = min(blockSize, max(1, list.count))
        var scores = Matrix(rows: rowsPerBlock, cols: n)
        var parts = Matrix(rows: hybrid ? 2 * rowsPerBlock : 0, cols: n)
        var texts = [TextBuffer](repeating: TextBuffer(), count: workers)
        var written = [Int](repeating: 0, count: workers)
        var done = 0, rows = 0, bytes = 0
        while done < list.count {
            let block = Array(list[done..<min(list.count, done + rowsPerBlock)])
            let queries = block.map(model.query(index:))
            try scores.withMutableView { sv in
                try parts.withMutableView { pv in
                    let s = sv.rows(0..<block.count)
                    try model.score(queries, into: s, includeSeen: includeSeen,
                                    parts: hybrid ? ScoreParts(content: pv.rows(0..<block.count), collaborative: pv.rows(rowsPerBlock..<(rowsPerBlock + block.count))) : nil,
                                    kernels: kernels)
                    selection.mask(s)
                }
            }
            let chunks = Parallel.split(block.count, parts: workers)
            let shared = UnsafeSendableBox((self, model, block, selection))
            scores.withView { sv in
                let view = UnsafeSendableBox(sv)
                texts.withUnsafeMutableBufferPointer { tb in
                    written.withUnsafeMutableBufferPointer { wb in
                        guard let tp = tb.baseAddress, let wp = wb.baseAddress else { return }
                        let out = UnsafeSendable(tp), lines = UnsafeSendable(wp)
                        Parallel.forEach(count: chunks.count, threads: workers) { w in
                            let (export, model, block, selection) = shared.value
                            var text = out.pointer[w]
                            out.pointer[w] = TextBuffer()   // keep the storage uniquely referenced while it grows
                            text.bytes.removeAll(keepingCapacity: true)
                            let ranked = selection.top(of: view.value.rows(chunks[w]), count: export.count, threads: 1)
                            lines.pointer[w] = export.appendLines(model, users: Array(block[chunks[w]]), lists: ranked, to: &text)
                            out.pointer[w] = text
                        }
                    }
                }
            }
            for w in 0..<chunks.count { try writer.write(texts[w].bytes); bytes += texts[w].bytes.count; rows += written[w] }
            done += block.count
            progress(done, list.count)
        }
        try writer.commit()
        return Report(users: list.count, rows: rows, seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9, bytes: bytes)
    }

    /// Appends the lines of each user's list (aligned with `users`) to `text`, and returns how
    /// many recommendations it wrote (fewer than K for a user with fewer candidates).
    func appendLines(_ model: TrainedModel, users: [Int], lists: [[(index: Int, value: Float)]], to text: inout TextBuffer) -> Int {
        var written = 0
        for (r, u) in users.enumerated() {
            let userID = Int64(model.users.ids[u])
            switch format {
            case .csv:
                for (j, (i, value)) in lists[r].enumerated() {
                    written += 1
                    text.appendLine { line in
                        line.integer(userID); line.byte(44)
                        line.integer(Int64(j + 1)); line.byte(44)
                        line.integer(Int64(model.items.ids[i])); line.byte(44)
                        line.number(Double(value), places: 6)
                        line.byte(titles ? 44 : 10)
                    }
                    if titles {
                        text.appendCSVField(model.titles[i])
                        text.append(UInt8(ascii: "\n"))
                    }
                }
            case .jsonl:
                text.append("{\"userId\":"); text.append(userID); text.append(",\"recommendations\":[")
                for (j, (i, value)) in lists[r].enumerated() {
                    written += 1
                    if j > 0 { text.append(UInt8(ascii: ",")) }
                    text.append("{\"movieId\":"); text.append(model.items.ids[i])
                    text.append(",\"score\":"); text.append(Double(value), decimals: 6)
                    if titles { text.append(",\"title\":"); text.appendJSONString(model.titles[i]) }
                    text.append(UInt8(ascii: "}"))
                }
                text.append("]}\n")
            }
        }
        return written
    }
}

extension TextBuffer {
    /// Appends `s` as a JSON string literal (quotes, backslashes and control characters escaped).
    mutating func appendJSONString(_ s: String) {
        append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): append("\\\"")
            case UInt8(ascii: "\\"): append("\\\\")
            case 10: append("\\n")
            case 13: append("\\r")
            case 9: append("\\t")
            case 0..<32:
                let hex = Array("0123456789abcdef".utf8)
                append("\\u00")
                append(hex[Int(b >> 4)])
                append(hex[Int(b & 15)])
            default: append(b)
            }
        }
        append(UInt8(ascii: "\""))
    }
}
