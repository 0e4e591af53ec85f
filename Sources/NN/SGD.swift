// Stochastic gradient descent with momentum, as torch.optim.SGD.

import Tensor
import Autograd

/// `g ← g + wd·p`; `buf ← μ·buf + (1 − dampening)·g` (the first step sets `buf = g`);
/// `p ← p − lr·buf` (or `p ← p − lr·(g + μ·buf)` with Nesterov).
public final class SGD: Optimizer {
    public private(set) var groups: [ParameterGroup]
    public var learningRate: Float
    public let momentum: Float, dampening: Float, nesterov: Bool
    private let velocity = StateBuffers()

    public init(_ groups: [ParameterGroup], learningRate: Float, momentum: Float = 0,
                dampening: Float = 0, nesterov: Bool = false) {
        self.groups = groups
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
    }

    public convenience init(_ parameters: [Variable], learningRate: Float, momentum: Float = 0, weightDecay: Float = 0) {
        self.init([ParameterGroup(parameters, weightDecay: weightDecay)], learningRate: learningRate, momentum: momentum)
    }

    public func step() {
        let (mu, damp, nesterov) = (momentum, dampening, self.nesterov)
        withGradients { p, g, group in
            let lr = learningRate * group.lrScale, wd = group.weightDecay
            let w = p.value.data, gd = g.data
            let (buffer, fresh) = mu != 0 ? velocity.buffer(for: p) : (Tensor(scalar: 0), true)
            let b = buffer.data
            parallelFor(p.value.count, costPerItem: 4) { r in
                for i in r {
                    var gi = gd[i] + wd * w[i]
                    if mu != 0 {
                        b[i] = fresh ? gi : mu * b[i] + (1 - damp) * gi
                        gi = nesterov ? gi + mu * b[i] : b[i]
                    }
                    w[i] -= lr * gi
                }
            }
            p.value.storage.markModified()
        }
    }
}
