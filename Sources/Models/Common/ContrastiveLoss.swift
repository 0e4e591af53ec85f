// The symmetric InfoNCE loss of CLIP.

import Tensor
import Autograd

/// `(CE(logits, diag) + CE(logitsᵀ, diag)) / 2` for square `[n, n]` logits
/// whose matching pairs lie on the diagonal (transformers' `clip_loss`).
public func clipContrastiveLoss(_ logitsPerText: Variable) -> Variable {
    let n = logitsPerText.shape[0]
    precondition(logitsPerText.rank == 2 && logitsPerText.shape[1] == n,
                 "clip loss: logits must be square, got \(logitsPerText.shape)")
    let labels = Array(0..<n)
    let a = logitsPerText.crossEntropy(labels: labels)
    let b = logitsPerText.transposed().crossEntropy(labels: labels)
    return (a + b) * 0.5
}
