import Foundation
import Recommender

enum FileHandleOutput {
    static func stderr(_ s: String) {
        FileHandle.standardError.write(Data(s.utf8))
    }
}

/// Renders rows as an aligned plain-text table.
func renderTable(header: [String], rows: [[String]], rightAligned: Set<Int> = []) -> String {
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, cell in
            let pad = String(repeating: " ", count: max(0, widths[i] - cell.count))
            return rightAligned.contains(i) ? pad + cell : cell + pad
        }.joined(separator: "  ")
    }
    var out = [line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
    out += rows.map(line)
    return out.joined(separator: "\n")
}

/// Prints ranked movies as a table or JSON; the hybrid's parts and explanation when present.
func printRanked(_ list: [Recommendation], json: Bool, titleOf: (Int32) -> String) throws {
    guard json else { return printRanked(list, titleOf: titleOf) }
    struct Row: Encodable {
        var rank: Int; var movieId: Int32; var title: String; var score: Float
        var content: Float?; var collaborative: Float?; var becauseOf: Int32?; var explanation: Explanation?
    }
    print(try jsonText(list.enumerated().map { i, r in
        Row(rank: i + 1, movieId: r.movieID, title: r.title, score: r.score, content: r.content, collaborative: r.collaborative,
            becauseOf: r.becauseOf, explanation: r.explanation)
    }))
}

/// Prints ranked movies as a table: the parts and the movie behind each when the model has them.
func printRanked(_ list: [Recommendation], titleOf: (Int32) -> String) {
    let parts = list.contains { $0.content != nil }, because = list.contains { $0.becauseOf != nil || $0.explanation != nil }
    let f = { (x: Float?) in x.map { String(format: "%.4f", $0) } ?? "" }
    var header = ["rank", "movieId", "score"]
    if parts { header += ["content", "cf"] }
    header.append("title")
    if because { header.append("why") }
    let rows = list.enumerated().map { i, r -> [String] in
        var row = ["\(i + 1)", "\(r.movieID)", f(r.score)]
        if parts { row += [f(r.content), f(r.collaborative)] }
        row.append(r.title)
        if because {
            let title = r.becauseOf.map { "\($0) \(titleOf($0))" }
            row.append(r.explanation.map { $0.summary(because: title) } ?? title ?? "")
        }
        return row
    }
    print(renderTable(header: header, rows: rows, rightAligned: parts ? [0, 1, 2, 3, 4] : [0, 1, 2]))
}

/// Pretty-printed JSON with sorted keys.
func jsonText<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// Shows training as it goes on standard error: a progress bar over a sequence model's batches,
/// its per-epoch validation line, and (with `lines`) every progress line of the model.
final class TrainingProgress {
    let bar: ProgressBar
    let quiet: Bool, lines: Bool
    let indent: String

    init(quiet: Bool, lines: Bool, indent: String = "  ") {
        self.quiet = quiet
        self.lines = lines
        self.indent = indent
        bar = ProgressBar(label: "\(indent)epoch", unit: "batches", quiet: quiet)
    }

    func report(_ event: TrainingEvent) {
        switch event {
        case .line(let text):
            guard lines else { return }
            bar.finish()
            if !quiet { printError("\(indent)\(text)") }
        case .iteration:
            break
        case let .batch(epoch, done, total, loss):
            bar.update(done, of: total, label: "\(indent)epoch \(epoch)", extra: "  loss \(String(format: "%.4f", loss))")
        case .epoch(let e):
            // With `lines` the epoch's line came first.
            guard !lines, let v = e.validation else { return }
            bar.finish()
            if !quiet {
                printError(String(format: "%@epoch %d: loss %.4f; validation loss %.4f, HR@10 %.4f, NDCG@10 %.4f",
                                  indent, e.index, e.loss, v.loss, v.hitRate, v.ndcg))
            }
        }
    }

    func finish() { bar.finish() }
}
