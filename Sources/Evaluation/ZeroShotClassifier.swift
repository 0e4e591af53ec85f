// Zero-shot classification: each class is the normalised mean of its prompts' text embeddings, and an
// image's class scores are cosine similarities with them (CLIP's prompt ensemble, as open_clip's
// `build_zero_shot_classifier` and CLIP_benchmark compute it).

import Foundation
import Tensor
import Models

/// Class embeddings `[classes, d]` (L2-normalised rows) built from class names and prompt templates.
public struct ZeroShotClassifier: @unchecked Sendable {
    public let classNames: [String]
    public let templates: PromptTemplates
    public let weights: Tensor

    /// Encodes every class's prompts with `pipeline`'s text tower. `progress(classesDone)` is called
    /// after each chunk of classes.
    /// - Throws: `ClipError.unsupported` for a text-only model (zero-shot needs image embeddings too),
    ///   `.invalidArgument` for no classes or an empty class name.
    public init(pipeline: ImageTextPipeline, classNames: [String], templates: PromptTemplates,
                progress: (Int) -> Void = { _ in }) throws {
        try pipeline.requireImageTower()
        guard !classNames.isEmpty else { throw ClipError.invalidArgument("zero-shot: no class names") }
        if let bad = classNames.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw ClipError.invalidArgument("zero-shot: class \(bad) has an empty name")
        }
        let t = templates.templates.count, d = pipeline.model.embeddingDim
        var parts: [Tensor] = []
        let chunk = max(1, 512 / t)
        for start in stride(from: 0, to: classNames.count, by: chunk) {
            let range = start..<min(start + chunk, classNames.count)
            let emb = try pipeline.encode(texts: range.flatMap { templates.prompts(for: classNames[$0]) })
            parts.append(emb.contiguous().reshaped([range.count, t, d]).mean(axis: 1).l2Normalized(axis: 1))
            progress(range.upperBound)
        }
        self.classNames = classNames
        self.templates = templates
        weights = Tensor.concat(parts, axis: 0)
    }

    /// A classifier from class embeddings computed elsewhere (rows are normalised here).
    public init(classNames: [String], templates: PromptTemplates, weights: Tensor) throws {
        guard weights.rank == 2, weights.shape[0] == classNames.count else {
            throw ClipError.shape("zero-shot: expected [\(classNames.count), d] class embeddings, got \(weights.shape)")
        }
        self.classNames = classNames
        self.templates = templates
        self.weights = weights.l2Normalized(axis: 1)
    }

    /// Cosine similarities `[n, classes]` of normalised image embeddings `[n, d]` with the classes.
    /// - Throws: `ClipError.shape` for another embedding width.
    public func scores(_ images: Tensor) throws -> Tensor {
        guard images.rank == 2, images.shape[1] == weights.shape[1] else {
            throw ClipError.shape("zero-shot: image embeddings \(images.shape) do not match the class embeddings' width \(weights.shape[1])")
        }
        return images.matmul(weights.transposed())
    }

    /// CLIP_benchmark's zero-shot metrics on labelled image embeddings.
    public func evaluate(_ test: LabelledFeatures) throws -> ClassificationScores {
        guard test.classCount == classNames.count else {
            throw ClipError.invalidArgument("zero-shot: the features have \(test.classCount) classes, the classifier \(classNames.count)")
        }
        return try ClassificationScores(scores: try scores(test.features), labels: test.labels)
    }
}
