// ELIP's training objectives and its re-ranking score (Zhan et al. 2025; the
// official code's train.py, train_mp_one_epoch_tgvpt3_simple_contrast).

import Foundation
import Tensor
import Autograd
import NN

/// Which objective an ELIP mapper is trained with.
public enum ELIPObjectiveKind: String, Codable, CaseIterable, Sendable {
    /// ELIP's own objective: every image of a batch re-encoded with each query's prompts (B × B guided
    /// encodes), scored against the query, and a text → image loss over the batch's images per query.
    /// This is what re-ranking scores.
    case query
    /// Each image encoded with its own caption's prompts only, then the model's symmetric pair loss
    /// (seed 000's "symmetric InfoNCE"). Cheaper (B encodes), but the mapper can lower it by carrying
    /// the caption into the image embedding, which re-ranking cannot use.
    case pairs
}

/// ELIP's training objectives for one batch.
public enum ELIPObjective {
    /// The query objective on one batch whose images are all different: `textEmbeds` `[B, d]`
    /// (normalised) are the queries, `pixels` `[B, 3, H, W]` their images in the same order (query `i`
    /// matches image `i`). For each query, its prompts re-encode all `B` images; the cosines
    /// `[B]` go through the model's `queryLoss`; the loss is the mean over the queries.
    ///
    /// Forward and backward run `queryChunk` queries at a time (`queryChunk · B` guided encodes),
    /// so memory is bounded by one chunk; the mapper's gradients accumulate across chunks, scaled by
    /// `gradientScale` (for gradient accumulation over batches). Only the mapper needs gradients.
    /// The default chunk, `defaultQueryChunk(batch:)`, keeps about 16 encodes together: larger matrix
    /// products run faster, and memory stays bounded whatever B.
    ///
    /// `fixedBias` replaces a sigmoid model's own bias in the loss (ELIP-S: −10). `promptDropout`, when
    /// given and in training mode, drops prompt elements of every (query, image) encode independently,
    /// as the official code does: each image's encode regenerates all queries' prompts and applies
    /// `prompt_dropout` to them (ELIP-C/ELIPC_env_code/vision_transformer.py, `forward_features`).
    /// - Returns: the batch's loss.
    /// - Throws: `ClipError` for mismatched shapes.
    @discardableResult
    public static func queryLossAndBackward(model: any PromptGuidedModel, mapper: ELIPMapper, textEmbeds: Tensor,
                                            pixels: Tensor, queryChunk: Int? = nil, gradientScale: Float = 1,
                                            fixedBias: Float? = nil, promptDropout: Dropout? = nil) throws -> Float {
        guard textEmbeds.rank == 2, pixels.rank == 4, textEmbeds.shape[0] == pixels.shape[0], textEmbeds.shape[0] > 0 else {
            throw ClipError.shape("ELIP query loss: \(textEmbeds.shape) text embeddings for \(pixels.shape) images")
        }
        try mapper.checkFits(model: model)
        try checkQueries(textEmbeds, mapper)
        let b = textEmbeds.shape[0], d = textEmbeds.shape[1]
        let chunk = max(1, min(queryChunk ?? defaultQueryChunk(batch: b), b))
        let imageShape = Array(pixels.shape.dropFirst())
        var total: Float = 0
        for start in stride(from: 0, to: b, by: chunk) {
            let c = min(chunk, b - start)
            let (t, repeated) = chunkPrompts(mapper: mapper, textEmbeds: textEmbeds, start: start, count: c, promptDropout: promptDropout)
            let px = pixels.unsqueezed(0).expanded(to: [c] + pixels.shape).contiguous().reshaped([c * b] + imageShape)
            let g = try model.guidedImageFeatures(Variable(px), prompts: repeated).l2Normalized()
            let scores = g.reshaped([c, b, d]).matmul(t.unsqueezed(2)).reshaped([c, b])   // cosines [c, B]
            let loss = model.queryLoss(scores: scores, labels: Array(start..<(start + c)), fixedBias: fixedBias) * (1 / Float(b))
            (loss * gradientScale).backward()
            total += loss.value.item
        }
        return total
    }

    /// Queries `start ..< start + count` of `textEmbeds` `[B, d]` as a variable, and their prompts repeated
    /// once per image of the batch, query-major `[count · B, m, D]`, with `promptDropout` applied (the
    /// masks of the single process and of every data-parallel rank come from this one call).
    package static func chunkPrompts(mapper: ELIPMapper, textEmbeds: Tensor, start: Int, count c: Int,
                                     promptDropout: Dropout?) -> (queries: Variable, prompts: Variable) {
        let b = textEmbeds.shape[0]
        let t = Variable(textEmbeds.narrowed(0, start: start, length: c))
        let prompts = mapper(t)                                               // [c, m, D]
        let (m, dv) = (prompts.shape[1], prompts.shape[2])
        var repeated = prompts.unsqueezed(1).expanded(to: [c, b, m, dv]).contiguous().reshaped([c * b, m, dv])
        if let promptDropout { repeated = promptDropout(repeated) }
        return (t, repeated)
    }

    /// Queries per chunk when none is given: `max(1, 16 / batch)` (2 for the batches of 8 that fit B² encodes).
    package static func defaultQueryChunk(batch: Int) -> Int { max(1, 16 / max(batch, 1)) }

    /// The pairs objective: each image `[n, 3, H, W]` is encoded with the prompts of its own caption
    /// (from normalised text embeddings `[n, d]`); the batch's guided image embeddings and the captions
    /// then go through the model's pair loss. Only the mapper needs gradients; the backbone may be frozen.
    public static func loss(model: any PromptGuidedModel, mapper: ELIPMapper, textEmbeds: Tensor, pixels: Tensor) throws -> Variable {
        guard textEmbeds.rank == 2, pixels.rank == 4, textEmbeds.shape[0] == pixels.shape[0] else {
            throw ClipError.shape("ELIP loss: \(textEmbeds.shape) text embeddings for \(pixels.shape) images")
        }
        try mapper.checkFits(model: model)
        try checkQueries(textEmbeds, mapper)
        let t = Variable(textEmbeds)
        let guided = try model.guidedImageFeatures(Variable(pixels), prompts: mapper(t)).l2Normalized()
        return model.pairLoss(textEmbeds: t, imageEmbeds: guided)
    }

    /// Re-ranking scores of one query: `dot(query, image encoded with the query's prompts)` for each
    /// candidate image `[n, 3, H, W]`, from the query's normalised text embedding `[1, d]`. No graph is built.
    public static func guidedScores(model: any PromptGuidedModel, mapper: ELIPMapper, query: Tensor, candidates: Tensor) throws -> [Float] {
        guard query.rank == 2, query.shape[0] == 1, candidates.rank == 4 else {
            throw ClipError.shape("ELIP scores: query \(query.shape) for candidates \(candidates.shape)")
        }
        try mapper.checkFits(model: model)
        try checkQueries(query, mapper)
        return try withNoGrad {
            let prompts = mapper(Variable(query))
            let expanded = prompts.expanded(to: [candidates.shape[0], prompts.shape[1], prompts.shape[2]]).contiguous()
            let g = try model.guidedImageFeatures(Variable(candidates), prompts: expanded).l2Normalized()
            return g.value.matmul(query.transposed()).toArray()
        }
    }

    /// Text embeddings `[n, d_text]` of the mapper's input width.
    package static func checkQueries(_ t: Tensor, _ mapper: ELIPMapper) throws {
        guard t.rank == 2, t.shape[1] == mapper.textDim else {
            throw ClipError.shape("ELIP: text embeddings \(t.shape) do not have the mapper's input width \(mapper.textDim)")
        }
    }
}
