// A two-tower model whose image tower takes prompt tokens (ELIP's guided
// encoding), with the model's own pair and query losses.

import Tensor
import Autograd

/// A two-tower model whose image tower accepts prompt tokens.
public protocol PromptGuidedModel: TwoTowerModel {
    /// Width of the vision transformer (the prompts' last dimension).
    var visionWidth: Int { get }
    /// Image features `[batch, dim]` encoded with per-image prompts `[batch, m, visionWidth]`.
    func guidedImageFeatures(_ pixels: Variable, prompts: Variable) throws -> Variable
    /// The model's own training loss on matching rows of normalised embeddings, with its
    /// temperature (and bias) as they are: InfoNCE for CLIP, the sigmoid loss for SigLIP.
    func pairLoss(textEmbeds: Variable, imageEmbeds: Variable) -> Variable
    /// The logits `pairLoss` scores, `[texts, images]`: cosines times the temperature (plus the bias
    /// of sigmoid-loss models).
    func pairLogits(textEmbeds: Variable, imageEmbeds: Variable) -> Variable
    /// ELIP's query loss, summed over queries: `scores` `[q, n]` are cosines between each query and
    /// the `n` images of its batch encoded with that query's prompts, `labels[r]` the matching image
    /// of row `r`. CLIP: cross-entropy of `exp(logit_scale)·scores` (text → image); SigLIP: the
    /// sigmoid loss of `exp(logit_scale)·scores + b`, +1 at the label and −1 elsewhere, where `b` is
    /// `fixedBias` when given (ELIP-S trains with a constant −10, not the model's bias) and the model's
    /// `logit_bias` otherwise. `fixedBias` is ignored by models trained with InfoNCE.
    func queryLoss(scores: Variable, labels: [Int], fixedBias: Float?) -> Variable
    /// True for models trained with the sigmoid loss (SigLIP, open_clip models with a logit bias): ELIP-S.
    var usesSigmoidLoss: Bool { get }
}

extension PromptGuidedModel {
    /// The model's pair loss when a batch holds several captions per image: caption j (row j of
    /// `textEmbeds`) describes image `imageOfText[j]` (a row of `imageEmbeds`), and every caption of an
    /// image is a positive (`multiPositiveContrastiveLoss`, or `multiPositiveSigmoidLoss` for
    /// sigmoid-loss models). Equals `pairLoss` when `imageOfText` is `0..<n`.
    public func pairLoss(textEmbeds: Variable, imageEmbeds: Variable, imageOfText: [Int]) -> Variable {
        let logits = pairLogits(textEmbeds: textEmbeds, imageEmbeds: imageEmbeds)
        return usesSigmoidLoss ? multiPositiveSigmoidLoss(logits, imageOfText: imageOfText)
            : multiPositiveContrastiveLoss(logits, imageOfText: imageOfText)
    }

    /// ELIP's query loss with the model's own bias (see `queryLoss(scores:labels:fixedBias:)`).
    public func queryLoss(scores: Variable, labels: [Int]) -> Variable {
        queryLoss(scores: scores, labels: labels, fixedBias: nil)
    }
}

/// Checks prompts against a batch of images.
func validatePrompts(_ prompts: Variable, batch: Int, dim: Int) throws {
    guard prompts.rank == 3, prompts.shape[0] == batch, prompts.shape[2] == dim, prompts.shape[1] > 0 else {
        throw ClipError.shape("prompts must be [\(batch), m, \(dim)], got \(prompts.shape)")
    }
}
