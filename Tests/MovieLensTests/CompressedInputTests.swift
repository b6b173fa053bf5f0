import Foundation
import Testing
@testable import MovieLens

/// Fixtures made with Info-ZIP's `zip` and GNU `gzip` from `Fixtures/ml-tiny/` (synthetic ratings):
/// `ml-tiny.zip` (`zip -r`: deflated, inside the folder `ml-tiny/`), `ml-tiny-stored.zip` (`zip -0`:
/// stored, files at the root), `no-ratings.zip` (movies only), `ratings.csv.gz`, `more-ratings.csv.gz`
/// (two more rows, no header).
private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

/// CRC-32 (IEEE), bit by bit: what zip and gzip store.
private func crc32(_ bytes: [UInt8]) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        c ^= UInt32(b)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
    }
    return ~c
}

/// A zip archive of stored entries, with the method, flags and CRC of each overridable to make
/// hostile archives.
private func storedZip(_ files: [(name: String, text: String)], method: UInt16 = 0, flags: UInt16 = 0, badCRC: Bool = false) -> [UInt8] {
    storedZip(files.map { ($0.name, Array($0.text.utf8)) }, method: method, flags: flags, badCRC: badCRC)
}

private func storedZip(_ files: [(name: String, data: [UInt8])], method: UInt16 = 0, flags: UInt16 = 0, badCRC: Bool = false) -> [UInt8] {
    func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
    func le32(_ v: UInt32) -> [UInt8] { le16(UInt16(v & 0xFFFF)) + le16(UInt16(v >> 16)) }
    var out = [UInt8](), directory = [UInt8]()
    for (name, data) in files {
        let nameBytes = Array(name.utf8)
        let crc = badCRC ? crc32(data) ^ 1 : crc32(data)
        let common = le16(20) + le16(flags) + le16(method) + le16(0) + le16(0) + le32(crc) + le32(UInt32(data.count)) + le32(UInt32(data.count))
            + le16(UInt16(nameBytes.count)) + le16(0)
        let offset = UInt32(out.count)
        out += le32(0x0403_4B50) + common + nameBytes + data
        directory += le32(0x0201_4B50) + le16(20) + common + le16(0) + le16(0) + le16(0) + le32(0) + le32(offset) + nameBytes
    }
    let start = UInt32(out.count)
    out += directory
    out += le32(0x0605_4B50) + le16(0) + le16(0) + le16(UInt16(files.count)) + le16(UInt16(files.count))
        + le32(UInt32(directory.count)) + le32(start) + le16(0)
    return out
}

private let tinyMovies = "movieId,title,genres\n1,Toy Story (1995),Animation\n2,Heat (1995),Action\n"

@Suite("Zip archives and gzip files")
struct CompressedInputTests {
    @Test("a zip as downloaded (deflated, inside a folder) loads exactly as the unpacked folder")
    func deflatedNestedZip() throws {
        let zip = fixtures.appendingPathComponent("ml-tiny.zip")
        let files = try DatasetFiles.discover(in: zip)
        #expect(files.ratings.path.hasSuffix("ml-tiny.zip/ml-tiny/ratings.csv"))
        #expect(files.tags?.lastPathComponent == "tags.csv" && files.links == nil && files.format == .groupLens)
        let zipped = try MovieLensDataset.load(from: zip)
        let plain = try MovieLensDataset.load(from: fixtures.appendingPathComponent("ml-tiny"))
        #expect(zipped.ratings == plain.ratings && zipped.ratings.count == 32)
        #expect(zipped.movies == plain.movies && zipped.tags == plain.tags)
        #expect(zipped.reports.first?.file == "ml-tiny.zip/ml-tiny/ratings.csv")
        #expect(DatasetFiles.exists(zip.appendingPathComponent("ml-tiny/tags.csv")) && !DatasetFiles.exists(zip.appendingPathComponent("ml-tiny/u1.base")))
    }

    @Test("stored entries at the archive's root; tiny chunks put line seams everywhere")
    func storedZipAndSeams() throws {
        let plain = try MovieLensDataset.load(from: fixtures.appendingPathComponent("ml-tiny"))
        let stored = try MovieLensDataset.load(from: fixtures.appendingPathComponent("ml-tiny-stored.zip"))
        #expect(stored.ratings == plain.ratings && stored.movies == plain.movies)
        let entry = fixtures.appendingPathComponent("ml-tiny.zip/ml-tiny/ratings.csv")
        for chunk in [1 << 16] {
            let (r, _) = try Ratings.load(entry, format: .groupLens, policy: .strict, threads: 1, chunkSize: chunk)
            #expect(r == plain.ratings)
        }
        // The streaming reader itself with chunks of 7 bytes.
        var report = LoadReport(file: "x")
        var lines = 0, regions = 0
        var reader = StreamingCSVReader(input: try DataInput.open(entry), dialect: .csv)
        reader.chunkSize = 7
        reader.maxLineLength = 64
        try reader.read(hasHeader: true, policy: .strict, report: &report, start: { #expect($0.columns == ["userId", "movieId", "rating", "timestamp"]) }) { _, bytes, atEnd in
            #expect(bytes.last == 0x0A)
            var result = ChunkedCSVReader.ChunkResult()
            result.lines = StreamingCSVReader.lines(in: bytes, atEnd: atEnd)
            lines += result.lines
            regions += 1
            return result
        }
        #expect(lines == 32 && regions > 10)
    }

    @Test("gzip files beside plain ones, and several gzip members one after another")
    func gzip() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let gz = try Data(contentsOf: fixtures.appendingPathComponent("ratings.csv.gz"))
        try gz.write(to: dir.url.appendingPathComponent("ratings.csv.gz"))
        try Data(contentsOf: fixtures.appendingPathComponent("ml-tiny/movies.csv")).write(to: dir.url.appendingPathComponent("movies.csv"))
        let plain = try MovieLensDataset.load(from: fixtures.appendingPathComponent("ml-tiny"))
        let files = try DatasetFiles.discover(in: dir.url)
        #expect(files.ratings.lastPathComponent == "ratings.csv.gz" && files.format == .groupLens)
        #expect(try MovieLensDataset.load(from: dir.url).ratings == plain.ratings)
        #expect(try DatasetFiles.Format.detect(dir.url.appendingPathComponent("ratings.csv.gz")) == .groupLens)
        let two = gz + (try Data(contentsOf: fixtures.appendingPathComponent("more-ratings.csv.gz")))
        let joined = try dir.write("train.csv.gz", bytes: Array(two))
        #expect(try DatasetFiles.Format.detect(joined) == .groupLens)
        let (r, _) = try Ratings.load(joined, format: .groupLens)
        #expect(r.count == 34 && r.userIDs.suffix(2) == [9, 9] && r.values.suffix(2) == [4.0, 3.5])
    }

    @Test("a malformed row inside an archive names the entry, line and column")
    func malformedRowInArchive() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let ratings = "userId,movieId,rating,timestamp\n1,1,4.0,10\n1,2,x,11\n"
        let zip = try dir.write("ml-bad.zip", bytes: storedZip([("ml-bad/ratings.csv", ratings), ("ml-bad/movies.csv", tinyMovies)]))
        #expect(throws: MovieLensError.malformedRecord(SourceLocation(file: "ml-bad.zip/ml-bad/ratings.csv", line: 3, column: 3),
                                                       .notANumber(column: "rating"), text: "x")) {
            try MovieLensDataset.load(from: zip)
        }
        let ok = try dir.write("ml-ok.zip", bytes: storedZip([("a/b/ml/ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,10\n"),
                                                              ("a/b/ml/movies.csv", tinyMovies), ("x/movies.csv", tinyMovies)]))
        let files = try DatasetFiles.discover(in: ok)
        #expect(files.movies.path.hasSuffix("ml-ok.zip/a/b/ml/movies.csv"))
        #expect(try MovieLensDataset.load(from: ok).ratings.count == 1)
    }

    @Test("regions parsed in parallel parts: every row in order, errors numbered as in the whole file")
    func parallelParts() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        // ~1.4 MB of ratings: each 1 MiB region is cut into parts parsed on all cores.
        var rows = ["userId,movieId,rating,timestamp"]
        for i in 0..<60_000 { rows.append("\(i / 50 + 1),\(i % 997 + 1),\(Double(i % 10 + 1) / 2),\(1_000_000 + i)") }
        let text = rows.joined(separator: "\n") + "\n"
        let good = try dir.write("ml-big.zip", bytes: storedZip([("ml-big/ratings.csv", text), ("ml-big/movies.csv", tinyMovies)]))
        let plain = try dir.write("plain.csv", bytes: Array(text.utf8))
        let (fromZip, _) = try Ratings.load(good.appendingPathComponent("ml-big/ratings.csv"), format: .groupLens, policy: .strict,
                                            threads: 2, chunkSize: 1 << 20)
        let (fromFile, _) = try Ratings.load(plain, format: .groupLens)
        #expect(fromZip == fromFile && fromZip.count == 60_000)
        // Bad rows late in the first region and in the second: lenient counts both, strict names the first.
        var bad = rows
        bad[40_001] = "1,2,x,3"
        bad[55_001] = "1,2,3"
        let damaged = try dir.write("ml-bad.zip", bytes: storedZip([("ratings.csv", bad.joined(separator: "\n") + "\n")]))
        let entry = damaged.appendingPathComponent("ratings.csv")
        #expect(throws: MovieLensError.malformedRecord(SourceLocation(file: "ml-bad.zip/ratings.csv", line: 40_002, column: 3),
                                                       .notANumber(column: "rating"), text: "x")) {
            _ = try Ratings.load(entry, format: .groupLens, policy: .strict, threads: 2, chunkSize: 1 << 20)
        }
        let (kept, report) = try Ratings.load(entry, format: .groupLens, policy: .lenient, threads: 2, chunkSize: 1 << 20)
        #expect(kept.count == 59_998 && report.skipped == 2)
        #expect(report.firstErrors.map { if case let .malformedRecord(at, _, _) = $0 { at.line } else { 0 } } == [40_002, 55_002])
    }

    @Test("corrupt, truncated, encrypted, foreign-method and ratings-less archives are clear errors")
    func hostileArchives() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "no error" } catch { return "\(error)" }
        }
        let original = try [UInt8](Data(contentsOf: fixtures.appendingPathComponent("ml-tiny.zip")))
        // Damage the middle of the deflated ratings.
        let archive = try ZipArchive(path: fixtures.appendingPathComponent("ml-tiny.zip").path)
        let entry = try #require(archive.entry("ml-tiny/ratings.csv"))
        var damaged = original
        let start = try archive.dataOffset(of: entry)
        for i in 0..<8 { damaged[start + entry.compressedSize / 2 + i] ^= 0x5A }
        let bad = try dir.write("damaged.zip", bytes: damaged)
        let m1 = message { _ = try MovieLensDataset.load(from: bad) }
        #expect(m1.contains("damaged.zip/ml-tiny/ratings.csv") && m1.contains("corrupt zip entry"), "\(m1)")

        let half = try dir.write("half.zip", bytes: Array(original.prefix(original.count / 2)))
        let m2 = message { _ = try DatasetFiles.discover(in: half) }
        #expect(m2.contains("half.zip") && m2.contains("no end-of-central-directory record"), "\(m2)")

        let crc = try dir.write("crc.zip", bytes: storedZip([("ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,10\n"), ("movies.csv", tinyMovies)], badCRC: true))
        let m3 = message { _ = try MovieLensDataset.load(from: crc) }
        #expect(m3.contains("crc.zip/ratings.csv") && m3.contains("CRC-32 mismatch"), "\(m3)")

        let encrypted = try dir.write("locked.zip", bytes: storedZip([("ratings.csv", "x"), ("movies.csv", tinyMovies)], flags: 1))
        #expect(message { _ = try DatasetFiles.discover(in: encrypted) }.contains("encrypted"))
        let bzip = try dir.write("bzip.zip", bytes: storedZip([("ratings.csv", "userId,movieId,rating,timestamp\n"), ("movies.csv", tinyMovies)], method: 12))
        #expect(message { _ = try MovieLensDataset.load(from: bzip) }.contains("unsupported zip compression method 12"))

        // A deflated entry whose stored block claims 65,535 bytes and holds 8 (ZIPFoundation 0.9.20's
        // reader loops forever on it, asking for input past the end of the archive).
        let runaway = try dir.write("runaway.zip", bytes: storedZip([("ratings.csv", [0x00, 0xFF, 0xFF, 0x00, 0x00] + Array("1,2,3,4\n".utf8))], method: 8))
        let m4 = message { _ = try Ratings.load(runaway.appendingPathComponent("ratings.csv"), format: .groupLens) }
        #expect(m4.contains("runaway.zip/ratings.csv") && m4.contains("ends early"), "\(m4)")

        #expect(throws: MovieLensError.missingFile(kind: "ratings", directory: fixtures.appendingPathComponent("no-ratings.zip").path,
                                                   lookedFor: DatasetFiles.ratingNames.map { "*/" + $0 })) {
            try DatasetFiles.discover(in: fixtures.appendingPathComponent("no-ratings.zip"))
        }
        let missing = message { _ = try Ratings.load(fixtures.appendingPathComponent("ml-tiny.zip/ml-tiny/nothing.csv"), format: .groupLens) }
        #expect(missing.contains("no entry ml-tiny/nothing.csv"), "\(missing)")
    }

    @Test("a truncated or damaged gzip file is a clear error, never a hang")
    func hostileGzip() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let gz = try [UInt8](Data(contentsOf: fixtures.appendingPathComponent("ratings.csv.gz")))
        let cut = try dir.write("cut.csv.gz", bytes: Array(gz.prefix(gz.count - 12)))
        let m1 = { () -> String in do { _ = try Ratings.load(cut, format: .groupLens); return "no error" } catch { return "\(error)" } }()
        #expect(m1.contains("cut.csv.gz") && m1.contains("corrupt gzip file") && m1.contains("ends early"), "\(m1)")
        var flipped = gz
        flipped[gz.count - 6] ^= 0xFF       // the stored length
        let bad = try dir.write("bad.csv.gz", bytes: flipped)
        let m2 = { () -> String in do { _ = try Ratings.load(bad, format: .groupLens); return "no error" } catch { return "\(error)" } }()
        #expect(m2.contains("bad.csv.gz") && m2.contains("corrupt gzip file"), "\(m2)")
        let junk = try dir.write("junk.csv.gz", bytes: gz + [0x00, 0x01, 0x02])
        let m3 = { () -> String in do { _ = try Ratings.load(junk, format: .groupLens); return "no error" } catch { return "\(error)" } }()
        #expect(m3.contains("junk.csv.gz") && m3.contains("corrupt gzip file"), "\(m3)")
    }
}

@Suite("Zip archives: every malformed record as in a plain file")
struct CompressedMalformedRecordTests {
    @Test("strict names the entry, line and column; lenient skips and counts", arguments: [
        ("1,2,3.5\n", RecordDefect.wrongFieldCount(expected: 4, found: 3), 0),
        ("x1,2,3.5,100\n", .notAnInteger(column: "userId"), 1),
        ("1,2,abc,100\n", .notANumber(column: "rating"), 3),
        ("1,2,3.7,100\n", .ratingNotHalfStep, 3),
        ("1,2,\"3.5,100\n", .unterminatedQuote, 3),
    ])
    func badRecords(line: String, defect: RecordDefect, column: Int) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let text = "userId,movieId,rating,timestamp\n1,1,4.0,5\n2,1,4.0,5\n" + line + "3,1,4.0,5\n"
        let zip = try dir.write("b.zip", bytes: storedZip([("ratings.csv", text)]))
        let entry = zip.appendingPathComponent("ratings.csv")
        do {
            _ = try Ratings.load(entry, format: .groupLens)
            Issue.record("no error for \(line)")
        } catch let MovieLensError.malformedRecord(location, found, _) {
            #expect(location == SourceLocation(file: "b.zip/ratings.csv", line: 4, column: column))
            #expect(found == defect)
        }
        let (r, report) = try Ratings.load(entry, format: .groupLens, policy: .lenient)
        #expect(report.skipped == 1 && r.count == 3 && report.firstErrors.count == 1)
    }
}
