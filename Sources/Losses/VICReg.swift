// VICReg (Bardes, Ponce, LeCun, "VICReg: Variance-Invariance-Covariance Regularization for
// Self-Supervised Learning", ICLR 2022), as the authors' released code computes it.

import Tensor
import Autograd

/// `invariance`·MSE(a, b) + `variance`·(v(a) + v(b))/2 + `covariance`·(c(a) + c(b)), with
/// v(z) = mean_j max(0, 1 − √(Var z_j + ε)) (unbiased variance over the batch, ε = 1e-4) and
/// c(z) = Σ_{i≠j} C(z)_ij² / d, C the unbiased covariance of the batch. Symmetric: both inputs
/// get gradients. Defaults 25/25/1 as the paper.
public struct VICReg: DistillationLoss {
    public var invariance: Float
    public var variance: Float
    public var covariance: Float
    public var epsilon: Float

    public init(invariance: Float = 25, variance: Float = 25, covariance: Float = 1, epsilon: Float = 1e-4) {
        self.invariance = invariance
        self.variance = variance
        self.covariance = covariance
        self.epsilon = epsilon
    }

    public var name: String { DistillationLossKind.vicreg.rawValue }
    public var isOneDirectional: Bool { false }

    public func loss(student: Variable, teacher: Variable) throws -> Variable {
        let (n, d) = try LossInputs.check(name, student, teacher, minBatch: 2)
        for (key, w) in [("invariance", invariance), ("variance", variance), ("covariance", covariance)]
        where !(w >= 0 && w.isFinite) {
            throw ClipError.invalidArgument("\(name): the \(key) weight must be a finite number ≥ 0, got \(w)")
        }
        guard epsilon > 0, epsilon.isFinite else {
            throw ClipError.invalidArgument("\(name): epsilon must be a positive number, got \(epsilon)")
        }
        let diff = student - teacher
        let invarianceTerm = (diff * diff).mean()
        let offDiagonal = Variable(Tensor.ones([d, d]) - LossInputs.identity(d))
        func terms(_ z: Variable) -> (variance: Variable, covariance: Variable) {
            let centred = z - z.mean(axis: 0, keepDim: true)
            let std = ((centred * centred).sum(axis: 0) * (1 / Float(n - 1)) + epsilon).sqrt()
            let hinge = (-std + 1).relu().mean()
            let cov = centred.transposed().matmul(centred) * (1 / Float(n - 1))
            return (hinge, (cov * cov * offDiagonal).sum() * (1 / Float(d)))
        }
        let a = terms(student), b = terms(teacher)
        return invarianceTerm * invariance + (a.variance + b.variance) * (variance / 2)
            + (a.covariance + b.covariance) * covariance
    }
}
