// Strings and PNG files to embeddings, end to end, against transformers (tokenizer + processor + model).

import Testing
import Foundation
import Tensor
import TestSupport
import Images
import Models
import Autograd
import NN

@Suite struct PipelineTests {
    @Test func textsAndFilesGiveTransformersEmbeddings() throws {
        let dir = Fixtures.path("clip/gelu_vocab")
        let pipeline = try ImageTextPipeline(directory: dir)
        let texts = try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/texts.json")))
        let e = try Fixtures.expected("clip/gelu_vocab")
        // Batched (padding to the longest) or one at a time, the same embeddings.
        let t = try pipeline.encode(texts: texts)
        let single = try pipeline.encode(texts: texts, batchSize: 1)
        #expect(maxAbsDiff(t, try e.tensor("text_embeds")) <= 1e-4)
        #expect(maxAbsDiff(single, try e.tensor("text_embeds")) <= 1e-4)
        let images = try (0..<2).map { try RGBImage(contentsOfFile: dir + "/image\($0).png") }
        let i = try pipeline.encode(images: images)
        #expect(maxAbsDiff(i, try e.tensor("image_embeds")) <= 1e-4)
        let logits = pipeline.logitsPerImage(images: i, texts: t)
        #expect(relativeError(logits, try e.tensor("logits_per_image")) <= 1e-4)
        #expect(try ModelFamilies.detect(directory: dir).name == "clip" && pipeline.family.name == "clip")
    }

    @Test func registryPicksTheFamilyByModelType() throws {
        #expect(ModelFamilies.family(modelType: "clip")?.name == "clip")
        #expect(ModelFamilies.family(modelType: "siglip")?.name == "siglip")
        #expect(ModelFamilies.family(modelType: "llama") == nil)
        #expect(try ImageTextPipeline(directory: Fixtures.path("siglip/p8_48")).family.name == "siglip")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clipcore-family-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try #"{"model_type": "blip"}"#.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        do {
            _ = try ModelFamilies.detect(directory: dir)
            Issue.record("accepted model_type blip")
        } catch let e as ClipError {
            #expect(e.kind == .unsupported && e.message.contains("'blip'") && e.message.contains("clip, siglip"), "\(e.message)")
        }
        #expect(ClipError.kind { try ImageTextPipeline(directory: dir + "/missing") } == .io)
    }
}

@Suite struct SiglipParityTests {
    @Test(arguments: ["p8_48", "h6_64"])
    func embeddingsAndLogitsMatchTransformers(_ name: String) throws {
        let dir = Fixtures.path("siglip/" + name)
        let e = try Fixtures.expected("siglip/" + name)
        let model = try SiglipModel.load(directory: dir)
        let out = try withNoGrad {
            try model(ids: indices(try e.tensor("input_ids")), pixels: Variable(try e.tensor("pixel_values")))
        }
        #expect(maxAbsDiff(out.textEmbeds.value, try e.tensor("text_embeds")) <= 1e-4)
        #expect(maxAbsDiff(out.imageEmbeds.value, try e.tensor("image_embeds")) <= 1e-4)
        #expect(relativeError(out.logitsPerImage.value.contiguous(), try e.tensor("logits_per_image")) <= 1e-4)
    }

    @Test(arguments: ["p8_48", "h6_64"])
    func stringsAndFilesEndToEnd(_ name: String) throws {
        let dir = Fixtures.path("siglip/" + name)
        let e = try Fixtures.expected("siglip/" + name)
        let pipeline = try ImageTextPipeline(directory: dir)
        #expect(pipeline.family.name == "siglip")
        let texts = try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/texts.json")))
        let reference = try e.tensor("pixel_values")
        let images = try (0..<reference.shape[0]).map { try RGBImage(contentsOfFile: dir + "/image\($0).png") }
        #expect(maxAbsDiff(try pipeline.processor.batch(images), reference) <= 1e-5)
        let t = try pipeline.encode(texts: texts), i = try pipeline.encode(images: images)
        #expect(maxAbsDiff(t, try e.tensor("text_embeds")) <= 1e-4)
        #expect(maxAbsDiff(i, try e.tensor("image_embeds")) <= 1e-4)
        #expect(relativeError(pipeline.logitsPerImage(images: i, texts: t), try e.tensor("logits_per_image")) <= 1e-4)
    }

    @Test(arguments: ["moderate", "large"])
    func sigmoidLossAndGradientsMatchPyTorch(_ tag: String) throws {
        let f = try SafeTensorsFile(path: Fixtures.path("siglip/sigmoid_loss.safetensors"))
        let t = Variable(try f.tensor("\(tag).t"), requiresGrad: true)
        let i = Variable(try f.tensor("\(tag).i"), requiresGrad: true)
        let s = Variable(try f.tensor("\(tag).scale"), requiresGrad: true)
        let b = Variable(try f.tensor("\(tag).bias"), requiresGrad: true)
        let loss = sigmoidLoss(textEmbeds: t, imageEmbeds: i, logitScale: s, logitBias: b)
        let ref = try f.tensor("\(tag).loss").item
        #expect(abs(loss.value.item - ref) <= 1e-5 * abs(ref))
        loss.backward()
        #expect(relativeError(t.grad!, try f.tensor("\(tag).grad_t")) <= 1e-5)
        #expect(relativeError(i.grad!, try f.tensor("\(tag).grad_i")) <= 1e-5)
        #expect(relativeError(s.grad!, try f.tensor("\(tag).grad_scale")) <= 1e-5)
        #expect(relativeError(b.grad!, try f.tensor("\(tag).grad_bias")) <= 1e-5)
        if tag == "large" { #expect(try f.tensor("large.max_abs_logit").item > 1000) }
    }
}
