import Foundation
@testable import MovieLens

/// A fresh temporary folder, removed by the caller with `cleanup()`.
struct TempDir {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("movierec-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> URL {
        let file = url.appendingPathComponent(name)
        try Data(text.utf8).write(to: file)
        return file
    }

    @discardableResult
    func write(_ name: String, bytes: [UInt8]) throws -> URL {
        let file = url.appendingPathComponent(name)
        try Data(bytes).write(to: file)
        return file
    }

    func cleanup() { try? FileManager.default.removeItem(at: url) }
}

/// The repository's bundled data folder.
let bundledData: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("data/ml-latest-small")

let minimalMovies = "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n2,\"American President, The (1995)\",Comedy|Drama|Romance\n3,Heat (1995),(no genres listed)\n"

/// Loads `ratingsText` as `ratings.csv` beside a minimal movies file.
func loadRatings(_ ratingsText: String, policy: ErrorPolicy = .strict, chunkSize: Int = 8 << 20,
                 name: String = "ratings.csv", format: DatasetFiles.Format = .groupLens) throws -> (Ratings, LoadReport) {
    let dir = try TempDir()
    defer { dir.cleanup() }
    let url = try dir.write(name, ratingsText)
    return try Ratings.load(url, format: format, policy: policy, threads: 2, chunkSize: chunkSize)
}

/// The malformed-record error a closure throws, or nil.
func malformed(_ body: () throws -> Void) -> (SourceLocation, RecordDefect, String)? {
    do {
        try body()
        return nil
    } catch let MovieLensError.malformedRecord(location, defect, text) {
        return (location, defect, text)
    } catch {
        return nil
    }
}
