// The README's Swift snippet compiles and runs (on a generated test split).

import Testing
import Foundation
import ClipCore
import Datasets
import Search
import Pipelines
import Images
import TestSupport

@Suite struct ReadmeSnippetTests {
    @Test func swiftSnippetRuns() throws {
        let f = ELIPTrainerTests.fixtures
        let dir = try ScratchFolder("snippet")
        defer { dir.remove() }
        try SyntheticShapes(size: 64, seed: 0).write(to: dir.path, count: 20)
        let pipeline = try ImageTextPipeline(directory: f + "/clip/gelu_vocab")
        let texts = try pipeline.encode(texts: ["a photo of a cat", "a red circle"])
        let images = try pipeline.encode(images: [try RGBImage(contentsOfFile: f + "/clip/gelu_vocab/image0.png"),
                                                  try RGBImage(contentsOfFile: f + "/clip/gelu_vocab/image1.png")])
        let loss = clipContrastiveLoss(Variable(texts.matmul(images.transposed()) * 100))
        let top = ExactSearch.topK(queries: texts, gallery: images, k: 2)
        let mapper = try ELIPMapper.load(path: f + "/capi/clip/mapper.safetensors")
        let guided = try ELIPReranker.evaluate(pipeline: pipeline, mapper: mapper,
                                               dataset: try ImageTextDataset(path: dir.path + "/test.jsonl"), k: 10)
        #expect(loss.value.item.isFinite && top.ids.count == 4 && guided.k == 2)
    }
}
