import ArgumentParser
import Foundation
import LinearAlgebra
import MovieLens
import Recommender

struct MovieRec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "movierec",
        abstract: "A MovieLens recommender on OpenBLAS/LAPACKE with a pure-Swift twin of every kernel.",
        discussion: """
        Exit codes: 0 success, 1 usage error, 2 bad input (malformed or missing data, unknown ids), \
        3 internal error. Errors go to standard error; results to standard output.
        """,
        subcommands: [Info.self, Synth.self, Prepare.self, Train.self, Recommend.self, Similar.self, Export.self, Interactive.self, Evaluate.self, Tune.self, Run.self, Bench.self, ReportCommand.self])
}

/// Runs the command line with MovieRec's exit codes (see ``MovieRec``'s discussion).
@main
enum Main {
    static func main() {
        AtomicFileWriter.removeTemporariesOnSignals()
        let command: ParsableCommand
        do {
            command = try MovieRec.parseAsRoot()
        } catch {
            let code = MovieRec.exitCode(for: error)
            let message = MovieRec.fullMessage(for: error)
            if code == .success {
                print(message)
                exit(0)
            }
            printError(message)
            exit(1)
        }
        do {
            var runnable = command
            try runnable.run()
        } catch let error as ValidationError {
            printError("error: \(error.message)")
            exit(1)
        } catch let error as ExitCode {
            exit(error.rawValue)
        } catch let error as RecommenderError {
            // Options the data rules out (more factors than movies, say) are usage errors; the rest bad input.
            printError("error: \(error)")
            if case .invalidOptions = error { exit(1) }
            exit(2)
        } catch {
            // Bad input: malformed or missing data, unknown ids, damaged files, impossible parameters.
            if error is MovieLensError || error is LinearAlgebraError || error is ArchiveError || error is PreparationError {
                printError("error: \(error)")
                exit(2)
            }
            // Help and version requests, and usage errors, that ArgumentParser raises while running.
            let code = MovieRec.exitCode(for: error)
            if code == .success {
                print(MovieRec.fullMessage(for: error))
                exit(0)
            }
            if code == .validationFailure {
                printError(MovieRec.fullMessage(for: error))
                exit(1)
            }
            printError("internal error: \(error)")
            exit(3)
        }
    }
}
