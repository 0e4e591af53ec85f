// A tensor in the differentiation graph.

import Tensor

/// A value in the reverse-mode graph: a `Tensor` plus, for results of
/// differentiable operations, the node that made it.
///
/// Leaves are created by the user (parameters, inputs). A leaf with
/// `requiresGrad == false` is a constant: operations on it record nothing for
/// it, backward rules skip its gradient (a frozen weight's gradient GEMM never
/// runs) and it never gets a `grad` buffer.
public final class Variable {
    /// The forward value.
    public private(set) var value: Tensor
    /// The accumulated gradient (leaves only), same shape as `value`.
    public var grad: Tensor?
    /// Whether gradients flow to (and through) this variable.
    public private(set) var requiresGrad: Bool
    /// The operation that produced this variable; nil for leaves and constants.
    private(set) var node: Node?

    /// A leaf.
    public init(_ value: Tensor, requiresGrad: Bool = false) {
        self.value = value
        self.requiresGrad = requiresGrad
        node = nil
    }

    init(_ value: Tensor, node: Node) {
        self.value = value
        requiresGrad = true
        self.node = node
    }

    /// Releases the graph behind this variable without recursion: nodes and
    /// variables owned only by it are detached onto a worklist, so a chain of
    /// millions of operations is freed in a loop rather than nested deinits.
    deinit {
        guard var pending = node.map({ [$0] }) else { return }
        node = nil
        while var n = pending.popLast() {
            guard isKnownUniquelyReferenced(&n) else { continue }
            for i in n.inputs.indices where isKnownUniquelyReferenced(&n.inputs[i]) {
                if let sub = n.inputs[i].node {
                    n.inputs[i].node = nil
                    pending.append(sub)
                }
            }
        }
    }

    public var shape: [Int] { value.shape }
    public var rank: Int { value.rank }
    public var isLeaf: Bool { node == nil }

    /// Sets whether a leaf takes gradients (freeze / unfreeze).
    public func setRequiresGrad(_ flag: Bool) {
        precondition(isLeaf, "requiresGrad can only be changed on leaves")
        requiresGrad = flag
        if !flag { grad = nil }
    }

    /// Replaces a leaf's value (optimizer updates, checkpoint loads); the shape must stay.
    public func assign(_ newValue: Tensor) {
        precondition(isLeaf, "assign: only leaves can be assigned")
        precondition(newValue.shape == value.shape, "assign: shape \(newValue.shape) differs from \(value.shape)")
        value = newValue
    }

    /// The same value, cut from the graph.
    public func detached() -> Variable { Variable(value) }

    /// Clears the accumulated gradient.
    public func zeroGrad() { grad = nil }
}

/// One recorded operation: its inputs and the rule mapping the output's
/// gradient to the inputs' gradients.
final class Node {
    let name: StaticString
    var inputs: [Variable]
    /// Given the output gradient and which inputs need a gradient, returns one
    /// gradient per input (nil where not needed). Must not compute unneeded ones.
    let backward: (Tensor, [Bool]) -> [Tensor?]

    init(name: StaticString, inputs: [Variable], backward: @escaping (Tensor, [Bool]) -> [Tensor?]) {
        self.name = name
        self.inputs = inputs
        self.backward = backward
    }
}

extension Variable {
    /// Records an operation: a graph node when gradients are enabled and some
    /// input needs one, otherwise a constant.
    static func record(_ name: StaticString, _ value: Tensor, _ inputs: [Variable],
                       _ backward: @escaping (Tensor, [Bool]) -> [Tensor?]) -> Variable {
        guard GradMode.isEnabled, inputs.contains(where: { $0.requiresGrad }) else {
            return Variable(value)
        }
        return Variable(value, node: Node(name: name, inputs: inputs, backward: backward))
    }
}
