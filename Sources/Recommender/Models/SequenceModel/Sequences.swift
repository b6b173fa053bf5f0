import Foundation
import LinearAlgebra
import MovieLens

/// Each user's movies in the order they were rated — by timestamp, ties by movie id — as item
/// indices of an ``IDMap``.
public struct UserHistories: Sendable {
    public let users: IDMap
    public let items: IDMap
    /// `histories[u]`: the user's item indices, oldest first.
    public let histories: [[Int32]]

    /// Groups `ratings` by user and orders each group.
    /// - Complexity: O(n log n).
    public init(_ ratings: Ratings, users: IDMap? = nil, items: IDMap? = nil) {
        let users = users ?? IDMap(ratings.userIDs)
        let items = items ?? IDMap(ratings.movieIDs)
        let u = users.indices(of: ratings.userIDs), m = items.indices(of: ratings.movieIDs)
        var rows = [[Int]](repeating: [], count: users.count)
        for i in 0..<ratings.count where u[i] >= 0 && m[i] >= 0 { rows[Int(u[i])].append(i) }
        histories = rows.map { list in
            list.sorted { (ratings.timestamps[$0], ratings.movieIDs[$0]) < (ratings.timestamps[$1], ratings.movieIDs[$1]) }
                .map { m[$0] }
        }
        self.users = users
        self.items = items
    }
}

/// Training examples for the next-movie model: left-padded windows of input tokens (item index
/// + 1; 0 is padding) and, per position, the item to predict (−1: no target).
public struct SequenceExamples: Sendable {
    /// How examples are cut from the histories.
    public enum Mode: String, Sendable, Codable, CaseIterable {
        /// The reference design: one example per user — their last `length` movies, inputs the first
        /// `length − 1`, the target the last (short histories left-padded).
        case last
        /// Every position of every window: each history is cut from its end into windows of
        /// `length` movies, and every input position predicts the movie after it (≈ one target per
        /// rating instead of one per user).
        case windows
    }

    /// Input positions per example (`length − 1`).
    public let steps: Int
    /// examples × steps tokens.
    public var tokens: [Int32]
    /// examples × steps targets (item index, or −1).
    public var targets: [Int32]
    public var count: Int { steps == 0 ? 0 : tokens.count / steps }
    /// Number of targets (≥ 0) over all examples.
    public var targetCount: Int { targets.lazy.filter { $0 >= 0 }.count }
    /// Each example's input positions after its leading padding.
    public var inputLengths: [Int] {
        (0..<count).map { e in
            let end = (e + 1) * steps
            return end - (tokens[(e * steps)..<end].firstIndex { $0 != 0 } ?? end)
        }
    }

    /// Cuts examples of windows of `length` movies from `histories` (users with fewer than two movies give none).
    ///
    /// In `.windows` mode consecutive windows end `step` movies apart (nil: `length − 1`, so they
    /// overlap by one movie) and each window predicts only its last `step` movies — the ones the
    /// next window does not cover — so every movie but a user's first is a target exactly once,
    /// and with `step` < `length − 1` each target sees at least `length − 1 − step` movies before it.
    public init(histories: [[Int32]], length: Int, mode: Mode, step: Int? = nil) {
        let steps = max(1, length - 1)
        let step = Self.windowStep(step, length: length)
        var tokens = [Int32](), targets = [Int32]()
        /// Adds `window` (up to `length` items); the items at `firstTarget` (an index into the
        /// history) and after are targets of the input before them.
        func add(_ window: ArraySlice<Int32>, firstTarget: Int) {
            let inputs = window.dropLast(), pad = steps - inputs.count
            tokens += [Int32](repeating: 0, count: pad) + inputs.map { $0 + 1 }
            var t = [Int32](repeating: -1, count: steps)
            for i in max(firstTarget, window.startIndex + 1)..<window.endIndex {
                t[pad + i - window.startIndex - 1] = window[i]
            }
            targets += t
        }
        for h in histories where h.count >= 2 {
            switch mode {
            case .last:
                add(h.suffix(length), firstTarget: h.count - 1)
            case .windows:
                var end = h.count
                while end >= 2 {
                    let start = max(0, end - length)
                    add(h[start..<end], firstTarget: start == 0 ? 1 : end - step)
                    if start == 0 { break }
                    end -= step
                }
            }
        }
        self.steps = steps
        self.tokens = tokens
        self.targets = targets
    }

    /// The movies between the ends of consecutive windows that `step` means for windows of
    /// `length`: clamped to 1…`length − 1`, nil giving `length − 1` (windows overlapping by one).
    public static func windowStep(_ step: Int?, length: Int) -> Int {
        let steps = max(1, length - 1)
        return min(max(1, step ?? steps), steps)
    }

    /// The input tokens of one query: the last `steps` items of `history`, left-padded.
    public static func inputTokens(_ history: some Collection<Int32>, steps: Int) -> [Int32] {
        let tail = history.suffix(steps)
        return [Int32](repeating: 0, count: steps - tail.count) + tail.map { $0 + 1 }
    }
}
