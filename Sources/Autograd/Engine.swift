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
        // Topological order by iterative depth-first search.
        var order: [Variable] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Variable, Bool)] = [(self, false)]
        while let (v, expanded) = stack.popLast() {
            if expanded { order.append(v); continue }
            if !visited.insert(ObjectIdentifier(v)).inserted { continue }
            stack.append((v, true))
            if let node = v.node {
                for input in node.inputs where input.requiresGrad && !visited.contains(ObjectIdentifier(input)) {
                    stack.append((input, false))
                }
            }
        }
        var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): seed]
        for v in order.reversed() {
            guard let g = grads.removeValue(forKey: ObjectIdentifier(v)) else { continue }
            guard let node = v.node else {
                if v.requiresGrad {
                    if let existing = v.grad { v.grad = existing + g } else { v.grad = g.contiguous() }
                }
                continue
            }
            let needs = node.inputs.map(\.requiresGrad)
            let inputGrads = node.backward(g, needs)
            precondition(inputGrads.count == node.inputs.count, "backward of \(node.name): wrong number of gradients")
            for (i, input) in node.inputs.enumerated() where needs[i] {
                guard let gi = inputGrads[i] else { continue }
                precondition(gi.shape == input.value.shape,
                             "backward of \(node.name): gradient shape \(gi.shape) differs from input shape \(input.value.shape)")
                let key = ObjectIdentifier(input)
                if let existing = grads[key] { grads[key] = existing + gi } else { grads[key] = gi }
            }
        }
    }
}
