import ArgumentParser
import Foundation
import LinearAlgebra
import MovieLens
import Recommender

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The whole pipeline in one command: prepare, train hybrid and LSTM, evaluate, recommend, export.",
        discussion: """
        Steps, each one the subcommand of the same name with the options shown:
          1. prepare   --data DATA --out OUT/prepared
          2. train     --model hybrid (content 0.8 / CF 0.2)   → OUT/hybrid.model
          3. train     --model rnn (LSTM, --epochs)            → OUT/rnn.model
          4. evaluate  temporal split: popularity, ALS, EASE, content, hybrid;
                       leave-last-one-out: popularity, ALS, LSTM   (models refitted on each train part)
          5. recommend a sample: top 5 for --sample-users users from both models, with titles
          6. export    top 10 for every user from both models  → OUT/recommendations-{hybrid,rnn}.csv
        Everything is written atomically into --out; the bundled data takes about a minute on 2 cores.

        Examples:
          movierec run
          movierec run --data ~/ml-1m --out /tmp/run-1m --epochs 5
        """)

    @Option(help: "MovieLens folder.") var data = "data/ml-latest-small"
    @Option(help: "Output folder.") var out = "movierec-output"
    @Option(help: "LSTM epochs.") var epochs = 10
    @Option(help: "Users shown in the sample of recommendations.") var sampleUsers = 3
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Kernel backend: openblas or swift.") var backend: BackendChoice = Backend.default == .openblas ? .openblas : .swift
    @Option(help: "Threads (default: all cores).") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "Skip the evaluation step.") var skipEvaluation = false

    func validate() throws {
        guard backend != .both else { throw ValidationError("--backend must be openblas or swift") }
        guard epochs >= 0, sampleUsers >= 0 else { throw ValidationError("--epochs and --sample-users must not be negative") }
    }

    func run() throws {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let dir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let prepared = dir.appendingPathComponent("prepared").path
        let hybrid = dir.appendingPathComponent("hybrid.model").path, rnn = dir.appendingPathComponent("rnn.model").path
        let common = ["--seed", "\(seed)", "--backend", backend.rawValue, "--threads", "\(threads)"]
        var step = 0
        func section(_ title: String, _ body: () throws -> Void) throws {
            step += 1
            let s0 = DispatchTime.now().uptimeNanoseconds
            print("\n== \(step). \(title)")
            try body()
            print("   (\(String(format: "%.1f", Double(DispatchTime.now().uptimeNanoseconds - s0) / 1e9)) s)")
        }
        try section("prepare \(data) → \(prepared)") {
            let p = try Prepare.parse(["--data", data, "--out", prepared] + common)
            try p.run()
        }
        try section("train the hybrid recommender (content 0.8 / CF 0.2)") {
            let t = try Train.parse(["--data", prepared, "--model", "hybrid", "--out", hybrid] + common)
            try t.run()
        }
        try section("train the LSTM next-movie model (\(epochs) epochs)") {
            let t = try Train.parse(["--data", prepared, "--model", "rnn", "--epochs", "\(epochs)", "--out", rnn] + common)
            try t.run()
        }
        if !skipEvaluation {
            try section("evaluate: temporal split (last 20 % of each user's ratings)") {
                let e = try Evaluate.parse(["--data", prepared, "--models", "popularity,als,ease,content,hybrid", "--quiet"] + common)
                try e.run()
            }
            try section("evaluate: leave-last-one-out (the next-movie task)") {
                let e = try Evaluate.parse(["--data", prepared, "--split", "loo", "--models", "popularity,als,rnn", "--epochs", "\(epochs)", "--quiet"]
                                           + common)
                try e.run()
            }
        }
        try section("sample recommendations") {
            let models = [("hybrid", try TrainedModel.load(from: URL(fileURLWithPath: hybrid))),
                          ("LSTM", try TrainedModel.load(from: URL(fileURLWithPath: rnn)))]
            let users = models[0].1.users.ids.prefix(sampleUsers)
            for user in users {
                for (name, model) in models {
                    print("\n   user \(user), \(name):")
                    try printRanked(try model.recommend(userID: user, count: 5), json: false, titleOf: model.title)
                }
            }
        }
        try section("export top 10 for every user") {
            for (name, model) in [("hybrid", hybrid), ("rnn", rnn)] {
                let e = try Export.parse(["--model", model, "--out", dir.appendingPathComponent("recommendations-\(name).csv").path,
                                          "--backend", backend.rawValue, "--threads", "\(threads)"])
                try e.run()
            }
        }
        print("\ndone in \(String(format: "%.1f", Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)) s; everything is in \(out)/")
    }
}
