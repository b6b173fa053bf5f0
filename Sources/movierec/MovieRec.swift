import ArgumentParser

@main
struct MovieRec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "movierec",
        abstract: "A MovieLens recommender on OpenBLAS/LAPACKE with a pure-Swift twin of every kernel.",
        discussion: """
        Exit codes: 0 success, 1 usage error, 2 bad input, 3 internal error.
        Errors go to standard error; results to standard output.
        """,
        subcommands: [Info.self, Synth.self, Bench.self])
}
