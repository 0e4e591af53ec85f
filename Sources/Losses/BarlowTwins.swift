// Barlow Twins (Zbontar et al., "Barlow Twins: Self-Supervised Learning via Redundancy Reduction",
// ICML 2021).

import Tensor
import Autograd

/// Each input batch-normalised over the batch (mean 0, biased variance 1 with ε = 1e-5, no affine:
/// BatchNorm1d in training mode), C = âᵀb̂ / n the `[d, d]` cross-correlation, and
/// Σ_i (1 − C_ii)² + λ Σ_{i≠j} C_ij². Symmetric: both inputs get gradients. λ defaults to 5e-3.
public struct BarlowTwins: DistillationLoss {
    public var lambda: Float
    public var epsilon: Float

    public init(lambda: Float = 5e-3, epsilon: Float = 1e-5) {
        self.lambda = lambda
        self.epsilon = epsilon
    }

    public var name: String { DistillationLossKind.barlowTwins.rawValue }
    public var isOneDirectional: Bool { false }

    public func loss(student: Variable, teacher: Variable) throws -> Variable {
        let (n, d) = try LossInputs.check(name, student, teacher, minBatch: 2)
        guard lambda >= 0, lambda.isFinite else {
            throw ClipError.invalidArgument("\(name): lambda must be a finite number ≥ 0, got \(lambda)")
        }
        guard epsilon > 0, epsilon.isFinite else {
            throw ClipError.invalidArgument("\(name): epsilon must be a positive number, got \(epsilon)")
        }
        func normalised(_ z: Variable) -> Variable {
            let centred = z - z.mean(axis: 0, keepDim: true)
            return centred * ((centred * centred).mean(axis: 0, keepDim: true) + epsilon).rsqrt()
        }
        let c = normalised(student).transposed().matmul(normalised(teacher)) * (1 / Float(n))
        let residual = c - Variable(LossInputs.identity(d))
        return (residual * residual * Variable(LossInputs.identity(d, off: lambda))).sum()
    }
}
