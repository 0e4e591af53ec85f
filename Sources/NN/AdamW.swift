// AdamW (Loshchilov & Hutter 2019), with PyTorch's update formula.

import Foundation
import Tensor
import Autograd

/// Adam with decoupled weight decay: `p ← p·(1 − lr·wd)`, then
/// `p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)`, as `torch.optim.AdamW`.
public final class AdamW: Optimizer {
    public private(set) var groups: [ParameterGroup]
    public var learningRate: Float
    public let beta1: Float, beta2: Float, eps: Float
    /// Steps taken so far.
    public private(set) var stepCount = 0
    private let firstMoments = StateBuffers()
    private let secondMoments = StateBuffers()

    public init(_ groups: [ParameterGroup], learningRate: Float = 1e-3,
                beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8) {
        self.groups = groups
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
    }

    public convenience init(_ parameters: [Variable], learningRate: Float = 1e-3, weightDecay: Float = 1e-2,
                            beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8) {
        self.init([ParameterGroup(parameters, weightDecay: weightDecay)], learningRate: learningRate,
                  beta1: beta1, beta2: beta2, eps: eps)
    }

    public func step() {
        stepCount += 1
        let t = Double(stepCount)
        let bc1 = 1 - Foundation.pow(Double(beta1), t)
        // float32 throughout, as PyTorch's kernel (its Python-float bias correction is used as a float).
        let bc2Root = Float((1 - Foundation.pow(Double(beta2), t)).squareRoot())
        let (b1, b2, eps) = (beta1, beta2, self.eps)
        let (c1, c2) = (1 - b1, 1 - b2)
        withGradients { p, g, group in
            let lr = learningRate * group.lrScale
            let decay = 1 - lr * group.weightDecay
            let stepSize = Float(Double(lr) / bc1)
            let m = firstMoments.buffer(for: p).0.data, v = secondMoments.buffer(for: p).0.data
            let w = p.value.data, gd = g.data
            parallelFor(p.value.count, costPerItem: 8) { r in
                // One vectorised pass over each chunk (CKernels: the same bits on every path).
                RowKernels.adamW(w + r.lowerBound, gradient: gd + r.lowerBound, m: m + r.lowerBound, v: v + r.lowerBound,
                                 count: r.count, beta1: b1, oneMinusBeta1: c1, beta2: b2, oneMinusBeta2: c2,
                                 decay: decay, stepSize: stepSize, bc2Root: bc2Root, eps: eps)
            }
            p.value.storage.markModified()
        }
    }

    // MARK: - State

    /// The moments of every named parameter (`exp_avg.KEY`, `exp_avg_sq.KEY`) and the step count
    /// (`step`), for checkpoints that resume training exactly.
    public func state(named parameters: [(key: String, variable: Variable)]) -> [(name: String, tensor: Tensor)] {
        var out: [(name: String, tensor: Tensor)] = [("step", Tensor(scalar: Float(stepCount)))]
        for p in parameters {
            if let m = firstMoments.buffers[ObjectIdentifier(p.variable)] { out.append(("exp_avg." + p.key, m)) }
            if let v = secondMoments.buffers[ObjectIdentifier(p.variable)] { out.append(("exp_avg_sq." + p.key, v)) }
        }
        return out
    }

    /// Restores what `state(named:)` saved.
    /// - Throws: `ClipError` when a moment's shape differs from its parameter's or `step` is missing.
    public func load(state: [String: Tensor], named parameters: [(key: String, variable: Variable)]) throws {
        guard let step = state["step"], step.count == 1, step.item >= 0 else {
            throw ClipError(.format, "optimizer state: 'step' missing")
        }
        for p in parameters {
            for (name, buffers) in [("exp_avg.", firstMoments), ("exp_avg_sq.", secondMoments)] {
                guard let t = state[name + p.key] else { continue }
                guard t.shape == p.variable.shape else {
                    throw ClipError(.shape, "optimizer state: \(name + p.key) is \(t.shape), the parameter \(p.variable.shape)")
                }
                buffers.set(t + Tensor.zeros(t.shape), for: p.variable)      // an owned, writable copy
            }
        }
        stepCount = Int(step.item)
    }
}

