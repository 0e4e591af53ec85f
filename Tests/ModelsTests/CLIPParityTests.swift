// CLIP embeddings, logits and gradients against transformers (fixtures from Tools/gen_fixtures.py).

import Testing
import Foundation
import Tensor
import TestSupport
import Autograd
import NN
import Models

@Suite struct CLIPParityTests {
    @Test(arguments: ["b32_narrow", "p16_96", "gelu_vocab"])
    func embeddingsAndLogitsMatchTransformers(_ name: String) throws {
        let dir = Fixtures.path("clip/" + name)
        let model = try CLIPModel.load(directory: dir)
        let e = try Fixtures.expected("clip/" + name)
        let ids = indices(try e.tensor("input_ids"))
        let mask = try e.tensor("attention_mask")
        let pixels = try e.tensor("pixel_values")
        let out = try withNoGrad { try model(ids: ids, pixels: Variable(pixels), attentionMask: mask) }
        #expect(maxAbsDiff(out.textEmbeds.value, try e.tensor("text_embeds")) <= 1e-4)
        #expect(maxAbsDiff(out.imageEmbeds.value, try e.tensor("image_embeds")) <= 1e-4)
        let logits = try e.tensor("logits_per_image")
        #expect(relativeError(out.logitsPerImage.value.contiguous(), logits) <= 1e-4)
        // Without the padding mask the pooled (causal) outputs are the same.
        let noMask = try withNoGrad { try model.textFeatures(ids).l2Normalized() }
        #expect(maxAbsDiff(noMask.value, try e.tensor("text_embeds")) <= 1e-4)
    }

    @Test func lossGradientsMatchPyTorch() throws {
        let dir = Fixtures.path("clip/p16_96")
        let model = try CLIPModel.load(directory: dir)
        let e = try Fixtures.expected("clip/p16_96")
        let ids = indices(try e.tensor("input_ids"))
        let out = try model(ids: ids, pixels: Variable(try e.tensor("pixel_values")),
                            attentionMask: try e.tensor("attention_mask"))
        let loss = clipContrastiveLoss(out.logitsPerText)
        #expect(abs(loss.value.item - (try e.tensor("loss")).item) <= 1e-5 * max(1, abs(loss.value.item)))
        loss.backward()
        // Relative error ‖g − ref‖ / ‖ref‖ per tensor. The key-projection bias has an
        // analytically zero gradient (softmax ignores a per-query constant), so its
        // reference is rounding noise; tensors whose reference norm is below 1e-6 of
        // the largest are held to an absolute bound instead.
        let references = try model.namedParameters().map { try e.tensor("grad." + $0.key) }
        let scale = references.map { norm($0) }.max() ?? 1
        var checked = 0
        for (p, reference) in zip(model.namedParameters(), references) {
            let grad = try #require(p.variable.grad, "no gradient for \(p.key)")
            if norm(reference) >= 1e-6 * scale {
                let err = relativeError(grad, reference)
                #expect(err <= 1e-3, "\(p.key) \(grad.shape): relative gradient error \(err)")
            } else {
                #expect(maxAbsDiff(grad, reference) <= 1e-6 * scale, "\(p.key): gradient should be ~0")
            }
            checked += 1
        }
        #expect(checked == e.names.filter { $0.hasPrefix("grad.") }.count)
    }

    @Test func parameterKeysFollowTheCheckpoint() throws {
        let config = try CLIPConfig.load(path: Fixtures.path("clip/p16_96/config.json"))
        let model = try CLIPModel(config)
        let keys = Set(model.namedParameters().map(\.key))
        #expect(keys.contains("vision_model.encoder.layers.1.self_attn.q_proj.weight"))
        #expect(keys.contains("vision_model.pre_layrnorm.weight"))
        #expect(keys.contains("text_model.final_layer_norm.bias"))
        let checkpoint = try Checkpoint(path: Fixtures.path("clip/p16_96"))
        #expect(keys == Set(checkpoint.keys))
        #expect(model.parameterCount == checkpoint.keys.reduce(0) { $0 + checkpoint.entry($1)!.shape.reduce(1, *) })
    }
}
