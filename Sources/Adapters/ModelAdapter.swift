// The common face of every adapter kind (LoRA, bottleneck, prefix tuning, (IA)³): its parameters,
// its own safetensors file, and the entry points a trainer calls to attach or load one.

import Foundation
import Tensor
import Autograd
import NN

/// The adapter kinds, by the name their files carry in the `adapter_type` metadata.
public enum AdapterKind: String, CaseIterable, Codable, Sendable {
    case lora, bottleneck, prefix, ia3
}

/// Adapters attached to a model whose own parameters are frozen. Attaching never changes the base
/// model's parameters or checkpoint keys; the adapter weights live in their own file.
public protocol ModelAdapter: AnyObject {
    var kind: AdapterKind { get }
    /// The adapted model.
    var base: Module { get }
    /// The adapters' parameters with their adapter-file keys, in a fixed order.
    func namedParameters() -> [(key: String, variable: Variable)]
    /// The settings, as the adapter file's metadata stores them (string values; `adapter_type` included).
    var settings: [String: String] { get }
    /// The adapters' parameters (what an optimizer updates).
    var parameters: [Variable] { get }
    /// Writes the adapter weights alone, the settings in the metadata (plus `metadata`).
    /// - Throws: `ClipError(.io)` on a write failure.
    func save(to path: String, metadata: [String: String]) throws
    /// Reads weights saved by an adapter of the same settings on a model of the same shape.
    /// - Throws: `ClipError(.format)` naming a missing or unexpected key, `ClipError(.shape)` naming a
    ///   wrongly shaped one; nothing is changed on failure.
    func load(from path: String) throws
    /// Removes the adapters from the model (which then computes what it did before attaching).
    func detach()
}

extension ModelAdapter {
    public var parameters: [Variable] { namedParameters().map(\.variable) }

    /// Number of scalar adapter parameters.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    public func save(to path: String, metadata: [String: String] = [:]) throws {
        try AdapterFile.save(namedParameters(), settings: settings, extra: metadata, to: path)
    }

    public func load(from path: String) throws {
        try AdapterFile.load(namedParameters(), from: SafeTensorsFile(path: path))
    }
}

/// One adapter kind's settings.
public enum AdapterConfig: Equatable, Sendable {
    case lora(LoRAConfig)
    case bottleneck(BottleneckConfig)
    case prefix(PrefixConfig)
    case ia3(IA3Config)

    public var kind: AdapterKind {
        switch self {
        case .lora: .lora
        case .bottleneck: .bottleneck
        case .prefix: .prefix
        case .ia3: .ia3
        }
    }

    /// Each kind's default settings (LoRA: q_proj and v_proj, which BERT-style towers name `query`
    /// and `value`; bottleneck: Pfeiffer; prefix: 30 tokens through a 512-wide MLP; (IA)³: keys,
    /// values and the feed-forward input).
    public static func defaults(_ kind: AdapterKind) -> AdapterConfig {
        switch kind {
        case .lora: .lora(LoRAConfig())
        case .bottleneck: .bottleneck(.pfeiffer())
        case .prefix: .prefix(PrefixConfig())
        case .ia3: .ia3(IA3Config())
        }
    }
}

/// Entry points for trainers: attach new adapters of any kind, or load an adapter file of any kind.
public enum Adapters {
    /// Attaches new adapters to `model` (new weights from a stream seeded with `seed`) and freezes
    /// every parameter of `model`.
    /// - Throws: `ClipError(.invalidArgument)` on bad settings, a model with nowhere to attach, or a
    ///   layer that already has an adapter.
    public static func attach(_ config: AdapterConfig, to model: Module, seed: UInt64 = 0) throws -> any ModelAdapter {
        switch config {
        case .lora(let c): return try LoRAModel(wrapping: model, config: c, seed: seed)
        case .bottleneck(let c): return try BottleneckModel(wrapping: model, config: c, seed: seed)
        case .prefix(let c): return try PrefixModel(wrapping: model, config: c, seed: seed)
        case .ia3(let c): return try IA3Model(wrapping: model, config: c)
        }
    }

    /// Attaches new adapters of `kind` with its default settings (`AdapterConfig.defaults`).
    public static func attach(_ kind: AdapterKind, to model: Module, seed: UInt64 = 0) throws -> any ModelAdapter {
        try attach(.defaults(kind), to: model, seed: seed)
    }

    /// The settings an adapter file's metadata holds.
    /// - Throws: `ClipError(.format)` naming the file and the missing or bad metadata.
    public static func config(ofFile path: String) throws -> AdapterConfig {
        try config(SafeTensorsFile(path: file(path)))
    }

    /// The adapter file of `path`: itself, or `adapter_model.safetensors` in a folder (PEFT's layout).
    public static func file(_ path: String) -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else { return path }
        return path + "/adapter_model.safetensors"
    }

    static func config(_ file: SafeTensorsFile) throws -> AdapterConfig {
        let m = file.metadata, path = file.path
        guard let type = m["adapter_type"] ?? (m["r"] != nil ? "lora" : nil) else {
            // A file PEFT saved keeps its settings in adapter_config.json beside it.
            let peft = (path as NSString).deletingLastPathComponent + "/" + PEFTConfig.fileName
            if FileManager.default.fileExists(atPath: peft) { return .lora(try PEFTConfig.read(peft)) }
            throw ClipError.format("\(path): metadata 'adapter_type' missing and no \(PEFTConfig.fileName) beside it (not an adapter file?)")
        }
        guard let kind = AdapterKind(rawValue: type) else {
            throw ClipError.format("\(path): adapter_type '\(type)' is none of \(AdapterKind.allCases.map(\.rawValue))")
        }
        switch kind {
        case .lora: return .lora(try LoRAConfig(metadata: m, file: path))
        case .bottleneck: return .bottleneck(try BottleneckConfig(metadata: m, file: path))
        case .prefix: return .prefix(try PrefixConfig(metadata: m, file: path))
        case .ia3: return .ia3(try IA3Config(metadata: m, file: path))
        }
    }

    /// Attaches the adapters an adapter file describes (its kind and settings from the metadata, or for
    /// a LoRA file saved by PEFT from the `adapter_config.json` beside it; a folder stands for its
    /// `adapter_model.safetensors`) to `model` and loads their weights strictly.
    /// - Throws: `ClipError(.format)` on metadata that names no adapter kind or bad settings, a missing
    ///   or unexpected key; `ClipError(.shape)` naming a key whose shape differs from what this model
    ///   needs (an adapter saved on a model of another shape). On failure `model` is left without adapters.
    public static func load(_ path: String, into model: Module) throws -> any ModelAdapter {
        let file = try SafeTensorsFile(path: Self.file(path))
        let settings = try config(file)
        let adapter = try ParameterInitialization.withoutInitialization { try attach(settings, to: model) }
        do { try AdapterFile.load(adapter.namedParameters(), from: file) } catch {
            adapter.detach()
            throw error
        }
        return adapter
    }
}

// MARK: - Files

/// Writing and strictly reading adapter weights.
enum AdapterFile {
    static func save(_ named: [(key: String, variable: Variable)], settings: [String: String], extra: [String: String],
                     to path: String) throws {
        try SafeTensors.write(named.map { (name: $0.key, tensor: $0.variable.value) },
                              metadata: extra.merging(settings) { _, ours in ours }.merging(["format": "pt"]) { a, _ in a },
                              to: path)
    }

    /// Every key of the file must be one of `expected`, every expected key must be in the file, shapes
    /// must agree; nothing is assigned unless all do.
    static func load(_ expected: [(key: String, variable: Variable)], from file: SafeTensorsFile) throws {
        let known = Set(expected.map(\.key))
        if let extra = file.names.first(where: { !known.contains($0) }) {
            throw ClipError.format("\(file.path): key '\(extra)' belongs to no adapter of the model")
        }
        var values: [Tensor] = []
        for (key, variable) in expected {
            guard let entry = file.entries[key] else {
                throw ClipError.format("\(file.path): key '\(key)' missing")
            }
            guard entry.shape == variable.shape else {
                throw ClipError.shape("\(file.path): key '\(key)' has shape \(entry.shape), the model needs \(variable.shape)")
            }
            values.append(try file.tensor(key))
        }
        for ((_, variable), value) in zip(expected, values) { variable.assign(value.contiguous()) }
    }

    /// A metadata value, or a format error naming the file and key.
    static func value(_ m: [String: String], _ key: String, file: String, kind: AdapterKind) throws -> String {
        guard let v = m[key] else { throw ClipError.format("\(file): metadata '\(key)' missing (not a \(kind.rawValue) adapter file?)") }
        return v
    }

    /// Checks `adapter_type` against `kind`.
    static func checkType(_ m: [String: String], kind: AdapterKind, file: String) throws {
        guard let t = m["adapter_type"] else { throw ClipError.format("\(file): metadata 'adapter_type' missing") }
        guard t == kind.rawValue else {
            throw ClipError.format("\(file): metadata adapter_type is '\(t)', not '\(kind.rawValue)'")
        }
    }
}

// MARK: - Where adapters attach

/// The transformer layers of `model` (those that are `AdaptableLayer`s), by dotted path, in module order,
/// with the dotted path of every `Linear` in `model`.
struct AdaptableLayers {
    let layers: [(path: String, sites: AdapterSites)]
    private let linearPaths: [ObjectIdentifier: String]

    init(_ model: Module) {
        var layers: [(String, AdapterSites)] = []
        var paths: [ObjectIdentifier: String] = [:]
        for (path, module) in model.namedModules() {
            if let layer = module as? AdaptableLayer { layers.append((path, layer.adapterSites)) }
            if module is Linear { paths[ObjectIdentifier(module)] = path }
        }
        self.layers = layers
        linearPaths = paths
    }

    /// The dotted path of a Linear layer of the model.
    func path(of linear: Linear) -> String { linearPaths[ObjectIdentifier(linear)] ?? "?" }

    /// - Throws: `ClipError(.invalidArgument)` when the model has no adaptable transformer layer.
    func require(_ what: String) throws {
        guard !layers.isEmpty else {
            throw ClipError.invalidArgument("\(what): the model has no transformer layer adapters attach to "
                                            + "(CLIP, SigLIP, open_clip, BERT, RoBERTa or MPNet towers)")
        }
    }
}

/// The last component of a dotted path.
func lastComponent(_ path: String) -> String { String(path.split(separator: ".").last ?? "") }

/// `path.` (empty for the root).
func dotted(_ path: String) -> String { path.isEmpty ? "" : path + "." }
