// LoRA's settings: rank, scale and the layers it adapts (Hu et al. 2021, "LoRA: Low-Rank
// Adaptation of Large Language Models"; the names follow PEFT's `LoraConfig`).

import Foundation
import Tensor

/// Which Linear layers get a low-rank update, and how large it is.
public struct LoRAConfig: Codable, Equatable, Sendable {
    /// The rank r of the update `B·A` (A `[r, in]`, B `[out, r]`).
    public var rank: Int
    /// The update is scaled by `alpha / rank`.
    public var alpha: Float
    /// Dropout on the adapter's input in training mode (0: none).
    public var dropout: Float
    /// Last path components of the layers to adapt (`q_proj`, `v_proj`, `fc1`, …).
    public var targetModules: [String]

    /// CLIP's attention and MLP projections.
    public static let clipTargets = ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"]

    public init(rank: Int = 8, alpha: Float = 16, dropout: Float = 0, targetModules: [String] = ["q_proj", "v_proj"]) {
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
        self.targetModules = targetModules
    }

    /// `alpha / rank`.
    public var scaling: Float { alpha / Float(rank) }

    /// - Throws: `ClipError(.invalidArgument)` naming the bad setting.
    public func validate() throws {
        guard rank > 0 else { throw ClipError.invalidArgument("LoRA: rank must be positive, got \(rank)") }
        guard alpha.isFinite else { throw ClipError.invalidArgument("LoRA: alpha must be finite, got \(alpha)") }
        guard dropout >= 0 && dropout < 1 else { throw ClipError.invalidArgument("LoRA: dropout must be in [0, 1), got \(dropout)") }
        guard !targetModules.isEmpty else { throw ClipError.invalidArgument("LoRA: no target modules") }
        for t in targetModules where t.isEmpty || t.contains(".") {
            throw ClipError.invalidArgument("LoRA: target module '\(t)' must be one path component (e.g. q_proj)")
        }
    }

    // MARK: - File metadata

    /// The settings as safetensors metadata (string values, PEFT's names).
    public var metadata: [String: String] {
        ["adapter_type": "lora", "r": String(rank), "lora_alpha": String(alpha), "lora_dropout": String(dropout),
         "target_modules": targetModules.joined(separator: ",")]
    }

    /// Reads the settings back from an adapter file's metadata.
    /// - Throws: `ClipError(.format)` naming the file and the missing or bad key.
    public init(metadata m: [String: String], file: String) throws {
        func value(_ key: String) throws -> String {
            guard let v = m[key] else { throw ClipError.format("\(file): metadata '\(key)' missing (not a LoRA adapter file?)") }
            return v
        }
        guard m["adapter_type"].map({ $0 == "lora" }) ?? true else {
            throw ClipError.format("\(file): metadata adapter_type is '\(m["adapter_type"]!)', not 'lora'")
        }
        guard let r = Int(try value("r")) else { throw ClipError.format("\(file): metadata 'r' is not an integer") }
        guard let a = Float(try value("lora_alpha")) else { throw ClipError.format("\(file): metadata 'lora_alpha' is not a number") }
        let d = m["lora_dropout"].flatMap(Float.init) ?? 0
        let targets = try value("target_modules").split(separator: ",").map(String.init)
        self.init(rank: r, alpha: a, dropout: d, targetModules: targets)
        do { try validate() } catch let e as ClipError { throw ClipError.format("\(file): \(e.message)") }
    }
}
