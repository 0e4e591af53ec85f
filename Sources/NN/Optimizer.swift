// Optimizer interface, parameter groups, gradient clipping.

import Foundation
import Tensor
import Autograd

/// Parameters that share optimizer settings (weight decay, learning-rate multiplier).
public struct ParameterGroup {
    public var parameters: [Variable]
    public var weightDecay: Float
    /// Multiplies the schedule's learning rate for this group.
    public var lrScale: Float

    public init(_ parameters: [Variable], weightDecay: Float = 0, lrScale: Float = 1) {
        self.parameters = parameters
        self.weightDecay = weightDecay
        self.lrScale = lrScale
    }

    /// Two groups from a module, the usual CLIP recipe: parameters whose key
    /// satisfies `noDecay` (default: biases, norms, embeddings of rank < 2,
    /// `logit_scale`) skip weight decay. Frozen parameters are left out.
    public static func decaySplit(_ module: Module, weightDecay: Float,
                                  noDecay: (String, Variable) -> Bool = ParameterGroup.defaultNoDecay) -> [ParameterGroup] {
        decaySplit(module.namedParameters(), weightDecay: weightDecay, noDecay: noDecay)
    }

    /// The same two groups from named parameters that are not one module's (heads, adapters).
    public static func decaySplit(_ named: [(key: String, variable: Variable)], weightDecay: Float,
                                  noDecay: (String, Variable) -> Bool = ParameterGroup.defaultNoDecay) -> [ParameterGroup] {
        let trainable = named.filter { $0.variable.requiresGrad }
        let plain = trainable.filter { noDecay($0.key, $0.variable) }.map(\.variable)
        let decayed = trainable.filter { !noDecay($0.key, $0.variable) }.map(\.variable)
        return [ParameterGroup(decayed, weightDecay: weightDecay), ParameterGroup(plain, weightDecay: 0)]
    }

    /// Rank < 2 parameters (biases, norm gains, scalars) and keys naming a norm, bias or logit scale.
    public static func defaultNoDecay(_ key: String, _ v: Variable) -> Bool {
        v.rank < 2 || key.hasSuffix(".bias") || key.contains("norm") || key.contains("logit_")
    }

    /// open_clip's rule, as ELIP's official training uses it (ELIP-C/src/training/main.py, `main`:
    /// `exclude = p.ndim < 2 or "bn" in n or "ln" in n or "bias" in n or 'logit_scale' in n`):
    /// gains, biases and the temperature get no weight decay, weight matrices do.
    public static func openCLIPNoDecay(_ key: String, _ v: Variable) -> Bool {
        v.rank < 2 || key.contains("bn") || key.contains("ln") || key.contains("bias") || key.contains("logit_scale")
    }
}

/// Updates parameters from their gradients.
public protocol Optimizer: AnyObject {
    var groups: [ParameterGroup] { get }
    /// The base learning rate; groups scale it by `lrScale`.
    var learningRate: Float { get set }
    /// One update of every parameter that has a gradient; parameters without one are left alone.
    func step()
}

extension Optimizer {
    /// Clears every gradient.
    public func zeroGrad() {
        for g in groups { for p in g.parameters { p.zeroGrad() } }
    }

    /// Every parameter with a gradient, as (parameter, dense gradient).
    func withGradients(_ body: (Variable, Tensor, ParameterGroup) -> Void) {
        for group in groups {
            for p in group.parameters {
                guard p.requiresGrad, let g = p.grad else { continue }
                if !p.value.isContiguous { p.assign(p.value.contiguous()) }
                body(p, g.contiguous(), group)
            }
        }
    }
}

/// Per-parameter optimizer state buffers, keyed by parameter identity.
final class StateBuffers {
    private(set) var buffers: [ObjectIdentifier: Tensor] = [:]

    func set(_ t: Tensor, for p: Variable) { buffers[ObjectIdentifier(p)] = t }

    func buffer(for p: Variable) -> (Tensor, fresh: Bool) {
        if let b = buffers[ObjectIdentifier(p)] { return (b, false) }
        let b = Tensor.zeros(p.shape)
        buffers[ObjectIdentifier(p)] = b
        return (b, true)
    }
}

// MARK: - Gradient utilities

/// The L2 norm of all gradients together; when it exceeds `maxNorm` every
/// gradient is scaled by `maxNorm / (norm + 1e-6)` (as `torch.nn.utils.clip_grad_norm_`).
/// Returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ parameters: [Variable], maxNorm: Float) -> Float {
    var total = 0.0
    for p in parameters {
        guard let g = p.grad?.contiguous() else { continue }
        var s = 0.0
        for i in 0..<g.count { let v = Double(g.data[i]); s += v * v }
        total += s
    }
    let norm = Float(total.squareRoot())
    if norm > maxNorm {
        scaleGradients(parameters, by: maxNorm / (norm + 1e-6))
    }
    return norm
}

/// Multiplies every gradient by `factor` (averaging accumulated micro-batch gradients, say).
///
/// Gradient accumulation: gradients add up across `backward()` calls until
/// `zeroGrad()`, so k micro-batches of a batch are k forward/backward passes
/// followed by `scaleGradients(by: 1/k)` (for mean losses) and one `step()`.
public func scaleGradients(_ parameters: [Variable], by factor: Float) {
    for p in parameters {
        if let g = p.grad { p.grad = g * factor }
    }
}
