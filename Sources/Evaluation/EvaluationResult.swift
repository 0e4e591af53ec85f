// One evaluation run's result in CLIP_benchmark's file format,
//   {"dataset": …, "model": …, "pretrained": …, "task": …, "metrics": {…}, "language": "en"},
// with a "details" object of our own (the settings and choices behind the numbers), and the summary of
// many such files as one CSV or Markdown table.

import Foundation
import Tensor

public struct EvaluationResult: Sendable {
    public var dataset: String
    public var model: String
    /// CLIP_benchmark's task name: `zeroshot_classification`, `linear_probe`, `knn_classification`,
    /// `clustering`, `zeroshot_retrieval`.
    public var task: String
    /// Metric names and values in report order; nil is written as null (CLIP_benchmark's NaN, such as
    /// top-5 accuracy with fewer than five classes).
    public var metrics: [(name: String, value: Double?)]
    /// Settings and choices as JSON values (`"templates": "\"one\""`, `"lambda": "0.001"`), in order.
    public var details: [(name: String, json: String)]
    public var language = "en"

    public init(dataset: String, model: String, task: String, metrics: [(name: String, value: Double?)],
                details: [(name: String, json: String)] = []) {
        self.dataset = dataset
        self.model = model
        self.task = task
        self.metrics = metrics
        self.details = details
    }

    public func metric(_ name: String) -> Double? { metrics.first { $0.name == name }?.value ?? nil }

    public func json() -> String {
        let m = metrics.map { "    \(JSONText.quoted($0.name)): \(Self.number($0.value))" }.joined(separator: ",\n")
        var out = "{\n  \"dataset\": \(JSONText.quoted(dataset)),\n  \"model\": \(JSONText.quoted(model)),\n  \"pretrained\": \"\",\n"
            + "  \"task\": \(JSONText.quoted(task)),\n  \"metrics\": {\n\(m)\n  },\n  \"language\": \(JSONText.quoted(language))"
        if !details.isEmpty {
            out += ",\n  \"details\": {\n" + details.map { "    \(JSONText.quoted($0.name)): \($0.json)" }.joined(separator: ",\n") + "\n  }"
        }
        return out + "\n}\n"
    }

    /// Writes `json()` to `path` in one step (the file is never partial).
    public func write(to path: String) throws { try AtomicFile.write(json(), to: path) }

    static func number(_ v: Double?) -> String {
        guard let v, v.isFinite else { return "null" }
        return "\(v)"
    }

    /// Reads a result file (ours, or CLIP_benchmark's own).
    /// - Throws: `ClipError.io` / `.format` naming the file and what is missing.
    public static func read(_ path: String) throws -> EvaluationResult {
        guard let data = FileContents.read(atPath: path) else { throw ClipError.io("\(path): cannot read the file") }
        let o = try JSONText.object(data, file: path)
        guard let dataset = o["dataset"] as? String, let model = o["model"] as? String, let task = o["task"] as? String,
              let metrics = o["metrics"] as? [String: Any] else {
            throw ClipError.format("\(path): not an evaluation result (needs dataset, model, task and metrics)")
        }
        // JSONDecoder reads the numbers exactly (JSONSerialization may round the last digit).
        let exact = (try? JSONDecoder().decode(MetricsOnly.self, from: data))?.metrics
        let values = metrics.keys.sorted().map { k -> (name: String, value: Double?) in
            (k, exact?[k] ?? (metrics[k] as? NSNumber)?.doubleValue)
        }
        let pretrained = (o["pretrained"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        var r = EvaluationResult(dataset: dataset, model: pretrained.map { "\(model) (\($0))" } ?? model, task: task, metrics: values)
        r.language = o["language"] as? String ?? "en"
        return r
    }
}

private struct MetricsOnly: Decodable {
    let metrics: [String: Double?]
}

/// Many results as one table: a row per (dataset, model, task), a column per metric name.
public enum EvaluationSummary {
    /// The `*.json` result files in `folder` (not recursive), sorted by name; files that are not results
    /// are skipped and listed in `skipped`.
    public static func collect(_ folder: String) throws -> (results: [EvaluationResult], skipped: [String]) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw ClipError.io("\(folder): cannot list the folder")
        }
        var results: [EvaluationResult] = [], skipped: [String] = []
        for name in names.filter({ $0.lowercased().hasSuffix(".json") }).sorted() {
            if let r = try? EvaluationResult.read(folder + "/" + name) { results.append(r) } else { skipped.append(name) }
        }
        guard !results.isEmpty else { throw ClipError.invalidArgument("\(folder): no evaluation result files (*.json)") }
        return (results, skipped)
    }

    static func table(_ results: [EvaluationResult]) -> (header: [String], rows: [[String]]) {
        var columns: [String] = []
        for r in results { for m in r.metrics where !columns.contains(m.name) { columns.append(m.name) } }
        columns.sort { columnOrder($0) < columnOrder($1) }
        let sorted = results.sorted { ($0.dataset, $0.model, $0.task) < ($1.dataset, $1.model, $1.task) }
        let rows = sorted.map { r in
            [r.dataset, r.model, r.task] + columns.map { c in
                guard let m = r.metrics.first(where: { $0.name == c }) else { return "" }
                return m.value.map { String(format: "%.4f", $0) } ?? "nan"
            }
        }
        return (["dataset", "model", "task"] + columns, rows)
    }

    /// Columns in a reading order (result files keep no key order): classification accuracies, k-NN's by k,
    /// clustering, retrieval recalls by direction and k, then the rest by name.
    static func columnOrder(_ name: String) -> (Int, Int, Int, String) {
        let base = ["acc1", "acc5", "mean_per_class_recall"]
        func number(after marker: String) -> Int {
            guard let r = name.range(of: marker) else { return 0 }
            return Int(name[r.upperBound...].prefix { $0.isNumber }) ?? 0
        }
        if let i = base.firstIndex(of: name) { return (0, 0, i, name) }
        if name.hasPrefix("k"), let cut = name.firstIndex(of: "_"), Int(name[name.index(after: name.startIndex)..<cut]) != nil,
           let i = base.firstIndex(of: String(name[name.index(after: cut)...])) {
            return (1, number(after: "k"), i, name)
        }
        if let i = ["nmi", "ami"].firstIndex(of: name) { return (2, 0, i, name) }
        for (g, prefix) in ["image_retrieval_recall@", "text_retrieval_recall@"].enumerated() where name.hasPrefix(prefix) {
            return (3 + g, number(after: "@"), 0, name)
        }
        return (5, 0, 0, name)
    }

    /// RFC 4180 CSV (fields with commas, quotes or line breaks quoted).
    public static func csv(_ results: [EvaluationResult]) -> String {
        let t = table(results)
        func field(_ s: String) -> String {
            s.contains(where: { ",\"\n\r".contains($0) }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        return ([t.header] + t.rows).map { $0.map(field).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }

    /// A GitHub Markdown table (`|` in names escaped).
    public static func markdown(_ results: [EvaluationResult]) -> String {
        let t = table(results)
        func cell(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|") }
        var lines = ["| " + t.header.map(cell).joined(separator: " | ") + " |",
                     "|" + t.header.enumerated().map { $0.offset < 3 ? "---" : "---:" }.joined(separator: "|") + "|"]
        lines += t.rows.map { "| " + $0.map(cell).joined(separator: " | ") + " |" }
        return lines.joined(separator: "\n") + "\n"
    }
}
