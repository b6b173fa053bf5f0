import ArgumentParser
import Foundation
import LinearAlgebra
import MovieLens
import Recommender

struct Similar: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Movies most similar to a movie under a trained model.",
        discussion: """
        ALS: cosine similarity of item factors. EASE: the item-item weights. Content: content cosine. \
        Hybrid: content cosine and item-factor cosine, blended with the model's weights. LSTM: the \
        movies it predicts right after this one.

        Example:
          movierec similar --model /tmp/hybrid.model --movie 1 -k 10
        """)

    @Option(help: "Model file written by movierec train.") var model: String
    @Option(help: "MovieLens movie id.") var movie: Int32
    @Option(name: .short, help: "How many movies.") var k = 10
    @OptionGroup var kernelOptions: KernelOptions
    @Flag(help: "Print JSON.") var json = false

    func validate() throws { guard k > 0 else { throw ValidationError("-k must be positive") } }

    func run() throws {
        let trained = try TrainedModel.load(from: URL(fileURLWithPath: model))
        try printRanked(try trained.similarItems(movie, k: k, kernels: try kernelOptions.kernels()), json: json, titleOf: trained.title)
    }
}
