// Prefix tuning's settings (Li & Liang 2021, "Prefix-Tuning: Optimizing Continuous Prompts for
// Generation"; names and defaults as AdapterHub's `PrefixTuningConfig`).

import Foundation
import Tensor

/// How many key/value rows every self-attention layer gets, and how they are parametrised.
public struct PrefixConfig: Codable, Equatable, Sendable {
    /// Prefix rows per layer (AdapterHub's `prefix_length`).
    public var length: Int
    /// true (AdapterHub's default, `flat=False`): the rows of every layer come from one learned table
    /// `wte` `[length, hidden]` through an MLP, Linear(hidden, bottleneck) → tanh →
    /// Linear(bottleneck, layers·2·hidden); false (`flat=True`): the rows themselves are learned.
    public var reparametrize: Bool
    /// The MLP's middle width (AdapterHub's `bottleneck_size`).
    public var bottleneckSize: Int
    /// The prefix's name in the file's keys (`…prefix_tunings.<name>.wte.weight`).
    public var name: String

    public init(length: Int = 30, reparametrize: Bool = true, bottleneckSize: Int = 512, name: String = "prefix") {
        self.length = length
        self.reparametrize = reparametrize
        self.bottleneckSize = bottleneckSize
        self.name = name
    }

    /// - Throws: `ClipError(.invalidArgument)` naming the bad setting.
    public func validate() throws {
        guard length > 0 else { throw ClipError.invalidArgument("prefix tuning: length must be positive, got \(length)") }
        guard bottleneckSize > 0 else {
            throw ClipError.invalidArgument("prefix tuning: bottleneck size must be positive, got \(bottleneckSize)")
        }
        guard !name.isEmpty && !name.contains(".") else {
            throw ClipError.invalidArgument("prefix tuning: name '\(name)' must be nonempty and hold no '.'")
        }
    }

    // MARK: - File metadata

    /// The settings as safetensors metadata (AdapterHub's names).
    public var metadata: [String: String] {
        ["adapter_type": AdapterKind.prefix.rawValue, "prefix_length": String(length), "flat": String(!reparametrize),
         "bottleneck_size": String(bottleneckSize), "non_linearity": "tanh", "adapter_name": name]
    }

    /// Reads the settings back from an adapter file's metadata.
    /// - Throws: `ClipError(.format)` naming the file and the missing or bad key.
    public init(metadata m: [String: String], file: String) throws {
        try AdapterFile.checkType(m, kind: .prefix, file: file)
        func value(_ k: String) throws -> String { try AdapterFile.value(m, k, file: file, kind: .prefix) }
        guard let length = Int(try value("prefix_length")) else { throw ClipError.format("\(file): metadata 'prefix_length' is not an integer") }
        guard let flat = Bool(try value("flat")) else { throw ClipError.format("\(file): metadata 'flat' is not true or false") }
        guard let size = Int(try value("bottleneck_size")) else {
            throw ClipError.format("\(file): metadata 'bottleneck_size' is not an integer")
        }
        self.init(length: length, reparametrize: !flat, bottleneckSize: size, name: try value("adapter_name"))
        do { try validate() } catch let e as ClipError { throw ClipError.format("\(file): \(e.message)") }
    }
}
