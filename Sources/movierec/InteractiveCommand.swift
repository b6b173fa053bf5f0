import ArgumentParser
import Foundation
import LinearAlgebra
import MovieLens
import Recommender

struct Interactive: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask for a user, the movie they just watched and a model; print the top 5; repeat.",
        discussion: """
        The original MovieRec design's loop. Give one or more model files (e.g. a hybrid and an rnn \
        model); each round asks for a user id, the movie just watched (an id or part of a title; \
        empty for none) and which model to use, validates each answer with a helpful message, and \
        prints the recommendations with titles. 'quit' (or end of input) leaves. Reads standard \
        input, so it can be driven through a pipe.

        Example:
          movierec interactive --model movierec-output/hybrid.model --model movierec-output/rnn.model
          printf '1\\n296\\n\\nquit\\n' | movierec interactive --model /tmp/hybrid.model
        """)

    @Option(help: "Model file written by movierec train (repeat for several).") var model: [String]
    @Option(name: .short, help: "How many movies.") var k = 5
    @OptionGroup var kernelOptions: KernelOptions

    func validate() throws {
        guard !model.isEmpty else { throw ValidationError("give at least one --model") }
        guard k > 0 else { throw ValidationError("-k must be positive") }
    }

    func run() throws {
        let kernels = try kernelOptions.kernels()
        let models = try model.map { path -> (String, TrainedModel) in
            let m = try TrainedModel.load(from: URL(fileURLWithPath: path))
            return (m.header.model, m)
        }
        let first = models[0].1
        print("MovieRec interactive — models: \(models.map { "\($0.0) (\($0.1.users.count) users, \($0.1.items.count) movies)" }.joined(separator: ", ")). Type 'quit' to leave.")
        while true {
            guard let user = ask("\nUser id (\(first.users.ids.first ?? 0)…\(first.users.ids.last ?? 0)): ", parse: { text -> Int32? in
                guard let id = Int32(text) else { print("  '\(text)' is not a user id: type a whole number such as \(first.users.ids.first ?? 1)."); return nil }
                guard first.users.index(of: id) != nil else {
                    print("  user \(id) is not in the model; nearest known: \(first.users.nearest(to: id).map(String.init).joined(separator: ", ")).")
                    return nil
                }
                return id
            }) else { return }
            guard let movie = ask("Movie just watched (id or part of a title, empty for none): ", allowEmpty: true, parse: { text -> Int32?? in
                if text.isEmpty { return .some(nil) }
                if let id = Int32(text) {
                    guard first.items.index(of: id) != nil else {
                        print("  movie \(id) is not in the model; nearest known ids: \(first.items.nearest(to: id).map { "\($0) \(first.title($0))" }.joined(separator: "; ")).")
                        return nil
                    }
                    return .some(id)
                }
                let matches = first.items.ids.indices.filter { first.titles[$0].localizedCaseInsensitiveContains(text) }
                switch matches.count {
                case 0: print("  no title contains '\(text)'; try another word or a movie id."); return nil
                case 1:
                    print("  → \(first.items.ids[matches[0]]) \(first.titles[matches[0]])")
                    return .some(first.items.ids[matches[0]])
                default:
                    print("  \(matches.count) titles match; pick an id:")
                    for i in matches.prefix(8) { print("    \(first.items.ids[i])  \(first.titles[i])") }
                    return nil
                }
            }) else { return }
            var chosen = models[0].1
            if models.count > 1 {
                guard let picked = ask("Model [\(models.map(\.0).joined(separator: "/"))] (empty: \(models[0].0)): ", allowEmpty: true, parse: { text -> TrainedModel? in
                    if text.isEmpty { return models[0].1 }
                    guard let m = models.first(where: { $0.0 == text.lowercased() }) else {
                        print("  choose one of: \(models.map(\.0).joined(separator: ", "))."); return nil
                    }
                    return m.1
                }) else { return }
                chosen = picked
            }
            do {
                try printRanked(try chosen.recommend(user: user, k: k, movie: movie, kernels: kernels), json: false, titleOf: chosen.title)
            } catch let error as RecommenderError {
                print("  \(error)")
            }
        }
    }

    /// Prompts until `parse` accepts the answer; nil at end of input or on 'quit'.
    func ask<T>(_ prompt: String, allowEmpty: Bool = false, parse: (String) -> T?) -> T? {
        while true {
            print(prompt, terminator: "")
            fflush(nil)   // all output streams: the prompt shows before reading
            guard let line = readLine() else { print(""); return nil }
            let text = line.trimmingCharacters(in: .whitespaces)
            if ["quit", "exit", "q"].contains(text.lowercased()) { return nil }
            if text.isEmpty && !allowEmpty { print("  please type an answer (or 'quit')."); continue }
            if let value = parse(text) { return value }
        }
    }
}
