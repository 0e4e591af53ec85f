// The evaluation functions of the C ABI: zero-shot class embeddings, and `clip eval`'s tasks with their
// result JSON (include/clipcore.h, "Evaluation").

import CClipABI
import Foundation
import Tensor
import Models
import Evaluation

@_cdecl("clip_zeroshot_weights")
public func clip_zeroshot_weights(_ model: OpaquePointer?, _ classNames: UnsafePointer<UnsafePointer<CChar>?>?, _ nClasses: Int64,
                                  _ templates: UnsafePointer<UnsafePointer<CChar>?>?, _ nTemplates: Int64,
                                  _ out: UnsafeMutablePointer<Float>?) -> Int32 {
    guarded("clip_zeroshot_weights") {
        let m = try lookup(model, ModelHandle.self, "model")
        let names = try strings(classNames, try count(nClasses, "n_classes"), "class_names")
        let prompts: PromptTemplates
        if templates == nil && nTemplates == 0 {
            prompts = .openAIImageNet
        } else {
            prompts = try PromptTemplates(try strings(templates, try count(nTemplates, "n_templates"), "templates"), name: "templates")
        }
        guard let out else { throw invalid("out is NULL") }
        let classifier = try m.run { try ZeroShotClassifier(pipeline: m.pipeline, classNames: names, templates: prompts) }
        copyRows(classifier.weights, to: out)
        return statusOK
    }
}

/// This thread's last result of clip_evaluate.
private let evaluateKey = stringKey()

@_cdecl("clip_evaluate")
public func clip_evaluate(_ model: OpaquePointer?, _ task: UnsafePointer<CChar>?, _ dataset: UnsafePointer<CChar>?,
                          _ optionsJSON: UnsafePointer<CChar>?, _ outJSON: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32 {
    outJSON?.pointee = nil
    return guarded("clip_evaluate") {
        let m = try lookup(model, ModelHandle.self, "model")
        guard let outJSON else { throw invalid("out_json is NULL") }
        guard let task else { throw invalid("task is NULL") }
        guard let dataset else { throw invalid("dataset is NULL") }
        let name = String(cString: task)
        guard let t = EvaluationTask(rawValue: name) else {
            throw invalid("task: zeroshot, linear-probe, knn, cluster or retrieval, got '\(name)'")
        }
        let path = String(cString: dataset)
        let options = try evaluationOptions(optionsJSON.map { String(cString: $0) }, dataset: path)
        let result = try m.run { try Evaluator(pipeline: m.pipeline, dataset: path, options: options).run(t) }
        guard let copy = strdup(result.json()) else { throw ClipError(.outOfMemory, "no memory for the result") }
        free(pthread_getspecific(evaluateKey))
        pthread_setspecific(evaluateKey, copy)
        outJSON.pointee = UnsafePointer(copy)
        return statusOK
    }
}

/// The options object of clip_evaluate.
func evaluationOptions(_ json: String?, dataset: String) throws -> EvaluationOptions {
    var o = EvaluationOptions()
    guard let json else { return o }
    guard let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] else {
        throw invalid("options_json: not a JSON object")
    }
    let known: Set<String> = ["templates", "classnames", "split", "cache", "seed", "dataset_name"]
    if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
        throw invalid("options_json: unknown key '\(unknown)' (known: \(known.sorted().joined(separator: ", ")))")
    }
    func string(_ key: String) throws -> String? {
        guard let v = object[key] else { return nil }
        guard let s = v as? String else { throw invalid("options_json: '\(key)' must be a string") }
        return s
    }
    o.datasetName = try string("dataset_name")
    if let t = try string("templates") { o.templates = try PromptTemplates.named(t, key: o.datasetName ?? (dataset as NSString).lastPathComponent) }
    o.classNamesFile = try string("classnames")
    o.split = try string("split")
    if let c = try string("cache") { o.cache = FeatureCache(root: c) }
    if let v = object["seed"] {
        guard let n = v as? Int, n >= 0 else { throw invalid("options_json: 'seed' must be a non-negative integer") }
        o.linearProbe.seed = UInt64(n)
        o.clustering.seed = Int64(n)
    }
    return o
}
