// The opt-in reduced-precision linear paths on the transformers fixtures: embeddings within the
// tolerance docs/BENCHMARKS.md states (cosine to transformers' float32 embeddings ≥ 0.9999 for int16
// and bf16, ≥ 0.999 for int8), and ELIP's training curve near PyTorch's. A path this CPU has no kernel
// for is skipped with a printed notice.

import Testing
import Foundation
import Tensor
import TestSupport
import Autograd
import NN
import Models

/// Each reduced precision with its embedding tolerance (smallest cosine) and ELIP training-curve
/// tolerance (relative, over 20 steps).
let reducedPrecisions: [(LinearPrecision, Double, Double)] = [(.int16, 0.9999, 2e-3), (.bf16, 0.9999, 5e-3), (.int8, 0.999, 2e-2)]

/// Whether this CPU runs `p`; prints a notice when it does not.
func runs(_ p: LinearPrecision, _ test: String) -> Bool {
    if p.isSupported { return true }
    print("notice: \(test): no \(p.rawValue) kernel on this CPU (needs \(p.requirement)): skipped")
    return false
}

@Suite struct ReducedPrecisionParityTests {
    /// Cosine of matching rows, the smallest over the batch.
    func minCosine(_ a: Tensor, _ b: Tensor) -> Double {
        let x = a.l2Normalized(axis: -1).contiguous().toArray(), y = b.l2Normalized(axis: -1).contiguous().toArray()
        let d = a.shape[1]
        return (0..<a.shape[0]).map { r in (0..<d).reduce(0.0) { $0 + Double(x[r * d + $1]) * Double(y[r * d + $1]) } }.min()!
    }

    @Test(arguments: ["b32_narrow", "p16_96", "gelu_vocab"], reducedPrecisions.indices)
    func clipEmbeddingsStayCloseToTransformers(_ name: String, _ p: Int) throws {
        let (precision, tolerance, _) = reducedPrecisions[p]
        guard runs(precision, "CLIP \(name)") else { return }
        let model = try CLIPModel.load(directory: Fixtures.path("clip/" + name))
        let e = try Fixtures.expected("clip/" + name)
        let ids = indices(try e.tensor("input_ids"))
        let out = try Precision.withLinear(precision) {
            try withNoGrad { try model(ids: ids, pixels: Variable(try e.tensor("pixel_values")), attentionMask: try e.tensor("attention_mask")) }
        }
        let text = try e.tensor("text_embeds"), image = try e.tensor("image_embeds")
        #expect(minCosine(out.textEmbeds.value, text) >= tolerance, "\(precision) text")
        #expect(minCosine(out.imageEmbeds.value, image) >= tolerance, "\(precision) image")
        // The path really ran: float32 output equals transformers' to 1e-4 and differs from this.
        let float32 = try withNoGrad { try model.imageFeatures(Variable(try e.tensor("pixel_values"))).l2Normalized() }
        #expect(maxAbsDiff(out.imageEmbeds.value, float32.value) > 1e-6)
    }

    @Test(arguments: reducedPrecisions.indices)
    func siglipEmbeddingsStayCloseToTransformers(_ p: Int) throws {
        let (precision, tolerance, _) = reducedPrecisions[p]
        guard runs(precision, "SigLIP") else { return }
        let model = try SiglipModel.load(directory: Fixtures.path("siglip/p8_48"))
        let e = try Fixtures.expected("siglip/p8_48")
        let (text, image) = try Precision.withLinear(precision) {
            try withNoGrad {
                (try model.textFeatures(indices(try e.tensor("input_ids"))).value,
                 try model.imageFeatures(Variable(try e.tensor("pixel_values"))).value)
            }
        }
        #expect(minCosine(text, try e.tensor("text_embeds")) >= tolerance, "\(precision) text")
        #expect(minCosine(image, try e.tensor("image_embeds")) >= tolerance, "\(precision) image")
    }

    @Test(arguments: ["clip", "siglip"], reducedPrecisions.indices)
    func elipGuidedEmbeddingsAndTraining(_ kind: String, _ p: Int) throws {
        let (precision, tolerance, curveTolerance) = reducedPrecisions[p]
        guard runs(precision, "ELIP \(kind)") else { return }
        let model: any PromptGuidedModel = kind == "clip"
            ? try CLIPModel.load(directory: Fixtures.path("clip/p16_96"))
            : try SiglipModel.load(directory: Fixtures.path("siglip/p8_48"))
        let mapper = try ELIPMapper.load(path: Fixtures.path("elip/\(kind)_mapper.safetensors"))
        let e = try SafeTensorsFile(path: Fixtures.path("elip/\(kind)_expected.safetensors"))
        model.freeze()
        let t = try e.tensor("text_embeds"), pixels = try e.tensor("pixel_values")
        try Precision.withLinear(precision) {
            let guided = try withNoGrad { try model.guidedImageFeatures(Variable(pixels), prompts: mapper(Variable(t))).l2Normalized() }
            #expect(minCosine(guided.value, try e.tensor("guided_image_embeds")) >= tolerance, "\(precision) guided")
            let optimizer = AdamW(mapper.parameters, learningRate: 1e-3, weightDecay: 0.01)
            let reference = try e.tensor("train_losses").toArray()
            var worst = 0.0
            for step in 0..<20 {
                let loss = try ELIPObjective.loss(model: model, mapper: mapper, textEmbeds: t, pixels: pixels)
                worst = max(worst, Double(abs(loss.value.item - reference[step]) / abs(reference[step])))
                optimizer.zeroGrad()
                loss.backward()
                optimizer.step()
            }
            #expect(worst <= curveTolerance, "\(precision): loss differs from PyTorch's by \(worst) of it")
        }
    }
}
