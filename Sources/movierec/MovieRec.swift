import ArgumentParser

@main
struct MovieRec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "movierec",
        abstract: "A MovieLens recommender on OpenBLAS/LAPACKE with a pure-Swift twin of every kernel.",
        subcommands: [])
}
