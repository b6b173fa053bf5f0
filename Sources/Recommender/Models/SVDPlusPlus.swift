import Foundation
import LinearAlgebra
import MovieLens

/// Every rating of a training set grouped by user, each user's in time order (ties by movie id),
/// with the day it was given: the input of the time-aware rating models.
public struct TimedRatings: Sendable {
    public let users: IDMap
    public let items: IDMap
    /// ``entries(ofUser:)`` indexes ``itemIndices``, ``values`` and ``days``.
    public let rowStarts: [Int]
    /// Item index of each rating.
    public let itemIndices: [Int32]
    public let values: [Float]
    /// Day of each rating (``day(_:)`` of its timestamp).
    public let days: [Int32]

    public var count: Int { values.count }

    /// The ratings of `ratings` whose user and movie are in the maps.
    /// - Complexity: O(n log n).
    public init(_ ratings: Ratings, users: IDMap, items: IDMap) {
        let u = users.indices(of: ratings.userIDs), m = items.indices(of: ratings.movieIDs)
        var starts = [Int](repeating: 0, count: users.count + 1)
        for i in 0..<ratings.count where u[i] >= 0 && m[i] >= 0 { starts[Int(u[i]) + 1] += 1 }
        for r in 0..<users.count { starts[r + 1] += starts[r] }
        var order = [Int](repeating: 0, count: starts[users.count])
        var next = starts
        for i in 0..<ratings.count where u[i] >= 0 && m[i] >= 0 {
            order[next[Int(u[i])]] = i
            next[Int(u[i])] += 1
        }
        let t = ratings.timestamps, ids = ratings.movieIDs
        for r in 0..<users.count {
            order[starts[r]..<starts[r + 1]].sort { (t[$0], ids[$0]) < (t[$1], ids[$1]) }
        }
        self.users = users
        self.items = items
        rowStarts = starts
        itemIndices = order.map { m[$0] }
        values = order.map { ratings.values[$0] }
        days = order.map { Self.day(t[$0]) }
    }

    /// The parts, as they are.
    init(users: IDMap, items: IDMap, rowStarts: [Int], itemIndices: [Int32], values: [Float], days: [Int32]) {
        self.users = users
        self.items = items
        self.rowStarts = rowStarts
        self.itemIndices = itemIndices
        self.values = values
        self.days = days
    }

    /// The rating positions of user `u`, oldest first.
    @inlinable public func entries(ofUser u: Int) -> Range<Int> { rowStarts[u]..<rowStarts[u + 1] }

    /// The day of a Unix time in seconds (days since 1970-01-01 UTC, rounded down).
    public static func day(_ timestamp: Int64) -> Int32 {
        let (q, r) = timestamp.quotientAndRemainder(dividingBy: 86_400)
        return Int32(clamping: r < 0 ? q - 1 : q)
    }
}

/// SVD++ (Koren, KDD 2008) for rating prediction — biases, factors and the implicit feedback of
/// *which* movies a user rated — with the time effects of timeSVD++ (Koren, KDD 2009) on the biases:
///
///     r̂(u, i, t) = μ + b_u + α_u·dev_u(t) + b_{u,day(t)} + b_i + b_{i,bin(t)}
///                 + q_i · (p_u + |N(u)|^(−½) Σ_{j ∈ N(u)} y_j)
///
/// `N(u)` is every movie `u` rated in training; `dev_u(t) = sign(t − t̄_u)·|t − t̄_u|^0.4` in days
/// from the user's mean rating day (a drift); `b_{u,day}` a bias for each day the user rated on (a
/// rating session's mood: MovieLens users rate in sessions, and a temporal split's first test
/// ratings often share the last training day); `b_{i,bin}` an item bias per one of ``timeBins``
/// equal spans of the training period. ``timeEffects`` off gives plain SVD++; a day or span
/// unseen in training contributes 0 (a later time falls in the last span).
///
/// Fitted by stochastic gradient descent: users in a seeded order each epoch, each user's ratings
/// in time order (``Order/chronological``, as Surprise's SVDpp visits a time-sorted file: the last
/// steps on `b_u` and `p_u` are the user's latest ratings) or shuffled; both learning rates are
/// multiplied by ``decay`` after every epoch.
///
/// The implicit part is exact per-rating SGD at O(k) per rating instead of O(|N(u)|·k): every
/// `y_j` of a user receives the same update `lr·(e·s·q_i − λ·y_j)` (s = |N(u)|^(−½)), so the
/// implicit sum follows `z ← (1 − lr·λ)·z + lr·e·q_i` and each `y_j` ends the user as
/// `(1 − lr·λ)^n·y_j + g`, with `g` one accumulated vector — the same numbers as updating every
/// `y_j` after every rating (Surprise's SVDpp), in one pass over `N(u)` per user.
///
/// Training is serial (SGD is), so results do not depend on the thread count.
public struct SVDPlusPlus: Sendable {
    /// The order of a user's ratings within an epoch.
    public enum Order: String, Sendable, Codable, CaseIterable {
        case chronological, shuffled
    }

    public var factors: Int
    public var epochs: Int
    /// Learning rate of the factors (`p`, `q`, `y`) and of the biases `b_u`, `b_i`.
    public var learningRate: Float
    public var biasLearningRate: Float
    /// λ of the factors and of the biases `b_u`, `b_i`.
    public var regularization: Float
    public var biasRegularization: Float
    /// Factor applied to the learning rates after every epoch (1 = constant).
    public var decay: Float
    /// Standard deviation of the initial factors (biases start at 0).
    public var initialScale: Float
    public var order: Order
    /// Whether the time-aware biases (drift, day and item-span biases) are fitted.
    public var timeEffects: Bool
    /// Learning rate and λ of the day biases `b_{u,day}`.
    public var dayLearningRate: Float
    public var dayRegularization: Float
    /// Learning rate and λ of the drift coefficients `α_u`.
    public var driftLearningRate: Float
    public var driftRegularization: Float
    /// Number of equal spans of the training period with an item bias each, their learning rate and λ.
    public var timeBins: Int
    public var binLearningRate: Float
    public var binRegularization: Float
    public var seed: UInt64

    public private(set) var globalMean: Float = 0
    public private(set) var userBias: [Float] = []
    public private(set) var itemBias: [Float] = []
    /// users × factors (`p`), items × factors (`q`, `y`), row-major.
    public private(set) var userFactors: [Float] = []
    public private(set) var itemFactors: [Float] = []
    public private(set) var implicitFactors: [Float] = []
    /// Per user: `p_u + |N(u)|^(−½) Σ y_j` after training, what predictions use.
    public private(set) var userVectors: [Float] = []
    /// Time effects: per user the drift `α_u` and mean rating day; the days each user rated on
    /// (``userDayStarts`` indexes ``userDays`` and ``userDayBias``, days ascending); items × bins.
    public private(set) var drift: [Float] = []
    public private(set) var meanDay: [Float] = []
    public private(set) var userDayStarts: [Int] = []
    public private(set) var userDays: [Int32] = []
    public private(set) var userDayBias: [Float] = []
    public private(set) var itemBinBias: [Float] = []
    public private(set) var firstDay: Int32 = 0
    public private(set) var lastDay: Int32 = 0
    public private(set) var ratingRange: ClosedRange<Float> = 0.5...5

    /// The defaults were chosen on a validation carve of ml-latest-small's temporal training part
    /// (each user's last 20 % of it), never its test ratings; ``surprise`` gives Surprise's SVDpp.
    public init(factors: Int = 20, epochs: Int = 20, learningRate: Float = 0.007, biasLearningRate: Float = 0.01,
                regularization: Float = 0.05, biasRegularization: Float = 0.02, decay: Float = 1,
                initialScale: Float = 0.1, order: Order = .chronological, timeEffects: Bool = true,
                dayLearningRate: Float = 0.0025, dayRegularization: Float = 1,
                driftLearningRate: Float = 0.0001, driftRegularization: Float = 50,
                timeBins: Int = 30, binLearningRate: Float = 0.001, binRegularization: Float = 0.1, seed: UInt64 = 0) {
        self.factors = factors
        self.epochs = epochs
        self.learningRate = learningRate
        self.biasLearningRate = biasLearningRate
        self.regularization = regularization
        self.biasRegularization = biasRegularization
        self.decay = decay
        self.initialScale = initialScale
        self.order = order
        self.timeEffects = timeEffects
        self.dayLearningRate = dayLearningRate
        self.dayRegularization = dayRegularization
        self.driftLearningRate = driftLearningRate
        self.driftRegularization = driftRegularization
        self.timeBins = timeBins
        self.binLearningRate = binLearningRate
        self.binRegularization = binRegularization
        self.seed = seed
    }

    /// Surprise's `SVDpp()` defaults (20 factors, 20 epochs, every learning rate 0.007 and λ 0.02,
    /// no time effects), ratings visited in time order.
    public static var surprise: SVDPlusPlus {
        SVDPlusPlus(biasLearningRate: 0.007, regularization: 0.02, timeEffects: false)
    }

    /// A one-line description of the settings.
    public var label: String {
        let name = timeEffects ? "timeSVD++" : "SVD++"
        return "\(name) (\(factors)f, \(epochs) epochs, lr \(learningRate), λ \(regularization)\(decay == 1 ? "" : ", decay \(decay)"), \(order.rawValue))"
    }

    /// The names ``set(_:to:)`` accepts, each with what it sets.
    public static let settingNames: KeyValuePairs<String, String> = [
        "factors": "number of factors", "epochs": "SGD epochs", "lr": "learning rate of p, q, y",
        "lambda": "λ of p, q, y", "bias-lr": "learning rate of b_u, b_i", "bias-lambda": "λ of b_u, b_i",
        "decay": "learning-rate factor per epoch", "init": "initial factor standard deviation",
        "order": "chronological or shuffled", "time": "true or false: the time-aware biases",
        "day-lr": "learning rate of b_{u,day}", "day-lambda": "λ of b_{u,day}",
        "drift-lr": "learning rate of α_u", "drift-lambda": "λ of α_u",
        "bins": "item-bias spans of the training period", "bin-lr": "learning rate of b_{i,bin}", "bin-lambda": "λ of b_{i,bin}",
    ]

    /// Sets the setting called `name` (one of ``settingNames``) from its text.
    /// - Throws: ``RecommenderError/invalidOptions(model:reason:)`` for an unknown name or a value
    ///   that does not parse (the ranges are checked by ``validate()``).
    public mutating func set(_ name: String, to text: String) throws {
        func number() throws -> Float {
            guard let v = Float(text) else { throw RecommenderError.invalidOptions(model: "SVD++", reason: "\(name)=\(text): not a number") }
            return v
        }
        func integer() throws -> Int {
            guard let v = Int(text) else { throw RecommenderError.invalidOptions(model: "SVD++", reason: "\(name)=\(text): not an integer") }
            return v
        }
        switch name {
        case "factors": factors = try integer()
        case "epochs": epochs = try integer()
        case "bins": timeBins = try integer()
        case "lr": learningRate = try number()
        case "lambda": regularization = try number()
        case "bias-lr": biasLearningRate = try number()
        case "bias-lambda": biasRegularization = try number()
        case "decay": decay = try number()
        case "init": initialScale = try number()
        case "day-lr": dayLearningRate = try number()
        case "day-lambda": dayRegularization = try number()
        case "drift-lr": driftLearningRate = try number()
        case "drift-lambda": driftRegularization = try number()
        case "bin-lr": binLearningRate = try number()
        case "bin-lambda": binRegularization = try number()
        case "order":
            guard let o = Order(rawValue: text) else { throw RecommenderError.invalidOptions(model: "SVD++", reason: "order=\(text): chronological or shuffled") }
            order = o
        case "time":
            guard let b = Bool(text) else { throw RecommenderError.invalidOptions(model: "SVD++", reason: "time=\(text): true or false") }
            timeEffects = b
        default:
            throw RecommenderError.invalidOptions(model: "SVD++", reason: "unknown setting \(name) (known: \(Self.settingNames.map(\.key).joined(separator: ", ")))")
        }
    }

    /// Checks the settings.
    /// - Throws: ``RecommenderError/invalidOptions(model:reason:)`` naming the problem.
    public func validate() throws {
        let rates = [learningRate, biasLearningRate, regularization, biasRegularization, decay, initialScale,
                     dayLearningRate, dayRegularization, driftLearningRate, driftRegularization, binLearningRate, binRegularization]
        guard factors > 0, epochs >= 0, timeBins > 0, rates.allSatisfy({ $0.isFinite && $0 >= 0 }), learningRate > 0, decay > 0 else {
            throw RecommenderError.invalidOptions(model: "SVD++", reason: "needs factors > 0, epochs ≥ 0, time bins > 0, learning rates and decay > 0, every λ and the initial scale finite and ≥ 0")
        }
    }

    /// Fits to `ratings`. Returns the training RMSE of each epoch (each rating's error measured
    /// just before its update).
    /// - Throws: ``RecommenderError/invalidOptions(model:reason:)`` for bad settings or no ratings.
    public mutating func fit(_ ratings: TimedRatings) throws -> [Double] {
        try validate()
        guard ratings.count > 0 else { throw RecommenderError.invalidOptions(model: "SVD++", reason: "needs ratings") }
        let k = factors, users = ratings.users.count, items = ratings.items.count
        globalMean = Float(ratings.values.reduce(0.0) { $0 + Double($1) } / Double(ratings.count))
        ratingRange = (ratings.values.min() ?? 0.5)...(ratings.values.max() ?? 5)
        firstDay = ratings.days.min() ?? 0
        lastDay = ratings.days.max() ?? 0
        var g = SeededGenerator(seed: seed)
        func gaussian(_ count: Int) -> [Float] { (0..<count).map { _ in Float(g.nextGaussian()) * initialScale } }
        var bu = [Float](repeating: 0, count: users), bi = [Float](repeating: 0, count: items)
        var p = gaussian(users * k), q = gaussian(items * k), y = gaussian(items * k)

        // Time features of every rating: its user-day slot, drift deviation and item-span slot.
        var dayStarts = [Int](repeating: 0, count: users + 1), days = [Int32](), daySlot = [Int32](repeating: 0, count: ratings.count)
        var means = [Float](repeating: 0, count: users), deviation = [Float](repeating: 0, count: ratings.count)
        var binSlot = [Int](repeating: 0, count: ratings.count)
        for u in 0..<users {
            let range = ratings.entries(ofUser: u)
            var sum = 0.0
            for e in range {
                if days.count == dayStarts[u] || days[days.count - 1] != ratings.days[e] { days.append(ratings.days[e]) }
                daySlot[e] = Int32(days.count - 1)
                sum += Double(ratings.days[e])
            }
            dayStarts[u + 1] = days.count
            means[u] = range.isEmpty ? 0 : Float(sum / Double(range.count))
            for e in range {
                deviation[e] = Self.deviation(day: ratings.days[e], mean: means[u])
                binSlot[e] = Int(ratings.itemIndices[e]) * timeBins + bin(ratings.days[e])
            }
        }
        var dayBias = [Float](repeating: 0, count: days.count), alpha = [Float](repeating: 0, count: users)
        var binBias = [Float](repeating: 0, count: timeEffects ? items * timeBins : 0)

        var userOrder = Array(0..<users)
        let longest = (0..<users).map { ratings.entries(ofUser: $0).count }.max() ?? 0
        var visit = [Int](repeating: 0, count: longest)
        var z = [Float](repeating: 0, count: k), acc = [Float](repeating: 0, count: k)
        var lr = learningRate, lrBias = biasLearningRate
        var lrDay = dayLearningRate, lrDrift = driftLearningRate, lrBin = binLearningRate
        let lambda = regularization, lambdaBias = biasRegularization, mu = globalMean, time = timeEffects
        var history = [Double]()
        for _ in 0..<epochs {
            userOrder.shuffle(using: &g)
            var squared = 0.0
            for u in userOrder {
                let range = ratings.entries(ofUser: u)
                let n = range.count
                guard n > 0 else { continue }
                let s = 1 / Float(n).squareRoot()
                for (slot, e) in range.enumerated() { visit[slot] = e }
                if order == .shuffled { visit[0..<n].shuffle(using: &g) }
                // z = s·Σ y_j over the user's movies; acc accumulates the update every y_j shares.
                for f in 0..<k { z[f] = 0; acc[f] = 0 }
                for e in range {
                    let j = Int(ratings.itemIndices[e]) * k
                    for f in 0..<k { z[f] += y[j + f] }
                }
                for f in 0..<k { z[f] *= s }
                let shrink = 1 - lr * lambda
                for slot in 0..<n {
                    let e = visit[slot]
                    let i = Int(ratings.itemIndices[e])
                    let pu = u * k, qi = i * k
                    var prediction = mu + bu[u] + bi[i]
                    for f in 0..<k { prediction += q[qi + f] * (p[pu + f] + z[f]) }
                    let d = Int(daySlot[e]), b = binSlot[e]
                    if time { prediction += dayBias[d] + alpha[u] * deviation[e] + binBias[b] }
                    let err = ratings.values[e] - prediction
                    squared += Double(err * err)
                    bu[u] += lrBias * (err - lambdaBias * bu[u])
                    bi[i] += lrBias * (err - lambdaBias * bi[i])
                    if time {
                        dayBias[d] += lrDay * (err - dayRegularization * dayBias[d])
                        alpha[u] += lrDrift * (err * deviation[e] - driftRegularization * alpha[u])
                        binBias[b] += lrBin * (err - binRegularization * binBias[b])
                    }
                    let step = lr * err
                    for f in 0..<k {
                        let pf = p[pu + f], qf = q[qi + f], zf = z[f]
                        p[pu + f] = shrink * pf + step * qf
                        q[qi + f] = shrink * qf + step * (pf + zf)
                        z[f] = shrink * zf + step * qf
                        acc[f] = shrink * acc[f] + step * s * qf
                    }
                }
                var scale: Float = 1
                for _ in 0..<n { scale *= shrink }
                for e in range {
                    let j = Int(ratings.itemIndices[e]) * k
                    for f in 0..<k { y[j + f] = scale * y[j + f] + acc[f] }
                }
            }
            history.append((squared / Double(ratings.count)).squareRoot())
            lr *= decay; lrBias *= decay; lrDay *= decay; lrDrift *= decay; lrBin *= decay
        }
        userBias = bu; itemBias = bi; userFactors = p; itemFactors = q; implicitFactors = y
        drift = time ? alpha : []; meanDay = means
        userDayStarts = dayStarts; userDays = days; userDayBias = time ? dayBias : []
        itemBinBias = binBias
        userVectors = p
        for u in 0..<users {
            let range = ratings.entries(ofUser: u)
            guard !range.isEmpty else { continue }
            let s = 1 / Float(range.count).squareRoot()
            for e in range {
                let j = Int(ratings.itemIndices[e]) * k
                for f in 0..<k { userVectors[u * k + f] += s * y[j + f] }
            }
        }
        return history
    }

    /// `sign(t − mean)·|t − mean|^0.4`, the drift feature of timeSVD++.
    static func deviation(day: Int32, mean: Float) -> Float {
        let d = Float(day) - mean
        return d == 0 ? 0 : (d > 0 ? 1 : -1) * Float(pow(Double(abs(d)), 0.4))
    }

    /// The span of the training period that `day` falls in (days outside it fall in the first or last).
    func bin(_ day: Int32) -> Int {
        let width = Int64(lastDay) - Int64(firstDay) + 1
        let offset = min(max(Int64(day) - Int64(firstDay), 0), width - 1)
        return Int(offset * Int64(timeBins) / width)
    }

    /// Predicted rating on `day` (``TimedRatings/day(_:)``; nil: no time effects), clipped to the
    /// training range; an unknown user or item (index −1 or out of range) contributes nothing, so an
    /// unknown pair predicts the global mean.
    public func predict(user: Int, item: Int, day: Int32? = nil) -> Float {
        var r = globalMean
        let knownUser = userBias.indices.contains(user), knownItem = itemBias.indices.contains(item)
        if knownUser { r += userBias[user] }
        if knownItem { r += itemBias[item] }
        if knownUser && knownItem {
            let k = factors
            for f in 0..<k { r += userVectors[user * k + f] * itemFactors[item * k + f] }
        }
        if let day, timeEffects {
            if knownUser {
                r += drift[user] * Self.deviation(day: day, mean: meanDay[user])
                let days = userDays[userDayStarts[user]..<userDayStarts[user + 1]]
                if let slot = days.firstIndex(of: day) { r += userDayBias[slot] }
            }
            if knownItem { r += itemBinBias[item * timeBins + bin(day)] }
        }
        return min(ratingRange.upperBound, max(ratingRange.lowerBound, r))
    }
}
