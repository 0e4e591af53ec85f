// Module: a tree of layers whose parameters carry their checkpoint keys.

import Tensor
import Autograd

/// A layer or model: named parameters and named children, so that every
/// parameter has the dotted key it has in a checkpoint
/// (`vision_model.encoder.layers.3.self_attn.q_proj.weight`).
///
/// Subclasses create their parameters and children in `init` and register
/// them under their checkpoint names with `register(_:_:)`.
open class Module {
    /// Training mode (dropout active) or evaluation mode.
    public private(set) var isTraining = true
    private var ownParameters: [(key: String, variable: Variable)] = []
    /// State that is saved and loaded with the parameters but never optimised (BatchNorm's running statistics).
    private var ownBuffers: [(key: String, variable: Variable)] = []
    private var children: [(key: String, module: Module)] = []
    /// Modules whose contents this one registered as its own (`registerContents(of:)`): they follow its mode.
    private var adopted: [Module] = []

    public init() {}

    // MARK: - Registration

    /// Registers a parameter under `key` (one path component, no dots).
    public func register(_ key: String, _ parameter: Variable) {
        precondition(!key.isEmpty && !key.contains("."), "Module: parameter key '\(key)' must be one non-empty component")
        precondition(!isRegistered(key), "Module: key '\(key)' registered twice")
        ownParameters.append((key, parameter))
    }

    /// Registers a buffer under `key` (one path component): a tensor that the state dict saves and
    /// loads but that takes no gradient and is not among `parameters` (no optimizer sees it), as
    /// `torch.nn.Module.register_buffer`. The module updates its value with `assign`.
    public func registerBuffer(_ key: String, _ buffer: Variable) {
        precondition(!key.isEmpty && !key.contains("."), "Module: buffer key '\(key)' must be one non-empty component")
        precondition(!isRegistered(key), "Module: key '\(key)' registered twice")
        precondition(buffer.isLeaf && !buffer.requiresGrad, "Module: buffer '\(key)' must be a leaf without gradient")
        ownBuffers.append((key, buffer))
    }

    private func isRegistered(_ key: String) -> Bool {
        ownParameters.contains { $0.key == key } || ownBuffers.contains { $0.key == key } || children.contains { $0.key == key }
    }

    /// Registers a child module under `key` (one path component; list indices are keys "0", "1", …).
    public func register(_ key: String, _ child: Module) {
        precondition(!key.isEmpty && !key.contains("."), "Module: child key '\(key)' must be one non-empty component")
        precondition(!isRegistered(key), "Module: key '\(key)' registered twice")
        children.append((key, child))
    }

    /// Registers every parameter and child of `other` under its own key, so that this module's keys are
    /// `other`'s (a wrapper that adds behaviour but no key level); `other` follows this module's mode.
    public func registerContents(of other: Module) {
        for p in other.ownParameters { register(p.key, p.variable) }
        for b in other.ownBuffers { registerBuffer(b.key, b.variable) }
        for c in other.children { register(c.key, c.module) }
        adopted.append(other)
    }

    // MARK: - Traversal

    /// Every parameter with its full dotted key, depth first in registration order.
    public func namedParameters(prefix: String = "") -> [(key: String, variable: Variable)] {
        var out = ownParameters.map { (key: prefix + $0.key, variable: $0.variable) }
        for c in children {
            out += c.module.namedParameters(prefix: prefix + c.key + ".")
        }
        return out
    }

    /// Every buffer with its full dotted key, depth first in registration order.
    public func namedBuffers(prefix: String = "") -> [(key: String, variable: Variable)] {
        var out = ownBuffers.map { (key: prefix + $0.key, variable: $0.variable) }
        for c in children {
            out += c.module.namedBuffers(prefix: prefix + c.key + ".")
        }
        return out
    }

    /// What the state dict holds: every parameter and buffer with its full dotted key, each module's
    /// parameters then its buffers, then its children's (PyTorch's `state_dict` order).
    public func namedStateEntries(prefix: String = "") -> [(key: String, variable: Variable)] {
        var out = ownParameters.map { (key: prefix + $0.key, variable: $0.variable) }
        out += ownBuffers.map { (key: prefix + $0.key, variable: $0.variable) }
        for c in children {
            out += c.module.namedStateEntries(prefix: prefix + c.key + ".")
        }
        return out
    }

    /// Every module below this one (itself first) with its dotted path ("" for itself).
    public func namedModules(prefix: String = "") -> [(key: String, module: Module)] {
        var out: [(key: String, module: Module)] = [(prefix.isEmpty ? "" : String(prefix.dropLast()), self)]
        for c in children { out += c.module.namedModules(prefix: prefix + c.key + ".") }
        return out
    }

    public var parameters: [Variable] { namedParameters().map(\.variable) }

    /// The parameter at a full dotted key, if any.
    public func parameter(at key: String) -> Variable? {
        namedParameters().first { $0.key == key }?.variable
    }

    // MARK: - Modes

    /// Sets training mode (true) or evaluation mode (false) on this module and every child.
    public func train(_ on: Bool = true) {
        isTraining = on
        for c in children { c.module.train(on) }
        for a in adopted { a.isTraining = on }
    }

    /// Evaluation mode: dropout is the identity.
    public func eval() { train(false) }

    // MARK: - Freezing and counts

    /// Stops gradients for every parameter whose full key satisfies `predicate`.
    public func freeze(where predicate: (String) -> Bool = { _ in true }) {
        for p in namedParameters() where predicate(p.key) { p.variable.setRequiresGrad(false) }
    }

    /// Lets gradients flow to every parameter whose full key satisfies `predicate`.
    public func unfreeze(where predicate: (String) -> Bool = { _ in true }) {
        for p in namedParameters() where predicate(p.key) { p.variable.setRequiresGrad(true) }
    }

    /// Number of scalar parameters.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Number of scalar parameters that take gradients.
    public var trainableParameterCount: Int {
        parameters.filter(\.requiresGrad).reduce(0) { $0 + $1.value.count }
    }

    /// Clears every parameter's gradient.
    public func zeroGrad() { for p in parameters { p.zeroGrad() } }

    // MARK: - State

    /// The parameters' and buffers' current values by full key (`namedStateEntries` order).
    public func stateDict() -> [(key: String, tensor: Tensor)] {
        namedStateEntries().map { ($0.key, $0.variable.value) }
    }

    /// String metadata that `save(to:metadata:)` writes into the safetensors header with the caller's
    /// (which wins on a clash): a model that rebuilds itself from its file states its settings here.
    open var checkpointMetadata: [String: String] { [:] }
}
