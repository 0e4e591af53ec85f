// open_clip checkpoints: direct loading and `convert` against open_clip's own outputs
// (Tests/Fixtures/openclip, from Tools/gen_fixtures.py openclip), preprocess_cfg,
// tokenizer ids, ELIP-C's prompt generator, and the refusals.

import Testing
import Foundation
import Tensor
import TestSupport
import Images
import Autograd
import NN
import Models

@Suite struct OpenCLIPTests {
    static let models = ["quickgelu", "gelu"]

    func expected(_ name: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: Fixtures.path("openclip/\(name)_expected.safetensors"))
    }

    func images() throws -> [RGBImage] {
        try (0..<3).map { try RGBImage(contentsOfFile: Fixtures.path("openclip/image\($0).png")) }
    }

    func ids(_ e: SafeTensorsFile) throws -> Indices {
        let t = try e.tensor("input_ids")
        return Indices(shape: t.shape, values: try e.int64("input_ids").map { Int($0) })
    }

    /// Embeddings of the fixture's pixels and ids, raw and normalised, against open_clip's.
    func checkEmbeddings(_ pipeline: ImageTextPipeline, _ name: String) throws {
        let e = try expected(name)
        let pixels = try e.tensor("pixel_values")
        let images = (0..<pixels.shape[0]).map { pixels.narrowed(0, start: $0, length: 1).squeezed(0).contiguous() }
        let img = try pipeline.encode(pixels: images, normalize: false)
        let imgN = try pipeline.encode(pixels: images)
        let ids = try ids(e)
        let txt = try withNoGrad { try pipeline.model.textFeatures(ids, attentionMask: nil) }.value
        let dImg = maxAbsDiff(img, try e.tensor("image_embeds")), dImgN = maxAbsDiff(imgN, try e.tensor("image_embeds_normalized"))
        let dTxt = maxAbsDiff(txt, try e.tensor("text_embeds"))
        let dTxtN = maxAbsDiff(txt.l2Normalized(), try e.tensor("text_embeds_normalized"))
        print("open_clip \(name) (\(pipeline.family.name)): max |diff| image \(dImg), image normalised \(dImgN), text \(dTxt), text normalised \(dTxtN)")
        #expect(dImg <= 1e-4 && dImgN <= 1e-4 && dTxt <= 1e-4 && dTxtN <= 1e-4)
        #expect(abs(pipeline.model.logitScale.value.item - (try e.tensor("logit_scale")).toArray()[0]) <= 1e-6)
        // The logit bias (quickgelu's sigmoid-loss model) survives both paths and enters the logits.
        let bias = (try? e.tensor("logit_bias"))?.toArray()[0]
        let clip = try #require(pipeline.model as? CLIPModel)
        #expect(clip.logitBias?.value.item == bias)
        let logits = pipeline.logitsPerImage(images: imgN, texts: txt.l2Normalized())
        let cos = imgN.matmul(txt.l2Normalized().transposed())
        #expect(abs(logits[0, 0] - (cos[0, 0] * Foundation.exp(clip.logitScale.value.item) + (bias ?? 0))) <= 1e-4)
    }

    @Test(arguments: models)
    func directLoadMatchesOpenCLIP(_ name: String) throws {
        let pipeline = try ImageTextPipeline(directory: Fixtures.path("openclip/\(name)"))
        #expect(pipeline.family.name == "open_clip")
        try checkEmbeddings(pipeline, name)
    }

    @Test(arguments: models)
    func convertedFolderMatchesOpenCLIP(_ name: String) throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("openclip-convert-\(name)-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let checkpoint = try OpenCLIP.load(directory: Fixtures.path("openclip/\(name)"))
        #expect(checkpoint.mapper == nil)
        try ModelFolder.write(checkpoint.model, processor: checkpoint.config.preprocess.transformersEquivalent().config,
                              tokenizerSource: nil, to: out)
        let pipeline = try ImageTextPipeline(directory: out)
        #expect(pipeline.family.name == "clip")
        try checkEmbeddings(pipeline, name)
    }

    /// Texts through our open_clip tokenizer and images through preprocess_cfg, end to end.
    @Test func textsAndImagesEndToEnd() throws {
        let pipeline = try ImageTextPipeline(directory: Fixtures.path("openclip/gelu"))
        let e = try expected("gelu")
        let data = try #require(e.metadata["texts"]?.data(using: .utf8))
        let texts = try #require(try JSONSerialization.jsonObject(with: data) as? [String])
        let t = try pipeline.encode(texts: texts, normalize: false)
        #expect(maxAbsDiff(t, try e.tensor("text_embeds")) <= 1e-4)
        for name in Self.models {
            let p = try ImageTextPipeline(directory: Fixtures.path("openclip/\(name)"))
            let d = maxAbsDiff(try p.encode(images: try images(), normalize: false), try expected(name).tensor("image_embeds"))
            print("open_clip \(name): images through preprocess_cfg, max |diff| \(d)")
            #expect(d <= 1e-4)
        }
    }

    /// preprocess_cfg: shortest + bicubic + torchvision's crop, squash + bilinear, longest + fill colour.
    @Test(arguments: ["quickgelu", "gelu", "longest"])
    func preprocessingFollowsPreprocessCfg(_ name: String) throws {
        let config: ImageProcessorConfig
        if name == "longest" {
            let data = try #require(FileManager.default.contents(atPath: Fixtures.path("openclip/longest_preprocess_cfg.json")))
            let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            config = try OpenCLIPConfig(json: ["model_cfg": ["embed_dim": 8, "vision_cfg": ["image_size": 40, "patch_size": 8], "text_cfg": [:]],
                                               "preprocess_cfg": root]).preprocess
            #expect(config.size == .longestEdge(40) && config.fill == 128)
        } else {
            config = try OpenCLIPConfig.load(path: Fixtures.path("openclip/\(name)/open_clip_config.json")).preprocess
        }
        let processor = ImageProcessor(config)
        let e = try expected(name)
        let reference = name == "longest" ? try (0..<3).map { try e.tensor("pixels\($0)") }
            : try { let p = try e.tensor("pixel_values"); return (0..<3).map { p.narrowed(0, start: $0, length: 1).squeezed(0).contiguous() } }()
        // PIL's resampling is reproduced exactly, so the tensors agree to rounding, well inside one 8-bit level.
        let level: Float = 1e-6
        var worst: Float = 0
        for (i, img) in try images().enumerated() {
            let d = maxAbsDiff(try processor(img), reference[i])
            worst = max(worst, d)
            #expect(d <= level, "\(name) image \(i): max |diff| \(d)")
        }
        print("open_clip preprocessing \(name): max |diff| \(worst)")
    }

    /// open_clip's SimpleTokenizer ids, except where ftfy's repair (not reproduced) changes them.
    @Test func tokenizerMatchesSimpleTokenizer() throws {
        let data = try #require(FileManager.default.contents(atPath: Fixtures.path("openclip/tokenizer.json")))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let cases = try #require(root["cases"] as? [[String: Any]])
        let tok = try CLIPTokenizer.standard(style: .openCLIP)
        var compared = 0, mismatches: [String] = []
        for c in cases where c["ftfy"] as? Bool == false {
            let text = try #require(c["text"] as? String), ids = try #require(c["ids"] as? [Int])
            compared += 1
            if tok.encode(text) != ids { mismatches.append(text) }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(compared) differ, e.g. \(mismatches.prefix(3))")
        #expect(compared >= 380)
    }

    // MARK: - ELIP-C

    @Test func elipCGuidedScoresMatchPyTorch() throws {
        let checkpoint = try OpenCLIP.load(directory: Fixtures.path("openclip/elipc"))
        let mapper = try #require(checkpoint.mapper)
        #expect(mapper.promptTokens == 2 && mapper.hidden == 32 && mapper.textDim == 20 && mapper.visionDim == 24)
        let e = try expected("elipc")
        let t = try withNoGrad { try checkpoint.model.textFeatures(try ids(e), attentionMask: nil) }.value.l2Normalized()
        #expect(maxAbsDiff(t, try e.tensor("text_embeds")) <= 1e-4)
        let pixels = try e.tensor("pixel_values"), reference = try e.tensor("guided_scores")
        var worst: Float = 0
        for q in 0..<t.shape[0] {
            let scores = try ELIPObjective.guidedScores(model: checkpoint.model, mapper: mapper,
                                                        query: t.narrowed(0, start: q, length: 1).contiguous(), candidates: pixels)
            worst = max(worst, maxAbsDiff(Tensor(scores, shape: [scores.count]), reference.narrowed(0, start: q, length: 1).squeezed(0).contiguous()))
        }
        print("ELIP-C guided scores: max |diff| \(worst)")
        #expect(worst <= 1e-4)
        // The same folder loads as a plain model (the generator is read, then left out).
        let pipeline = try ImageTextPipeline(directory: Fixtures.path("openclip/elipc"))
        #expect(pipeline.model.embeddingDim == 20)
    }

    /// DistributedDataParallel's `module.` prefix (ELIP-C's training checkpoints) and CustomTextCLIP's `text.` tower.
    @Test func prefixedKeyLayoutsLoad() throws {
        let dir = try tempFolder("prefixed")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = try SafeTensorsFile(path: Fixtures.path("openclip/elipc/open_clip_model.safetensors"))
        try SafeTensors.write(try source.names.map { (name: "module." + $0, tensor: try source.tensor($0)) }, to: dir + "/ddp.safetensors")
        let elipc = try OpenCLIP.load(config: try OpenCLIPConfig.load(path: Fixtures.path("openclip/elipc/open_clip_config.json")),
                                      weights: dir + "/ddp.safetensors")
        #expect(elipc.mapper?.promptTokens == 2)

        let quick = try SafeTensorsFile(path: Fixtures.path("openclip/quickgelu/open_clip_model.safetensors"))
        let textKeys: Set<String> = ["token_embedding.weight", "positional_embedding", "text_projection"]
        try SafeTensors.write(try quick.names.map { k in
            (name: textKeys.contains(k) || k.hasPrefix("transformer.") || k.hasPrefix("ln_final.") ? "text." + k : k, tensor: try quick.tensor(k))
        }, to: dir + "/open_clip_model.safetensors")
        let data = try #require(FileManager.default.contents(atPath: Fixtures.path("openclip/quickgelu/open_clip_config.json")))
        var root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var model = try #require(root["model_cfg"] as? [String: Any])
        model["custom_text"] = true
        root["model_cfg"] = model
        try JSONSerialization.data(withJSONObject: root).write(to: URL(fileURLWithPath: dir + "/open_clip_config.json"))
        try checkEmbeddings(try ImageTextPipeline(directory: dir), "quickgelu")
    }

    // MARK: - Bad input

    func error(_ body: () throws -> Any) -> ClipError? {
        do { _ = try body(); return nil } catch let e as ClipError { return e } catch { return nil }
    }

    func tempFolder(_ tag: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("openclip-\(tag)-\(UUID().uuidString)").path
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test(arguments: [
        (#"{"embed_dim": 8, "vision_cfg": {"timm_model_name": "convnext_base", "image_size": 224}, "text_cfg": {}}"#, "convnext_base"),
        (#"{"embed_dim": 8, "vision_cfg": {"layers": [3, 4, 6, 3], "width": 64}, "text_cfg": {}}"#, "ModifiedResNet"),
        (#"{"embed_dim": 8, "vision_cfg": {}, "text_cfg": {}, "multimodal_cfg": {"width": 512}}"#, "CoCa"),
        (#"{"embed_dim": 8, "vision_cfg": {}, "text_cfg": {"hf_model_name": "xlm-roberta-base"}}"#, "xlm-roberta-base"),
        (#"{"embed_dim": 8, "vision_cfg": {"ls_init_value": 1e-5}, "text_cfg": {}}"#, "layer scale"),
    ])
    func unsupportedArchitecturesAreNamed(_ modelCfg: String, _ name: String) throws {
        let dir = try tempFolder("unsupported")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try #"{"model_cfg": \#(modelCfg), "preprocess_cfg": {}}"#.write(toFile: dir + "/open_clip_config.json", atomically: true, encoding: .utf8)
        let e = try #require(error { try ImageTextPipeline(directory: dir) })
        #expect(e.kind == .unsupported && e.message.contains(name) && e.message.contains("open_clip_config.json"), "\(e.message)")
    }

    @Test func corruptOrMissingFilesGiveClearErrors() throws {
        let dir = try tempFolder("corrupt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = Fixtures.path("openclip/quickgelu")
        let config = try String(contentsOfFile: source + "/open_clip_config.json", encoding: .utf8)
        try config.write(toFile: dir + "/open_clip_config.json", atomically: true, encoding: .utf8)
        // No weights.
        var e = try #require(error { try ImageTextPipeline(directory: dir) })
        #expect(e.kind == .io && e.message.contains("open_clip_model.safetensors"), "\(e.message)")
        // Weights that are not safetensors.
        try Data("not a safetensors file at all".utf8).write(to: URL(fileURLWithPath: dir + "/open_clip_model.safetensors"))
        e = try #require(error { try ImageTextPipeline(directory: dir) })
        #expect(e.kind == .format && e.message.contains("open_clip_model.safetensors"), "\(e.message)")
        // Weights of another size: the config asks for 3 text layers.
        try FileManager.default.removeItem(atPath: dir + "/open_clip_model.safetensors")
        try FileManager.default.copyItem(atPath: source + "/open_clip_model.safetensors", toPath: dir + "/open_clip_model.safetensors")
        var root = try #require(try JSONSerialization.jsonObject(with: Data(config.utf8)) as? [String: Any])
        var model = try #require(root["model_cfg"] as? [String: Any]), text = try #require(model["text_cfg"] as? [String: Any])
        text["layers"] = 3
        model["text_cfg"] = text
        root["model_cfg"] = model
        try JSONSerialization.data(withJSONObject: root).write(to: URL(fileURLWithPath: dir + "/open_clip_config.json"))
        e = try #require(error { try ImageTextPipeline(directory: dir) })
        #expect(e.kind == .format && e.message.contains("text_model.encoder.layers.2"), "\(e.message)")
        // A config that is not JSON, and one without embed_dim.
        try "{ model_cfg: ".write(toFile: dir + "/open_clip_config.json", atomically: true, encoding: .utf8)
        e = try #require(error { try ImageTextPipeline(directory: dir) })
        #expect(e.kind == .format && e.message.contains("open_clip_config.json"), "\(e.message)")
        try #"{"model_cfg": {"vision_cfg": {}, "text_cfg": {}}}"#.write(toFile: dir + "/open_clip_config.json", atomically: true, encoding: .utf8)
        e = try #require(error { try ImageTextPipeline(directory: dir) })
        #expect(e.kind == .format && e.message.contains("model_cfg.embed_dim"), "\(e.message)")
    }
}
