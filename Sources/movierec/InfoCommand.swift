import ArgumentParser
import Foundation
import MovieLens
import Recommender

/// `--data`, `--strict`/`--lenient` and `--threads` for commands that read a MovieLens folder.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "MovieLens folder (GroupLens, Kaggle, .dat or ML-100K files).")
    var data: String = "data/ml-latest-small"

    @Flag(help: "Stop at the first malformed record (--strict, default) or skip and count them (--lenient).")
    var errorPolicy: ErrorPolicyFlag = .strict

    var url: URL { URL(fileURLWithPath: data) }

    var policy: ErrorPolicy { errorPolicy == .strict ? .strict : .lenient }

    /// Loading options with `threads` parsing threads.
    func loadOptions(threads: Int) -> MovieLensDataset.Options {
        var o = MovieLensDataset.Options()
        o.policy = policy
        o.threads = threads
        return o
    }
}

enum ErrorPolicyFlag: String, EnumerableFlag {
    case strict, lenient
}

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load a MovieLens folder and print what it holds.",
        discussion: """
        Prints counts, the rating scale, the time span, genre frequencies (share of genre labels), \
        sparsity, memory used and anything skipped while loading. A folder written by movierec \
        prepare is summarised from its checked prepared.bin (its filtered ratings and movies).

        Examples:
          movierec info --data data/ml-latest-small
          movierec info --data ~/ml-20m --lenient --json
        """)

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var threadOptions: ThreadOptions

    @Flag(help: "Print machine-readable JSON instead of text.")
    var json = false

    func run() throws {
        let s: DatasetSummary
        if FileManager.default.fileExists(atPath: dataOptions.url.appendingPathComponent("prepared.bin").path) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let p = try PreparedData.load(from: dataOptions.url)
            s = DatasetSummary(directory: dataOptions.url.path, format: "prepared by movierec prepare", ratings: p.ratings,
                               movies: p.movies.map { Movie(id: $0.id, title: $0.title, genres: $0.genres) },
                               genomeMovies: p.hasGenome.filter { $0 }.count,
                               timings: [("prepared", Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)])
        } else {
            let dataset = try MovieLensDataset.load(from: dataOptions.url, options: dataOptions.loadOptions(threads: threadOptions.threads))
            s = DatasetSummary(dataset)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(s), as: UTF8.self))
            return
        }
        print(Self.render(s))
    }

    static func render(_ s: DatasetSummary) -> String {
        func n(_ x: Int) -> String { x.formatted(.number.grouping(.automatic).locale(Locale(identifier: "en_US"))) }
        var lines = [
            "\(s.directory) (\(s.format))",
            "  ratings        \(n(s.ratings))",
            "  users          \(n(s.users))",
            "  movies         \(n(s.movies)) (\(n(s.ratedMovies)) rated)",
        ]
        if let t = s.tags { lines.append("  tags           \(n(t))") }
        if let l = s.links { lines.append("  links          \(n(l))") }
        if let gm = s.genomeMovies, let gt = s.genomeTags {
            lines.append("  genome         \(n(gm)) movies × \(n(gt)) tags")
        } else if let gm = s.genomeMovies {
            lines.append("  genome         \(n(gm)) movies with tag-genome vectors")
        }
        let scale = s.ratingValues.map { String(format: "%g", $0) }.joined(separator: " ")
        lines += [
            "  rating values  \(scale) (mean \(String(format: "%.3f", s.meanRating)))",
            "  time span      \(s.firstRating) … \(s.lastRating)",
            "  sparsity       \(String(format: "%.4f%%", s.sparsity * 100)) of user × rated-movie cells empty",
            "  memory         ratings columns \(String(format: "%.1f", Double(s.ratingsBytes) / 1_048_576)) MiB, peak resident \(String(format: "%.1f", Double(s.peakResidentBytes) / 1_048_576)) MiB",
            "  load time      " + s.loadSeconds.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.3f", $0.value)) s" }.joined(separator: ", "),
            "  genres (movies, share of genre labels):",
        ]
        for g in s.genres {
            lines.append("    \(g.genre.padding(toLength: 20, withPad: " ", startingAt: 0)) \(n(g.movies).leftPadded(7))  \(String(format: "%5.1f%%", g.shareOfLabels * 100))")
        }
        lines.append("  load notes:")
        lines += s.loadNotes.map { "    \($0)" }
        return lines.joined(separator: "\n")
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
