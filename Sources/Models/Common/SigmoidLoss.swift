// SigLIP's pairwise sigmoid loss.

import Tensor
import Autograd

/// `−Σᵢⱼ log σ(zᵢⱼ · logitsᵢⱼ) / n` for square `[n, n]` logits (`exp(s)·t·iᵀ + b`),
/// with `zᵢᵢ = 1` and `zᵢⱼ = −1` elsewhere (transformers' SiglipModel loss).
/// log σ is evaluated stably, so logits of any size give finite values and gradients.
public func sigmoidLoss(_ logitsPerText: Variable) -> Variable {
    let n = logitsPerText.shape[0]
    precondition(logitsPerText.rank == 2 && logitsPerText.shape[1] == n,
                 "sigmoid loss: logits must be square, got \(logitsPerText.shape)")
    let z = Tensor.full([n, n], -1)
    for i in 0..<n { z[i, i] = 1 }
    return (logitsPerText * Variable(z)).logSigmoid().sum() * (-1 / Float(n))
}

/// The sigmoid loss from embeddings `[n, d]`, a log temperature `[1]` and a bias `[1]`.
public func sigmoidLoss(textEmbeds t: Variable, imageEmbeds i: Variable, logitScale: Variable, logitBias: Variable) -> Variable {
    sigmoidLoss(t.matmul(i.transposed()) * logitScale.exp() + logitBias)
}

/// ELIP's query loss for sigmoid-loss models, summed over queries: `−Σ log σ(z · (exp(s)·scores + b))`
/// over `scores` `[q, n]`, with z = +1 at each row's label and −1 elsewhere.
func sigmoidQueryLoss(scores: Variable, labels: [Int], logitScale: Variable, logitBias: Variable) -> Variable {
    let z = Tensor.full(scores.shape, -1)
    for (r, l) in labels.enumerated() { z[r, l] = 1 }
    return ((scores * logitScale.exp() + logitBias) * Variable(z)).logSigmoid().sum() * -1
}
