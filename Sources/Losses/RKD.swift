// RKD (Park, Kim, Lu, Cho, "Relational Knowledge Distillation", CVPR 2019): the student keeps the
// teacher's distances and angles between the samples of a batch.

import Tensor
import Autograd

/// `distance`·mean Huber(ψ_D(s) − ψ_D(t)) + `angle`·mean Huber(ψ_A(s) − ψ_A(t)) (β = 1), where
/// ψ_D is the `[n, n]` matrix of Euclidean distances between rows divided by their mean over
/// distinct pairs, and ψ_A the `[n, n, n]` cosines ⟨e_ij, e_ik⟩ of the unit vectors
/// e_ij = (x_j − x_i)/‖x_j − x_i‖ (zero for j = i). The means run over all n² and n³ entries.
/// The teacher is detached (one-directional). Weights default to 1 and 2 as the paper.
public struct RKD: DistillationLoss {
    public var distance: Float
    public var angle: Float

    public init(distance: Float = 1, angle: Float = 2) {
        self.distance = distance
        self.angle = angle
    }

    public var name: String { DistillationLossKind.rkd.rawValue }
    public var isOneDirectional: Bool { true }

    public func loss(student: Variable, teacher: Variable) throws -> Variable {
        _ = try LossInputs.check(name, student, teacher, minBatch: 2)
        for (key, w) in [("distance", distance), ("angle", angle)] where !(w >= 0 && w.isFinite) {
            throw ClipError.invalidArgument("\(name): the \(key) weight must be a finite number ≥ 0, got \(w)")
        }
        let t = teacher.detached()
        for (tower, x) in [("student", student.value), ("teacher", t.value)] where Self.allRowsEqual(x) {
            throw ClipError.invalidArgument("\(name): every row of the \(tower) embeddings is the same, so its distances "
                                            + "have no scale (mean distance 0)")
        }
        var total = Variable(Tensor(scalar: 0))
        if distance > 0 {
            let d = Self.distances(student) - Self.distances(t)
            total = total + d.smoothL1(beta: 1).mean() * distance
        }
        if angle > 0 {
            let a = Self.angles(student) - Self.angles(t)
            total = total + a.smoothL1(beta: 1).mean() * angle
        }
        return total
    }

    /// Whether every row of `[n, d]` equals the first (the mean distance would be 0).
    private static func allRowsEqual(_ x: Tensor) -> Bool {
        let c = x.contiguous()
        let d = c.shape[1]
        let p = c.data
        for i in d..<c.count where p[i] != p[i % d] { return false }
        return true
    }

    /// Differences x_j − x_i as `[n, n, d]`.
    private static func differences(_ x: Variable) -> Variable {
        x.unsqueezed(0) - x.unsqueezed(1)
    }

    /// 1 where two rows coincide (squared distance ≤ 1e-12, the diagonal included), `[n, n]`: no
    /// distance or direction is differentiated there (the reference code clamps at ε before the root).
    static func coincident(_ squared: Variable) -> Tensor {
        Tensor.ones(squared.shape) - squared.value.contiguous().zip(Tensor(scalar: 1e-12), Fn.Greater())
    }

    /// Pairwise distances over their mean off the diagonal; coincident rows (the diagonal, and
    /// duplicates in a batch) have distance 0 with no gradient (the square root is taken of 1 there).
    static func distances(_ x: Variable) -> Variable {
        let n = x.shape[0]
        let diff = differences(x)
        let squared = (diff * diff).sum(axis: 2)
        let same = coincident(squared)
        let d = squared.maskedFill(same, 1).sqrt() * Variable(Tensor.ones([n, n]) - same)
        return d / (d.sum() * (1 / Float(n * (n - 1))))
    }

    /// Cosines of the angles at each anchor i between the directions to j and k, `[n, n, n]`; a
    /// direction between coincident rows is zero.
    static func angles(_ x: Variable) -> Variable {
        let n = x.shape[0]
        let diff = differences(x)
        let squared = (diff * diff).sum(axis: 2, keepDim: true)
        let same = coincident(squared.reshaped([n, n])).reshaped([n, n, 1])
        let unit = diff * squared.maskedFill(same, 1).rsqrt() * Variable(Tensor.ones([n, n, 1]) - same)
        return unit.matmul(unit.transposed())
    }
}
