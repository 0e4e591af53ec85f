// A LoRA adapter that PEFT saved (Tools/fixtures/peft_lora.py: adapter_config.json and
// adapter_model.safetensors without clipcore's metadata) loads onto the same CLIP fixture and gives
// the embeddings PEFT's adapted model gave; PEFT options this library does not reproduce are named.

import Testing
import Foundation
import Tensor
import NN
import Images
import Models
import Adapters
import TestSupport

@Suite struct PEFTFolderTests {
    let folder = Fixtures.path("peft/lora_clip")

    func expected() throws -> (texts: [String], text: Tensor, image: Tensor) {
        let f = try SafeTensorsFile(path: Fixtures.path("peft/lora_clip_expected.safetensors"))
        let texts = try JSONDecoder().decode([String].self, from: Data(f.metadata["texts"]!.utf8))
        return (texts, try f.tensor("text_embeds"), try f.tensor("image_embeds"))
    }

    func images() throws -> [RGBImage] {
        try (0..<2).map { try RGBImage(contentsOfFile: Fixtures.path("clip/gelu_vocab/image\($0).png")) }
    }

    @Test func peftLoRAFolderGivesPEFTsEmbeddings() throws {
        let (texts, text, image) = try expected()
        let pipeline = try ImageTextPipeline(directory: Fixtures.path("clip/gelu_vocab"))
        let base = try pipeline.encode(texts: texts)
        let adapter = try Adapters.load(folder, into: pipeline.model)
        let lora = try #require(adapter as? LoRAModel)
        #expect(lora.config.rank == 4 && lora.config.alpha == 12 && lora.config.targetModules == ["q_proj", "v_proj"])
        let t = try pipeline.encode(texts: texts), i = try pipeline.encode(images: try images())
        #expect(maxAbsDiff(t, text) <= 1e-4, "text \(maxAbsDiff(t, text))")
        #expect(maxAbsDiff(i, image) <= 1e-4, "image \(maxAbsDiff(i, image))")
        // the adapter matters: the base model alone is far from PEFT's adapted embeddings
        #expect(maxAbsDiff(base, text) > 1e-2)
        // merged into the weights, the same embeddings
        lora.merge()
        #expect(maxAbsDiff(try pipeline.encode(texts: texts), text) <= 1e-4)
    }

    /// `clip adapters merge` takes a PEFT folder as well.
    @Test func peftFolderMerges() throws {
        let (texts, text, _) = try expected()
        let out = try ScratchFolder("peft-merge")
        defer { out.remove() }
        let (merged, kind) = try Adapters.mergeFolder(model: Fixtures.path("clip/gelu_vocab"), adapter: folder, output: out.path + "/merged")
        #expect(kind == .lora)
        #expect(maxAbsDiff(try merged.encode(texts: texts), text) <= 1e-4)
        #expect(maxAbsDiff(try ImageTextPipeline(directory: out.path + "/merged").encode(texts: texts), text) <= 1e-4)
    }

    /// Our settings file reads back as the same LoRA; PEFT options we do not reproduce are refused by name.
    @Test func settingsFileRoundTripsAndRefusesOtherOptions() throws {
        let dir = try ScratchFolder("peft-config")
        defer { dir.remove() }
        let config = LoRAConfig(rank: 6, alpha: 3, dropout: 0.1, targetModules: ["q_proj", "v_proj"])
        try PEFTConfig.write(config, baseModel: "some/model", to: dir.path)
        #expect(try PEFTConfig.read(dir.path + "/" + PEFTConfig.fileName) == config)
        let original = try String(contentsOfFile: folder + "/adapter_config.json", encoding: .utf8)
        for (from, to, kind, needle) in [("\"use_dora\": false", "\"use_dora\": true", ClipError.Kind.unsupported, "use_dora"),
                                         ("\"bias\": \"none\"", "\"bias\": \"all\"", .unsupported, "bias"),
                                         ("\"peft_type\": \"LORA\"", "\"peft_type\": \"IA3\"", .unsupported, "IA3"),
                                         ("\"r\": 4", "\"r\": \"four\"", .format, "'r'")] {
            #expect(original.contains(from), "the fixture's config has no \(from)")
            let path = dir.path + "/bad.json"
            try original.replacingOccurrences(of: from, with: to).write(toFile: path, atomically: true, encoding: .utf8)
            #expect {
                _ = try PEFTConfig.read(path)
            } throws: { e in
                guard let e = e as? ClipError else { return false }
                return e.kind == kind && e.message.contains(needle)
            }
        }
    }
}
