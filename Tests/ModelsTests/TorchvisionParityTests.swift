// ImageTextPipeline(directory:preprocessing: .torchvision) against transformers 5's default image processors
// (CLIPImageProcessor / SiglipImageProcessor, torchvision backend) and the folder's model, on the
// Tests/Fixtures/torchvision cases: CLIP and SigLIP, upscaling and downscaling, non-square images.

import Testing
import Foundation
import Tensor
import TestSupport
import Images
import Models

@Suite struct TorchvisionParityTests {
    @Test func embeddingsMatchTransformers5DefaultProcessors() throws {
        let (cases, expected) = try TorchvisionFixture.load()
        let withModel = cases.filter { $0.model != nil }
        #expect(Set(withModel.compactMap(\.model)).isSuperset(of: ["clip/gelu_vocab", "siglip/h6_64"]))
        var pipelines: [String: (tv: ImageTextPipeline, pil: ImageTextPipeline)] = [:]
        var pilAboveTolerance = 0
        for c in withModel {
            let model = try #require(c.model)
            if pipelines[model] == nil {
                let dir = Fixtures.path(model)
                pipelines[model] = (try ImageTextPipeline(directory: dir, preprocessing: .torchvision),
                                    try ImageTextPipeline(directory: dir))
            }
            let p = try #require(pipelines[model])
            #expect(p.tv.processor.config.preprocessing == .torchvision && p.pil.processor.config.preprocessing == .pil)
            let img = try RGBImage(contentsOfFile: Fixtures.path(c.image))
            let reference = try expected.tensor(c.name + ".image_embeds")
            let tv = try p.tv.encode(images: [img])
            let d = maxAbsDiff(tv.reshaped([reference.shape[0]]), reference)
            #expect(d <= 1e-4, "\(c.name): torchvision preprocessing is \(d) from transformers 5's embeddings")
            let pil = maxAbsDiff(try p.pil.encode(images: [img]).reshaped([reference.shape[0]]), reference)
            if pil > 1e-4 { pilAboveTolerance += 1 }
        }
        // The fixture can tell the two apart: PIL preprocessing misses transformers 5's numbers on some cases.
        #expect(pilAboveTolerance >= 2)
    }

    /// An open_clip folder whose crop transformers cannot express (torchvision's offsets) is refused; one that
    /// squashes, as SiglipImageProcessor does, runs.
    @Test func openCLIPCropIsNotTransformers() throws {
        let dir = Fixtures.path("openclip/quickgelu")
        let e = try #require(throws: ClipError.self) { try ImageTextPipeline(directory: dir, preprocessing: .torchvision) }
        #expect(e.kind == .unsupported && e.message.contains("quickgelu/open_clip_config.json"), "\(e.message)")
        let squash = try ImageTextPipeline(directory: Fixtures.path("openclip/gelu"), preprocessing: .torchvision)
        #expect(squash.processor.config.preprocessing == .torchvision)
    }
}
