// A model with LoRA adapters on its Linear layers: attaching, the adapters' own file, merging.

import Foundation
import Tensor
import Autograd
import NN

/// LoRA adapters attached to the Linear layers of `base` whose last path component is one of the
/// config's target modules. The base model keeps its parameters and checkpoint keys; attaching
/// freezes all of them (PEFT's default), so only the adapters' A and B take gradients.
public final class LoRAModel: ModelAdapter {
    /// PEFT's prefix of every key in an adapter file.
    public static let keyPrefix = "base_model.model."

    public let config: LoRAConfig
    public let base: Module
    /// The adapted layers by dotted path in `base` (`vision_model.encoder.layers.0.self_attn.q_proj`), in module order.
    public let layers: [(path: String, adapter: LoRALayer)]
    public private(set) var isMerged = false

    public var kind: AdapterKind { .lora }
    public var settings: [String: String] { config.metadata }

    /// Attaches new adapters (A drawn from a stream seeded with `seed`, B zero) and freezes `base`.
    /// - Throws: `ClipError(.invalidArgument)` on bad settings, when no Linear layer matches the
    ///   targets (naming them), or when a matched layer already has an adapter.
    public init(wrapping base: Module, config: LoRAConfig, seed: UInt64 = 0) throws {
        try config.validate()
        let targets = Set(config.targetModules)
        var found: [(String, Linear)] = []
        for (path, module) in base.namedModules() {
            guard let linear = module as? Linear, let last = path.split(separator: ".").last,
                  targets.contains(String(last)) else { continue }
            guard linear.adapter == nil else {
                throw ClipError.invalidArgument("LoRA: layer '\(path)' already has an adapter")
            }
            found.append((path, linear))
        }
        guard !found.isEmpty else {
            throw ClipError.invalidArgument("LoRA: no Linear layer's name is one of the target modules \(config.targetModules)")
        }
        let matched = Set(found.map { String($0.0.split(separator: ".").last!) })
        if let missing = config.targetModules.first(where: { !matched.contains($0) }) {
            throw ClipError.invalidArgument("LoRA: target module '\(missing)' matches no Linear layer of the model")
        }
        self.config = config
        self.base = base
        layers = ParameterInitialization.seeded(seed) {
            found.map { ($0.0, LoRALayer(for: $0.1, rank: config.rank, alpha: config.alpha, dropout: config.dropout)) }
        }
        base.freeze()
        for l in layers { l.adapter.attach() }
    }

    // MARK: - Parameters

    /// The adapters' parameters with their adapter-file keys (`base_model.model.<path>.lora_A.weight`).
    public func namedParameters() -> [(key: String, variable: Variable)] {
        layers.flatMap { $0.adapter.namedParameters(prefix: Self.keyPrefix + $0.path + ".") }
    }

    /// The adapters' A and B matrices (what an optimizer updates).
    public var parameters: [Variable] { namedParameters().map(\.variable) }

    /// Number of scalar adapter parameters.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    // MARK: - Files

    /// Writes the adapters alone to a safetensors file, PEFT's keys, the settings in the metadata.
    /// - Throws: `ClipError(.io)` on a write failure.
    public func save(to path: String, metadata: [String: String] = [:]) throws {
        try AdapterFile.save(namedParameters(), settings: config.metadata, extra: metadata, to: path)
    }

    /// Reads adapter weights into these adapters. Every key of the file must be an adapter's, every
    /// adapter's key must be in the file, and shapes must agree.
    /// - Throws: `ClipError(.format)` naming a missing or unexpected key, `ClipError(.shape)` naming a
    ///   wrongly shaped one; nothing is changed on failure.
    public func load(from path: String) throws {
        let file = try SafeTensorsFile(path: path)
        try load(file)
    }

    func load(_ file: SafeTensorsFile) throws {
        try AdapterFile.load(namedParameters(), from: file)
    }

    /// Attaches the adapters of a file (settings from its metadata, or from PEFT's `adapter_config.json`
    /// beside a file PEFT saved; a folder stands for its `adapter_model.safetensors`) to `base` and
    /// loads their weights.
    /// - Throws: `ClipError(.format)` on metadata that is not LoRA's; what `init(wrapping:config:seed:)`
    ///   and `load(from:)` throw. On failure `base` is left without adapters.
    public static func load(_ path: String, into base: Module) throws -> LoRAModel {
        let file = try SafeTensorsFile(path: Adapters.file(path))
        guard case .lora(let config) = try Adapters.config(file) else {
            throw ClipError.format("\(file.path): not a LoRA adapter file")
        }
        let model = try ParameterInitialization.withoutInitialization {
            try LoRAModel(wrapping: base, config: config)
        }
        do { try model.load(file) } catch {
            model.detach()
            throw error
        }
        return model
    }

    // MARK: - Merging

    /// Folds every update into its layer's weight, W ← W + (alpha/r)·B·A, and detaches the adapters:
    /// the base model then computes what the adapted one did, with no adapters.
    public func merge() {
        guard !isMerged else { return }
        for l in layers {
            guard let linear = l.adapter.base else { continue }
            linear.weight.assign(linear.weight.value + l.adapter.delta)
            l.adapter.detach()
        }
        isMerged = true
    }

    /// Removes the adapters from the layers (the base model computes what it did before attaching).
    public func detach() {
        for l in layers { l.adapter.detach() }
    }
}
