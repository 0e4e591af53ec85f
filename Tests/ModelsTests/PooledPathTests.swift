// The feature paths that compute only the pooled token (last layer for one row per item, text cut
// after the last pooled position) against the full forward pass: values and gradients.

import Testing
import Foundation
import Tensor
import TestSupport
import Autograd
import NN
import Models

private extension Variable {
    func squaredSum() -> Variable { (self * self).sum() }
}

private func largest(_ t: Tensor) -> Float { t.contiguous().toArray().map(abs).max() ?? 0 }

@Suite struct PooledPathTests {
    /// A random CLIP with `eos` as its end-of-text id (2 selects legacy argmax pooling).
    func model(eos: Int, seed: UInt64) throws -> CLIPModel {
        let text = CLIPTextConfig(vocabSize: 300, hiddenSize: 48, intermediateSize: 96, numHiddenLayers: 3,
                                  numAttentionHeads: 4, maxPositionEmbeddings: 19, eosTokenId: eos)
        let vision = CLIPVisionConfig(hiddenSize: 40, intermediateSize: 72, numHiddenLayers: 3, numAttentionHeads: 5,
                                      imageSize: 24, patchSize: 8)
        return try ParameterInitialization.seeded(seed) { try CLIPModel(CLIPConfig(textConfig: text, visionConfig: vision, projectionDim: 32)) }
    }

    /// Rows of random ids ending at different lengths (the end id, then padding), with the padding mask.
    func batch(eos: Int, _ g: inout RandomGenerator) -> (Indices, Tensor) {
        let (n, seq) = (5, 19)
        var ids: [Int] = [], mask: [Float] = []
        for b in 0..<n {
            let length = b == 0 ? seq : 3 + g.nextInt(below: seq - 5)    // one row uses every position
            for j in 0..<seq {
                ids.append(j < length - 1 ? 3 + g.nextInt(below: 250) : (j == length - 1 ? eos : 1))
                mask.append(j < length ? 1 : 0)
            }
        }
        return (Indices(shape: [n, seq], values: ids), Tensor(mask, shape: [n, seq]))
    }

    @Test(arguments: [299, 2])
    func textPooledPathEqualsTheFullPass(_ eos: Int) throws {
        let m = try model(eos: eos, seed: 3)
        var g = RandomGenerator(seed: 9)
        let (ids, mask) = batch(eos: eos == 2 ? 299 : eos, &g)   // legacy pooling: the end id is the largest
        for attention in [mask, nil] {
            let full = try m.textModel(ids, attentionMask: attention).pooled
            let fast = try m.textModel.pooled(ids, attentionMask: attention)
            #expect(maxAbsDiff(full.value, fast.value) <= 1e-5)
        }
        // Gradients reach the same weights with the same values.
        let w = m.textModel.encoder.layers[0].mlp.fc1.weight
        try m.textModel(ids, attentionMask: mask).pooled.squaredSum().backward()
        let gFull = w.grad!
        w.zeroGrad()
        try m.textModel.pooled(ids, attentionMask: mask).squaredSum().backward()
        #expect(maxAbsDiff(gFull, w.grad!) <= 1e-4 * max(1, largest(gFull)))
    }

    @Test func visionPooledPathEqualsTheFullPass() throws {
        let m = try model(eos: 299, seed: 4)
        var g = RandomGenerator(seed: 5)
        let pixels = Variable(Tensor.randn([3, 3, 24, 24], generator: &g))
        let prompts = Variable(Tensor.randn([3, 2, 40], generator: &g), requiresGrad: true)
        #expect(maxAbsDiff(try m.visionModel(pixels).pooled.value, try m.visionModel.pooled(pixels).value) <= 1e-5)
        let full = try m.visionModel(pixels, prompts: prompts).pooled
        let fast = try m.visionModel.pooled(pixels, prompts: prompts)
        #expect(maxAbsDiff(full.value, fast.value) <= 1e-5)
        full.squaredSum().backward()
        let gFull = prompts.grad!
        prompts.zeroGrad()
        fast.squaredSum().backward()
        #expect(maxAbsDiff(gFull, prompts.grad!) <= 1e-4 * max(1, largest(gFull)))
    }

    @Test func oneQueryRowMatchesTheFullLayer() {
        let layer = ParameterInitialization.seeded(6) {
            EncoderLayer(EncoderOptions(dim: 24, heads: 3, mlpDim: 40, activation: .gelu, layerNormEps: 1e-5))
        }
        var g = RandomGenerator(seed: 7)
        let x = Variable(Tensor.randn([4, 9, 24], generator: &g))
        let mask = AttentionMask(causal: true, keyPadding: Tensor((0..<36).map { $0 % 9 < 7 || $0 < 9 ? 1 : 0 }, shape: [4, 9]))
        let positions = [8, 0, 3, 6]
        let full = layer(x, mask: mask).value
        let rows = layer(x, rows: positions, mask: mask).value
        for (b, p) in positions.enumerated() {
            let expected = full.narrowed(0, start: b, length: 1).narrowed(1, start: p, length: 1).reshaped([1, 24])
            #expect(maxAbsDiff(expected.contiguous(), rows.narrowed(0, start: b, length: 1).contiguous()) <= 1e-5)
        }
    }
}
