import Foundation
import MovieLens

/// Which movies may be recommended: genres to keep or drop, a span of release years, ids to drop
/// and an allow-list — `recommend`/`export`'s `--genres`, `--exclude-genres`, `--years`,
/// `--exclude` and `--only`.
///
/// Every condition set must hold. The filter is applied to the scores before the top-k, so a user
/// gets k movies whenever k candidates pass (`TrainedModel.recommend(_:count:includeSeen:filter:kernels:)`,
/// ``BatchExport``).
///
/// ```swift
/// var filter = ItemFilter()
/// filter.genres = ["Comedy"]
/// filter.years = 1990...1999
/// let recs = try model.recommend([try model.query(userID: 1)], count: 10, filter: filter, kernels: kernels)
/// ```
public struct ItemFilter: Sendable, Equatable, Codable {
    /// Keep movies with at least one of these genres (matched ignoring case); empty: any genre.
    public var genres: [String] = []
    /// Drop movies with any of these genres (matched ignoring case).
    public var excludedGenres: [String] = []
    /// Keep movies whose title's year lies in this span; movies without a year are dropped.
    public var years: ClosedRange<Int>?
    /// Drop these movie ids.
    public var excluded: [Int32] = []
    /// Keep only these movie ids (nil: every movie).
    public var only: [Int32]?

    public init() {}

    /// True when nothing is filtered.
    public var isEmpty: Bool { genres.isEmpty && excludedGenres.isEmpty && years == nil && excluded.isEmpty && only == nil }

    /// Whether each of `model`'s items passes, aligned with its items.
    /// - Throws: ``RecommenderError/invalidOptions(model:reason:)`` naming a genre the model's movies
    ///   do not have (with the known ones) or a genre filter on a model file without genres;
    ///   ``RecommenderError/unknownMovie(id:nearest:)`` for an `excluded` or `only` id the model
    ///   does not know.
    public func mask(for model: TrainedModel) throws -> [Bool] {
        let n = model.items.count
        var keep = [Bool](repeating: only == nil, count: n)
        if let only { for id in only { keep[try model.itemIndex(id)] = true } }
        for id in excluded { keep[try model.itemIndex(id)] = false }
        if !genres.isEmpty || !excludedGenres.isEmpty {
            guard let itemGenres = model.genres else {
                throw RecommenderError.invalidOptions(model: model.header.model,
                                                      reason: "this model file records no genres (train it again to filter by genre)")
            }
            let known = Dictionary(itemGenres.joined().map { ($0.lowercased(), $0) }, uniquingKeysWith: { a, _ in a })
            func resolve(_ list: [String]) throws -> Set<String> {
                Set(try list.map { name in
                    guard known[name.lowercased()] != nil else {
                        throw RecommenderError.invalidOptions(
                            model: model.header.model,
                            reason: "unknown genre '\(name)' (the model's genres: \(known.values.sorted().joined(separator: ", ")))")
                    }
                    return name.lowercased()
                })
            }
            let wanted = try resolve(genres), unwanted = try resolve(excludedGenres)
            for i in 0..<n where keep[i] {
                let own = itemGenres[i].map { $0.lowercased() }
                if !wanted.isEmpty && !own.contains(where: wanted.contains) { keep[i] = false }
                if own.contains(where: unwanted.contains) { keep[i] = false }
            }
        }
        if let years {
            for i in 0..<n where keep[i] {
                guard let year = Movie.year(inTitle: model.titles[i]), years.contains(year) else { keep[i] = false; continue }
            }
        }
        return keep
    }

    // MARK: - Parsing the command line's forms

    /// `1990-1999`, `1995`, `1990-` (from 1990) or `-1999` (up to 1999).
    /// - Throws: ``MovieLensError/invalidArgument(_:)`` naming the value.
    public static func parseYears(_ text: String) throws -> ClosedRange<Int> {
        let t = text.trimmingCharacters(in: .whitespaces)
        let parts = t.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        func year(_ s: String, _ empty: Int) throws -> Int {
            if s.isEmpty && parts.count == 2 { return empty }
            guard let y = Int(s), (0...9999).contains(y) else {
                throw MovieLensError.invalidArgument("--years '\(text)': give a span of years like 1990-1999, 1995, 1990- or -1999")
            }
            return y
        }
        let low = try year(parts[0], 0), high = parts.count == 2 ? try year(parts[1], 9999) : low
        guard low <= high else { throw MovieLensError.invalidArgument("--years '\(text)': the first year is after the last") }
        return low...high
    }

    /// Movie ids from `IDS` (`1,2,3`) or `@FILE` (ids separated by commas, spaces or lines; `#`
    /// starts a comment; a `movieId` header line is allowed).
    /// - Throws: ``MovieLensError/invalidArgument(_:)`` naming the option and the value, or for a
    ///   file its path, line and column.
    public static func parseIDs(_ text: String, option: String) throws -> [Int32] {
        if text.hasPrefix("@") {
            let path = String(text.dropFirst())
            guard !path.isEmpty else { throw MovieLensError.invalidArgument("\(option) '@': give a file after @") }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                  let data = FileManager.default.contents(atPath: path) else {
                throw MovieLensError.io(path: path, reason: "\(option): cannot read the id file")
            }
            guard let body = String(data: data, encoding: .utf8) else {
                throw MovieLensError.io(path: path, reason: "\(option): the id file is not UTF-8 text")
            }
            var ids = [Int32]()
            for (n, raw) in body.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                var column = 1
                for token in line.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" || $0 == "\r" }) {
                    defer { column += token.count + 1 }
                    if token.isEmpty || (ids.isEmpty && token.lowercased() == "movieid") { continue }
                    guard let id = Int32(token) else {
                        throw MovieLensError.invalidArgument("\(path):\(n + 1):\(column): \(option): '\(token)' is not a movie id")
                    }
                    ids.append(id)
                }
            }
            return ids
        }
        let tokens = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !tokens.isEmpty else { throw MovieLensError.invalidArgument("\(option): give movie ids separated by commas, or @FILE") }
        return try tokens.map { token in
            guard let id = Int32(token) else { throw MovieLensError.invalidArgument("\(option) '\(text)': '\(token)' is not a movie id") }
            return id
        }
    }

    /// A comma-separated list of genre names (`Comedy,Drama`).
    public static func parseGenres(_ text: String, option: String) throws -> [String] {
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty else { throw MovieLensError.invalidArgument("\(option): give genre names separated by commas") }
        return names
    }
}
