// A tensor in the differentiation graph.

import Tensor

/// A value in the reverse-mode graph: a `Tensor` plus, for results of
/// differentiable operations, the node that made it.
///
/// Leaves are created by the user (parameters, inputs). A leaf with
/// `requiresGrad == false` is a constant: operations on it record nothing for
/// it, backward rules skip its gradient (a frozen weight's gradient GEMM never
/// runs) and it never gets a `grad` buffer.
///
/// The graph refers to an operation's result through its `GraphEdge`, which
/// holds the node and the shape but not the value: an intermediate result
/// whose value no backward rule captured is freed as soon as the caller drops
/// it, as in PyTorch, where only saved tensors outlive the forward pass.
public final class Variable {
    /// The forward value.
    public private(set) var value: Tensor
    /// The accumulated gradient (leaves only), same shape as `value`.
    public var grad: Tensor?
    /// Whether gradients flow to (and through) this variable.
    public private(set) var requiresGrad: Bool
    /// The graph's handle on this result; nil for leaves and constants.
    let edge: GraphEdge?

    /// A leaf.
    public init(_ value: Tensor, requiresGrad: Bool = false) {
        self.value = value
        self.requiresGrad = requiresGrad
        edge = nil
    }

    init(_ value: Tensor, node: Node) {
        self.value = value
        requiresGrad = true
        edge = GraphEdge(node: node, shape: value.shape)
    }

    public var shape: [Int] { value.shape }
    public var rank: Int { value.rank }
    public var isLeaf: Bool { edge == nil }

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

/// An operation's result as the graph sees it: the node that made it and its shape.
final class GraphEdge {
    private(set) var node: Node?
    let shape: [Int]

    init(node: Node, shape: [Int]) {
        self.node = node
        self.shape = shape
    }

    /// Releases the graph behind this edge without recursion: nodes and edges
    /// owned only by it are detached onto a worklist, so a chain of millions of
    /// operations is freed in a loop rather than nested deinits.
    deinit {
        guard node != nil else { return }
        var pending = [node!]
        node = nil
        while var n = pending.popLast() {
            guard isKnownUniquelyReferenced(&n) else { continue }
            for i in n.inputs.indices {
                guard case .result(var e) = n.inputs[i] else { continue }
                n.inputs[i] = .released
                if isKnownUniquelyReferenced(&e), let sub = e.node {
                    e.node = nil
                    pending.append(sub)
                }
            }
        }
    }
}

/// An input of a node: a leaf (its gradient accumulates into it), an operation's result, a constant,
/// or an input already released with its graph.
enum GraphInput {
    case leaf(Variable)
    case result(GraphEdge)
    case constant
    case released

    init(_ v: Variable) {
        if let e = v.edge { self = .result(e) } else if v.requiresGrad { self = .leaf(v) } else { self = .constant }
    }

    var requiresGrad: Bool {
        switch self {
        case .leaf, .result: return true
        case .constant, .released: return false
        }
    }
}

/// One recorded operation: its inputs and the rule mapping the output's
/// gradient to the inputs' gradients.
final class Node {
    let name: StaticString
    var inputs: [GraphInput]
    /// Given the output gradient and which inputs need a gradient, returns one
    /// gradient per input (nil where not needed). Must not compute unneeded ones.
    let backward: (Tensor, [Bool]) -> [Tensor?]

    init(name: StaticString, inputs: [Variable], backward: @escaping (Tensor, [Bool]) -> [Tensor?]) {
        self.name = name
        self.inputs = inputs.map(GraphInput.init)
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
