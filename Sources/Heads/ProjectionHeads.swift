// Projection heads that align two frozen embedding spaces (seed 002: image embeddings of one model,
// text embeddings of another), their momentum copies, and their files.

import Foundation
import Tensor
import Autograd
import NN

/// An image tower and a text tower that map pre-encoded embeddings `[batch, image_dim]` and
/// `[batch, text_dim]` into one space of `output_dim`, L2-normalised.
///
/// Keys (HF-style): `image_head.*`, `text_head.*` (see docs/HEADS.md for each type's), plus
/// `logit_scale` (siglip, clip, align, blip), `logit_bias` (siglip), `bank` (cross_modal: the learned
/// bank both towers attend to), and for blip the momentum copies `image_head_m.*`, `text_head_m.*`,
/// which take no gradient and follow the towers by EMA (`updateMomentumHeads()`).
///
/// cross_modal keeps images and texts independent: each tower's tokens attend to the shared bank,
/// never to the other modality's inputs, so an image's embedding does not depend on which texts
/// share its batch (retrieval embeds each side on its own).
public final class ProjectionHeads: Module {
    public let config: HeadsConfig
    public let imageDim: Int
    public let textDim: Int
    let imageHead: any Tower
    let textHead: any Tower
    let imageHeadM: (any Tower)?
    let textHeadM: (any Tower)?
    /// `logit_scale` `[]` (siglip, clip, align, blip); frozen when `learnable_temp` is false.
    public let logitScale: Variable?
    /// `logit_bias` `[]` (siglip).
    public let logitBias: Variable?
    /// `bank` `[bank_size, hidden]` (cross_modal).
    public let bank: Variable?

    /// Builds the heads of `config` with parameters drawn from `seed` (PyTorch's defaults: Linear
    /// weights and biases uniform in ±1/√fan_in, norms at 1 and 0, `pos` normal(0, 0.02), `bank`
    /// normal(0, 1)); dropout masks come from streams derived from `seed`.
    /// - Throws: `ClipError.invalidArgument` for a setting `validate()` refuses or a non-positive dimension.
    public init(config: HeadsConfig, imageDim: Int, textDim: Int, seed: UInt64) throws {
        try config.validate()
        try ClipError.requirePositive([("image_dim", imageDim), ("text_dim", textDim)])
        self.config = config
        self.imageDim = imageDim
        self.textDim = textDim
        (imageHead, textHead, imageHeadM, textHeadM, logitScale, logitBias, bank) = ParameterInitialization.seeded(seed) {
            let image = Towers.make(config, inputDim: imageDim, dropoutSeed: seed &+ 101)
            let text = Towers.make(config, inputDim: textDim, dropoutSeed: seed &+ 202)
            var bank: Variable?
            if config.type == .crossModal {
                bank = Parameter.normal([config.bankSize, config.hiddenDim(inputDim: imageDim)], std: 1)
            }
            var scale: Variable?, bias: Variable?
            switch config.type {
            case .siglip:
                scale = Parameter.constant([], config.logitScaleInit)
                bias = Parameter.constant([], config.logitBiasInit)
            case .clip, .align, .blip:
                scale = Parameter.constant([], Foundation.log(1 / config.temperature))
            default: break
            }
            var imageM: (any Tower)?, textM: (any Tower)?
            if config.type == .blip {
                imageM = Towers.make(config, inputDim: imageDim, dropoutSeed: seed &+ 303)
                textM = Towers.make(config, inputDim: textDim, dropoutSeed: seed &+ 404)
            }
            return (image, text, imageM, textM, scale, bias, bank)
        }
        super.init()
        register("image_head", imageHead)
        register("text_head", textHead)
        if let imageHeadM, let textHeadM {
            register("image_head_m", imageHeadM)
            register("text_head_m", textHeadM)
            for (tower, copy) in [(imageHead, imageHeadM), (textHead, textHeadM)] {
                for (p, m) in zip(tower.namedParameters(), copy.namedParameters()) {
                    m.variable.assign(p.variable.value.contiguous().copied())
                    m.variable.setRequiresGrad(false)
                }
            }
        }
        if let bank { register("bank", bank) }
        if let logitScale {
            register("logit_scale", logitScale)
            if !config.learnableTemp { logitScale.setRequiresGrad(false) }
        }
        if let logitBias {
            register("logit_bias", logitBias)
            if !config.learnableTemp { logitBias.setRequiresGrad(false) }
        }
    }

    // MARK: - Forward

    /// Both towers in the current mode (training: dropout and BatchNorm batch statistics):
    /// image `[batch, image_dim]`, text `[batch, text_dim]` → `[batch, output_dim]` each, L2-normalised.
    public func callAsFunction(image: Variable, text: Variable) -> (image: Variable, text: Variable) {
        (embedImage(image), embedText(text))
    }

    func embedImage(_ x: Variable) -> Variable {
        precondition(x.rank == 2 && x.shape[1] == imageDim, "ProjectionHeads: images \(x.shape) are not [batch, \(imageDim)]")
        return imageHead.project(x, bank: bank).l2Normalized(axis: -1)
    }

    func embedText(_ x: Variable) -> Variable {
        precondition(x.rank == 2 && x.shape[1] == textDim, "ProjectionHeads: texts \(x.shape) are not [batch, \(textDim)]")
        return textHead.project(x, bank: bank).l2Normalized(axis: -1)
    }

    /// The momentum towers' normalised features, without a graph (blip).
    func momentumFeatures(image: Tensor, text: Tensor) -> (image: Tensor, text: Tensor)? {
        guard let imageHeadM, let textHeadM else { return nil }
        return withNoGrad {
            (imageHeadM.project(Variable(image), bank: bank).l2Normalized(axis: -1).value,
             textHeadM.project(Variable(text), bank: bank).l2Normalized(axis: -1).value)
        }
    }

    /// Moves every momentum parameter towards its tower's: `m ← momentum·m + (1 − momentum)·p` (blip;
    /// nothing for the other types).
    public func updateMomentumHeads() {
        guard let imageHeadM, let textHeadM else { return }
        let m = config.momentum
        for (tower, copy) in [(imageHead, imageHeadM), (textHead, textHeadM)] {
            for (p, pm) in zip(tower.namedParameters(), copy.namedParameters()) {
                pm.variable.assign((pm.variable.value * m + p.variable.value * (1 - m)).contiguous())
            }
        }
    }

    /// Embeds `images` `[n, image_dim]` in evaluation mode without a graph, `batch` rows at a time
    /// → `[n, output_dim]`, L2-normalised. The module's mode is restored afterwards.
    public func embed(images: Tensor, batch: Int = 4096) -> Tensor {
        embedRows(images, batch: batch, embedImage)
    }

    /// Embeds `texts` `[n, text_dim]` as `embed(images:batch:)` does images.
    public func embed(texts: Tensor, batch: Int = 4096) -> Tensor {
        embedRows(texts, batch: batch, embedText)
    }

    private func embedRows(_ x: Tensor, batch: Int, _ tower: (Variable) -> Variable) -> Tensor {
        let wasTraining = isTraining
        eval()
        defer { train(wasTraining) }
        let n = x.shape[0], step = Swift.max(1, batch)
        guard n > 0 else { return Tensor.zeros([0, config.outputDim]) }
        let parts = stride(from: 0, to: n, by: step).map { start in
            withNoGrad { tower(Variable(x.sliced(0, start..<Swift.min(n, start + step)).contiguous())).value }
        }
        return parts.count == 1 ? parts[0] : Tensor.concat(parts, axis: 0)
    }

    // MARK: - Parameters

    /// What the optimizer updates: every parameter that takes a gradient (no momentum copies, no
    /// buffers, no frozen `logit_scale`), with its key.
    public var trainableParameters: [(key: String, variable: Variable)] {
        namedParameters().filter { $0.variable.requiresGrad }
    }

    // MARK: - Files

    /// Metadata keys of a heads file.
    public enum MetadataKey {
        public static let config = "heads_config", imageDim = "image_dim", textDim = "text_dim", format = "format"
    }

    /// The settings and dimensions `load(path:)` rebuilds the heads from; `save(to:metadata:)`
    /// (from `Module`) writes them with every parameter and buffer.
    public override var checkpointMetadata: [String: String] {
        [MetadataKey.format: "clipcore-projection-heads", MetadataKey.config: (try? config.jsonString()) ?? "",
         MetadataKey.imageDim: String(imageDim), MetadataKey.textDim: String(textDim)]
    }

    /// Reads heads written by `save(to:metadata:)`: the settings and dimensions from the metadata,
    /// then every parameter and buffer (strict: missing, unused or wrongly shaped keys fail).
    /// - Throws: `ClipError` naming `path` and the key: `.io` for a missing file, `.format` for a file
    ///   that is not safetensors or not heads (no `heads_config`), or whose tensors do not match.
    public static func load(path: String) throws -> ProjectionHeads {
        guard FileManager.default.fileExists(atPath: path) else { throw ClipError.io("\(path): no such file") }
        let file = try SafeTensorsFile(path: path)
        let meta = file.metadata
        guard let json = meta[MetadataKey.config] else {
            throw ClipError.format("\(path): metadata key \(MetadataKey.config) missing: not a file of projection heads")
        }
        let config: HeadsConfig
        do {
            config = try JSONDecoder().decode(HeadsConfig.self, from: Data(json.utf8))
        } catch {
            throw ClipError.decoding(error, file: "\(path): metadata \(MetadataKey.config)", syntax: "JSON", valueKind: .format)
        }
        func dim(_ key: String) throws -> Int {
            guard let text = meta[key], let v = Int(text), v > 0 else {
                throw ClipError.format("\(path): metadata key \(key) must be a positive integer, got \(meta[key] ?? "nothing")")
            }
            return v
        }
        let heads: ProjectionHeads
        do {
            heads = try ProjectionHeads(config: config, imageDim: try dim(MetadataKey.imageDim),
                                        textDim: try dim(MetadataKey.textDim), seed: 0)
        } catch let e as ClipError {
            throw e.prefixed(path)
        }
        do {
            try heads.load(keys: file.names, shape: { file.entries[$0]?.shape },
                           tensor: { try file.tensor($0).contiguous().copied() })
        } catch let e as ClipError {
            throw e.prefixed(path)
        }
        return heads
    }
}
