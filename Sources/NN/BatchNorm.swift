// Batch normalisation over the batch of [batch, features] rows, as torch.nn.BatchNorm1d.

import Tensor
import Autograd

/// Normalises each feature over the batch, then scales and shifts, as `torch.nn.BatchNorm1d` on
/// `[batch, features]`. Keys: `weight`, `bias` (parameters, `[features]`) and the buffers
/// `running_mean`, `running_var` (`[features]`) and `num_batches_tracked` (a scalar, PyTorch's int64
/// count kept as a float).
///
/// Training mode normalises with the batch's mean and biased variance and updates the running
/// statistics: `running ← (1 − momentum)·running + momentum·batch`, with the unbiased variance
/// (n − 1) for `running_var`; the update runs whether or not a graph is recorded. Evaluation mode
/// normalises with the running statistics. The gradient flows through the batch statistics in
/// training mode (the composition of differentiable ops below).
public final class BatchNorm1d: Module {
    public let weight: Variable
    public let bias: Variable
    public let runningMean: Variable
    public let runningVar: Variable
    public let numBatchesTracked: Variable
    public let eps: Float
    public let momentum: Float
    public let features: Int

    public init(_ features: Int, eps: Float = 1e-5, momentum: Float = 0.1) {
        precondition(features > 0, "BatchNorm1d: feature count must be positive")
        self.features = features
        self.eps = eps
        self.momentum = momentum
        weight = Parameter.constant([features], 1)
        bias = Parameter.constant([features], 0)
        runningMean = Variable(Tensor.zeros([features]))
        runningVar = Variable(Tensor.ones([features]))
        numBatchesTracked = Variable(Tensor.zeros([]))
        super.init()
        register("weight", weight)
        register("bias", bias)
        registerBuffer("running_mean", runningMean)
        registerBuffer("running_var", runningVar)
        registerBuffer("num_batches_tracked", numBatchesTracked)
    }

    /// x `[batch, features]` → same shape. Training mode needs more than one row (as PyTorch).
    public func callAsFunction(_ x: Variable) -> Variable {
        precondition(x.rank == 2 && x.shape[1] == features, "BatchNorm1d: input \(x.shape) is not [batch, \(features)]")
        let n = x.shape[0]
        guard isTraining else {
            let scale = (runningVar.value + eps).rsqrt()
            let shift = -(runningMean.value * scale)
            return (x * Variable(scale) + Variable(shift)) * weight + bias
        }
        precondition(n > 1, "BatchNorm1d: training mode needs more than one row per batch, got \(x.shape)")
        let mean = x.mean(axis: 0, keepDim: true)                   // [1, features]
        let centred = x - mean
        let variance = (centred * centred).mean(axis: 0, keepDim: true)
        let y = centred * (variance + eps).rsqrt() * weight + bias
        updateRunningStatistics(mean: mean.value, biasedVariance: variance.value, count: n)
        return y
    }

    private func updateRunningStatistics(mean: Tensor, biasedVariance: Tensor, count n: Int) {
        let unbiased = biasedVariance.reshaped([features]) * (Float(n) / Float(n - 1))
        runningMean.assign((runningMean.value * (1 - momentum) + mean.reshaped([features]) * momentum).contiguous())
        runningVar.assign((runningVar.value * (1 - momentum) + unbiased * momentum).contiguous())
        numBatchesTracked.assign(Tensor(scalar: numBatchesTracked.value.item + 1))
    }
}
