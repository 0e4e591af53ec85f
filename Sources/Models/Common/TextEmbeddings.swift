// Token plus learned position embeddings, shared by the CLIP and SigLIP text towers.

import Tensor
import Autograd
import NN

/// Token and position embeddings. Keys: `token_embedding`, `position_embedding`.
public final class TextEmbeddings: Module {
    public let tokenEmbedding: Embedding
    public let positionEmbedding: Embedding

    public init(vocabulary: Int, positions: Int, dim: Int) {
        tokenEmbedding = Embedding(vocabulary, dim)
        positionEmbedding = Embedding(positions, dim)
        super.init()
        register("token_embedding", tokenEmbedding)
        register("position_embedding", positionEmbedding)
    }

    /// ids `[batch, seq]` → `[batch, seq, dim]`; positions 0..<seq.
    public func callAsFunction(_ ids: Indices) -> Variable {
        tokenEmbedding(ids) + positionEmbedding.weight.narrowed(0, start: 0, length: ids.shape[1])
    }

    /// Checks ids `[batch, seq]` against the vocabulary and the number of positions.
    func validate(_ ids: Indices, attentionMask: Tensor?) throws {
        guard ids.shape.count == 2, ids.shape[0] > 0, ids.shape[1] > 0 else {
            throw ClipError.shape("text: token ids must be [batch, seq] with both > 0, got \(ids.shape)")
        }
        guard ids.shape[1] <= positionEmbedding.count else {
            throw ClipError.shape("text: \(ids.shape[1]) tokens exceed the model's context of \(positionEmbedding.count)")
        }
        if let bad = ids.values.first(where: { $0 < 0 || $0 >= tokenEmbedding.count }) {
            throw ClipError.invalidArgument("text: token id \(bad) is outside the vocabulary (0..<\(tokenEmbedding.count))")
        }
        if let m = attentionMask, m.shape != ids.shape {
            throw ClipError.shape("text: attention mask \(m.shape) does not match the ids \(ids.shape)")
        }
    }
}
