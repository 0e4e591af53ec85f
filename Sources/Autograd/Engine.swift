// Backward pass and the no-grad scope.

import Tensor

/// Whether operations record the graph on this task (see `withNoGrad`).
public enum GradMode {
    @TaskLocal static var enabled = true
    public static var isEnabled: Bool { enabled }
}

/// Runs `body` without recording any graph: results are constants. Inference
/// runs in this scope.
public func withNoGrad<T>(_ body: () throws -> T) rethrows -> T {
    try GradMode.$enabled.withValue(false, operation: body)
}

extension Variable {
    /// Backpropagates from this variable. A scalar (one element) uses gradient
    /// 1; otherwise `gradient` (same shape) is required. Leaves that require
    /// gradients accumulate into `grad`.
    public func backward(gradient: Tensor? = nil) {
        precondition(requiresGrad, "backward: this variable does not require gradients")
        let seed: Tensor
        if let gradient {
            precondition(gradient.shape == value.shape, "backward: gradient shape \(gradient.shape) differs from \(value.shape)")
            seed = gradient
        } else {
            precondition(value.count == 1, "backward: a gradient is needed for a non-scalar of shape \(value.shape)")
            seed = Tensor.ones(value.shape)
        }
        // Topological order of the graph's results by iterative depth-first search.
        guard let root = edge else {
            if let existing = grad { grad = existing + seed } else { grad = seed.contiguous() }
            return
        }
        var order: [GraphEdge] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(GraphEdge, Bool)] = [(root, false)]
        while let (e, expanded) = stack.popLast() {
            if expanded { order.append(e); continue }
            if !visited.insert(ObjectIdentifier(e)).inserted { continue }
            stack.append((e, true))
            for case .result(let input) in e.node?.inputs ?? [] where !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
        }
        var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): seed]
        var leafGrads: [ObjectIdentifier: (Variable, Tensor)] = [:]
        for e in order.reversed() {
            guard let g = grads.removeValue(forKey: ObjectIdentifier(e)), let node = e.node else { continue }
            let needs = node.inputs.map(\.requiresGrad)
            let inputGrads = node.backward(g, needs)
            precondition(inputGrads.count == node.inputs.count, "backward of \(node.name): wrong number of gradients")
            for (i, input) in node.inputs.enumerated() where needs[i] {
                guard let gi = inputGrads[i] else { continue }
                switch input {
                case .result(let r):
                    precondition(gi.shape == r.shape,
                                 "backward of \(node.name): gradient shape \(gi.shape) differs from input shape \(r.shape)")
                    let key = ObjectIdentifier(r)
                    if let existing = grads[key] { grads[key] = existing + gi } else { grads[key] = gi }
                case .leaf(let v):
                    precondition(gi.shape == v.value.shape,
                                 "backward of \(node.name): gradient shape \(gi.shape) differs from input shape \(v.value.shape)")
                    let key = ObjectIdentifier(v)
                    if let existing = leafGrads[key] { leafGrads[key] = (v, existing.1 + gi) } else { leafGrads[key] = (v, gi) }
                case .constant, .released:
                    break
                }
            }
        }
        for (v, g) in leafGrads.values {
            if let existing = v.grad { v.grad = existing + g } else { v.grad = g.contiguous() }
        }
    }
}
