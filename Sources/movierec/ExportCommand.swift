import ArgumentParser
import Foundation
import LinearAlgebra
import MovieLens
import Recommender

extension BatchExport.Format: ExpressibleByArgument {}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the top-K recommendations of every user (or a listed subset) to a file.",
        discussion: """
        Users are scored in blocks (one GEMM per block against all movies, seen movies masked, a \
        top-K per row), in parallel over the cores, and streamed to the file in user order: memory \
        stays at a few blocks whatever the user count. The file appears only when complete \
        (temporary file, then rename). CSV columns: userId,rank,movieId,score[,title]; JSONL: one \
        object per user. --users reads one user id per line (a 'userId' header line is allowed); \
        ids the model does not know are listed on standard error and skipped.

        Examples:
          movierec export --model /tmp/hybrid.model --out /tmp/recs.csv -k 10
          movierec export --model /tmp/als.model --out /tmp/recs.jsonl --format jsonl --titles
          movierec export --model /tmp/als.model --out /tmp/some.csv --users /tmp/users.txt
          movierec export --model /tmp/hybrid.model --out /tmp/recs.csv --exclude-genres Horror --only @/tmp/catalogue.txt
        """)

    @Option(help: "Model file written by movierec train.") var model: String
    @Option(help: "Output file.") var out: String
    @Option(name: .short, help: "Recommendations per user.") var k = 10
    @Option(help: "csv or jsonl.") var format: BatchExport.Format = .csv
    @Option(help: "File of user ids, one per line (default: every user of the model).") var users: String?
    @Flag(help: "Keep movies the user has already rated.") var includeSeen = false
    @Flag(help: "Add each movie's title.") var titles = false
    @Option(help: "Users per block.") var blockSize = 256
    @OptionGroup var listOptions: ListOptions
    @OptionGroup var kernelOptions: KernelOptions
    @Flag(help: "No progress bar.") var quiet = false
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        guard k > 0, blockSize > 0 else { throw ValidationError("-k and --block-size must be positive") }
        try refuseOverwriting(inputs: [model] + (users.map { [$0] } ?? []) + listOptions.inputFiles, output: out)
    }

    func run() throws {
        let trained = try TrainedModel.load(from: URL(fileURLWithPath: model))
        var subset: [Int]?
        if let users {
            let ids = try readUserIDs(users)
            let (known, unknown) = BatchExport.resolve(ids, in: trained)
            if !unknown.isEmpty {
                printError("warning: \(unknown.count) user id(s) not in the model, skipped: \(unknown.prefix(20).map(String.init).joined(separator: ", "))\(unknown.count > 20 ? ", …" : "")")
            }
            guard !known.isEmpty else { throw MovieLensError.invalidArgument("\(users): no user id the model knows") }
            subset = known
        }
        let kernels = try kernelOptions.kernels()
        let exporter = BatchExport(count: k, format: format, includeSeen: includeSeen, titles: titles, blockSize: blockSize,
                                   filter: try listOptions.filter(), diversity: listOptions.diversity)
        let bar = ProgressBar(label: "export", unit: "users", quiet: quiet || json)
        let report = try exporter.write(trained, users: subset, to: URL(fileURLWithPath: out), kernels: kernels) { done, total in
            bar.update(done, of: total)
        }
        bar.finish()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else if !quiet {
            print("wrote \(report.rows) recommendations for \(report.users) users to \(out) in \(String(format: "%.2f", report.seconds)) s (\(String(format: "%.0f", Double(report.users) / max(report.seconds, 1e-9))) users/s, \(report.bytes / 1024) KiB)")
        }
    }

    /// User ids from a file: one per line, blank lines and a `userId` header ignored.
    func readUserIDs(_ path: String) throws -> [Int32] {
        try requireRegularFile(path)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw MovieLensError.io(path: path, reason: "cannot read the user list")
        }
        var ids = [Int32]()
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || (n == 0 && line.lowercased() == "userid") { continue }
            guard let id = Int32(line) else {
                throw MovieLensError.malformedRecord(SourceLocation(file: path, line: n + 1, column: 1), .notAnInteger(column: "userId"), text: line)
            }
            ids.append(id)
        }
        return ids
    }
}

/// A one-line progress bar on standard error: done/total, rate and ETA, redrawn at most 10×/s.
final class ProgressBar {
    var label: String
    let unit: String, quiet: Bool
    var start = DispatchTime.now().uptimeNanoseconds
    var lastDraw: UInt64 = 0
    var drawn = false

    /// Draws only when standard error is a terminal (a log file gets no carriage-return soup).
    init(label: String, unit: String, quiet: Bool) {
        self.label = label
        self.unit = unit
        self.quiet = quiet || isatty(STDERR_FILENO) == 0
    }

    func update(_ done: Int, of total: Int, label: String? = nil, extra: String = "") {
        guard !quiet else { return }
        if let label, label != self.label {
            finish()
            self.label = label
            start = DispatchTime.now().uptimeNanoseconds
        }
        let now = DispatchTime.now().uptimeNanoseconds
        guard done >= total || now - lastDraw > 100_000_000 else { return }
        lastDraw = now
        let seconds = Double(now - start) / 1e9
        let rate = Double(done) / max(seconds, 1e-9)
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let width = 30, filled = total > 0 ? width * done / total : width
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        FileHandleOutput.stderr("\r\(self.label) \(bar) \(done)/\(total) \(unit)  \(String(format: "%.0f", rate)) \(unit)/s  ETA \(String(format: "%.1f", eta)) s\(extra)  ")
        drawn = true
    }

    func finish() {
        if drawn { FileHandleOutput.stderr("\n") }
        drawn = false
        start = DispatchTime.now().uptimeNanoseconds
    }
}
