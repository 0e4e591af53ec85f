// Strings and PNG files to embeddings, end to end, against transformers (tokenizer + processor + model).

import Testing
import Foundation
import Tensor
import Models

@Suite struct PipelineTests {
    @Test func textsAndFilesGiveTransformersEmbeddings() throws {
        let dir = Fixtures.path("clip/gelu_vocab")
        let pipeline = try CLIPPipeline(directory: dir)
        let texts = try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/texts.json")))
        let e = try Fixtures.expected("clip/gelu_vocab")
        // Batched (padding to the longest) or one at a time, the same embeddings.
        let t = try pipeline.encode(texts: texts)
        let single = try pipeline.encode(texts: texts, batchSize: 1)
        #expect(maxAbsDiff(t, try e.tensor("text_embeds")) <= 1e-4)
        #expect(maxAbsDiff(single, try e.tensor("text_embeds")) <= 1e-4)
        let images = try (0..<2).map { try RGBImage(contentsOfPNG: dir + "/image\($0).png") }
        let i = try pipeline.encode(images: images)
        #expect(maxAbsDiff(i, try e.tensor("image_embeds")) <= 1e-4)
        let logits = pipeline.logitsPerImage(images: i, texts: t)
        #expect(relativeError(logits, try e.tensor("logits_per_image")) <= 1e-4)
        #expect(try ModelKind.detect(directory: dir) == .clip)
    }
}
