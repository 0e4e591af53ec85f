// Result files in CLIP_benchmark's format, read back (ours and CLIP_benchmark's own), and the summary table.

import Testing
import Foundation
import Tensor
import Evaluation
import TestSupport

struct EvaluationResultTests {
    @Test func jsonRoundTripsAndIsCLIPBenchmarkShaped() throws {
        let s = try ScratchFolder("eval-result")
        defer { s.remove() }
        var r = EvaluationResult(dataset: "cars", model: "runs/m", task: "zeroshot_classification",
                                 metrics: [("acc1", 0.625), ("acc5", nil), ("mean_per_class_recall", 0.1 + 0.2)],
                                 details: [("templates", "\"one\"")])
        try r.write(to: s.path + "/a.json")
        let o = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: s.path + "/a.json"))) as? [String: Any])
        #expect(Set(o.keys) == ["dataset", "model", "pretrained", "task", "metrics", "language", "details"])
        let m = try #require(o["metrics"] as? [String: Any])
        #expect(m["acc5"] is NSNull)
        #expect(String(describing: m["mean_per_class_recall"]!) == "\(0.1 + 0.2)")   // shortest round-trip digits
        let back = try EvaluationResult.read(s.path + "/a.json")
        #expect(back.metric("mean_per_class_recall") == 0.1 + 0.2 && back.metric("acc5") == nil && back.task == r.task)

        // A CLIP_benchmark file (no details, a pretrained tag) reads too; a file of another kind is skipped.
        try #"{"dataset": "cifar10", "model": "ViT-B-32", "pretrained": "openai", "task": "zeroshot_classification", "metrics": {"acc1": 0.8983, "acc5": 0.9955, "mean_per_class_recall": 0.8982}, "language": "en"}"#
            .write(toFile: s.path + "/b.json", atomically: true, encoding: .utf8)
        try #"{"hello": 1}"#.write(toFile: s.path + "/c.json", atomically: true, encoding: .utf8)
        r.task = "linear_probe"
        r.metrics = [("acc1", 0.75), ("lambda_note", 2)]
        try r.write(to: s.path + "/d.json")
        let (results, skipped) = try EvaluationSummary.collect(s.path)
        #expect(results.count == 3 && skipped == ["c.json"])
        let csv = EvaluationSummary.csv(results).split(separator: "\n").map(String.init)
        #expect(csv[0] == "dataset,model,task,acc1,acc5,mean_per_class_recall,lambda_note")
        #expect(csv[1] == "cars,runs/m,linear_probe,0.7500,,,2.0000")
        #expect(csv[2] == "cars,runs/m,zeroshot_classification,0.6250,nan,0.3000,")
        #expect(csv[3] == "cifar10,ViT-B-32 (openai),zeroshot_classification,0.8983,0.9955,0.8982,")
        let md = EvaluationSummary.markdown(results).split(separator: "\n")
        #expect(md.count == 5 && md[1] == "|---|---|---|---:|---:|---:|---:|")
        #expect(throws: ClipError.self) { try EvaluationSummary.collect(s.path + "/none") }
    }

    @Test func promptTemplates() throws {
        #expect(PromptTemplates.openAIImageNet.templates.count == 80)
        #expect(PromptTemplates.openAIImageNet.templates.first == "a bad photo of a {c}.")
        #expect(PromptTemplates.openAIImageNet.templates.last == "a tattoo of the {c}.")
        #expect(Set(PromptTemplates.openAIImageNet.templates).count == 80)
        #expect(PromptTemplates.one.prompts(for: "dog") == ["a photo of a dog."])
        #expect(try PromptTemplates(["{} here", "x {c} {c}"], name: "t").prompts(for: "cat") == ["cat here", "x cat cat"])
        #expect(throws: ClipError.self) { try PromptTemplates(["no slot"], name: "t") }
        #expect(throws: ClipError.self) { try PromptTemplates([], name: "t") }
        let s = try ScratchFolder("templates")
        defer { s.remove() }
        try "itap of a {c}.\n\na {c}\n".write(toFile: s.path + "/t.txt", atomically: true, encoding: .utf8)
        #expect(try PromptTemplates.named(s.path + "/t.txt").templates == ["itap of a {c}.", "a {c}"])
        try #"{"cars": ["a photo of a {c}, a type of car."]}"#.write(toFile: s.path + "/t.json", atomically: true, encoding: .utf8)
        #expect(try PromptTemplates.named(s.path + "/t.json", key: "cars").templates == ["a photo of a {c}, a type of car."])
        #expect(throws: ClipError.self) { try PromptTemplates.named(s.path + "/t.json", key: "pets") }
        #expect(throws: ClipError.self) { try PromptTemplates.named(s.path + "/missing.txt") }
        #expect(try PromptTemplates.named("one") == .one)
    }
}
