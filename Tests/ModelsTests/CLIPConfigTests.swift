// config.json parsing and model-folder errors.

import Testing
import Foundation
import Tensor
import TestSupport
import NN
import Models

@Suite struct CLIPConfigTests {
    func write(_ json: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clipcore-cfg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try json.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        return dir
    }

    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return "\(error)" }
    }

    let text = #""text_config": {"vocab_size": 100, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 8}"#

    @Test func missingAndInvalidFieldsNameThePath() throws {
        let missing = try write(#"{"model_type": "clip", "# + text + #", "vision_config": {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "image_size": 32}}"#)
        #expect(message { _ = try CLIPConfig.load(path: missing + "/config.json") }.contains("vision_config.patch_size missing"))
        let act = try write(#"{"# + text + #", "vision_config": {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "image_size": 32, "patch_size": 8, "hidden_act": "swish"}}"#)
        #expect(message { _ = try CLIPConfig.load(path: act + "/config.json") }.contains("hidden_act 'swish' is not supported"))
        let heads = try write(#"{"# + text + #", "vision_config": {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 3, "image_size": 32, "patch_size": 8}}"#)
        #expect(message { _ = try CLIPConfig.load(path: heads + "/config.json") }.contains("not divisible by 3 heads"))
        let kind = try write(#"{"model_type": "bert"}"#)
        #expect(message { _ = try CLIPConfig.load(path: kind + "/config.json") }.contains("expected 'clip'"))
        let junk = try write("{not json")
        #expect(message { _ = try CLIPConfig.load(path: junk + "/config.json") }.contains("not valid JSON"))
        #expect(message { _ = try CLIPConfig.load(path: "/nonexistent/config.json") }.contains("cannot read"))
    }

    @Test func defaultsFollowTransformers() throws {
        let dir = try write(#"{"# + text + #", "vision_config": {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "image_size": 32, "patch_size": 8}}"#)
        let c = try CLIPConfig.load(path: dir + "/config.json")
        #expect(c.projectionDim == 512 && c.textConfig.eosTokenId == 49407 && c.textConfig.hiddenAct == "quick_gelu")
        #expect(c.visionConfig.numChannels == 3 && c.visionConfig.layerNormEps == 1e-5)
    }

    @Test func weightsThatDoNotFitAreNamed() throws {
        // The p16 config with the b32 weights: every wrongly shaped key is listed.
        let dir = try write(String(contentsOfFile: Fixtures.path("clip/p16_96/config.json"), encoding: .utf8))
        try FileManager.default.createSymbolicLink(atPath: dir + "/model.safetensors",
                                                   withDestinationPath: Fixtures.path("clip/b32_narrow/model.safetensors"))
        let m = message { _ = try CLIPModel.load(directory: dir) }
        #expect(m.contains("vision_model.embeddings.patch_embedding.weight"))
        #expect(m.contains("text_model.encoder.layers.1.self_attn.q_proj.weight"))   // missing: b32 has one layer
    }

    @Test func badInputsAreErrorsNotCrashes() throws {
        let model = try CLIPModel.load(directory: Fixtures.path("clip/p16_96"))
        #expect(ClipError.kind { try model.textFeatures(Indices(shape: [1, 3], values: [0, 5000, 2])) } == .invalidArgument)
        #expect(ClipError.kind { try model.textFeatures(Indices(shape: [1, 30], values: Array(0..<30))) } == .shape)
        #expect(ClipError.kind { try model.imageFeatures(.init(Tensor.zeros([1, 3, 64, 64]))) } == .shape)
    }
}
