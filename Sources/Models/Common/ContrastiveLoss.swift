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

/// InfoNCE with several captions per image: `logitsPerText` `[m, u]` scores m captions against u
/// images, caption j describing image `imageOfText[j]`. Text → image is the cross-entropy of each
/// caption against its image; image → text is, per image, the mean over its captions of
/// −log softmax (every caption of the image counts as a positive, the other images' captions as
/// negatives); the loss is their mean. With one caption per image in order (`imageOfText[j] = j`)
/// it is `clipContrastiveLoss`. An image without a caption in the batch adds nothing to image → text.
public func multiPositiveContrastiveLoss(_ logitsPerText: Variable, imageOfText: [Int]) -> Variable {
    let (m, u) = (logitsPerText.shape[0], logitsPerText.shape[1])
    precondition(logitsPerText.rank == 2 && imageOfText.count == m && imageOfText.allSatisfy { (0..<u).contains($0) },
                 "multi-positive loss: \(imageOfText.count) image indices in 0..<\(u) for logits \(logitsPerText.shape)")
    let textToImage = logitsPerText.crossEntropy(labels: imageOfText)
    var captions = [Int](repeating: 0, count: u)
    for i in imageOfText { captions[i] += 1 }
    let imagesWithCaptions = captions.filter { $0 > 0 }.count
    let weights = Tensor.zeros([u, m])
    for (j, i) in imageOfText.enumerated() { weights[i, j] = 1 / Float(captions[i]) }
    let imageToText = (logitsPerText.transposed().logSoftmax(axis: -1) * Variable(weights)).sum() * (-1 / Float(imagesWithCaptions))
    return (textToImage + imageToText) * 0.5
}

/// The sigmoid loss with several captions per image: `−Σ log σ(z · logits) / u` over `[m, u]`
/// logits, z = +1 where caption j describes image i (`imageOfText[j] = i`) and −1 elsewhere, divided
/// by the number of images (open_clip's SigLipLoss; `sigmoidLoss` when captions and images match
/// row for row).
public func multiPositiveSigmoidLoss(_ logitsPerText: Variable, imageOfText: [Int]) -> Variable {
    let (m, u) = (logitsPerText.shape[0], logitsPerText.shape[1])
    precondition(logitsPerText.rank == 2 && imageOfText.count == m && imageOfText.allSatisfy { (0..<u).contains($0) },
                 "multi-positive sigmoid loss: \(imageOfText.count) image indices in 0..<\(u) for logits \(logitsPerText.shape)")
    let z = Tensor.full([m, u], -1)
    for (j, i) in imageOfText.enumerated() { z[j, i] = 1 }
    return (logitsPerText * Variable(z)).logSigmoid().sum() * (-1 / Float(u))
}
