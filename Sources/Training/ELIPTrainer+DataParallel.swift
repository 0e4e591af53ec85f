// ELIP's step over several ranks: the official GatherLayer's global batch. Each rank holds a
// contiguous part of the global batch's pairs; the text features are gathered, each rank encodes its
// own images under every query's prompts, and the score columns are gathered with their gradient,
// so the query loss of each query runs over every image of the global batch.

import Foundation
import Tensor
import Autograd
import NN
import Models
import ClipDistributed

extension ELIPTrainer {
    /// This rank's rows of a global batch: a contiguous part, rank order.
    func localPart(of batch: [Int]) -> [Int] {
        let (r, n) = (communicator.rank, communicator.size)
        return Array(batch[(r * batch.count / n)..<((r + 1) * batch.count / n)])
    }

    /// One forward/backward of global batch `pairs` on this rank's part; returns the global batch's
    /// loss (the same on every rank). The mapper's gradients are this rank's share × the ranks
    /// (open_clip's convention): `allreduceGradients(op: .mean)` makes them one process's.
    func gatheredLossAndBackward(_ pairs: [Int], scale: Float) throws -> Float {
        let comm = communicator
        let local = localPart(of: pairs)
        // A batch smaller than the ranks leaves some without rows: they take part in every collective
        // with none.
        let pixels: Tensor? = local.isEmpty ? nil
            : try pixelCache.batch(local.map { imageOfCaption[$0] }) { try pipeline.processor(try images[$0].decode()) }
        // The text features of every rank's pairs (frozen embeddings: no gradient to carry).
        let (texts, counts) = try comm.allgatherRows(textEmbeds.indexSelect(axis: 0, local))
        let firstColumn = counts[..<comm.rank].reduce(0, +)
        switch config.objective {
        case .query:
            return try gatheredQueryLoss(texts: texts, pixels: pixels, firstColumn: firstColumn, scale: scale)
        case .pairs:
            let guided: Variable
            if let pixels {
                let t = Variable(texts.narrowed(0, start: firstColumn, length: local.count).contiguous())
                guided = try model.guidedImageFeatures(Variable(pixels), prompts: mapper(t)).l2Normalized()
            } else {
                guided = Variable(Tensor.zeros([0, texts.shape[1]]), requiresGrad: true)
            }
            let gathered = try comm.gatherWithGrad(guided)
            let loss = model.pairLoss(textEmbeds: Variable(texts), imageEmbeds: gathered.global)
            (loss * scale).backward()
            try comm.backwardGathered([gathered])
            return loss.value.item
        }
    }

    /// `ELIPObjective.queryLossAndBackward` with this rank's images as columns `firstColumn ..<
    /// firstColumn + n` of the global batch: per chunk of queries, the prompts of the chunk for every
    /// image of the global batch (the dropout masks one process draws), this rank's columns encoded,
    /// the score columns of every rank gathered, the query loss, and its gradient back to this
    /// rank's columns.
    private func gatheredQueryLoss(texts: Tensor, pixels: Tensor?, firstColumn: Int, scale: Float) throws -> Float {
        let comm = communicator
        try mapper.checkFits(model: model)
        try ELIPObjective.checkQueries(texts, mapper)   // the gathered queries: every rank throws alike
        let b = texts.shape[0], d = texts.shape[1], n = pixels?.shape[0] ?? 0
        let chunk = max(1, min(config.queryChunk ?? ELIPObjective.defaultQueryChunk(batch: b), b))
        var total: Float = 0
        for start in stride(from: 0, to: b, by: chunk) {
            let c = min(chunk, b - start)
            let (t, repeated) = ELIPObjective.chunkPrompts(mapper: mapper, textEmbeds: texts, start: start, count: c,
                                                           promptDropout: promptDropout)
            let (m, dv) = (repeated.shape[1], repeated.shape[2])
            let scores: Variable                                                   // this rank's columns [c, n]
            if let pixels {
                let mine = repeated.reshaped([c, b, m, dv]).narrowed(1, start: firstColumn, length: n).contiguous().reshaped([c * n, m, dv])
                let px = pixels.unsqueezed(0).expanded(to: [c] + pixels.shape).contiguous()
                    .reshaped([c * n] + Array(pixels.shape.dropFirst()))
                let g = try model.guidedImageFeatures(Variable(px), prompts: mine).l2Normalized()
                scores = g.reshaped([c, n, d]).matmul(t.unsqueezed(2)).reshaped([c, n])
            } else {
                scores = Variable(Tensor.zeros([c, 0]), requiresGrad: true)
            }
            // Columns gathered as rows of the transpose: [B, c] in rank order, then back to [c, B].
            let gathered = try comm.gatherWithGrad(scores.transposed().contiguous())
            let all = gathered.global.transposed().contiguous()
            let loss = model.queryLoss(scores: all, labels: Array(start..<(start + c)), fixedBias: sigmoidBias) * (1 / Float(b))
            (loss * scale).backward()
            try comm.backwardGathered([gathered])
            total += loss.value.item
        }
        return total
    }
}
