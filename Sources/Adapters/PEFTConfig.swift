// PEFT's `adapter_config.json`: read beside an adapter file that PEFT saved (its safetensors carry no
// settings), and written beside ours so that PEFT's `PeftModel.from_pretrained` loads them.

import Foundation
import Tensor

/// The LoRA settings of a PEFT adapter folder, and the file PEFT reads.
public enum PEFTConfig {
    /// The name PEFT gives the settings file of an adapter folder.
    public static let fileName = "adapter_config.json"

    /// The LoRA settings of the `adapter_config.json` at `path`.
    /// - Throws: `ClipError(.io)` when it cannot be read, `.format` for JSON that is no PEFT config or a
    ///   missing or malformed setting, `.unsupported` naming a PEFT type or option this library does
    ///   not reproduce (only plain LoRA on Linear layers is: no rsLoRA, DoRA, biases, fan-in-fan-out,
    ///   modules to save, per-layer patterns or regular-expression targets).
    public static func read(_ path: String) throws -> LoRAConfig {
        guard let data = FileContents.read(atPath: path) else { throw ClipError.io("\(path): cannot read") }
        let json = try JSONText.object(data, file: path)
        guard let type = json["peft_type"] as? String else { throw ClipError.format("\(path): 'peft_type' missing (not a PEFT adapter config?)") }
        guard type == "LORA" else { throw ClipError.unsupported("\(path): PEFT adapter type '\(type)'; only LORA folders are read") }
        func flag(_ key: String) -> Bool { (json[key] as? Bool) ?? false }
        func present(_ key: String) -> Bool {
            switch json[key] {
            case nil, is NSNull: return false
            case let d as [String: Any]: return !d.isEmpty
            case let a as [Any]: return !a.isEmpty
            default: return true
            }
        }
        for key in ["use_rslora", "use_dora", "fan_in_fan_out", "lora_bias"] where flag(key) {
            throw ClipError.unsupported("\(path): '\(key)' is true; only plain LoRA is read")
        }
        if let bias = json["bias"] as? String, bias != "none" {
            throw ClipError.unsupported("\(path): bias '\(bias)'; only 'none' is read")
        }
        for key in ["modules_to_save", "layers_to_transform", "rank_pattern", "alpha_pattern", "exclude_modules",
                    "layer_replication", "target_parameters"] where present(key) {
            throw ClipError.unsupported("\(path): '\(key)' is set; only LoRA on every matching Linear layer is read")
        }
        guard let r = (json["r"] as? NSNumber)?.intValue else { throw ClipError.format("\(path): 'r' missing or not a number") }
        guard let alpha = (json["lora_alpha"] as? NSNumber)?.floatValue else {
            throw ClipError.format("\(path): 'lora_alpha' missing or not a number")
        }
        let dropout = (json["lora_dropout"] as? NSNumber)?.floatValue ?? 0
        let targets: [String]
        switch json["target_modules"] {
        case let list as [String]: targets = list
        case is String: throw ClipError.unsupported("\(path): 'target_modules' is a regular expression; give a list of module names")
        default: throw ClipError.format("\(path): 'target_modules' missing")
        }
        let config = LoRAConfig(rank: r, alpha: alpha, dropout: dropout, targetModules: targets.sorted())
        do { try config.validate() } catch let e as ClipError { throw ClipError.format("\(path): \(e.message)") }
        return config
    }

    /// Writes `adapter_config.json` for `config` into `folder`, naming the base model.
    /// - Throws: `ClipError(.io)` when the file cannot be written.
    public static func write(_ config: LoRAConfig, baseModel: String?, to folder: String) throws {
        let json: [String: Any] = [
            "peft_type": "LORA", "r": config.rank, "lora_alpha": Double(config.alpha), "lora_dropout": Double(config.dropout),
            "target_modules": config.targetModules, "bias": "none", "fan_in_fan_out": false, "inference_mode": true,
            "modules_to_save": NSNull(), "task_type": NSNull(), "use_rslora": false, "use_dora": false,
            "init_lora_weights": true, "base_model_name_or_path": baseModel.map { $0 as Any } ?? NSNull(),
        ]
        let data = try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(String(decoding: data, as: UTF8.self) + "\n", to: folder + "/" + fileName)
    }
}
