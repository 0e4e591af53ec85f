// The adapters `clip train --adapter` attaches, with the trainer's settings.

import Foundation
import Tensor
import NN
import Models
import Adapters

/// An `adapter` name: `lora`, `bottleneck` (Pfeiffer placement), `houlsby`, `pfeiffer`, `prefix`, `ia3`,
/// or seed 003's `lora_adapter`, `bottleneck_adapter`, `prefix_tuning`, `ia3_adapter` (any case).
struct AdapterChoice {
    enum Kind { case lora, houlsby, pfeiffer, prefix, ia3 }
    let kind: Kind

    static let names = ["lora", "bottleneck", "houlsby", "pfeiffer", "prefix", "ia3"]

    /// - Throws: `ClipError.invalidArgument` naming the known adapters.
    init(name: String) throws {
        switch name.lowercased() {
        case "lora", "lora_adapter": kind = .lora
        case "bottleneck", "bottleneck_adapter", "pfeiffer": kind = .pfeiffer
        case "houlsby": kind = .houlsby
        case "prefix", "prefix_tuning": kind = .prefix
        case "ia3", "ia3_adapter", "(ia)3": kind = .ia3
        default:
            throw ClipError.invalidArgument("unknown adapter '\(name)'; known: \(Self.names.joined(separator: ", "))")
        }
    }

    /// The attention projections LoRA adapts (query and value, as PEFT's default), under whichever
    /// names the model's towers use (CLIP `q_proj`/`v_proj`, BERT `query`/`value`, MPNet `q`/`v`).
    static func loraTargets(in model: Module) -> [String] {
        let names = Set(model.namedModules().compactMap { path, m in
            m is Linear ? path.split(separator: ".").last.map(String.init) : nil
        })
        return ["q_proj", "v_proj", "query", "value", "q", "v"].filter(names.contains)
    }

    /// Attaches the adapters to every transformer tower of `model` (freezing all its parameters),
    /// seeded from `config.seed`.
    func attach(to model: any PromptGuidedModel, config: ContrastiveConfig) throws -> any ModelAdapter {
        let settings: AdapterConfig
        switch kind {
        case .lora:
            settings = .lora(LoRAConfig(rank: config.loraRank, alpha: Float(config.loraAlpha),
                                        targetModules: Self.loraTargets(in: model)))
        case .houlsby: settings = .bottleneck(.houlsby(reductionFactor: Float(config.adapterReduction)))
        case .pfeiffer: settings = .bottleneck(.pfeiffer(reductionFactor: Float(config.adapterReduction)))
        case .prefix: settings = .prefix(PrefixConfig(length: config.prefixLength))
        case .ia3: settings = .ia3(IA3Config())
        }
        let adapter = try Adapters.attach(settings, to: model, seed: UInt64(truncatingIfNeeded: config.seed) &+ 505)
        model.freeze()
        return adapter
    }
}
