// Selecting a loss between two towers' embeddings by name, and the checks every such loss shares.

import Tensor
import Autograd

/// A loss between two towers' embeddings of the same batch: row i of `student` and row i of
/// `teacher` embed sample i. One-directional losses (SimReg, RKD, CompRess-1q, SEED, DINO, ProtoCPC)
/// train the student only: they detach the teacher, which gets no gradient. Symmetric ones (VICReg,
/// Barlow Twins, CompRess-2q, ProtoCLIP) differentiate through both. Losses with state between
/// batches (queues, centres, priors, prototypes) also conform to `StatefulDistillationLoss`.
public protocol DistillationLoss {
    /// The name that selects it (`DistillationLosses.make`).
    var name: String { get }
    /// Whether the teacher is detached (only the student learns).
    var isOneDirectional: Bool { get }
    /// Whether the inputs are prototype logits `[n, K]` of a head's prototype layer (DINO, ProtoCPC)
    /// rather than embeddings. False unless a loss says otherwise.
    var needsPrototypes: Bool { get }
    /// Whether student and teacher must have one dimension. True unless a loss says otherwise
    /// (CompRess-2q and ProtoCLIP compare each tower with its own memory or prototypes).
    var needsEqualDimensions: Bool { get }
    /// The loss of a batch of `[n, d]` embeddings as a scalar with a graph to the inputs.
    /// - Throws: `ClipError.shape` when the embeddings are not two `[n, d]` matrices of one shape
    ///   (or the batch is smaller than the loss needs); `ClipError.invalidArgument` for a setting
    ///   out of range.
    func loss(student: Variable, teacher: Variable) throws -> Variable
}

extension DistillationLoss {
    public var needsPrototypes: Bool { false }
    public var needsEqualDimensions: Bool { true }
}

/// The names `DistillationLosses.make` knows.
public enum DistillationLossKind: String, CaseIterable, Sendable {
    case simreg
    case simregL1 = "simreg-l1"
    case simregSmoothL1 = "simreg-smoothl1"
    case vicreg
    case barlowTwins = "barlowtwins"
    case rkd
    case compress1q = "compress-1q"
    case compress2q = "compress-2q"
    case seed
    case dino
    case protocpc
    case protoclip
    case infonce

    /// The loss with the paper's settings (a new instance with empty state for the stateful ones).
    public func makeLoss() -> any DistillationLoss {
        switch self {
        case .simreg: return SimReg(form: .l2)
        case .simregL1: return SimReg(form: .l1)
        case .simregSmoothL1: return SimReg(form: .smoothL1)
        case .vicreg: return VICReg()
        case .barlowTwins: return BarlowTwins()
        case .rkd: return RKD()
        case .compress1q: return CompRess(queues: .one)
        case .compress2q: return CompRess(queues: .two)
        case .seed: return SEED()
        case .dino: return DINO()
        case .protocpc: return ProtoCPC()
        case .protoclip: return ProtoCLIP()
        case .infonce: return InfoNCE()
        }
    }
}

public enum DistillationLosses {
    /// Every name `make` accepts, in the order of `DistillationLossKind`.
    public static var names: [String] { DistillationLossKind.allCases.map(\.rawValue) }

    /// The loss called `name`, with its paper's settings; stateful ones come with empty state.
    /// - Throws: `ClipError.invalidArgument` naming the known losses when `name` is not one.
    public static func make(_ name: String) throws -> any DistillationLoss {
        guard let kind = DistillationLossKind(rawValue: name) else {
            throw ClipError.invalidArgument("unknown distillation loss '\(name)'; known losses: "
                                            + names.joined(separator: ", "))
        }
        return kind.makeLoss()
    }
}

// MARK: - Shared pieces

enum LossInputs {
    /// n and d of two `[n, d]` embedding matrices of one shape with at least `minBatch` rows.
    static func check(_ loss: String, _ student: Variable, _ teacher: Variable, minBatch: Int) throws -> (n: Int, d: Int) {
        guard student.rank == 2, teacher.rank == 2 else {
            throw ClipError.shape("\(loss): embeddings must be [batch, dim] matrices, got student \(student.shape) "
                                  + "and teacher \(teacher.shape)")
        }
        guard student.shape == teacher.shape else {
            throw ClipError.shape("\(loss): student \(student.shape) and teacher \(teacher.shape) embeddings differ in shape")
        }
        let (n, d) = (student.shape[0], student.shape[1])
        guard n >= minBatch, d >= 1 else {
            throw ClipError.shape("\(loss): needs a batch of at least \(minBatch) rows of dimension ≥ 1, got \(student.shape)")
        }
        return (n, d)
    }

    /// n and both dimensions of `[n, ds]` and `[n, dt]` inputs with at least `minBatch` rows; the
    /// dimensions must agree when `sameDimension`.
    static func check(_ loss: String, _ student: Variable, _ teacher: Variable, minBatch: Int,
                      sameDimension: Bool) throws -> (n: Int, ds: Int, dt: Int) {
        if sameDimension {
            let (n, d) = try check(loss, student, teacher, minBatch: minBatch)
            return (n, d, d)
        }
        guard student.rank == 2, teacher.rank == 2 else {
            throw ClipError.shape("\(loss): embeddings must be [batch, dim] matrices, got student \(student.shape) "
                                  + "and teacher \(teacher.shape)")
        }
        guard student.shape[0] == teacher.shape[0] else {
            throw ClipError.shape("\(loss): student \(student.shape) and teacher \(teacher.shape) embeddings differ in shape "
                                  + "(batch sizes differ)")
        }
        let (n, ds, dt) = (student.shape[0], student.shape[1], teacher.shape[1])
        guard n >= minBatch, ds >= 1, dt >= 1 else {
            throw ClipError.shape("\(loss): needs a batch of at least \(minBatch) rows of dimension ≥ 1, got student "
                                  + "\(student.shape) and teacher \(teacher.shape)")
        }
        return (n, ds, dt)
    }

    /// An `[n, n]` matrix: 1 on the diagonal (and `off` elsewhere).
    static func identity(_ n: Int, off: Float = 0) -> Tensor {
        let t = Tensor.full([n, n], off)
        for i in 0..<n { t.data[i * n + i] = 1 }
        t.storage.markModified()
        return t
    }
}

extension Variable {
    /// Huber's loss of a difference elementwise, as `torch.nn.functional.smooth_l1_loss` without
    /// reduction: ½x²/β where |x| < β, else |x| − ½β.
    func smoothL1(beta: Float) -> Variable {
        let a = self.abs()
        let outside = a.value.contiguous().zip(Tensor(scalar: beta), Fn.Greater())
        return Variable.where(outside, a - 0.5 * beta, self * self * (0.5 / beta))
    }
}
