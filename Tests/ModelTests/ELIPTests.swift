// ELIP: mapper and prompt-guided image encoding against a PyTorch reference.

import Testing
import Foundation
import Tensor
import Autograd
import NN
import Models

@Suite struct ELIPTests {
    /// The fixture model of `kind`, its mapper and the PyTorch expectations.
    func fixture(_ kind: String) throws -> (any PromptGuidedModel, ELIPMapper, SafeTensorsFile) {
        let model: any PromptGuidedModel = kind == "clip"
            ? try CLIPModel.load(directory: Fixtures.path("clip/p16_96"))
            : try SiglipModel.load(directory: Fixtures.path("siglip/p8_48"))
        return (model, try ELIPMapper.load(path: Fixtures.path("elip/\(kind)_mapper.safetensors")),
                try SafeTensorsFile(path: Fixtures.path("elip/\(kind)_expected.safetensors")))
    }

    @Test(arguments: ["clip", "siglip"])
    func guidedEmbeddingsMatchPyTorch(_ kind: String) throws {
        let (model, mapper, expected) = try fixture(kind)
        #expect(mapper.promptTokens == (kind == "clip" ? 3 : 4) && mapper.hidden == 48)
        let textEmbeds = try expected.tensor("text_embeds")
        let prompts = withNoGrad { mapper(Variable(textEmbeds)) }
        #expect(maxAbsDiff(prompts.value.contiguous(), try expected.tensor("prompts")) <= 1e-5)
        let guided = try withNoGrad {
            try model.guidedImageFeatures(Variable(try expected.tensor("pixel_values")), prompts: prompts).l2Normalized()
        }
        #expect(maxAbsDiff(guided.value, try expected.tensor("guided_image_embeds")) <= 1e-4)
        // Prompts change the embedding: without them it differs.
        let plain = try withNoGrad { try model.imageFeatures(Variable(try expected.tensor("pixel_values"))).l2Normalized() }
        #expect(maxAbsDiff(plain.value, guided.value) > 1e-3)
    }

    /// 20 AdamW steps on the mapper with the backbone frozen follow PyTorch's loss curve.
    @Test(arguments: ["clip", "siglip"])
    func trainingFollowsPyTorch(_ kind: String) throws {
        let (model, mapper, expected) = try fixture(kind)
        model.freeze()
        let optimizer = AdamW(mapper.parameters, learningRate: 1e-3, weightDecay: 0.01)
        let reference = try expected.tensor("train_losses").toArray()
        let t = try expected.tensor("text_embeds"), pixels = try expected.tensor("pixel_values")
        for step in 0..<20 {
            let loss = try ELIPObjective.loss(model: model, mapper: mapper, textEmbeds: t, pixels: pixels)
            #expect(abs(loss.value.item - reference[step]) <= 1e-3 * abs(reference[step]), "step \(step)")
            optimizer.zeroGrad()
            loss.backward()
            optimizer.step()
        }
        #expect(model.parameters.allSatisfy { $0.grad == nil })
    }

    @Test func mapperRoundTripsAndGradientsReachOnlyIt() throws {
        let model = try CLIPModel.load(directory: Fixtures.path("clip/p16_96"))
        model.freeze()
        let mapper = ParameterInitialization.seeded(3) {
            ELIPMapper(textDim: model.config.projectionDim, hidden: 16, promptTokens: 2, visionDim: model.visionWidth)
        }
        #expect(mapper.namedParameters().map(\.key) == ["mapper.0.weight", "mapper.0.bias", "mapper.2.weight",
                                                        "mapper.2.bias", "mapper.4.weight", "mapper.4.bias"])
        #expect(mapper.parameters.filter { $0.rank == 1 }.allSatisfy { $0.value.toArray().allSatisfy { $0 == 0 } })
        let e = try Fixtures.expected("clip/p16_96")
        let t = try withNoGrad { try model.textFeatures(indices(try e.tensor("input_ids")), attentionMask: try e.tensor("attention_mask")) }
        let guided = try model.guidedImageFeatures(Variable(try e.tensor("pixel_values")), prompts: mapper(t.l2Normalized()))
        guided.pow(2).sum().backward()
        #expect(mapper.parameters.allSatisfy { $0.grad != nil })
        #expect(model.parameters.allSatisfy { $0.grad == nil })
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("clipcore-mapper-\(UUID().uuidString).safetensors").path
        defer { unlink(path) }
        try mapper.saveMapper(to: path)
        let back = try ELIPMapper.load(path: path)
        #expect(back.promptTokens == 2 && back.visionDim == model.visionWidth && back.hidden == 16)
        for (a, b) in zip(mapper.stateDict(), back.stateDict()) { #expect(a.tensor.toArray() == b.tensor.toArray()) }
        #expect(throws: ModelError.self) {
            try model.guidedImageFeatures(Variable(try e.tensor("pixel_values")), prompts: Variable(Tensor.zeros([1, 2, 5])))
        }
    }
}
