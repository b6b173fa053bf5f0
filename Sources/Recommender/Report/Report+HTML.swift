import Foundation

extension Report {
    /// The report as one self-contained HTML page: inline CSS and SVG, no script to run, no
    /// network. Each chart is followed by its numbers as a table, and the whole ``Report`` is
    /// embedded as JSON (`<script type="application/json" id="report-data">`) so they can be copied.
    /// Sections without data are left out and named in a note at the top.
    public func html() throws -> String {
        var body = "<h1>\(Chart.escape(title))</h1>"
        var missing = [String]()
        if let data { body += dataSection(data) } else { missing.append("data") }
        if training.isEmpty { missing.append("training") } else { body += trainingSection() }
        if evaluations.isEmpty { missing.append("evaluation") } else { body += evaluationSection() }
        if bench.isEmpty { missing.append("speed (give a bench --json file)") } else { body += speedSection() }
        if samples.isEmpty { missing.append("samples") } else { body += samplesSection() }
        if !missing.isEmpty { body = body.replacingOccurrences(of: "</h1>", with: "</h1><p class=\"note\">Not in this report: \(Chart.escape(missing.joined(separator: ", "))).</p>") }
        let encoder = Self.jsonEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(self), as: UTF8.self).replacingOccurrences(of: "</", with: "<\\/")
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(Chart.escape(title)) — MovieRec report</title>
        <style>\(Self.css)</style></head>
        <body>\(body)
        <script type="application/json" id="report-data">\(json)</script>
        </body></html>
        """
    }

    static let css = """
    body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.4}
    h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}h3{margin-bottom:.3em}
    .charts{display:flex;flex-wrap:wrap;gap:1em}.chart-box{flex:1 1 480px;min-width:320px}
    svg.chart{max-width:100%;height:auto;background:#fff}
    table{border-collapse:collapse;font-size:.85em;margin:.5em 0}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:right}
    td:first-child,th:first-child{text-align:left}details{margin:.3em 0 1em}.note{color:#555}
    @media print{details{display:none}.chart-box{break-inside:avoid}}
    """

    // MARK: - Sections

    private func dataSection(_ d: DataFacts) -> String {
        var out = "<section id=\"data\"><h2>Data</h2><div class=\"charts\">"
        var histogram = Chart(title: "Ratings by star value", yLabel: "ratings", kind: .bars)
        histogram.categories = d.histogram.map(\.label)
        histogram.series = [.init(name: "ratings", points: d.histogram.enumerated().map { (Double($0.offset), Double($0.element.count)) })]
        out += box(histogram, rows: d.histogram.map { [$0.label, "\($0.count)"] }, header: ["stars", "ratings"])
        var activity = Chart(title: "Ratings per user and per movie", xLabel: "ratings (bin start)", yLabel: "users or movies", kind: .lines)
        activity.xScale = .log
        activity.yScale = .log
        activity.series = [.init(name: "users", points: d.ratingsPerUser.map { ($0.value, Double($0.count)) }),
                           .init(name: "movies", points: d.ratingsPerMovie.map { ($0.value, Double($0.count)) })]
        out += box(activity, rows: d.ratingsPerUser.map { ["users with \($0.label)", "\($0.count)"] } + d.ratingsPerMovie.map { ["movies with \($0.label)", "\($0.count)"] },
                   header: ["ratings", "count"])
        if !d.genres.isEmpty {
            var genres = Chart(title: "Genre shares before and after balancing", yLabel: "share of labels", kind: .bars)
            genres.categories = d.genres.map(\.genre)
            genres.series = [.init(name: "before", points: d.genres.enumerated().map { (Double($0.offset), $0.element.before) }),
                             .init(name: "after", points: d.genres.enumerated().map { (Double($0.offset), $0.element.after) })]
            genres.width = 900
            out += box(genres, rows: d.genres.map { [$0.genre, Self.f($0.before), Self.f($0.after)] }, header: ["genre", "before", "after"])
        }
        out += "</div>"
        if !d.kept.isEmpty {
            out += "<h3>What the activity filter kept</h3>" + Self.table(["", "before", "after", "kept"],
                d.kept.map { [$0.what, "\($0.before)", "\($0.after)", String(format: "%.1f %%", 100 * Double($0.after) / Double(max(1, $0.before)))] })
        }
        return out + "</section>"
    }

    private func trainingSection() -> String {
        var out = "<section id=\"training\"><h2>Training</h2><div class=\"charts\">"
        for curve in training {
            var chart = Chart(title: "\(curve.model): loss per \(curve.unit)", xLabel: curve.unit, yLabel: "loss")
            chart.yFromZero = false
            chart.series = [.init(name: "training loss", points: curve.loss.enumerated().map { (Double($0.offset + 1), $0.element) })]
            if let v = curve.validationLoss {
                chart.series.append(.init(name: "validation loss", points: v.enumerated().map { (Double($0.offset + 1), $0.element) }))
            }
            var rows = curve.loss.enumerated().map { ["\($0.offset + 1)", Self.f($0.element)] }
            for (i, v) in (curve.validationLoss ?? []).enumerated() where i < rows.count { rows[i].append(Self.f(v)) }
            out += box(chart, rows: rows, header: [curve.unit, "loss"] + (curve.validationLoss == nil ? [] : ["validation loss"]))
            if let hr = curve.validationHitRate {
                var h = Chart(title: "\(curve.model): validation HR@10 per \(curve.unit)", xLabel: curve.unit, yLabel: "HR@10")
                h.series = [.init(name: "HR@10", points: hr.enumerated().map { (Double($0.offset + 1), $0.element) })]
                out += box(h, rows: hr.enumerated().map { ["\($0.offset + 1)", Self.f($0.element)] }, header: [curve.unit, "HR@10"])
            }
        }
        return out + "</div></section>"
    }

    private func evaluationSection() -> String {
        var out = "<section id=\"evaluation\"><h2>Evaluation</h2>"
        for report in evaluations {
            out += "<h3>\(Chart.escape(report.split)) split: \(report.train) train / \(report.test) test ratings, \(report.items) movies</h3>"
            if let cold = report.coldItems {
                out += Self.table(["model (held-out movies ranked among themselves)", "R@10", "NDCG@10", "AUC"],
                                  cold.map { [$0.model, Self.f($0.metrics.recallAt10.mean), Self.f($0.metrics.ndcgAt10.mean), Self.f($0.metrics.auc.mean)] })
                var chart = Chart(title: "Cold items: Recall@10 by model", yLabel: "Recall@10", kind: .bars)
                chart.categories = cold.map(\.name)
                chart.series = [.init(name: "R@10", points: cold.enumerated().map { (Double($0.offset), $0.element.metrics.recallAt10.mean) })]
                out += "<div class=\"charts\">" + box(chart, rows: [], header: []) + "</div>"
                continue
            }
            let metrics = RankingMetric.allCases
            out += Self.table(["model"] + metrics.map(\.heading) + ["cover", "divers"], report.ranking.map { r in
                [r.model] + metrics.map { Self.f(r.metrics.value($0)) } + [Self.f(r.metrics.coverage), Self.f(r.metrics.diversity)]
            })
            out += "<div class=\"charts\">"
            for (name, pick) in [("Recall", { (c: RankingMetrics.Curves) in c.recall }), ("NDCG", { (c: RankingMetrics.Curves) in c.ndcg })] {
                var chart = Chart(title: "\(name)@K, \(report.split) split", xLabel: "K", yLabel: "\(name)@K")
                chart.series = report.ranking.compactMap { r in
                    r.metrics.curves.map { .init(name: r.name, points: pick($0).enumerated().map { (Double($0.offset + 1), $0.element) }) }
                }
                let ks = [1, 5, 10, 20, 50]
                out += box(chart, rows: report.ranking.map { r in [r.name] + ks.map { k in r.metrics.curves.flatMap { k <= pick($0).count ? Self.f(pick($0)[k - 1]) : nil } ?? "-" } },
                           header: ["model"] + ks.map { "@\($0)" })
            }
            let tradeoffs = report.ranking.filter { !($0.tradeoff ?? []).isEmpty }
            if !tradeoffs.isEmpty {
                var chart = Chart(title: "Accuracy against diversity (MMR λ)", xLabel: "content ILD", yLabel: "NDCG@10")
                chart.series = tradeoffs.map { r in .init(name: r.name, points: (r.tradeoff ?? []).map { ($0.contentDiversity ?? 0, $0.ndcgAt10) }) }
                out += box(chart, rows: tradeoffs.flatMap { r in (r.tradeoff ?? []).map { [r.name, String(format: "%.1f", $0.lambda), Self.f($0.ndcgAt10), Self.f($0.contentDiversity), Self.f($0.coverage)] } },
                           header: ["model", "λ", "NDCG@10", "content ILD", "coverage"])
            }
            out += "</div>"
        }
        return out + "</section>"
    }

    private func speedSection() -> String {
        let steps = bench.map(\.step).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let backends = bench.map(\.backend).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        var chart = Chart(title: "Seconds per step, by backend", yLabel: "seconds", kind: .bars)
        chart.categories = steps
        chart.width = 900
        chart.series = backends.map { b in
            .init(name: b, points: steps.enumerated().map { i, s in (Double(i), bench.first { $0.step == s && $0.backend == b }?.seconds ?? 0) })
        }
        let rows = steps.map { s in [s] + backends.map { b in bench.first { $0.step == s && $0.backend == b }.map { String(format: "%.3f", $0.seconds) } ?? "-" } }
        return "<section id=\"speed\"><h2>Speed</h2><div class=\"charts\">" + box(chart, rows: rows, header: ["step"] + backends) + "</div></section>"
    }

    private func samplesSection() -> String {
        var out = "<section id=\"samples\"><h2>Samples</h2>"
        for s in samples {
            out += "<h3>User \(s.user), \(Chart.escape(s.model))</h3>"
            out += Self.table(["rank", "movie", "score", "why"], s.recommendations.enumerated().map { i, r in
                ["\(i + 1)", "\(r.movieID) \(r.title)", String(format: "%.4f", r.score), r.why]
            })
        }
        return out + "</section>"
    }

    // MARK: - Pieces

    /// A chart and, folded under it, its numbers.
    private func box(_ chart: Chart, rows: [[String]], header: [String]) -> String {
        var out = "<div class=\"chart-box\" data-chart=\"\(Chart.escape(chart.title))\">" + chart.svg()
        if !rows.isEmpty { out += "<details><summary>numbers</summary>" + Self.table(header, rows) + "</details>" }
        return out + "</div>"
    }

    static func table(_ header: [String], _ rows: [[String]]) -> String {
        "<table><thead><tr>" + header.map { "<th>\(Chart.escape($0))</th>" }.joined() + "</tr></thead><tbody>"
            + rows.map { "<tr>" + $0.map { "<td>\(Chart.escape($0))</td>" }.joined() + "</tr>" }.joined() + "</tbody></table>"
    }

    static func f(_ x: Double?) -> String { x.map { String(format: "%.4f", $0) } ?? "-" }
}
