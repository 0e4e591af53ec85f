// Bottleneck adapters' settings (Houlsby et al. 2019, "Parameter-Efficient Transfer Learning for NLP";
// Pfeiffer et al. 2021, "AdapterFusion"), with the names and defaults of AdapterHub's `adapters`
// library (`DoubleSeqBnConfig` for Houlsby, `SeqBnConfig` for Pfeiffer).

import Foundation
import Tensor
import Autograd

/// The non-linearity between a bottleneck adapter's down- and up-projection (AdapterHub's names).
public enum BottleneckActivation: String, Codable, CaseIterable, Sendable {
    case relu, swish, gelu, tanh

    func callAsFunction(_ x: Variable) -> Variable {
        switch self {
        case .relu: x.relu()
        case .swish: x * x.sigmoid()
        case .gelu: x.gelu()
        case .tanh: x.tanh()
        }
    }
}

/// Where a transformer layer gets bottleneck adapters, how narrow they are and their non-linearity.
public struct BottleneckConfig: Codable, Equatable, Sendable {
    /// Houlsby: after attention and after the feed-forward block; Pfeiffer: after the feed-forward block.
    public enum Placement: String, Codable, CaseIterable, Sendable { case houlsby, pfeiffer }

    public var placement: Placement
    /// The bottleneck width is `max(1, hidden / reductionFactor)` (rounded down, as AdapterHub).
    public var reductionFactor: Float
    public var nonLinearity: BottleneckActivation
    /// The adapter's name in the file's keys (`…adapters.<name>.adapter_down.0.weight`).
    public var name: String

    /// AdapterHub's defaults: reduction factor 16; swish for Houlsby, ReLU for Pfeiffer.
    public init(placement: Placement = .pfeiffer, reductionFactor: Float = 16, nonLinearity: BottleneckActivation? = nil,
                name: String = "bottleneck") {
        self.placement = placement
        self.reductionFactor = reductionFactor
        self.nonLinearity = nonLinearity ?? (placement == .houlsby ? .swish : .relu)
        self.name = name
    }

    /// Houlsby's placement (AdapterHub's `double_seq_bn`): swish unless told.
    public static func houlsby(reductionFactor: Float = 16, nonLinearity: BottleneckActivation = .swish) -> BottleneckConfig {
        BottleneckConfig(placement: .houlsby, reductionFactor: reductionFactor, nonLinearity: nonLinearity)
    }

    /// Pfeiffer's placement (AdapterHub's `seq_bn`): ReLU unless told.
    public static func pfeiffer(reductionFactor: Float = 16, nonLinearity: BottleneckActivation = .relu) -> BottleneckConfig {
        BottleneckConfig(placement: .pfeiffer, reductionFactor: reductionFactor, nonLinearity: nonLinearity)
    }

    /// The bottleneck width for a hidden width.
    public func bottleneck(for hidden: Int) -> Int { max(1, Int((Float(hidden) / reductionFactor).rounded(.down))) }

    /// - Throws: `ClipError(.invalidArgument)` naming the bad setting.
    public func validate() throws {
        guard reductionFactor.isFinite && reductionFactor > 0 else {
            throw ClipError.invalidArgument("bottleneck adapter: reduction factor must be positive, got \(reductionFactor)")
        }
        guard !name.isEmpty && !name.contains(".") else {
            throw ClipError.invalidArgument("bottleneck adapter: name '\(name)' must be nonempty and hold no '.'")
        }
    }

    // MARK: - File metadata

    /// The settings as safetensors metadata (AdapterHub's names: `mh_adapter`, `output_adapter`).
    public var metadata: [String: String] {
        ["adapter_type": AdapterKind.bottleneck.rawValue, "architecture": placement.rawValue,
         "reduction_factor": String(reductionFactor), "non_linearity": nonLinearity.rawValue, "adapter_name": name,
         "mh_adapter": String(placement == .houlsby), "output_adapter": "true"]
    }

    /// Reads the settings back from an adapter file's metadata.
    /// - Throws: `ClipError(.format)` naming the file and the missing or bad key.
    public init(metadata m: [String: String], file: String) throws {
        try AdapterFile.checkType(m, kind: .bottleneck, file: file)
        func value(_ k: String) throws -> String { try AdapterFile.value(m, k, file: file, kind: .bottleneck) }
        guard let placement = Placement(rawValue: try value("architecture")) else {
            throw ClipError.format("\(file): metadata 'architecture' is not one of \(Placement.allCases.map(\.rawValue))")
        }
        guard let factor = Float(try value("reduction_factor")) else {
            throw ClipError.format("\(file): metadata 'reduction_factor' is not a number")
        }
        guard let act = BottleneckActivation(rawValue: try value("non_linearity")) else {
            throw ClipError.format("\(file): metadata 'non_linearity' is not one of \(BottleneckActivation.allCases.map(\.rawValue))")
        }
        self.init(placement: placement, reductionFactor: factor, nonLinearity: act, name: try value("adapter_name"))
        do { try validate() } catch let e as ClipError { throw ClipError.format("\(file): \(e.message)") }
    }
}
