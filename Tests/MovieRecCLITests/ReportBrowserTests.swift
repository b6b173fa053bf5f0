import Foundation
import Testing

/// The report as a browser shows it: Debian's `chromium`, headless. CI installs it (`.ci/run`);
/// elsewhere the test runs when it is installed.
@Suite("report from JSON files")
struct ReportFromFilesTests {
    @Test("report --from a folder of train --json and evaluate --json files: the loss curve and the evaluation appear")
    func fromFolder() throws {
        let cli = CLITests()
        let (dir, small) = try CLITests.scratchWithSlice()
        defer { try? FileManager.default.removeItem(at: dir) }
        let folder = dir.appendingPathComponent("runs")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let train = try cli.run(["train", "--data", small.path, "--model", "als", "--factors", "8", "--iterations", "3",
                                 "--out", dir.appendingPathComponent("als.model").path, "--json"])
        #expect(train.status == 0, "\(train.stderr)")
        try train.stdout.write(to: folder.appendingPathComponent("train-als.json"), atomically: true, encoding: .utf8)
        let ev = try cli.run(["evaluate", "--data", small.path, "--models", "popularity", "--explicit-iterations", "1", "--svdpp", "epochs=1", "--json"])
        try ev.stdout.write(to: folder.appendingPathComponent("temporal.json"), atomically: true, encoding: .utf8)
        let r = try cli.run(["report", "--from", folder.path, "--out", folder.path, "--title", "two files"])
        #expect(r.status == 0, "\(r.stderr)")
        let page = try String(contentsOf: folder.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(page.contains("<h1>two files</h1>") && page.contains("<section id=\"training\"") && page.contains("<section id=\"evaluation\""))
        #expect(page.contains("implicit ALS (8f") && page.contains("loss per iteration"))
        // A JSON file of another kind in the folder is an error naming it.
        try "{\"x\": 1}".write(to: folder.appendingPathComponent("other.json"), atomically: true, encoding: .utf8)
        let bad = try cli.run(["report", "--from", folder.path, "--out", folder.path])
        #expect(bad.status == 2 && bad.stderr.contains("other.json"), "\(bad.stderr)")
    }
}

@Suite("report in a real browser")
struct ReportBrowserTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static var required: Bool { ProcessInfo.processInfo.environment["CI"] != nil }

    /// Runs headless Chromium on `url` with `arguments`; its standard output.
    static func chromium(_ arguments: [String], url: String) throws -> String {
        guard let chromium else { return "" }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromium)
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"] + arguments + [url]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + 120) { kill(pid, SIGKILL) }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test("the page renders (a screenshot far from blank), and its DOM holds every chart and the JSON's numbers",
          .enabled(if: chromium != nil || required))
    func rendered() throws {
        #expect(Self.chromium != nil, "CI must install chromium")
        let cli = CLITests()
        let (dir, small) = try CLITests.scratchWithSlice()
        defer { try? FileManager.default.removeItem(at: dir) }
        let evaluation = dir.appendingPathComponent("temporal.json").path
        let ev = try cli.run(["evaluate", "--data", small.path, "--models", "popularity,content", "--explicit-iterations", "1", "--svdpp", "epochs=1", "--json"])
        #expect(ev.status == 0, "\(ev.stderr)")
        try ev.stdout.write(toFile: evaluation, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("page").path
        let r = try cli.run(["report", "--evaluation", evaluation, "--out", out])
        #expect(r.status == 0, "\(r.stderr)")
        let page = URL(fileURLWithPath: out + "/report.html").absoluteString
        let shot = dir.appendingPathComponent("shot.png").path, blank = dir.appendingPathComponent("blank.png").path
        _ = try Self.chromium(["--window-size=1200,2400", "--screenshot=\(shot)"], url: page)
        _ = try Self.chromium(["--window-size=1200,2400", "--screenshot=\(blank)"], url: "about:blank")
        let size = { (p: String) in (try? FileManager.default.attributesOfItem(atPath: p)[.size] as? Int) ?? nil ?? 0 }
        let png = try Data(contentsOf: URL(fileURLWithPath: shot))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        // A blank page of the same size compresses to ~13 KiB; charts and tables to several times that.
        #expect(size(shot) > 4 * max(1, size(blank)), "screenshot \(size(shot)) B, blank \(size(blank)) B")
        let dom = try Self.chromium(["--dump-dom"], url: page)
        for chart in ["Recall@K, temporal split", "NDCG@K, temporal split", "Accuracy against diversity (MMR λ)"] {
            #expect(dom.contains("data-chart=\"\(chart)\""), "\(chart)")
        }
        let json = try JSONSerialization.jsonObject(with: Data(ev.stdout.utf8)) as? [String: Any]
        let rows = json?["ranking"] as? [[String: Any]] ?? []
        #expect(rows.count == 2)
        for row in rows {
            let metrics = row["metrics"] as? [String: Any]
            let ndcg = String(format: "%.4f", metrics?["ndcgAt10"] as? Double ?? -1)
            #expect(dom.contains(">\(ndcg)<"), "\(row["name"] ?? "?") NDCG@10 \(ndcg)")
        }
    }
}
