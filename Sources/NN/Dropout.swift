// Dropout, active in training mode only.

import Tensor
import Autograd

/// Zeroes each element with probability `p` and scales the rest by 1/(1-p)
/// in training mode; the identity in evaluation mode or when p = 0.
public final class Dropout: Module {
    public let p: Float
    private var generator: RandomGenerator

    public init(_ p: Float, seed: UInt64 = 0) {
        precondition(p >= 0 && p < 1, "Dropout: p must lie in [0, 1), got \(p)")
        self.p = p
        generator = RandomGenerator(seed: seed)
        super.init()
    }

    /// Restarts the mask stream from `seed` (a trainer reseeds at every epoch, so that a run resumed at an
    /// epoch draws the masks an uninterrupted run draws).
    public func reseed(_ seed: UInt64) {
        generator = RandomGenerator(seed: seed)
    }

    public func callAsFunction(_ x: Variable) -> Variable {
        guard isTraining, p > 0 else { return x }
        let mask = Tensor(uninitializedShape: x.shape)
        let keep = 1 / (1 - p)
        // The stream in a local copy: no exclusivity check per element; the same draws in the same order.
        var g = generator
        let d = mask.data, p = self.p
        for i in 0..<mask.count { d[i] = g.nextUniform() < p ? 0 : keep }
        generator = g
        return x * Variable(mask)
    }
}
