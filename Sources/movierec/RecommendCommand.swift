import ArgumentParser
import Foundation
import LinearAlgebra
import MovieLens
import Recommender

/// Parses `"296:5,318:4.5"` into (movieId, rating) pairs, each rating checked as a CSV rating is:
/// 0.5 to 5 in half steps.
func parseRatings(_ text: String) throws -> [(movieID: Int32, rating: Float)] {
    let pairs = text.split(separator: ",")
    guard !pairs.isEmpty else { throw ValidationError("--ratings is empty: give movieId:rating pairs (e.g. \"296:5,318:4.5\")") }
    return try pairs.map { pair in
        let parts = pair.split(separator: ":")
        guard parts.count == 2, let id = Int32(parts[0].trimmingCharacters(in: .whitespaces)),
              let r = Float(parts[1].trimmingCharacters(in: .whitespaces)), r.isFinite else {
            throw ValidationError("--ratings: '\(pair)' is not movieId:rating (e.g. \"296:5,318:4.5\")")
        }
        guard (0.5...5).contains(r), (r * 2).rounded() == r * 2 else {
            throw ValidationError("--ratings: '\(pair)': a rating is 0.5 to 5 in half steps")
        }
        return (id, r)
    }
}

struct Recommend: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recommend movies for a user, or for a new user from their ratings.",
        discussion: """
        Movies the user has rated (and the one given with --movie) are excluded unless --include-seen. \
        With --movie, the content part (content and hybrid models) compares with that movie; without it, with the user's \
        profile (their movies rated ≥ the model's min rating); the LSTM reads it as the latest movie. --ratings describes a new user: their \
        factors are folded into the trained item factors with one solve, no retraining. Hybrid rows \
        show the scaled content and CF parts and the movie that drove the content part. An unknown \
        user or movie id is an error (exit code 2) that names the nearest known ids. The filters \
        (--genres, --exclude-genres, --years, --exclude, --only) act before the top -k, so the list \
        is short only when fewer movies pass; --diversity re-ranks the best max(200, 10k) by maximal \
        marginal relevance.

        Examples:
          movierec recommend --model /tmp/hybrid.model --user 1 --movie 296 -k 5
          movierec recommend --model /tmp/hybrid.model --ratings "296:5,318:4.5,593:4" -k 10
          movierec recommend --model /tmp/als.model --user 42 --json
          movierec recommend --model /tmp/hybrid.model --user 1 --genres Comedy --years 1990-1999 --diversity 0.3
        """)

    @Option(help: "Model file written by movierec train.") var model: String
    @Option(help: "MovieLens user id.") var user: Int32?
    @Option(help: "A new user's ratings, movieId:rating pairs separated by commas.") var ratings: String?
    @Option(help: "The movie the user just watched.") var movie: Int32?
    @Option(name: .short, help: "How many movies.") var k = 5
    @Flag(help: "Keep movies the user has already rated.") var includeSeen = false
    @OptionGroup var listOptions: ListOptions
    @OptionGroup var kernelOptions: KernelOptions
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard k > 0 else { throw ValidationError("-k must be positive") }
        guard (user == nil) != (ratings == nil) else { throw ValidationError("give exactly one of --user and --ratings") }
        if let ratings { _ = try parseRatings(ratings) }
    }

    func run() throws {
        let trained = try TrainedModel.load(from: URL(fileURLWithPath: model))
        let query = try ratings.map { try trained.query(ratings: try parseRatings($0), watched: movie) }
            ?? trained.query(userID: user ?? 0, watched: movie)
        let list = try trained.recommend(query, count: k, includeSeen: includeSeen, filter: try listOptions.filter(),
                                         diversity: listOptions.diversity, kernels: try kernelOptions.kernels())
        if !json {
            print(trained.model.label)
            if let fusion = (trained.model as? HybridRecommender)?.fusion {
                let w = fusion.cfWeight(ratings: query.ratings.count)
                print(String(format: "this user's %d ratings: score = %.2f · CF + %.2f · content (each z-scored over the candidates)",
                             query.ratings.count, w, 1 - w))
            }
        }
        try printRanked(list, json: json, titleOf: trained.title)
    }
}
