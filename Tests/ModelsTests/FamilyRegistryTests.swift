// A family defined outside the library registers itself and then reads its folders, as a
// package that depends on clipcore would do it.

import Testing
import Foundation
import Dispatch
import Tensor
import TestSupport
import Images
import Models

/// CLIP folders under another `model_type`: what a package's own family looks like (here it reuses CLIP's
/// model, tokenizer and preprocessing).
enum RenamedCLIPFamily: ModelFamily {
    static let modelTypes = ["clipcore_test_clip"]
    static let imageProcessorClass = "CLIPImageProcessor"
    static let imageTower = CLIPFamily.imageTower
    static let textTower = CLIPFamily.textTower

    static func config(path: String) throws -> CLIPConfig {
        guard let data = FileManager.default.contents(atPath: path),
              var root = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ClipError.io("\(path): cannot read the file")
        }
        root["model_type"] = "clip"
        return try JSONDecoder().decode(CLIPConfig.self, from: JSONSerialization.data(withJSONObject: root))
    }
    static func model(_ config: CLIPConfig) throws -> CLIPModel { try CLIPModel(config) }
    static func tokenizer(directory: String, for model: CLIPModel) throws -> ([String]) -> TokenizedBatch {
        try CLIPFamily.tokenizer(directory: directory, for: model)
    }
    static func imageProcessorConfig(directory: String, for model: CLIPModel) throws -> ImageProcessorConfig {
        try CLIPFamily.imageProcessorConfig(directory: directory, for: model)
    }
    static func writeStandardTokenizerFiles(to directory: String) throws { try CLIPFamily.writeStandardTokenizerFiles(to: directory) }
    static func summary(directory: String) throws -> [String] { ["a CLIP folder under another model_type"] }
}

/// A family whose model type another family already reads.
enum ClashingFamily: ModelFamily {
    static let modelTypes = ["clipcore_test_clash", "siglip"]
    static let imageProcessorClass = "SiglipImageProcessor"
    static let imageTower = SiglipFamily.imageTower
    static let textTower = SiglipFamily.textTower
    static func config(path: String) throws -> SiglipConfig { try SiglipFamily.config(path: path) }
    static func model(_ config: SiglipConfig) throws -> SiglipModel { try SiglipModel(config) }
    static func tokenizer(directory: String, for model: SiglipModel) throws -> ([String]) -> TokenizedBatch {
        try SiglipFamily.tokenizer(directory: directory, for: model)
    }
    static func imageProcessorConfig(directory: String, for model: SiglipModel) throws -> ImageProcessorConfig {
        try SiglipFamily.imageProcessorConfig(directory: directory, for: model)
    }
    static func writeStandardTokenizerFiles(to directory: String) throws {}
    static func summary(directory: String) throws -> [String] { [] }
}

@Suite struct FamilyRegistryTests {
    @Test func aRegisteredFamilyReadsItsFolders() throws {
        let scratch = try ScratchFolder("family")
        defer { scratch.remove() }
        let source = Fixtures.path("clip/gelu_vocab"), dir = scratch.path + "/renamed"
        try FileManager.default.copyItem(atPath: source, toPath: dir)
        let config = dir + "/config.json"
        let text = try String(contentsOfFile: config, encoding: .utf8)
        try text.replacingOccurrences(of: #""model_type": "clip""#, with: #""model_type": "clipcore_test_clip""#)
            .write(toFile: config, atomically: true, encoding: .utf8)
        #expect(ClipError.kind { try ModelFamilies.detect(directory: dir) } == .unsupported)   // not registered yet

        // Many threads register it at once: it is there once, after the built-in families.
        DispatchQueue.concurrentPerform(iterations: 16) { _ in try? ModelFamilies.register(RenamedCLIPFamily.self) }
        let all = ModelFamilies.all
        #expect(all.filter { ObjectIdentifier($0) == ObjectIdentifier(RenamedCLIPFamily.self) }.count == 1)
        #expect(all.prefix(3).map { $0.name } == ["clip", "siglip", "open_clip"])
        #expect(ModelFamilies.modelTypes.contains("clipcore_test_clip"))

        let pipeline = try ImageTextPipeline(directory: dir)
        #expect(ObjectIdentifier(pipeline.family) == ObjectIdentifier(RenamedCLIPFamily.self) && pipeline.family.name == "clipcore_test_clip")
        #expect(pipeline.family.abiKind == 0)           // the C header names no such kind
        let reference = try ImageTextPipeline(directory: source)
        let texts = ["a photo of a cat", "two dogs"]
        #expect(try pipeline.encode(texts: texts).toArray() == reference.encode(texts: texts).toArray())
    }

    @Test func aFamilyMayNotTakeAnotherFamilysModelType() throws {
        do {
            try ModelFamilies.register(ClashingFamily.self)
            Issue.record("registered a second reader of 'siglip'")
        } catch let e as ClipError {
            #expect(e.kind == .invalidArgument && e.message.contains("'siglip'") && e.message.contains("siglip"), "\(e.message)")
        }
        #expect(ModelFamilies.family(modelType: "clipcore_test_clash") == nil)
        #expect(ModelFamilies.family(modelType: "siglip") == SiglipFamily.self)
    }

    @Test func familiesStateTheirCKindAndTowers() {
        #expect(CLIPFamily.abiKind == 1 && SiglipFamily.abiKind == 2 && OpenCLIPFamily.abiKind == CLIPFamily.abiKind)
        let keys = ["vision_model.embeddings.patch_embedding.weight", "vision_model.pre_layrnorm.weight",
                    "vision_model.encoder.layers.0.mlp.fc1.weight", "vision_model.encoder.layers.1.mlp.fc1.weight",
                    "vision_model.post_layernorm.weight", "visual_projection.weight", "text_model.encoder.layers.0.mlp.fc1.weight"]
        #expect(CLIPFamily.imageTower.lockedKeys(in: keys, unlockedLayers: 0) == Set(keys.dropLast()))
        #expect(CLIPFamily.imageTower.lockedKeys(in: keys, unlockedLayers: 1)
                == Set(["vision_model.embeddings.patch_embedding.weight", "vision_model.pre_layrnorm.weight",
                        "vision_model.encoder.layers.0.mlp.fc1.weight"]))
        #expect(CLIPFamily.textTower.keys(in: keys) == ["text_model.encoder.layers.0.mlp.fc1.weight"])
        #expect(ModelFamilies.family(preset: "tiny") == CLIPFamily.self && ModelFamilies.family(preset: "huge") == nil)
    }
}
