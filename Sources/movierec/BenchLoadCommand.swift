import ArgumentParser
import Foundation
import MovieLens

struct BenchLoad: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Time loading the ratings file into columns and building CSR and CSC from it.",
        discussion: """
        Reports the best of --repeat runs of each step, with the peak resident memory of the loading \
        step and its ratio to the loaded columns' size. Compare with pandas on the same file:
          python3 -c "import pandas as pd, numpy as np, time; t=time.perf_counter(); \\
            pd.read_csv('DIR/ratings.csv', dtype={'userId': np.int32, 'movieId': np.int32, \\
            'rating': np.float32, 'timestamp': np.int64}); print(time.perf_counter()-t)"

        Examples:
          movierec synth --preset 20m --out /tmp/ml-20m-synth
          movierec bench load --data /tmp/ml-20m-synth
        """)

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var threadOptions: ThreadOptions

    @Option(help: "Runs of each step; the best is reported.")
    var `repeat`: Int = 3

    @Flag(help: "Print JSON instead of text.")
    var json = false

    struct Result: Codable {
        var file: String
        var ratings: Int
        var loadSeconds: Double
        var ratingsPerSecond: Double
        var columnsMiB: Double
        var loadPeakResidentMiB: Double
        var peakOverColumns: Double
        var csrAndCscSeconds: Double
        var users: Int
        var movies: Int
    }

    func validate() throws { guard self.repeat > 0 else { throw ValidationError("--repeat must be positive") } }

    func run() throws {
        let files = try DatasetFiles.discover(in: dataOptions.url)
        var best = Double.infinity
        var ratings = Ratings()
        var peak = 0
        let options = dataOptions.loadOptions(threads: threadOptions.threads)
        for _ in 0..<self.repeat {
            ratings = Ratings()
            ResourceUsage.resetPeak()
            let t0 = DispatchTime.now().uptimeNanoseconds
            let (loaded, _) = try Ratings.load(files.ratings, format: files.format, policy: options.policy, threads: options.threads)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            peak = max(peak, ResourceUsage.peakResidentBytes())
            ratings = loaded
        }
        var bestMatrix = Double.infinity
        var matrix: RatingMatrix?
        for _ in 0..<self.repeat {
            matrix = nil
            let t0 = DispatchTime.now().uptimeNanoseconds
            matrix = try RatingMatrix(ratings: ratings)
            bestMatrix = min(bestMatrix, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        let columns = Double(ratings.memoryBytes) / 1_048_576
        let result = Result(file: files.ratings.path, ratings: ratings.count, loadSeconds: best,
                            ratingsPerSecond: Double(ratings.count) / best, columnsMiB: columns,
                            loadPeakResidentMiB: Double(peak) / 1_048_576, peakOverColumns: Double(peak) / 1_048_576 / columns,
                            csrAndCscSeconds: bestMatrix, users: matrix?.users.count ?? 0, movies: matrix?.movies.count ?? 0)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
            return
        }
        print("""
        \(result.file): \(result.ratings) ratings, \(result.users) users × \(result.movies) movies
          load into columns   \(String(format: "%.3f", result.loadSeconds)) s  (\(String(format: "%.1f", result.ratingsPerSecond / 1e6))M ratings/s)
          peak resident       \(String(format: "%.0f", result.loadPeakResidentMiB)) MiB = \(String(format: "%.2f", result.peakOverColumns))× the \(String(format: "%.0f", columns)) MiB of columns
          CSR + CSC build     \(String(format: "%.3f", result.csrAndCscSeconds)) s
        """)
    }
}
