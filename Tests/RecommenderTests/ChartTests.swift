import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import LinearAlgebra
import MovieLens
import Testing
@testable import Recommender

/// Parses `svg` as XML; returns the element names seen and the parse error, if any.
private func parse(_ svg: String) -> (elements: [String], error: String?) {
    final class Collector: NSObject, XMLParserDelegate {
        var elements = [String]()
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) { elements.append(name) }
    }
    let parser = XMLParser(data: Data(svg.utf8))
    let collector = Collector()
    parser.delegate = collector
    let ok = parser.parse()
    return (collector.elements, ok ? nil : "\(parser.parserError.map { "\($0)" } ?? "unknown")")
}

@Suite("SVG charts")
struct ChartTests {
    @Test("nice ticks: steps of 1, 2 or 5 × 10ᵏ covering the data; log ticks by decades")
    func ticks() {
        let t = Axis.niceTicks(low: 0, high: 0.27, count: 5)
        #expect(t.count == 7 && zip(t, [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3]).allSatisfy { abs($0 - $1) < 1e-12 }, "\(t)")
        #expect(Axis.niceTicks(low: 0, high: 100, count: 5) == [0, 20, 40, 60, 80, 100])
        #expect(Axis.niceTicks(low: -3, high: 7, count: 5) == [-4, -2, 0, 2, 4, 6, 8])
        #expect(Axis.logTicks(low: 1, high: 100) == [1, 2, 5, 10, 20, 50, 100])
        #expect(Axis.logTicks(low: 1, high: 10_000) == [1, 10, 100, 1000, 10_000])
        let log = Axis(values: [3, 4000], scale: .log, includeZero: false)
        #expect(log.low == 1 && log.high == 10_000 && log.fraction(100) == 0.5)
        // One value: the axis is padded around it; zero alone gives [0, 1].
        let one = Axis(values: [3], scale: .linear, includeZero: false)
        #expect(one.low < 3 && one.high > 3 && abs(one.fraction(3) - 0.5) < 0.2)
        let zero = Axis(values: [0, 0], scale: .linear, includeZero: true)
        #expect(zero.low == 0 && zero.high >= 1 && zero.fraction(0) == 0)
    }

    @Test("every chart parses as XML with a title, a description and one mark per point; labels are escaped")
    func wellFormed() {
        var lines = Chart(title: "Recall@K <all> & \"more\"", xLabel: "K", yLabel: "Recall")
        lines.series = [.init(name: "EASE & co", points: (1...50).map { (Double($0), Double($0) / 200) }),
                        .init(name: "ALS", points: (1...50).map { (Double($0), Double($0) / 250) })]
        var bars = Chart(title: "Genre shares", yLabel: "share", kind: .bars)
        bars.categories = ["Drama", "Comedy", "Sci-Fi"]
        bars.series = [.init(name: "before", points: [(0, 0.3), (1, 0.25), (2, 0.05)]),
                       .init(name: "after", points: [(0, 0.2), (1, 0.2), (2, 0.1)])]
        var loglog = Chart(title: "Ratings per user", xLabel: "ratings", yLabel: "users", kind: .points)
        loglog.xScale = .log
        loglog.yScale = .log
        loglog.series = [.init(name: "users", points: [(20, 5000), (100, 800), (1000, 12), (5000, 1)])]
        for (chart, marks) in [(lines, 100), (bars, 6), (loglog, 4)] {
            let svg = chart.svg()
            let (elements, error) = parse(svg)
            #expect(error == nil, "\(chart.title): \(error ?? "")")
            #expect(elements.first == "svg" && elements.contains("title") && elements.contains("desc"))
            #expect(elements.filter { $0 == "circle" || $0 == "rect" }.count >= marks)
        }
        #expect(lines.svg().contains("Recall@K &lt;all&gt; &amp; &quot;more&quot;") && lines.svg().contains("EASE &amp; co"))
        #expect(parse(lines.svg()).elements.filter { $0 == "polyline" }.count == 2)
        // A title wider than the chart is cut with an ellipsis on the chart; its <title> keeps it whole.
        let long = "sasrec, loo split's train part: loss per epoch (d 64, 2×2 heads, windows of 200 every 199, 40 epochs, sampled softmax)"
        var wide = Chart(title: long)
        wide.series = [.init(name: "loss", points: [(1, 5.4)])]
        let svg = wide.svg()
        let shown = svg.components(separatedBy: "font-weight=\"bold\">").dropFirst().first?.components(separatedBy: "</text>").first?
            .replacingOccurrences(of: "&#39;", with: "'") ?? ""
        #expect(svg.contains("<title>\(Chart.escape(long))</title>") && shown.hasSuffix("…"))
        #expect(Double(shown.count) * 8 <= Double(wide.width) - 16 && long.hasPrefix(String(shown.dropLast())), "\(shown)")
    }

    @Test("degenerate data renders sensibly: no data, one point, a metric of zero, a log axis over [0, x]")
    func degenerate() {
        let empty = Chart(title: "nothing yet")
        #expect(empty.svg().contains("no data") && parse(empty.svg()).error == nil)
        var one = Chart(title: "one point", xLabel: "epoch", yLabel: "loss")
        one.series = [.init(name: "loss", points: [(1, 6.2)])]
        #expect(parse(one.svg()).error == nil && parse(one.svg()).elements.contains("circle"))
        var zeros = Chart(title: "MRR", kind: .bars)
        zeros.categories = ["content"]
        zeros.series = [.init(name: "MRR", points: [(0, 0)])]
        let z = zeros.svg()
        #expect(parse(z).error == nil && !z.contains("nan") && !z.contains("inf"))
        var log = Chart(title: "per movie", xLabel: "ratings", yLabel: "movies")
        log.xScale = .log
        log.series = [.init(name: "movies", points: [(0, 300), (1, 120), (10, 30), (.nan, 1)])]
        let l = log.svg()
        #expect(parse(l).error == nil && l.contains("2 points left out"))
        #expect(parse(l).elements.filter { $0 == "circle" }.count == 2)
        #expect(!l.contains("nan") && !l.contains("inf"))
    }
}

@Suite("Recall@K and NDCG@K curves")
struct CurveTests {
    @Test("the curves at 10 and 20 are the metrics at 10 and 20; a user with no relevant movie is skipped")
    func curves() {
        var g = SeededGenerator(seed: 2)
        let ranked = (0..<40).map { _ in (0..<50).map { _ in Int(g.next() % 80) } }
        let relevant = (0..<40).map { u in u % 7 == 0 ? Set<Int>() : Set((0..<Int(g.next() % 12 + 1)).map { _ in Int(g.next() % 80) }) }
        let m = RankingMetrics(ranked: ranked, relevant: relevant)
        let c = m.curves
        #expect(c?.recall.count == 50 && c?.ndcg.count == 50)
        #expect(abs((c?.recall[9] ?? 0) - m.recallAt10) < 1e-12 && abs((c?.recall[19] ?? 0) - m.recallAt20) < 1e-12)
        #expect(abs((c?.ndcg[9] ?? 0) - m.ndcgAt10) < 1e-12)
        #expect(zip(c?.recall ?? [], (c?.recall ?? []).dropFirst()).allSatisfy { $0 <= $1 })
    }
}

@Suite("HTML report")
struct ReportTests {
    @Test("every section with data renders, each chart parses as XML, the numbers are the JSON's, missing sections are named")
    func page() throws {
        let (ratings, movies, content) = try HybridTests.twoTastes()
        var suite = EvaluationSuite()
        suite.models = ["popularity", "content"]
        suite.ratingPrediction = false
        let evaluation = try suite.run(on: TrainingData(ratings: ratings, movies: movies, content: content, prepared: false), kernels: allKernels[0])
        let model = try TrainedModel.train(ContentRecommender.self, ratings: ratings, movies: movies, content: content, kernels: allKernels[0])
        var report = Report(title: "tiny <test>")
        report.data = Report.dataFacts(seen: model.seen, preparation: nil)
        report.evaluations = [evaluation]
        report.training = [.init(model: "ALS", unit: "iteration", loss: [0.9, 0.5, 0.4], validationLoss: nil, validationHitRate: nil)]
        let page = try report.html()
        #expect(page.hasPrefix("<!DOCTYPE html>") && page.contains("<title>tiny &lt;test&gt; — MovieRec report</title>"))
        for section in ["data", "training", "evaluation"] { #expect(page.contains("<section id=\"\(section)\"")) }
        #expect(page.contains("Not in this report: speed (give a bench --json file), samples."))
        // Every chart is well-formed XML on its own.
        var rest = Substring(page), charts = 0
        while let start = rest.range(of: "<svg"), let end = rest.range(of: "</svg>", range: start.upperBound..<rest.endIndex) {
            #expect(parse(String(rest[start.lowerBound..<end.upperBound])).error == nil)
            charts += 1
            rest = rest[end.upperBound...]
        }
        #expect(charts == 6)   // histogram, activity, loss, Recall@K, NDCG@K, the content model's diversity trade-off
        // The tables carry the JSON's numbers.
        let ndcg = try #require(evaluation.ranking.first { $0.name == "popularity" }?.metrics.ndcgAt10)
        #expect(page.contains(">\(String(format: "%.4f", ndcg))<"))
        let json = try #require(page.range(of: "<script type=\"application/json\" id=\"report-data\">"))
        let tail = page[json.upperBound...]
        let body = String(tail[..<(tail.range(of: "</script>")?.lowerBound ?? tail.endIndex)]).replacingOccurrences(of: "<\\/", with: "</")
        let back = try Report.jsonDecoder().decode(Report.self, from: Data(body.utf8))
        #expect(back.evaluations.first?.ranking.map(\.metrics.ndcgAt10) == evaluation.ranking.map(\.metrics.ndcgAt10))
        #expect(back.data?.histogram == report.data?.histogram)
    }
}

@Suite("the pipeline's report")
struct PipelineReportTests {
    @Test("a run's report carries the loss curve of each model fitted on an evaluation split's train part")
    func evaluationCurves() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var generator = SyntheticMovieLens(preset: .small, seed: 3)
        generator.includeGenome = false
        _ = try generator.write(to: folder.appendingPathComponent("data"))
        var pipeline = Pipeline()
        pipeline.models = []
        pipeline.sampleUsers = 0
        var suite = EvaluationSuite()
        suite.models = [EvaluationSuite.popularity, ImplicitALS.name]
        suite.options.factors = 8
        suite.options.iterations = 3
        suite.ratingPrediction = false
        suite.diversityTradeoff = []
        pipeline.evaluations = [suite]
        let result = try pipeline.run(data: folder.appendingPathComponent("data"), out: folder.appendingPathComponent("out"),
                                      kernels: allKernels[0])
        // No model was trained in the run itself: the one curve is ALS's on the temporal split's train part.
        #expect(result.report.training.map(\.model) == ["als, temporal split's train part"])
        #expect(result.report.training.first?.loss.count == 3 && result.report.training.first?.unit == "iteration")
    }
}
