// ProtoCLIP's prototype loss (Chen, Wu, Liu, Yang, Huang, Bao, Zhou, "Prototypical Contrastive
// Language Image Pretraining", 2022), after `ProtoLoss` and its use in megvii-research/protoclip's
// `train.py`.

import Tensor
import Autograd

/// Prototype-level discrimination between the image tower (`student`) and the text tower
/// (`teacher`). A trainer clusters an episode's image and text features (k-means, e.g. the `Search`
/// layer's) and hands the K centroids of each modality to `setPrototypes`; they stay until the next
/// episode. In a batch, rows are L2-normalised and each sample's cluster is its nearest prototype
/// (L2) of its own modality. Image→text: cross-entropy of `logitScale`·î T_imgᵀ against the text
/// cluster of the pair, one-hot or, with `targetTemperature` τ, softmax(P_txt[label] P_txtᵀ / τ);
/// text→image likewise; the loss is their mean. T_img is the text prototypes, or with Prototypical
/// Back Translation the image-space centroids of the text clusters (`imageTargets`,
/// `backTranslated`); symmetrically for text. Both inputs get gradients.
///
/// Not reproduced here: the learnable prototype logit scale (a fixed setting, default 1/0.07 as its
/// initial value), the clustering itself, cluster labels fixed at the episode's start (they are
/// recomputed per batch from the current features), the external-teacher prototypes, and the
/// InfoNCE term ProtoCLIP adds (a separate loss).
public final class ProtoCLIP: StatefulDistillationLoss {
    public var logitScale: Float
    /// nil: one-hot targets (the released code's default `--target-temperature -1`).
    public var targetTemperature: Float?
    public private(set) var imagePrototypes: Tensor?
    public private(set) var textPrototypes: Tensor?
    public private(set) var imageTargets: Tensor?
    public private(set) var textTargets: Tensor?

    public init(logitScale: Float = 1 / 0.07, targetTemperature: Float? = nil) {
        self.logitScale = logitScale
        self.targetTemperature = targetTemperature
    }

    public var name: String { DistillationLossKind.protoclip.rawValue }
    public var isOneDirectional: Bool { false }
    public var needsEqualDimensions: Bool { false }

    /// Sets an episode's prototypes: `image` `[K, di]`, `text` `[K, dt]` (k-means centroids) and, for
    /// back translation, `imageTargets` `[K, di]` (the image features' centroids over the text
    /// clusters) and `textTargets` `[K, dt]`. Without targets the image is scored against the text
    /// prototypes and the other way round, which needs di = dt.
    /// - Throws: `ClipError.shape` when the shapes do not fit together.
    public func setPrototypes(image: Tensor, text: Tensor, imageTargets: Tensor? = nil, textTargets: Tensor? = nil) throws {
        guard image.rank == 2, text.rank == 2, image.shape[0] >= 1, image.shape[0] == text.shape[0],
              image.shape[1] >= 1, text.shape[1] >= 1 else {
            throw ClipError.shape("\(name): prototypes must be [K, dim] matrices with one K, got image \(image.shape) and text \(text.shape)")
        }
        guard (imageTargets == nil) == (textTargets == nil) else {
            throw ClipError.invalidArgument("\(name): back translation needs both imageTargets and textTargets")
        }
        let ti = imageTargets ?? text, tt = textTargets ?? image
        guard ti.shape == image.shape, tt.shape == text.shape else {
            throw ClipError.shape("\(name): image targets \(ti.shape) must be shaped as the image prototypes \(image.shape) "
                                  + "and text targets \(tt.shape) as the text prototypes \(text.shape)"
                                  + (imageTargets == nil ? " (without back translation the dimensions must agree)" : ""))
        }
        imagePrototypes = LossState.copy(image)
        textPrototypes = LossState.copy(text)
        self.imageTargets = LossState.copy(ti)
        self.textTargets = LossState.copy(tt)
    }

    /// Prototypical Back Translation: the mean of `features` `[m, d]` over each of `count` clusters of
    /// the other modality (`assignments`, one per row), `[count, d]`, zero for an empty cluster.
    /// - Throws: `ClipError.shape` / `.invalidArgument` for mismatched rows or labels out of range.
    public static func backTranslated(features: Tensor, assignments: [Int], count: Int) throws -> Tensor {
        guard features.rank == 2, features.shape[0] == assignments.count else {
            throw ClipError.shape("protoclip: back translation needs [m, d] features and m assignments, got \(features.shape) and \(assignments.count)")
        }
        guard count >= 1, assignments.allSatisfy({ (0..<count).contains($0) }) else {
            throw ClipError.invalidArgument("protoclip: assignments must lie in 0..<\(count)")
        }
        let d = features.shape[1]
        let x = features.contiguous()
        var sums = [Double](repeating: 0, count: count * d)
        var members = [Int](repeating: 0, count: count)
        for (i, a) in assignments.enumerated() {
            members[a] += 1
            for j in 0..<d { sums[a * d + j] += Double(x.data[i * d + j]) }
        }
        let out = Tensor.zeros([count, d])
        for a in 0..<count where members[a] > 0 {
            for j in 0..<d { out.data[a * d + j] = Float(sums[a * d + j] / Double(members[a])) }
        }
        return out
    }

    /// The nearest row of `centroids` `[K, d]` (L2; the first on a tie) for each row of `x` `[n, d]`.
    static func nearest(_ x: Tensor, _ centroids: Tensor) -> [Int] {
        let a = x.contiguous(), c = centroids.contiguous()
        let (n, k, d) = (a.shape[0], c.shape[0], a.shape[1])
        return (0..<n).map { i in
            var best = 0, bestDistance = Float.infinity
            for j in 0..<k {
                var s: Float = 0
                for m in 0..<d { let e = a.data[i * d + m] - c.data[j * d + m]; s += e * e }
                if s < bestDistance { best = j; bestDistance = s }
            }
            return best
        }
    }

    public func loss(student: Variable, teacher: Variable) throws -> Variable {
        let (n, di, dt) = try LossInputs.check(name, student, teacher, minBatch: 1, sameDimension: false)
        try LossState.positive(name, "the logit scale", logitScale)
        if let tau = targetTemperature { try LossState.positive(name, "the target temperature", tau) }
        guard let pi = imagePrototypes, let pt = textPrototypes, let ti = imageTargets, let tt = textTargets else {
            throw ClipError.invalidArgument("\(name): no prototypes yet; call setPrototypes at the start of each episode")
        }
        guard pi.shape[1] == di, pt.shape[1] == dt else {
            throw ClipError.shape("\(name): image \(student.shape) and text \(teacher.shape) embeddings do not fit the "
                                  + "prototypes' dimensions \(pi.shape[1]) and \(pt.shape[1])")
        }
        let image = student.l2Normalized(axis: 1)
        let text = teacher.l2Normalized(axis: 1)
        let imageLabels = Self.nearest(image.value, pi)
        let textLabels = Self.nearest(text.value, pt)
        let imageToText = direction(image, targets: ti, teacherPrototypes: pt, labels: textLabels, n: n)
        let textToImage = direction(text, targets: tt, teacherPrototypes: pi, labels: imageLabels, n: n)
        return (imageToText + textToImage) * 0.5
    }

    private func direction(_ features: Variable, targets: Tensor, teacherPrototypes: Tensor, labels: [Int], n: Int) -> Variable {
        let scores = features.matmul(Variable(targets).transposed()) * logitScale
        guard let tau = targetTemperature else { return scores.crossEntropy(labels: labels) }
        let p = Variable(teacherPrototypes)
        let soft = (p.indexSelect(axis: 0, labels).matmul(p.transposed()) * (1 / tau)).softmax(axis: 1).value
        return -(Variable(soft) * scores.logSoftmax(axis: 1)).sum() * (1 / Float(n))
    }

    // MARK: - State

    /// `prototypes.image`, `prototypes.text`, `targets.image`, `targets.text` once set.
    public var stateTensors: [String: Tensor] {
        guard let pi = imagePrototypes, let pt = textPrototypes, let ti = imageTargets, let tt = textTargets else { return [:] }
        return ["prototypes.image": LossState.copy(pi), "prototypes.text": LossState.copy(pt),
                "targets.image": LossState.copy(ti), "targets.text": LossState.copy(tt)]
    }

    public func loadState(_ state: [String: Tensor]) throws {
        let keys: Set<String> = ["prototypes.image", "prototypes.text", "targets.image", "targets.text"]
        try LossState.checkKeys(name, state, known: keys)
        if state.isEmpty {
            (imagePrototypes, textPrototypes, imageTargets, textTargets) = (nil, nil, nil, nil)
            return
        }
        guard let pi = state["prototypes.image"], let pt = state["prototypes.text"],
              let ti = state["targets.image"], let tt = state["targets.text"] else {
            throw ClipError.invalidArgument("\(name): state needs all of " + keys.sorted().joined(separator: ", "))
        }
        try setPrototypes(image: pi, text: pt, imageTargets: ti, textTargets: tt)
    }

    public func setEpoch(_ epoch: Int) {}
}
