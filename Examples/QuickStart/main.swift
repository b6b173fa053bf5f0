// The README's library example, built with the package so that it cannot drift from the API:
//     swift run -c release QuickStartExample        (from the repository root: it reads data/)
import Foundation
import LinearAlgebra
import MovieLens
import Recommender

let kernels = try Backend.default.makeKernels()                     // or Backend.swift.makeKernels(threads: 1)
let data = try TrainingData.load(from: URL(fileURLWithPath: "data/ml-latest-small"), content: true, kernels: kernels)
let model = try TrainedModel.train(HybridRecommender.self, ratings: data.ratings, movies: data.movies,
                                   content: data.content, kernels: kernels)
let top = try model.recommend(user: 1, k: 5, movie: 296)             // [Recommendation]: id, title, score, parts, because of
print(top.map(\.title))
var nineties = ItemFilter()                                           // applied before the top k
nineties.genres = ["Comedy"]
nineties.years = 1990...1999
let early = try model.recommend(user: 1, k: 5, filter: nineties, diversity: 0.3)   // MMR over content
print(early.map { $0.explanation?.summary(because: $0.becauseOf.map(model.title)) ?? "" })
let many = try model.recommend(users: [1, 2, 3], k: 10, kernels: kernels)
let newcomer = try model.recommend(try model.query(ratings: [(296, 5), (318, 4.5)]), count: 10)
let alike = try model.similarItems(1, k: 10)
print(early.count, many.count, newcomer.first?.title ?? "-", alike.first?.title ?? "-")
try model.save(to: URL(fileURLWithPath: "/tmp/hybrid.model"))       // TrainedModel.load(from:)
try BatchExport(count: 10).write(model, to: URL(fileURLWithPath: "/tmp/recs.csv"), kernels: kernels)

var suite = EvaluationSuite()                                         // what `movierec evaluate` runs
suite.models = ["popularity", "als", "ease"]
for row in try suite.run(on: data, kernels: kernels).ranking { print(row.model, row.metrics.ndcgAt10) }

let timed = TimedRatings(data.ratings, users: IDMap(data.ratings.userIDs), items: IDMap(data.ratings.movieIDs))
var blend = RatingBlend(members: [BiasBaseline(), ExplicitALS(), SVDPlusPlus()], probe: .temporal)
try blend.fit(timed, kernels: kernels)                               // blend.weights, blend.probeRMSE
let stars = blend.predict(user: 0, item: 0, day: TimedRatings.day(1_700_000_000))
print(blend.label, stars)
