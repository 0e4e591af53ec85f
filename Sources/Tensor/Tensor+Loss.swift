// Cross-entropy with integer labels.

extension Tensor {
    /// Mean cross-entropy of logits `[n, classes]` against integer `labels`
    /// (`n` of them), with optional label smoothing ε as PyTorch defines it:
    /// loss_i = (1 − ε)·(−log p_i[y_i]) + ε · mean_c(−log p_i[c]).
    /// Returns the loss (rank 0) and the softmax probabilities (for backward).
    package func crossEntropyWithProbabilities(labels: [Int], labelSmoothing: Float = 0) -> (loss: Tensor, probabilities: Tensor) {
        precondition(rank == 2, "cross_entropy: logits must be [n, classes], got \(shape)")
        let n = shape[0], c = shape[1]
        precondition(labels.count == n, "cross_entropy: \(labels.count) labels for \(n) rows")
        precondition(labelSmoothing >= 0 && labelSmoothing <= 1, "cross_entropy: label smoothing \(labelSmoothing) outside [0, 1]")
        for y in labels { precondition(y >= 0 && y < c, "cross_entropy: label \(y) out of range 0..<\(c)") }
        let logp = logSoftmax(axis: 1)
        var total: Double = 0
        for i in 0..<n {
            let row = logp.data + i * c
            var nll = -Double(row[labels[i]]) * Double(1 - labelSmoothing)
            if labelSmoothing > 0 {
                nll -= Double(labelSmoothing) * Double(rowSum(row, c)) / Double(c)
            }
            total += nll
        }
        return (Tensor(scalar: Float(total / Double(Swift.max(n, 1)))), logp.exp())
    }

    /// Mean cross-entropy of logits `[n, classes]` against integer `labels`.
    public func crossEntropy(labels: [Int], labelSmoothing: Float = 0) -> Tensor {
        crossEntropyWithProbabilities(labels: labels, labelSmoothing: labelSmoothing).loss
    }
}
