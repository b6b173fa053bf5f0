import ArgumentParser
import Foundation
import MovieLens

struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a seeded, MovieLens-shaped data set (the GroupLens file set).",
        discussion: """
        Presets imitate the shapes of real releases:
          small  610 users, 9,742 movies (9,724 rated), 100,836 ratings, genome 3,700 × 1,128
          1m     6,040 users, 3,883 movies (3,706 rated), 1,000,209 ratings (whole stars), genome 1,440 × 1,128
          20m    138,493 users, 27,278 movies (26,744 rated), 20,000,263 ratings, genome 10,381 × 1,128
          32m    200,948 users, 87,585 movies (84,432 rated), 32,000,204 ratings, genome 13,816 × 1,128
        The same preset and seed give byte-identical files. Each file is written atomically.

        Examples:
          movierec synth --preset 20m --seed 0 --out /tmp/ml-20m-synth
          movierec synth --preset small --out /tmp/small --no-genome --crlf
        """)

    @Option(help: "small, 1m, 20m or 32m.")
    var preset: String = "small"

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    @Option(help: "Output folder (created if missing).")
    var out: String

    @Flag(help: "Do not write genome-scores.csv / genome-tags.csv.")
    var noGenome = false

    @Flag(help: "End lines with CRLF, as the real ml-latest-small does.")
    var crlf = false

    @Flag(help: "Print the summary as JSON.") var json = false
    @Flag(help: "No progress lines.") var quiet = false
    /// Output does not depend on the thread count.
    @OptionGroup var threadOptions: ThreadOptions

    func run() throws {
        var generator = SyntheticMovieLens(preset: try SyntheticMovieLens.Preset.named(preset), seed: seed)
        generator.includeGenome = !noGenome
        generator.crlf = crlf
        generator.threads = threadOptions.threads
        let summary = try generator.write(to: URL(fileURLWithPath: out)) { step in
            if !quiet { printError("  writing \(step)") }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        } else {
            print("wrote \(summary.files.joined(separator: ", ")) to \(out)")
            print("  \(summary.users) users, \(summary.movies) movies (\(summary.ratedMovies) rated), \(summary.ratings) ratings, genome \(summary.genomeMovies) × \(summary.genomeTags), \(summary.tags) tags, in \(String(format: "%.1f", summary.seconds)) s")
        }
    }
}
