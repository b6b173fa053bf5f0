import Foundation
import Testing

/// End-to-end runs of the built `movierec` on the bundled data.
@Suite("movierec command line")
struct CLITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `movierec` executable next to the test bundle.
    static var executable: URL {
        var dir = URL(fileURLWithPath: CommandLine.arguments.first ?? "")
        for _ in 0..<4 {
            dir = dir.deletingLastPathComponent()
            let candidate = dir.appendingPathComponent("movierec")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return root.appendingPathComponent(".build/debug/movierec")
    }

    struct Run { var status: Int32; var stdout: String; var stderr: String }

    /// Runs the tool and waits for it; a run longer than `timeout` seconds is killed (status 9) so
    /// that a hang fails the test instead of stalling the suite.
    func run(_ arguments: [String], input: String? = nil, timeout: Double = 600, addressSpaceKB: Int? = nil) throws -> Run {
        let process = Process()
        if let input {
            let pipe = Pipe()
            process.standardInput = pipe
            pipe.fileHandleForWriting.write(Data(input.utf8))
            try pipe.fileHandleForWriting.close()
        }
        if let limit = addressSpaceKB {
            // `ulimit -v` caps the address space: an allocation the data does not justify fails.
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "ulimit -v \(limit); exec \"$0\" \"$@\"", Self.executable.path] + arguments
        } else {
            process.executableURL = Self.executable
            process.arguments = arguments
        }
        process.currentDirectoryURL = Self.root
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let pid = process.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { kill(pid, SIGKILL) }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                   stderr: String(decoding: stderr, as: UTF8.self))
    }

    @Test("bench kernels names the OpenBLAS kernel set it ran, in its table and its JSON")
    func kernelsCore() throws {
        #if OpenBLAS
        let table = try run(["bench", "kernels", "--quick", "--quiet", "--backend", "openblas", "--min-time", "0"])
        #expect(table.status == 0 && table.stdout.contains("OpenBLAS kernels: "), "\(table.stdout.suffix(300))")
        let json = try run(["bench", "kernels", "--quick", "--quiet", "--backend", "openblas", "--min-time", "0", "--json"])
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((report?["openBLASCore"] as? String).map { !$0.isEmpty } == true, "\(json.stdout.suffix(300))")
        #endif
    }

    @Test("info --json reports the bundled data's published counts")
    func info() throws {
        let r = try run(["info", "--data", "data/ml-latest-small", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(json?["ratings"] as? Int == 100_836 && json?["users"] as? Int == 610 && json?["movies"] as? Int == 9_742)
    }

    @Test("--data takes a zip archive as downloaded; a damaged one exits 2 naming the entry; it is never written over")
    func zipArchive() throws {
        let zip = "Tests/MovieLensTests/Fixtures/ml-tiny.zip"
        let r = try run(["info", "--data", zip, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(json?["ratings"] as? Int == 32 && json?["users"] as? Int == 8 && json?["movies"] as? Int == 6, "\(r.stdout)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("movierec-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: zip)))
        let copy = dir.appendingPathComponent("ml-tiny.zip")
        try Data(bytes).write(to: copy)
        let over = try run(["train", "--data", copy.path, "--model", "als", "--iterations", "1", "--out", copy.path])
        #expect(over.status == 1 && over.stderr.contains("refusing to write over"), "\(over.stderr)")
        #expect(try Data(contentsOf: copy) == Data(bytes))
        for i in stride(from: 400, to: 440, by: 1) { bytes[i] ^= 0x33 }   // inside the deflated ratings.csv
        try Data(bytes).write(to: copy)
        let bad = try run(["info", "--data", copy.path])
        #expect(bad.status == 2 && bad.stderr.contains("ml-tiny.zip/ml-tiny/") && bad.stderr.contains("corrupt"), "\(bad.stderr)")
    }

    @Test("prepare, train, recommend and similar work end to end; bad input exits 2, usage errors 1")
    func pipeline() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("movierec-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let prepared = dir.appendingPathComponent("prepared").path
        let p = try run(["prepare", "--data", "data/ml-latest-small", "--out", prepared, "--quiet"])
        #expect(p.status == 0, "\(p.stderr)")
        for name in ["final_movies_with_embeddings.csv", "final_filtered_ratings.csv", "prepared.bin", "prepare.json"] {
            #expect(FileManager.default.fileExists(atPath: prepared + "/" + name))
        }
        // info reads a prepared folder from its checked prepared.bin.
        let info = try run(["info", "--data", prepared, "--json"])
        let summary = try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any]
        #expect(info.status == 0 && summary?["format"] as? String == "prepared by movierec prepare" && (summary?["ratings"] as? Int ?? 0) > 0,
                "\(info.stdout) \(info.stderr)")
        let model = dir.appendingPathComponent("als.model").path
        let t = try run(["train", "--data", "data/ml-latest-small", "--model", "als", "--factors", "8", "--iterations", "2", "--out", model, "--quiet"])
        #expect(t.status == 0, "\(t.stderr)")
        let rec = try run(["recommend", "--model", model, "--user", "1", "-k", "3", "--json"])
        #expect(rec.status == 0)
        let rows = try JSONSerialization.jsonObject(with: Data(rec.stdout.utf8)) as? [[String: Any]]
        #expect(rows?.count == 3 && rows?.first?["rank"] as? Int == 1)
        #expect(try run(["similar", "--model", model, "--movie", "1", "-k", "2"]).status == 0)
        let unknown = try run(["recommend", "--model", model, "--user", "999999"])
        #expect(unknown.status == 2 && unknown.stderr.contains("nearest known"))
        #expect(try run(["info", "--data", "/nonexistent-folder"]).status == 2)
        #expect(try run(["info", "--no-such-flag"]).status == 1)
        #expect(try run(["--help"]).status == 0)
    }

    @Test("hybrid train, recommend --movie and --ratings, export; a killed export leaves no output file")
    func hybridAndExport() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("movierec-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("hybrid.model").path
        // The learned hybrid over ALS (EASE on all 9,742 movies is slow in a debug build; the library tests train it).
        let t = try run(["train", "--model", "hybrid", "--cf", "als", "--factors", "8", "--iterations", "2", "--out", model, "--quiet"])
        #expect(t.status == 0, "\(t.stderr)")
        let rec = try run(["recommend", "--model", model, "--user", "1", "--movie", "296", "-k", "4", "--json"])
        let rows = try JSONSerialization.jsonObject(with: Data(rec.stdout.utf8)) as? [[String: Any]]
        #expect(rows?.count == 4 && rows?.allSatisfy { $0["becauseOf"] as? Int == 296 && $0["content"] != nil } == true, "\(rec.stderr)")
        let fold = try run(["recommend", "--model", model, "--ratings", "296:5,318:4.5", "-k", "3"])
        #expect(fold.status == 0 && fold.stdout.contains("why") && fold.stdout.contains("(w 0.") && fold.stdout.contains(" · like ")
                && fold.stdout.contains("hybrid (learned: ALS") && fold.stdout.contains("· CF +"), "\(fold.stdout) \(fold.stderr)")
        // Filters act before the top k; diversity re-ranks; bad values exit 1 naming the value.
        let filtered = try run(["recommend", "--model", model, "--user", "1", "-k", "5", "--genres", "comedy", "--years", "1990-1999",
                                "--exclude-genres", "Horror", "--diversity", "0.3", "--json"])
        let kept = try JSONSerialization.jsonObject(with: Data(filtered.stdout.utf8)) as? [[String: Any]]
        #expect(filtered.status == 0 && kept?.count == 5, "\(filtered.stderr)")
        #expect(kept?.allSatisfy { ($0["title"] as? String)?.contains("(199") == true } == true, "\(filtered.stdout)")
        let badYears = try run(["recommend", "--model", model, "--user", "1", "--years", "2000-1990"])
        #expect(badYears.status == 1 && badYears.stderr.contains("2000-1990"))
        let badGenre = try run(["recommend", "--model", model, "--user", "1", "--genres", "Westerns"])
        #expect(badGenre.status == 1 && badGenre.stderr.contains("Westerns"), "\(badGenre.stderr)")
        let idFile = dir.appendingPathComponent("ids.txt").path
        try "1\n2\nthree\n".write(toFile: idFile, atomically: true, encoding: .utf8)
        let badIDs = try run(["recommend", "--model", model, "--user", "1", "--only", "@" + idFile])
        #expect(badIDs.status == 1 && badIDs.stderr.contains("ids.txt:3:1"), "\(badIDs.stderr)")
        try "296\n318\n593\n".write(toFile: idFile, atomically: true, encoding: .utf8)
        let only = try run(["recommend", "--model", model, "--ratings", "1:5", "-k", "5", "--only", "@" + idFile, "--json"])
        #expect((try JSONSerialization.jsonObject(with: Data(only.stdout.utf8)) as? [[String: Any]])?.compactMap { $0["movieId"] as? Int }.sorted() == [296, 318, 593])
        #expect(try run(["recommend", "--model", model, "--ratings", "296:five"]).status == 1)
        #expect(try run(["recommend", "--model", model, "--ratings", "123456789:5"]).status == 2)
        let out = dir.appendingPathComponent("recs.csv").path
        let e = try run(["export", "--model", model, "--out", out, "-k", "5", "--titles"])
        #expect(e.status == 0, "\(e.stderr)")
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(lines.first == "userId,rank,movieId,score,title" && lines.count == 1 + 610 * 5)
        let users = dir.appendingPathComponent("users.txt").path
        try "userId\n1\n424242\n3\n".write(toFile: users, atomically: true, encoding: .utf8)
        let subset = try run(["export", "--model", model, "--out", out, "--users", users])
        #expect(subset.status == 0 && subset.stderr.contains("424242"))
        #expect(try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").count == 1 + 2 * 10)

        // Interactive mode through a pipe: invalid answers get help, valid ones recommendations.
        let session = try run(["interactive", "--model", model, "-k", "2"], input: "abc\n99999\n1\nxyzzy\ntoy story\n1\n\nquit\n")
        #expect(session.status == 0, "\(session.stderr)")
        #expect(session.stdout.contains("is not a user id") && session.stdout.contains("nearest known: 610"))
        #expect(session.stdout.contains("no title contains 'xyzzy'") && session.stdout.contains("titles match"))
        #expect(session.stdout.contains("why") && session.stdout.contains("1 Toy Story (1995)"))

        // Interrupt an export (one user per block, so it runs long enough) once its temporary file
        // exists: SIGTERM removes the temporary; after SIGKILL the next export to it removes it.
        let killed = dir.appendingPathComponent("killed.csv")
        func temporaries() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasPrefix(".killed.csv.tmp") }
        }
        for sig in [SIGTERM, SIGKILL] {
            let process = Process()
            process.executableURL = Self.executable
            process.arguments = ["export", "--model", model, "--out", killed.path, "--block-size", "1", "--threads", "1", "--quiet"]
            process.currentDirectoryURL = Self.root
            try process.run()
            let deadline = Date().addingTimeInterval(20)
            while process.isRunning, Date() < deadline, temporaries().isEmpty { usleep(1_000) }
            let interrupted = process.isRunning
            kill(process.processIdentifier, sig)
            process.waitUntilExit()
            guard interrupted else { continue }
            #expect(!FileManager.default.fileExists(atPath: killed.path))
            #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == sig)
            if sig == SIGTERM { #expect(temporaries().isEmpty, "\(temporaries())") }
        }
        #expect(try run(["export", "--model", model, "--out", killed.path, "-k", "1", "--quiet"]).status == 0)
        #expect(temporaries().isEmpty, "\(temporaries())")
    }

    /// A new scratch folder holding ``slice(in:)`` (the caller removes the folder).
    static func scratchWithSlice() throws -> (dir: URL, small: URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("movierec-cli-\(UUID().uuidString)")
        return (dir, try slice(in: dir))
    }

    /// A slice of the bundled data (the first 150 users) in `dir/small`, to keep debug-build runs short.
    static func slice(in dir: URL) throws -> URL {
        let small = dir.appendingPathComponent("small")
        try FileManager.default.createDirectory(at: small, withIntermediateDirectories: true)
        let lines = try String(contentsOf: root.appendingPathComponent("data/ml-latest-small/ratings.csv"), encoding: .utf8)
            .split(whereSeparator: \.isNewline)   // CRLF is one Character: split on any newline
        let kept = lines.prefix { !$0.hasPrefix("151,") }
        try (kept.joined(separator: "\n") + "\n").write(to: small.appendingPathComponent("ratings.csv"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(at: root.appendingPathComponent("data/ml-latest-small/movies.csv"),
                                         to: small.appendingPathComponent("movies.csv"))
        return small
    }

    @Test("train --model rnn with validation users reports them every epoch; --patience alone or --window-step 0 is a usage error")
    func validation() throws {
        let (dir, small) = try Self.scratchWithSlice()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("rnn.model").path
        let t = try run(["train", "--data", small.path, "--model", "rnn", "--sequence-mode", "last", "--sequence-length", "20", "--epochs", "2",
                         "--validation-users", "30", "--patience", "1", "--out", model])
        #expect(t.status == 0, "\(t.stderr)")
        #expect(t.stderr.contains("30 users' last movies held out for validation"), "\(t.stderr)")
        #expect(t.stderr.contains("epoch 1/2") && t.stderr.contains("validation loss"), "\(t.stderr)")
        let bad = try run(["train", "--data", small.path, "--model", "rnn", "--patience", "2", "--out", model + ".2"])
        #expect(bad.status == 1 && bad.stderr.contains("--validation-users"), "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: model + ".2"))
        let step = try run(["train", "--data", small.path, "--model", "rnn", "--window-step", "0", "--out", model + ".3"])
        #expect(step.status == 1 && step.stderr.contains("--window-step"), "\(step.stderr)")
        #expect(!FileManager.default.fileExists(atPath: model + ".3"))
    }

    @Test("train --model sasrec with sampled softmax and validation, then recommend from the file; heads that do not divide the size are a usage error")
    func selfAttention() throws {
        let (dir, small) = try Self.scratchWithSlice()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("sasrec.model").path
        let t = try run(["train", "--data", small.path, "--model", "sasrec", "--embedding", "16", "--sequence-length", "30", "--epochs", "2",
                         "--negatives", "50", "--validation-users", "20", "--batch-size", "16", "--out", model])
        #expect(t.status == 0, "\(t.stderr)")
        #expect(t.stderr.contains("SASRec sequences") && t.stderr.contains("sampled softmax, 50 negatives, drawn per 64 targets"), "\(t.stderr)")
        // gBCE scores each target against its own draws: in-batch negatives are refused before training.
        let gbce = try run(["train", "--data", small.path, "--model", "sasrec", "--loss", "gbce", "--in-batch-negatives", "--out", model + ".gbce"])
        #expect(gbce.status != 0 && gbce.stderr.contains("gBCE") && !gbce.stderr.contains("epoch 1"), "\(gbce.stderr)")
        #expect(!FileManager.default.fileExists(atPath: model + ".gbce"))
        #expect(t.stderr.contains("epoch 2/2") && t.stderr.contains("validation loss"), "\(t.stderr)")
        let r = try run(["recommend", "--model", model, "--user", "1", "-k", "5"])
        #expect(r.status == 0 && r.stdout.contains("SASRec"), "\(r.stdout)\(r.stderr)")
        let heads = try run(["train", "--data", small.path, "--model", "sasrec", "--embedding", "16", "--heads", "3", "--out", model + ".2"])
        #expect(heads.status == 1 && heads.stderr.contains("heads"), "\(heads.stderr)")
        #expect(!FileManager.default.fileExists(atPath: model + ".2"))
        let negatives = try run(["train", "--data", small.path, "--model", "sasrec", "--negatives", "-3", "--out", model + ".3"])
        #expect(negatives.status == 1 && negatives.stderr.contains("--negatives"), "\(negatives.stderr)")
        // The in-batch setting belongs to the sampled softmax: refused with the full softmax.
        let inBatch = try run(["train", "--data", small.path, "--model", "sasrec", "--negatives", "0", "--in-batch-negatives", "--out", model + ".4"])
        #expect(inBatch.status == 1 && inBatch.stderr.contains("in-batch negatives"), "\(inBatch.stderr)")
        let rnn = try run(["train", "--data", small.path, "--model", "rnn", "--no-in-batch-negatives", "--out", model + ".5"])
        #expect(rnn.status == 1 && rnn.stderr.contains("--negatives N"), "\(rnn.stderr)")
    }

    @Test("every registered model trains from the command line; evaluate --json comes from the library suite; no output over an input")
    func modelsAndInputs() throws {
        let (dir, small) = try Self.scratchWithSlice()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("content.model").path
        let t = try run(["train", "--data", small.path, "--model", "content", "--out", model, "--quiet"])
        #expect(t.status == 0, "\(t.stderr)")
        let sim = try run(["similar", "--model", model, "--movie", "1", "-k", "3", "--backend", "swift", "--threads", "1"])
        #expect(sim.status == 0 && sim.stdout.contains("rank"), "\(sim.stderr)")
        let unknown = try run(["train", "--data", small.path, "--model", "nope", "--out", model])
        #expect(unknown.status == 1 && unknown.stderr.contains("als, ease, content, hybrid, rnn"), "\(unknown.stderr)")
        let e = try run(["evaluate", "--data", small.path, "--models", "popularity,content", "--explicit-iterations", "1", "--json",
                         "--compare", "popularity"])
        #expect(e.status == 0, "\(e.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as? [String: Any]
        let ranking = report?["ranking"] as? [[String: Any]]
        #expect(ranking?.map { $0["model"] as? String } == ["popularity", "content only (cosine to profile)"], "\(e.stdout)")
        // Every metric has its interval; the compared model has a paired test per metric, the baseline none.
        let ndcg = (ranking?.first?["metrics"] as? [String: Any])?["intervals"] as? [String: [String: Double]]
        #expect(ndcg?["ndcgAt10"]?["low"] != nil && ndcg?.count == 7, "\(e.stdout)")
        let test = (ranking?.last?["comparison"] as? [String: [String: Any]])?["ndcgAt10"]
        #expect(test?["p"] is Double && ranking?.first?["comparison"] == nil && report?["comparedWith"] as? String == "popularity")
        // A given split: the slice's ratings as train, a hand-written test file; movies from --data.
        let testFile = dir.appendingPathComponent("test.csv")
        try "userId,movieId,rating,timestamp\n1,2,5.0,1\n1,3,4.0,2\n99999,1,5.0,3\n".write(to: testFile, atomically: true, encoding: .utf8)
        let given = try run(["evaluate", "--train", small.appendingPathComponent("ratings.csv").path, "--test", testFile.path,
                             "--data", small.path, "--models", "popularity", "--explicit-iterations", "1"])
        #expect(given.status == 0 && given.stdout.contains("given split") && given.stdout.contains("1 of unknown users"), "\(given.stdout) \(given.stderr)")
        let half = try run(["evaluate", "--train", testFile.path])
        #expect(half.status == 1 && half.stderr.contains("--train and --test"), "\(half.stderr)")
        try "not,a\nratings,file\n".write(to: testFile, atomically: true, encoding: .utf8)
        let broken = try run(["evaluate", "--train", small.appendingPathComponent("ratings.csv").path, "--test", testFile.path,
                              "--data", small.path, "--models", "popularity"])
        #expect(broken.status == 2 && broken.stderr.contains("test.csv"), "\(broken.stderr)")
        let badCompare = try run(["evaluate", "--data", small.path, "--models", "popularity,content", "--compare", "ease"])
        #expect(badCompare.status == 1 && badCompare.stderr.contains("ease"), "\(badCompare.stderr)")
        // An output that is one of the inputs — by name, or through a symlink — is refused before any work.
        let ratings = small.appendingPathComponent("ratings.csv").path
        let before = try Data(contentsOf: URL(fileURLWithPath: ratings))
        let over = try run(["train", "--data", small.path, "--model", "content", "--out", ratings])
        #expect(over.status == 1 && over.stderr.contains(ratings), "\(over.stderr)")
        let link = dir.appendingPathComponent("link.model").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: model)
        let self_ = try run(["export", "--model", model, "--out", link])
        #expect(self_.status == 1 && self_.stderr.contains("refusing"), "\(self_.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: ratings)) == before)
        #expect(try run(["recommend", "--model", model, "--user", "1"]).status == 0)
    }

    @Test("--threads 1 and --threads 2 train byte-identical EASE and content models")
    func threadCountIndependence() throws {
        let (dir, small) = try Self.scratchWithSlice()
        defer { try? FileManager.default.removeItem(at: dir) }
        // EASE on the slice inverts a 5017×5017 matrix (OpenBLAS's blocked path) from a 150-user Gram
        // matrix; content runs the genre SVD. Both differed in the last bits between thread counts
        // before. Without OpenBLAS, the debug build's pure-Swift inverse of that order takes minutes:
        // the kernel tests cover that backend.
        #if OpenBLAS
        let models = ["ease", "content"]
        #else
        let models = ["content"]
        #endif
        for model in models {
            var files = [Data]()
            for threads in ["1", "2"] {
                let out = dir.appendingPathComponent("\(model)-\(threads).model")
                let t = try run(["train", "--data", small.path, "--model", model, "--threads", threads, "--out", out.path, "--quiet"])
                #expect(t.status == 0, "\(t.stderr)")
                files.append(try Data(contentsOf: out))
            }
            // Reported as the first differing byte: a failed `==` on megabytes of Data makes Swift
            // Testing compute their diff for many minutes.
            let first = zip(files[0], files[1]).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            #expect(files[0].count == files[1].count && first == nil,
                    "\(model): the model files differ between 1 and 2 threads (\(files[0].count) / \(files[1].count) bytes, first difference at \(first.map(String.init) ?? "-"))")
        }
    }

    @Test("evaluate --split ml100k-folds reads u1…u5 as they are; --split folds reports every fold and the mean ± sd")
    func crossValidation() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("movierec-cv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // 40 users × 30 movies, each user rating 20 movies; fold k's test rows are those with row index % 5 == k − 1.
        var rows = [String]()
        for u in 1...40 { for j in 0..<20 { rows.append("\(u)\t\((u * 7 + j) % 30 + 1)\t\(1 + (u + j) % 5)\t\(1000 + j)") } }
        try (rows.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("u.data"), atomically: true, encoding: .utf8)
        let flags = Array(repeating: "0", count: 18).joined(separator: "|")
        let items = (1...30).map { "\($0)|Movie \($0) (1995)|01-Jan-1995||http://x|1|\(flags)" }.joined(separator: "\n") + "\n"
        try items.write(to: dir.appendingPathComponent("u.item"), atomically: true, encoding: .utf8)
        for k in 1...5 {
            let test = rows.indices.filter { $0 % 5 == k - 1 }.map { rows[$0] }, base = rows.indices.filter { $0 % 5 != k - 1 }.map { rows[$0] }
            try (base.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("u\(k).base"), atomically: true, encoding: .utf8)
            try (test.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("u\(k).test"), atomically: true, encoding: .utf8)
        }
        let r = try run(["evaluate", "--data", dir.path, "--split", "ml100k-folds", "--models", "popularity,als", "--iterations", "2",
                         "--explicit-iterations", "1", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let folds = report?["folds"] as? [[String: Any]]
        #expect(folds?.count == 5 && folds?.allSatisfy { $0["test"] as? Int == 160 && $0["train"] as? Int == 640 } == true, "\(r.stdout)")
        let summary = (report?["ranking"] as? [[String: Any]])?.first?["metrics"] as? [String: [String: Double]]
        #expect(summary?["ndcgAt10"]?["sd"] != nil, "\(r.stdout)")
        let table = try run(["evaluate", "--data", dir.path, "--split", "folds", "--folds", "3", "--models", "popularity", "--explicit-iterations", "1"])
        #expect(table.status == 0 && table.stdout.contains("fold 3") && table.stdout.contains("mean ± sd over 3 folds"), "\(table.stdout) \(table.stderr)")
        try FileManager.default.removeItem(at: dir.appendingPathComponent("u5.test"))
        let missing = try run(["evaluate", "--data", dir.path, "--split", "ml100k-folds", "--models", "popularity"])
        #expect(missing.status == 2 && missing.stderr.contains("u5.test"), "\(missing.stderr)")
        let bad = try run(["evaluate", "--data", dir.path, "--split", "folds", "--folds", "1"])
        #expect(bad.status == 1 && bad.stderr.contains("--folds"), "\(bad.stderr)")
        for setting in ["speed=1", "factors=0", "lr", "order=backwards"] {
            let svdpp = try run(["evaluate", "--data", dir.path, "--svdpp", setting])
            #expect(svdpp.status == 1 && svdpp.stderr.contains("--svdpp"), "\(setting): \(svdpp.stderr)")
        }
    }

    @Test("tune writes the best parameters; train --params and evaluate --params use them; bad tuning options exit 1")
    func tuning() throws {
        let (dir, small) = try Self.scratchWithSlice()
        defer { try? FileManager.default.removeItem(at: dir) }
        let params = dir.appendingPathComponent("als.json")
        let t = try run(["tune", "--data", small.path, "--model", "als", "--space", "regularization=0.05,1;factors=8", "--iterations", "2",
                         "--out", params.path])
        #expect(t.status == 0 && t.stdout.contains("best first") && t.stderr.contains("trial 2/2"), "\(t.stdout) \(t.stderr)")
        let tuned = try JSONSerialization.jsonObject(with: Data(contentsOf: params)) as? [String: Any]
        let best = tuned?["parameters"] as? [String: Double]
        #expect(tuned?["model"] as? String == "als" && best?.keys.sorted() == ["factors", "regularization"], "\(String(describing: tuned))")
        let model = dir.appendingPathComponent("als.model").path
        let train = try run(["train", "--data", small.path, "--model", "als", "--iterations", "2", "--params", params.path, "--out", model, "--json"])
        #expect(train.status == 0, "\(train.stderr)")
        let header = (try JSONSerialization.jsonObject(with: Data(train.stdout.utf8)) as? [String: Any])?["options"] as? [String: Any]
        #expect((header?["factors"] as? Int).map(Double.init) == best?["factors"], "\(train.stdout)")
        let e = try run(["evaluate", "--data", small.path, "--models", "als", "--iterations", "2", "--params", params.path, "--explicit-iterations", "1"])
        #expect(e.status == 0 && e.stdout.contains("\(Int(best?["factors"] ?? 0))f"), "\(e.stdout) \(e.stderr)")
        let wrong = try run(["train", "--data", small.path, "--model", "ease", "--params", params.path, "--out", model])
        #expect(wrong.status == 1 && wrong.stderr.contains("for als, not ease"), "\(wrong.stderr)")
        for bad in [["--model", "content"], ["--model", "als", "--budget", "0"], ["--model", "nope"], ["--model", "als", "--space", "lambda=1"],
                    ["--model", "als", "--space", "alpha=inf"]] {
            let r = try run(["tune", "--data", small.path] + bad)
            #expect(r.status == 1, "\(bad): \(r.stderr)")
        }
        try "{\"model\": \"als\"}".write(to: params, atomically: true, encoding: .utf8)
        let broken = try run(["train", "--data", small.path, "--model", "als", "--params", params.path, "--out", model])
        #expect(broken.status == 1 && broken.stderr.contains("als.json"), "\(broken.stderr)")
    }

    @Test("hostile options and inputs: non-finite or out-of-range numbers, diverged training, a FIFO, bad --ratings, unwritable outputs")
    func hostileInput() throws {
        let (dir, small) = try Self.scratchWithSlice()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("m.model").path
        for bad in [["--regularization", "inf"], ["--alpha", "inf"], ["--cf-weight", "inf"], ["--min-rating", "6"],
                    ["--learning-rate", "inf"], ["--clip-norm", "inf"], ["--window-step", "1000"]] {
            let r = try run(["train", "--data", small.path, "--model", "hybrid", "--out", model] + bad)
            #expect(r.status == 1 && r.stderr.contains(bad[0]), "\(bad): \(r.status) \(r.stderr)")
        }
        for bad in [["bench", "kernels", "--quick", "--min-time", "inf"], ["bench", "als", "--data", small.path, "--alpha", "inf"],
                    ["bench", "als", "--data", small.path, "--min-rating", "nan"], ["bench", "load", "--data", small.path, "--repeat", "0"],
                    ["bench", "content", "--prepared", dir.path, "-k", "0"]] {
            let r = try run(bad)
            #expect(r.status == 1 && r.stderr.contains(bad[bad.count - 2]), "\(bad): \(r.status) \(r.stderr)")
        }
        // Options that would size buffers beyond the data: refused, or cut to what the data needs.
        let factors = try run(["train", "--data", small.path, "--model", "als", "--factors", "100000", "--out", model], addressSpaceKB: 1_000_000)
        #expect(factors.status == 1 && factors.stderr.contains("factors exceed"), "\(factors.stderr)")
        let long = try run(["train", "--data", small.path, "--model", "rnn", "--sequence-length", "1000000", "--epochs", "1", "--embedding", "4",
                            "--hidden", "4", "--sequence-mode", "last", "--out", model], addressSpaceKB: 1_500_000)
        #expect(long.status == 0 && long.stderr.contains("> the longest history"), "\(long.stderr)")
        #expect(try run(["recommend", "--model", model, "--user", "1"], addressSpaceKB: 1_000_000).status == 0)
        try FileManager.default.removeItem(atPath: model)
        let ratio = try run(["prepare", "--data", small.path, "--out", dir.appendingPathComponent("p").path, "--other-ratio", "inf"])
        #expect(ratio.status == 1 && ratio.stderr.contains("--other-ratio"), "\(ratio.stderr)")
        // Training that ends with non-finite parameters writes nothing.
        let diverged = try run(["train", "--data", small.path, "--model", "als", "--alpha", "1e30", "--iterations", "2", "--out", model])
        #expect(diverged.status == 2 && diverged.stderr.contains("finite"), "\(diverged.stderr)")
        #expect(!FileManager.default.fileExists(atPath: model))
        // A FIFO under the ratings file's name is refused at once instead of blocking the reader.
        let fifoFolder = dir.appendingPathComponent("fifo")
        try FileManager.default.createDirectory(at: fifoFolder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: small.appendingPathComponent("movies.csv"), to: fifoFolder.appendingPathComponent("movies.csv"))
        #expect(mkfifo(fifoFolder.appendingPathComponent("ratings.csv").path, 0o644) == 0)
        let fifo = try run(["info", "--data", fifoFolder.path], timeout: 30)
        #expect(fifo.status == 2 && fifo.stderr.contains("not a regular file"), "\(fifo.status) \(fifo.stderr)")
        // --ratings pairs are checked as CSV ratings are.
        #expect(try run(["train", "--data", small.path, "--model", "als", "--iterations", "1", "--out", model, "--quiet"]).status == 0)
        for ratings in ["296:6", "", "296:-1", "296:4.3"] {
            let r = try run(["recommend", "--model", model, "--ratings", ratings])
            #expect(r.status == 1 && r.stderr.contains("--ratings"), "'\(ratings)': \(r.status) \(r.stderr)")
        }
        // Outputs that cannot be written are plain errors, not a Foundation dump.
        let intoFolder = try run(["export", "--model", model, "--out", dir.path])
        #expect(intoFolder.status == 2 && intoFolder.stderr.contains("is a folder"), "\(intoFolder.stderr)")
        let underFile = try run(["export", "--model", model, "--out", model + "/recs.csv"])
        #expect(underFile.status == 2 && underFile.stderr.contains("cannot create the folder") && !underFile.stderr.contains("NSCocoaErrorDomain"),
                "\(underFile.stderr)")
        // prepare into the folder it reads is refused before any work.
        let prepared = dir.appendingPathComponent("prepared").path
        #expect(try run(["prepare", "--data", small.path, "--out", prepared, "--quiet"]).status == 0)
        let again = try run(["prepare", "--data", prepared, "--out", prepared])
        #expect(again.status == 1 && again.stderr.contains("refusing"), "\(again.stderr)")
    }

    @Test("memory follows the number of ids, not their values: one id of 2147483647 in ratings or genome")
    func hugeIDs() throws {
        let (dir, small) = try Self.scratchWithSlice()
        defer { try? FileManager.default.removeItem(at: dir) }
        let huge = dir.appendingPathComponent("huge")
        try FileManager.default.createDirectory(at: huge, withIntermediateDirectories: true)
        let lines = try String(contentsOf: small.appendingPathComponent("ratings.csv"), encoding: .utf8).split(separator: "\n").prefix(431)
        try (lines.joined(separator: "\n") + "\n2147483647,1,4.0,964982703\n").write(to: huge.appendingPathComponent("ratings.csv"),
                                                                                  atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(at: small.appendingPathComponent("movies.csv"), to: huge.appendingPathComponent("movies.csv"))
        try "tagId,tag\n1,funny\n2,dark\n".write(to: huge.appendingPathComponent("genome-tags.csv"), atomically: true, encoding: .utf8)
        try "movieId,tagId,relevance\n1,1,0.5\n1,2,0.25\n2147483647,1,0.75\n".write(to: huge.appendingPathComponent("genome-scores.csv"),
                                                                                    atomically: true, encoding: .utf8)
        // Sizing by the largest id took 2.1 GB (genome) and 12.6 GB (the activity filter) here.
        let info = try run(["info", "--data", huge.path, "--lenient"], addressSpaceKB: 1_000_000)
        #expect(info.status == 0, "\(info.stderr)")
        let prepared = try run(["prepare", "--data", huge.path, "--out", dir.appendingPathComponent("p").path, "--quiet",
                                "--min-movie-ratings", "0", "--min-user-ratings", "0"], addressSpaceKB: 1_000_000)
        #expect(prepared.status == 0, "\(prepared.stderr)")
    }

    @Test("bench --json has every pipeline step for each backend; run does the whole pipeline")
    func benchAndRun() throws {
        let (dir, small) = try Self.scratchWithSlice()
        defer { try? FileManager.default.removeItem(at: dir) }
        let json = dir.appendingPathComponent("bench.json").path
        let b = try run(["bench", "--data", small.path, "--als-iterations", "1", "--json", json])
        #expect(b.status == 0, "\(b.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any]
        let steps = report?["steps"] as? [[String: Any]] ?? []
        let backends = Set(steps.compactMap { $0["backend"] as? String })
        #expect(!backends.isEmpty && b.stdout.contains("OpenBLAS×"))
        for backend in backends {
            let names = steps.filter { $0["backend"] as? String == backend }.compactMap { $0["name"] as? String }
            #expect(names == ["load", "prepare", "ALS train", "content neighbours", "LSTM epoch", "export"], "\(backend): \(names)")
            #expect(steps.filter { $0["backend"] as? String == backend }.allSatisfy { ($0["seconds"] as? Double ?? -1) >= 0 })
        }
        let out = dir.appendingPathComponent("run").path
        let r = try run(["run", "--data", small.path, "--out", out, "--epochs", "1", "--skip-evaluation", "--sample-users", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("user 1, hybrid") && r.stdout.contains("user 1, LSTM"))
        for name in ["hybrid.model", "rnn.model", "recommendations-hybrid.csv", "recommendations-rnn.csv", "prepared/prepared.bin",
                     "report.html", "report.json"] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + name), "\(name)")
        }
        // The report's path is printed last; the page holds the sections the run has data for.
        #expect(r.stdout.hasSuffix("report: \(out)/report.html\n"), "\(r.stdout.suffix(200))")
        let page = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        for section in ["data", "training", "samples"] { #expect(page.contains("<section id=\"\(section)\""), "\(section)") }
        #expect(page.contains("Not in this report: evaluation, speed"))
        // Rebuilt from the JSON with the bench file: the speed section appears with its numbers.
        let rebuilt = dir.appendingPathComponent("rebuilt").path
        let rep = try run(["report", "--from", out, "--bench", json, "--out", rebuilt])
        #expect(rep.status == 0, "\(rep.stderr)")
        let again = try String(contentsOfFile: rebuilt + "/report.html", encoding: .utf8)
        let seconds = steps.first.flatMap { $0["seconds"] as? Double }.map { String(format: "%.3f", $0) } ?? "?"
        #expect(again.contains("<section id=\"speed\"") && again.contains(">\(seconds)<"), "\(seconds)")
        #expect(try run(["report", "--out", rebuilt]).status == 1)
        #expect(try run(["report", "--from", out, "--bench", out + "/report.html", "--out", rebuilt]).status == 2)
    }

    @Test("run --sequence-model sasrec trains, samples and exports SASRec in the LSTM's place")
    func runWithSelfAttention() throws {
        let (dir, small) = try Self.scratchWithSlice()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("run").path
        let r = try run(["run", "--data", small.path, "--out", out, "--sequence-model", "sasrec", "--epochs", "1",
                         "--skip-evaluation", "--sample-users", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("user 1, SASRec") && r.stdout.contains("1 epochs"), "\(r.stdout.suffix(2000))")
        for name in ["sasrec.model", "recommendations-sasrec.csv"] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + name), "\(name)")
        }
        #expect(!FileManager.default.fileExists(atPath: out + "/rnn.model"))
        let unknown = try run(["run", "--data", small.path, "--out", out, "--sequence-model", "gru"])
        #expect(unknown.status != 0 && unknown.stderr.contains("gru"), "\(unknown.stderr)")
    }
}
