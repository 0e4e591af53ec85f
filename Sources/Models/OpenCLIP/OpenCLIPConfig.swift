// open_clip's folder configuration (`open_clip_config.json`: `model_cfg` and
// `preprocess_cfg`), following open_clip's model.py (CLIPVisionCfg, CLIPTextCfg,
// _build_vision_tower, _build_text_tower) and transform.py (PreprocessCfg,
// image_transform). Only the ViT towers that transformers' CLIPModel can hold are
// read; every other architecture or option is refused by name.

import Foundation
import Tensor
import Images

/// An open_clip configuration, read as the CLIP model and image preprocessing it describes.
public struct OpenCLIPConfig: Sendable {
    /// The same architecture in transformers' terms (what `clip convert` writes as config.json).
    public var clip: CLIPConfig
    /// `preprocess_cfg` as image-processor settings (torchvision's crop; `longest` keeps the ratio and pads).
    public var preprocess: ImageProcessorConfig
    /// `custom_text`: the text tower's keys sit under `text.` (open_clip's CustomTextCLIP).
    public var customText: Bool

    /// Reads `open_clip_config.json`, or a bare model config (open_clip's `model_configs/*.json`).
    /// - Throws: `ClipError` (.io, .format naming the key, .unsupported naming the architecture or option).
    public static func load(path: String) throws -> OpenCLIPConfig {
        guard let data = FileContents.read(atPath: path) else { throw ClipError.io("\(path): cannot read the file") }
        let root = try JSONText.object(data, file: path)
        do { return try OpenCLIPConfig(json: root) } catch let e as ClipError { throw e.prefixed(path) }
    }

    /// From the parsed JSON: `{"model_cfg": …, "preprocess_cfg": …}` or a bare model config.
    public init(json root: [String: Any]) throws {
        let model = try Self.object(root["model_cfg"] ?? root, "model_cfg")
        if let mm = model["multimodal_cfg"], !(mm is NSNull) {
            throw ClipError.unsupported("CoCa (model_cfg.multimodal_cfg) is not supported; only CLIP ViT models are")
        }
        let vision = try Self.object(model["vision_cfg"], "model_cfg.vision_cfg")
        let text = try Self.object(model["text_cfg"], "model_cfg.text_cfg")
        if let name = vision["timm_model_name"] as? String {
            throw ClipError.unsupported("the timm vision tower '\(name)' (vision_cfg.timm_model_name) is not supported; only open_clip's own ViT is")
        }
        if let layers = vision["layers"] as? [Any] {
            throw ClipError.unsupported("ModifiedResNet (vision_cfg.layers [\(layers.map { "\($0)" }.joined(separator: ", "))]) is not supported; only ViT towers are")
        }
        if let name = text["hf_model_name"] as? String {
            throw ClipError.unsupported("the Hugging Face text tower '\(name)' (text_cfg.hf_model_name) is not supported")
        }
        if let name = text["hf_tokenizer_name"] as? String {
            throw ClipError.unsupported("the tokenizer '\(name)' (text_cfg.hf_tokenizer_name) is not supported; only open_clip's CLIP BPE is")
        }
        try Self.refuseOptions(vision, "vision_cfg")
        try Self.refuseOptions(text, "text_cfg")
        try Self.expect(vision, "pool_type", in: ["tok"], "vision_cfg")
        try Self.expect(vision, "attentional_pool", in: [false], "vision_cfg")
        try Self.expect(vision, "no_ln_pre", in: [false], "vision_cfg")
        try Self.expect(text, "pool_type", in: ["argmax", "eos"], "text_cfg")
        try Self.expect(text, "embed_cls", in: [false], "text_cfg")
        try Self.expect(text, "no_causal_mask", in: [false], "text_cfg")
        try Self.expect(text, "proj_bias", in: [false], "text_cfg")
        try Self.expect(text, "proj_type", in: ["linear"], "text_cfg")
        if let kw = text["tokenizer_kwargs"] as? [String: Any], let clean = kw["clean"] as? String, clean != "lower" {
            throw ClipError.unsupported("text_cfg.tokenizer_kwargs.clean '\(clean)' is not supported (only 'lower', open_clip's default)")
        }
        if let mode = text["tokenizer_mode"] as? String {
            throw ClipError.unsupported("text_cfg.tokenizer_mode '\(mode)' is not supported")
        }

        let act = (model["quick_gelu"] as? Bool ?? false) ? "quick_gelu" : "gelu"
        let embedDim = try Self.positive(model["embed_dim"], "model_cfg.embed_dim")
        let imageSize = try Self.square(vision["image_size"] ?? 224, "vision_cfg.image_size")
        let vWidth = try Self.positive(vision["width"] ?? 768, "vision_cfg.width")
        let headWidth = try Self.positive(vision["head_width"] ?? 64, "vision_cfg.head_width")
        guard vWidth % headWidth == 0 else {
            throw ClipError.format("vision_cfg.width \(vWidth) is not a multiple of head_width \(headWidth)")
        }
        let tWidth = try Self.positive(text["width"] ?? 512, "text_cfg.width")
        let pooling = text["pool_type"] as? String ?? "argmax"
        // transformers pools at the largest id when eos_token_id is 2 (open_clip's 'argmax'), else at the first eos.
        let eos = try pooling == "argmax" ? 2 : Self.nonNegative(text["eos_id"] ?? 2, "text_cfg.eos_id")
        let tc = CLIPTextConfig(
            vocabSize: try Self.positive(text["vocab_size"] ?? 49408, "text_cfg.vocab_size"), hiddenSize: tWidth,
            intermediateSize: try Self.mlpWidth(tWidth, text["mlp_ratio"], "text_cfg.mlp_ratio"),
            numHiddenLayers: try Self.nonNegative(text["layers"] ?? 12, "text_cfg.layers"),
            numAttentionHeads: try Self.positive(text["heads"] ?? 8, "text_cfg.heads"),
            maxPositionEmbeddings: try Self.positive(text["context_length"] ?? 77, "text_cfg.context_length"),
            hiddenAct: act, layerNormEps: try Self.eps(text, "text_cfg"), eosTokenId: eos,
            padTokenId: try Self.nonNegative(text["pad_id"] ?? 0, "text_cfg.pad_id"))
        guard tc.hiddenSize % tc.numAttentionHeads == 0 else {
            throw ClipError.format("text_cfg.width \(tc.hiddenSize) is not divisible by \(tc.numAttentionHeads) heads")
        }
        let patch = try Self.square(vision["patch_size"] ?? 16, "vision_cfg.patch_size")
        guard imageSize % patch == 0 else {
            throw ClipError.format("vision_cfg.image_size \(imageSize) is not a multiple of patch_size \(patch)")
        }
        let vc = CLIPVisionConfig(
            hiddenSize: vWidth, intermediateSize: try Self.mlpWidth(vWidth, vision["mlp_ratio"], "vision_cfg.mlp_ratio"),
            numHiddenLayers: try Self.nonNegative(vision["layers"] ?? 12, "vision_cfg.layers"), numAttentionHeads: vWidth / headWidth,
            imageSize: imageSize, patchSize: patch, hiddenAct: act, layerNormEps: try Self.eps(vision, "vision_cfg"))
        let bias = model["init_logit_bias"].flatMap { $0 is NSNull ? nil : $0 }
        clip = CLIPConfig(textConfig: tc, visionConfig: vc, projectionDim: embedDim,
                          logitScaleInitValue: Float(try Self.number(model["init_logit_scale"] ?? Foundation.log(1 / 0.07), "model_cfg.init_logit_scale")),
                          logitBiasInitValue: try bias.map { Float(try Self.number($0, "model_cfg.init_logit_bias")) })
        customText = model["custom_text"] as? Bool ?? false
        preprocess = try Self.preprocess(try Self.object(root["preprocess_cfg"] ?? [String: Any](), "preprocess_cfg"), imageSize: imageSize)
    }

    // MARK: - preprocess_cfg

    /// open_clip's eval transform: `shortest` (resize the shorter side, center crop), `squash` (resize to
    /// the square), `longest` (fit the longer side, pad with `fill_color`); torchvision's crop offsets.
    static func preprocess(_ p: [String: Any], imageSize: Int) throws -> ImageProcessorConfig {
        var c = ImageProcessorConfig()
        let size = try square(p["size"] ?? imageSize, "preprocess_cfg.size")
        if let mode = p["mode"] as? String, mode != "RGB" {
            throw ClipError.unsupported("preprocess_cfg.mode '\(mode)' is not supported (RGB)")
        }
        switch p["interpolation"] as? String ?? "bicubic" {
        case "bicubic", "random": c.resample = .bicubic       // 'random' is bicubic at inference
        case "bilinear": c.resample = .bilinear
        case let other: throw ClipError.unsupported("preprocess_cfg.interpolation '\(other)' is not supported (bicubic, bilinear)")
        }
        c.cropStyle = .torchvision
        c.cropHeight = size
        c.cropWidth = size
        switch p["resize_mode"] as? String ?? "shortest" {
        case "shortest": c.size = .shortestEdge(size)
        case "squash": c.size = .exact(height: size, width: size); c.doCenterCrop = false
        case "longest": c.size = .longestEdge(size)
        case let other: throw ClipError.unsupported("preprocess_cfg.resize_mode '\(other)' is not supported (shortest, longest, squash)")
        }
        let fill = try nonNegative(p["fill_color"] ?? 0, "preprocess_cfg.fill_color")
        guard fill <= 255 else { throw ClipError.format("preprocess_cfg.fill_color \(fill) is not a grey level 0–255") }
        c.fill = UInt8(fill)
        if let m = p["mean"] { c.mean = try triple(m, "preprocess_cfg.mean") }
        if let s = p["std"] {
            c.std = try triple(s, "preprocess_cfg.std")
            guard c.std.allSatisfy({ $0 != 0 }) else { throw ClipError.format("preprocess_cfg.std has a zero") }
        }
        return c
    }

    // MARK: - Reading values

    /// Options of custom attention blocks and layer scale, which the CLIP layers do not have.
    private static func refuseOptions(_ cfg: [String: Any], _ name: String) throws {
        for key in ["qk_norm", "scaled_cosine_attn", "scale_heads", "scale_attn_inner", "scale_attn", "scale_fc"]
        where cfg[key] as? Bool == true {
            throw ClipError.unsupported("\(name).\(key) (a custom attention block) is not supported")
        }
        if let b = cfg["block_type"] as? String, b != "default" {
            throw ClipError.unsupported("\(name).block_type '\(b)' is not supported")
        }
        if let ls = cfg["ls_init_value"], !(ls is NSNull) {
            throw ClipError.unsupported("\(name).ls_init_value (layer scale) is not supported")
        }
        if let act = cfg["act_kwargs"] as? [String: Any], !act.isEmpty {
            throw ClipError.unsupported("\(name).act_kwargs is not supported")
        }
        if let norm = cfg["norm_kwargs"] as? [String: Any], norm.keys.contains(where: { $0 != "eps" }) {
            throw ClipError.unsupported("\(name).norm_kwargs other than eps are not supported")
        }
    }

    private static func expect(_ cfg: [String: Any], _ key: String, in allowed: [AnyHashable], _ name: String) throws {
        guard let v = cfg[key], !(v is NSNull) else { return }
        let h: AnyHashable? = (v as? String).map(AnyHashable.init) ?? (v as? Bool).map(AnyHashable.init)
        guard let h, allowed.contains(h) else {
            throw ClipError.unsupported("\(name).\(key) \(v) is not supported (supported: \(allowed.map { "\($0)" }.joined(separator: ", ")))")
        }
    }

    private static func eps(_ cfg: [String: Any], _ name: String) throws -> Float {
        guard let norm = cfg["norm_kwargs"] as? [String: Any], let e = norm["eps"] else { return 1e-5 }
        return Float(try number(e, "\(name).norm_kwargs.eps"))
    }

    private static func object(_ v: Any?, _ key: String) throws -> [String: Any] {
        guard let v else { throw ClipError.format("\(key) missing") }
        guard let o = v as? [String: Any] else { throw ClipError.format("\(key) is not an object") }
        return o
    }

    private static func number(_ v: Any, _ key: String) throws -> Double {
        if let d = v as? Double { return d }
        if let i = v as? Int { return Double(i) }
        throw ClipError.format("\(key) is not a number")
    }

    /// open_clip's `int(width * mlp_ratio)`, checked to be a positive width.
    private static func mlpWidth(_ width: Int, _ ratio: Any?, _ key: String) throws -> Int {
        let r = try number(ratio ?? 4.0, key)
        guard r > 0, r <= 64, Int(Double(width) * r) > 0 else { throw ClipError.format("\(key) \(r) does not give a positive MLP width") }
        return Int(Double(width) * r)
    }

    private static func nonNegative(_ v: Any, _ key: String) throws -> Int {
        guard let n = v as? Int, n >= 0 else { throw ClipError.format("\(key) is not a non-negative integer") }
        return n
    }

    private static func positive(_ v: Any?, _ key: String) throws -> Int {
        try ClipError.positiveInteger(v, key, atMost: maxConfigSize)
    }

    /// An integer, or a `[h, w]` pair with h == w.
    private static func square(_ v: Any, _ key: String) throws -> Int {
        if let pair = v as? [Any] {
            guard pair.count == 2 else { throw ClipError.format("\(key) is not an integer or a [height, width] pair") }
            let h = try positive(pair[0], key), w = try positive(pair[1], key)
            guard h == w else { throw ClipError.unsupported("\(key) [\(h), \(w)]: only square images are supported") }
            return h
        }
        return try positive(v, key)
    }

    private static func triple(_ v: Any, _ key: String) throws -> [Float] {
        if !(v is [Any]) { return [Float](repeating: Float(try number(v, key)), count: 3) }
        guard let a = v as? [Any], a.count == 3 else { throw ClipError.format("\(key) is not three numbers") }
        return try a.map { Float(try number($0, key)) }
    }
}
