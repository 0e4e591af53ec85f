// What contrastive training minimises (seed 003's `--distiller`): the model's own pair loss, or a
// distillation / self-supervised loss between the towers or towards a frozen teacher, with the heads
// on the towers and, for the prototype losses, the teacher side's moving-average heads.

import Foundation
import Tensor
import Autograd
import NN
import Models
import Pipelines
import Losses
import Heads

/// The loss a `distiller` name selects.
public enum ContrastiveObjectiveKind: Equatable, Sendable {
    /// The model's own pair loss (InfoNCE; the sigmoid loss for SigLIP models).
    case pair
    /// A loss of the `Losses` layer.
    case distill(DistillationLossKind)

    /// `infonce` and every `DistillationLosses` name, as `distiller` takes them.
    public static var distillerNames: [String] { ["infonce"] + DistillationLosses.names.filter { $0 != "infonce" } }

    /// The kind for a name, in any case (`InfoNCE`, `SimReg-L1`, `CompRess-1q` as seed 003 writes them).
    /// - Throws: `ClipError.invalidArgument` naming the known distillers.
    public init(distiller: String) throws {
        let name = distiller.lowercased()
        if name == "infonce" || name == "clip" { self = .pair; return }
        guard let kind = DistillationLossKind(rawValue: name) else {
            throw ClipError.invalidArgument("unknown distiller '\(distiller)'; known: \(Self.distillerNames.joined(separator: ", "))")
        }
        self = .distill(kind)
    }
}

/// A head on one tower's features in training (`TowerHeads` builds it): the module, what it outputs,
/// and how to make its moving-average copy.
public final class TrainingHead {
    public let module: any TowerHead
    /// Whether the head ends in a prototype layer (its output: prototype logits).
    public var hasPrototypes: Bool { (module as? DINOHead)?.lastLayer != nil }
    /// The width of its output.
    public var outDim: Int { module.outputDim }
    private let rebuild: () throws -> any TowerHead

    init(module: any TowerHead, rebuild: @escaping () throws -> any TowerHead) {
        self.module = module
        self.rebuild = rebuild
    }

    public func callAsFunction(_ x: Variable) -> Variable { module(x) }

    /// The head of `n_layers` (nil for 0) from `inDim` features: a linear projection to `outDim`, or
    /// DINO's MLP head (to `outDim` without prototypes, ending in `prototypes` prototypes otherwise).
    static func make(nLayers: Int, inDim: Int, outDim: Int, hiddenDim: Int, bottleneckDim: Int, prototypes: Int?,
                     seed: UInt64, flag: String) throws -> TrainingHead? {
        guard nLayers >= 0 else { throw ClipError.invalidArgument("\(flag) must not be negative, got \(nLayers)") }
        // Without a prototype layer the MLP head's bottleneck is the embedding it hands the loss.
        let build = { () throws -> (any TowerHead)? in
            try TowerHeads.make(nLayers: nLayers, inDim: inDim, outDim: outDim, hiddenDim: hiddenDim,
                                bottleneckDim: prototypes == nil ? outDim : bottleneckDim, prototypes: prototypes,
                                seed: seed) as? any TowerHead
        }
        guard let head = try build() else { return nil }
        return TrainingHead(module: head, rebuild: { try build()! })
    }

    /// DINO's teacher head: a frozen copy of this head, to be moved towards it (`updateMovingAverages`).
    func movingAverageCopy() throws -> TrainingHead {
        let copy = try rebuild()
        for (c, s) in zip(copy.parameters, module.parameters) { c.assign(s.value.contiguous()) }
        copy.freeze()
        return TrainingHead(module: copy, rebuild: rebuild)
    }

    /// Drops the prototype layer's gradients (DINO's frozen last layer).
    func cancelLastLayer() { (module as? DINOHead)?.cancelLastLayerGradients() }
}

/// A batch's student features: what the loss compares (after the heads; normalised for the pair
/// loss), and the pair term's own where they differ (`pairText`, `pairImage`: the towers' features
/// in front of a prototype head, when a distillation loss is joined by the pair loss).
struct StudentFeatures {
    var text: Variable
    var image: Variable
    var pairText: Variable?
    var pairImage: Variable?

    /// Every part, with whether its rows are captions (else images), in a fixed order.
    var parts: [(value: Variable, captions: Bool)] {
        [(text, true), (image, false)] + [pairText.map { ($0, true) }, pairImage.map { ($0, false) }].compactMap { $0 }
    }

    /// The same layout with `parts` replaced, in the order of `parts`.
    func replacing(_ new: [Variable]) -> StudentFeatures {
        var f = StudentFeatures(text: new[0], image: new[1])
        var k = 2
        if pairText != nil { f.pairText = new[k]; k += 1 }
        if pairImage != nil { f.pairImage = new[k] }
        return f
    }
}

/// The training objective: which loss, on which features, against what.
///
/// - `infonce`: the model's pair loss on the L2-normalised features after the heads (several captions
///   per image with `multi_positive`).
/// - a distiller without a teacher: the loss between the image tower (student) and the text tower of
///   the same pairs, on the features after the heads; one-directional losses train the image side only.
/// - a distiller with a teacher: for each tower the teacher has, the loss between the student's
///   tower (after its head) and the teacher's embeddings of the same images or captions, summed.
///
/// Prototype losses (DINO, ProtoCPC) compare prototype logits: the student's head must end in a
/// prototype layer (`*_head_n_layers` ≥ 2 builds one), and the teacher side goes through a copy of
/// that head kept as its exponential moving average (momentum 0.996, DINO's teacher head).
public final class ContrastiveObjective {
    public let kind: ContrastiveObjectiveKind
    public let imageHead: TrainingHead?
    public let textHead: TrainingHead?
    /// The teacher side's heads of the prototype losses: moving averages of the student's heads.
    let teacherImageHead: TrainingHead?
    let teacherTextHead: TrainingHead?
    public let teacherMomentum: Float = 0.996
    /// One loss per distilled pairing (its state, queues or centres, is its own).
    let imageLoss: (any DistillationLoss)?
    let textLoss: (any DistillationLoss)?
    /// The frozen teacher.
    public let teacher: ImageTextPipeline?
    /// The weight of the model's own pair loss (InfoNCE) added to a distillation loss (0: none).
    public let pairWeight: Float

    /// The model's own pair loss, no heads.
    public static func pair() -> ContrastiveObjective {
        ContrastiveObjective(kind: .pair, imageHead: nil, textHead: nil, teacherImageHead: nil, teacherTextHead: nil,
                             imageLoss: nil, textLoss: nil, teacher: nil, pairWeight: 0)
    }

    init(kind: ContrastiveObjectiveKind, imageHead: TrainingHead?, textHead: TrainingHead?, teacherImageHead: TrainingHead?,
         teacherTextHead: TrainingHead?, imageLoss: (any DistillationLoss)?, textLoss: (any DistillationLoss)?,
         teacher: ImageTextPipeline?, pairWeight: Float) {
        self.kind = kind
        self.pairWeight = pairWeight
        self.imageHead = imageHead
        self.textHead = textHead
        self.teacherImageHead = teacherImageHead
        self.teacherTextHead = teacherTextHead
        self.imageLoss = imageLoss
        self.textLoss = textLoss
        self.teacher = teacher
    }

    /// Builds the objective of `config` for `model` (and `teacher`, `config.teacher` loaded): the heads
    /// (seeded from `config.seed`) and the losses.
    /// - Throws: `ClipError` naming the setting when the pieces do not fit (a prototype loss without a
    ///   prototype head, a teacher whose embedding width differs where the loss needs equal widths, …).
    public static func make(_ config: ContrastiveConfig, model: any PromptGuidedModel,
                            teacher: ImageTextPipeline?) throws -> ContrastiveObjective {
        let kind = try ContrastiveObjectiveKind(distiller: config.distiller)
        var needsPrototypes = false
        var lossKind: DistillationLossKind?
        if case .distill(let k) = kind {
            lossKind = k
            needsPrototypes = k.makeLoss().needsPrototypes
        }
        let dim = model.embeddingDim
        func head(_ layers: Int, _ what: String, _ seedOffset: UInt64) throws -> TrainingHead? {
            try TrainingHead.make(nLayers: layers, inDim: dim, outDim: teacher?.model.embeddingDim ?? dim, hiddenDim: config.headHiddenDim,
                                 bottleneckDim: config.headBottleneckDim, prototypes: needsPrototypes ? config.prototypes : nil,
                                 seed: UInt64(truncatingIfNeeded: config.seed) &+ seedOffset, flag: what)
        }
        let imageHead = try head(config.imageHeadNLayers, "image_head_n_layers", 101)
        let textHead = try head(config.textHeadNLayers, "text_head_n_layers", 202)
        var teacherImageHead: TrainingHead?, teacherTextHead: TrainingHead?
        if needsPrototypes {
            let name = config.distiller
            guard let imageHead, imageHead.hasPrototypes else {
                throw ClipError.invalidArgument("distiller \(name) compares prototype logits: give the image tower a DINO head (image_head_n_layers ≥ 2)")
            }
            teacherImageHead = try imageHead.movingAverageCopy()
            if teacher != nil {
                guard let textHead, textHead.hasPrototypes else {
                    throw ClipError.invalidArgument("distiller \(name) with a teacher compares prototype logits of both towers: give the text tower a DINO head too (text_head_n_layers ≥ 2)")
                }
                teacherTextHead = try textHead.movingAverageCopy()
            }
        }
        var imageLoss: (any DistillationLoss)?, textLoss: (any DistillationLoss)?
        if lossKind == .protoclip, teacher != nil {
            throw ClipError.invalidArgument("distiller protoclip aligns the two towers through their prototypes; it takes no teacher")
        }
        if let lossKind {
            let probe = lossKind.makeLoss()
            if let teacher {
                if teacher.model.hasImageTower && model.hasImageTower { imageLoss = lossKind.makeLoss() }
                textLoss = lossKind.makeLoss()
                // Losses on the embeddings themselves compare them entry by entry: the widths must agree.
                if !needsPrototypes && probe.needsEqualDimensions {
                    let w = teacher.model.embeddingDim
                    for (what, head, used) in [("image", imageHead, imageLoss != nil), ("text", textHead, true)] where used {
                        let width = head?.outDim ?? dim
                        guard width == w else {
                            throw ClipError.shape("distiller \(config.distiller) compares embeddings entry by entry: the student's \(what) width \(width) differs from the teacher's \(w) (a preset student takes projection_dim \(w); a linear head, \(what)_head_n_layers 1, maps to it)")
                        }
                    }
                }
            } else {
                if needsPrototypes, let textHead, textHead.outDim != dim {
                    throw ClipError.invalidArgument("distiller \(config.distiller) between the towers sends the text features through the image head's moving average: text_head_n_layers must be 0 or 1")
                }
                if !needsPrototypes && probe.needsEqualDimensions && (imageHead?.outDim ?? dim) != (textHead?.outDim ?? dim) {
                    throw ClipError.shape("distiller \(config.distiller) compares the towers' embeddings entry by entry: image width \(imageHead?.outDim ?? dim) and text width \(textHead?.outDim ?? dim) differ")
                }
                imageLoss = probe
            }
        }
        if kind != .pair && config.infonceWeight > 0 {
            // The pair term compares the features retrieval uses: after a head, unless it ends in prototypes.
            let width = { (h: TrainingHead?) in h.map { $0.hasPrototypes ? dim : $0.outDim } ?? dim }
            guard width(imageHead) == width(textHead) else {
                throw ClipError.shape("infonce_weight: the pair loss compares image features of width \(width(imageHead)) with text features of width \(width(textHead)); give both towers heads of one width")
            }
        }
        return ContrastiveObjective(kind: kind, imageHead: imageHead, textHead: textHead, teacherImageHead: teacherImageHead,
                                    teacherTextHead: teacherTextHead, imageLoss: imageLoss, textLoss: textLoss, teacher: teacher,
                                    pairWeight: kind == .pair ? 0 : Float(config.infonceWeight))
    }

    /// The teacher model of a folder, frozen, in evaluation mode.
    /// - Throws: `ClipError.io` when the folder holds no model.
    public static func loadTeacher(_ folder: String) throws -> ImageTextPipeline {
        guard FileManager.default.fileExists(atPath: folder + "/config.json") else {
            throw ClipError.io("teacher '\(folder)': no model folder there (config.json missing)")
        }
        let p = try ImageTextPipeline(directory: folder)
        p.model.eval()
        p.model.freeze()
        return p
    }

    /// Whether the features are L2-normalised before the loss (the pair loss's cosines).
    var normalizes: Bool { kind == .pair }

    /// The heads' trainable parameters, keyed `image_head.*` / `text_head.*`.
    public func namedParameters() -> [(key: String, variable: Variable)] {
        var out: [(key: String, variable: Variable)] = []
        if let imageHead { out += imageHead.module.namedParameters().map { ("image_head." + $0.key, $0.variable) } }
        if let textHead { out += textHead.module.namedParameters().map { ("text_head." + $0.key, $0.variable) } }
        return out.filter { $0.variable.requiresGrad }
    }

    /// Whether the objective has anything to checkpoint: heads, or losses with state.
    public var hasState: Bool {
        imageHead != nil || textHead != nil || imageLoss is any StatefulDistillationLoss || textLoss is any StatefulDistillationLoss
    }

    /// Every state tensor of the heads (moving-average copies included) and of the stateful losses,
    /// for checkpoints.
    public func stateTensors() -> [(name: String, tensor: Tensor)] {
        var out: [(name: String, tensor: Tensor)] = []
        for (prefix, h) in [("image_head.", imageHead), ("text_head.", textHead),
                            ("teacher_image_head.", teacherImageHead), ("teacher_text_head.", teacherTextHead)] {
            guard let h else { continue }
            out += h.module.namedParameters().map { (prefix + $0.key, $0.variable.value) }
        }
        for (prefix, l) in [("image_loss.", imageLoss), ("text_loss.", textLoss)] {
            guard let s = l as? any StatefulDistillationLoss else { continue }
            out += s.stateTensors.sorted { $0.key < $1.key }.map { (prefix + $0.key, $0.value) }
        }
        return out
    }

    /// Restores what `stateTensors` wrote.
    /// - Throws: `ClipError.format` naming a missing or misshapen tensor.
    public func loadState(_ tensors: [String: Tensor], file: String) throws {
        for (prefix, h) in [("image_head.", imageHead), ("text_head.", textHead),
                            ("teacher_image_head.", teacherImageHead), ("teacher_text_head.", teacherTextHead)] {
            guard let h else { continue }
            for (key, v) in h.module.namedParameters() {
                guard let t = tensors[prefix + key], t.shape == v.shape else {
                    throw ClipError.format("\(file): '\(prefix + key)' missing or not \(v.shape)")
                }
                v.assign(t)
            }
        }
        for (prefix, l) in [("image_loss.", imageLoss), ("text_loss.", textLoss)] {
            guard let s = l as? any StatefulDistillationLoss else { continue }
            var own: [String: Tensor] = [:]
            for (k, v) in tensors where k.hasPrefix(prefix) { own[String(k.dropFirst(prefix.count))] = v }
            try s.loadState(own)
        }
    }

    /// Starts epoch `epoch` (0-based): the losses' schedules (DINO's teacher temperature).
    public func setEpoch(_ epoch: Int) {
        for l in [imageLoss, textLoss] { (l as? any StatefulDistillationLoss)?.setEpoch(epoch) }
    }

    /// Zeroes the prototype layers' gradients (DINO's last layer, frozen in the first epochs).
    public func cancelLastLayerGradients() {
        imageHead?.cancelLastLayer()
        textHead?.cancelLastLayer()
    }

    /// After an update: the teacher side's heads move towards the student's.
    public func updateMovingAverages() {
        for (teacher, student) in [(teacherImageHead, imageHead), (teacherTextHead, textHead)] {
            guard let teacher, let student else { continue }
            let m = teacherMomentum
            for (t, s) in zip(teacher.module.parameters, student.module.parameters) {
                t.assign(t.value * m + s.value * (1 - m))
            }
        }
    }

    // MARK: - Features and loss

    /// The student's features after the heads (normalised for the pair loss), and the pair term's
    /// features where they differ (the towers' own, in front of a prototype head).
    func studentFeatures(_ model: any PromptGuidedModel, _ b: ContrastiveBatch) throws -> StudentFeatures {
        let rawText = try model.textFeatures(b.tokens.ids, attentionMask: b.tokens.attentionMask)
        let rawImage = try model.imageFeatures(Variable(b.pixels))
        var t = textHead.map { $0(rawText) } ?? rawText
        var i = imageHead.map { $0(rawImage) } ?? rawImage
        if normalizes { (t, i) = (t.l2Normalized(), i.l2Normalized()) }
        var f = StudentFeatures(text: t, image: i)
        if kind != .pair && pairWeight > 0 {
            if textHead?.hasPrototypes == true { f.pairText = rawText }
            if imageHead?.hasPrototypes == true { f.pairImage = rawImage }
        }
        return f
    }

    /// The teacher's embeddings of a batch (no graph): its text tower on the captions, its image
    /// tower (when it has one and the student's image side is distilled) on the images.
    func teacherFeatures(_ b: ContrastiveBatch) throws -> (text: Tensor, image: Tensor?)? {
        guard let teacher else { return nil }
        return try withNoGrad {
            guard let tokens = b.teacherTokens else { throw ClipError.invalidArgument("teacher: the batch has no teacher tokens") }
            let t = try teacher.model.textFeatures(tokens.ids, attentionMask: tokens.attentionMask).value
            var i: Tensor?
            if imageLoss != nil {
                guard let px = b.teacherPixels else { throw ClipError.invalidArgument("teacher: the batch has no teacher pixels") }
                i = try teacher.model.imageFeatures(Variable(px)).value
            }
            return (t, i)
        }
    }

    /// The loss of student features of a batch whose teacher features are `teacherFeatures`: the pair
    /// loss, or the distillation loss plus `pairWeight` × the model's pair loss.
    func loss(model: any PromptGuidedModel, features f: StudentFeatures, imageOfText: [Int]?,
              teacher tf: (text: Tensor, image: Tensor?)?) throws -> Variable {
        func pair(_ text: Variable, _ image: Variable) -> Variable {
            if let imageOfText { return model.pairLoss(textEmbeds: text, imageEmbeds: image, imageOfText: imageOfText) }
            return model.pairLoss(textEmbeds: text, imageEmbeds: image)
        }
        let (text, image) = (f.text, f.image)
        switch kind {
        case .pair:
            return pair(text, image)
        case .distill:
            if let tf {
                var total: Variable?
                if let imageLoss, let ti = tf.image {
                    let target = teacherImageHead.map { h in withNoGrad { h(Variable(ti)) } } ?? Variable(ti)
                    total = try imageLoss.loss(student: image, teacher: target)
                }
                if let textLoss {
                    let target = teacherTextHead.map { h in withNoGrad { h(Variable(tf.text)) } } ?? Variable(tf.text)
                    let l = try textLoss.loss(student: text, teacher: target)
                    total = total.map { $0 + l } ?? l
                }
                guard let total else { throw ClipError.invalidArgument("distiller: nothing to distil") }
                return withPairTerm(total)
            }
            guard let imageLoss else { throw ClipError.invalidArgument("distiller: no loss") }
            let target = teacherImageHead.map { h in h(text.detached()) } ?? text
            return withPairTerm(try imageLoss.loss(student: image, teacher: target))
        }
        func withPairTerm(_ distill: Variable) -> Variable {
            guard pairWeight > 0 else { return distill }
            let t = (f.pairText ?? text).l2Normalized(), i = (f.pairImage ?? image).l2Normalized()
            return distill + pair(t, i) * pairWeight
        }
    }
}
