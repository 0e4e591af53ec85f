// open_clip's state-dict layout mapped onto transformers' CLIPModel keys (the one
// `sanitize` of open_clip checkpoints), following open_clip's model.py (CLIP,
// CustomTextCLIP) and transformer.py (VisionTransformer, TextTransformer,
// ResidualAttentionBlock over nn.MultiheadAttention), and ELIP-C's prompt generator
// (ypliubit/ELIP, ELIP-C/src/open_clip/transformer.py, TextGuidedPromptedTransformer3).

import Foundation
import Tensor
import NN

/// Renames and reshapes open_clip tensors to transformers' CLIP layout.
///
/// - `visual.conv1`, `class_embedding`, `positional_embedding`, `ln_pre`, `ln_post` → `vision_model.embeddings.*`,
///   `pre_layrnorm`, `post_layernorm`; `visual.proj` `[width, dim]` (applied as `x @ proj`) → `visual_projection.weight`, transposed.
/// - `token_embedding`, `positional_embedding`, `ln_final` → `text_model.*`; `text_projection` → transposed.
/// - blocks `resblocks.N.{ln_1, attn.in_proj_*, attn.out_proj, ln_2, mlp.c_fc, mlp.c_proj}` → `layers.N.{layer_norm1,
///   self_attn.{q,k,v}_proj (the fused rows split in three), self_attn.out_proj, layer_norm2, mlp.fc1, mlp.fc2}`.
/// - ELIP-C: `visual.transformer.vpt_generator.{0,2,4}.*` → the mapper's `mapper.{0,2,4}.*`.
enum OpenCLIPWeights {
    /// HF-keyed model tensors and the ELIP-C generator's tensors (empty when absent).
    /// - Throws: `ClipError` (.unsupported for layer scale, prompt projections and other generator variants,
    ///   .format for keys open_clip's CLIP does not have, naming them).
    static func sanitize(_ checkpoint: Checkpoint, customText: Bool) throws -> (model: [String: Tensor], generator: [String: Tensor]) {
        let keys = checkpoint.keys
        // DistributedDataParallel checkpoints (ELIP-C's training) prefix every key with `module.`.
        let strip = !keys.isEmpty && keys.allSatisfy { $0.hasPrefix("module.") } ? "module.".count : 0
        var model: [String: Tensor] = [:], generator: [String: Tensor] = [:], unknown: [String] = []
        for stored in keys {
            var key = String(stored.dropFirst(strip))
            if customText && key.hasPrefix("text.") { key.removeFirst("text.".count) }
            if key == "attn_mask" || key.hasSuffix(".attn_mask") { continue }      // the causal mask, a buffer
            if key.hasPrefix("visual.transformer.vpt_generator.") {
                generator["mapper." + key.dropFirst("visual.transformer.vpt_generator.".count)] = try checkpoint.tensor(stored)
                continue
            }
            if key.hasPrefix("visual.transformer.prompt_proj.") || key.hasPrefix("visual.transformer.vpt_generator_deep")
                || key.contains("prompt_embeddings") {
                throw ClipError.unsupported("'\(stored)': this ELIP / visual-prompt variant (prompt projection, deep or learned prompts) is not supported; ELIP-C's shallow prompt generator is")
            }
            guard let (target, transform) = try rename(key) else { unknown.append(stored); continue }
            for (k, t) in try transform(try checkpoint.tensor(stored)).map({ (target($0.0), $0.1) }) { model[k] = t }
        }
        guard unknown.isEmpty else {
            throw ClipError.format("keys that open_clip's CLIP ViT does not have (\(unknown.count)): " + unknown.sorted().joined(separator: ", "))
        }
        return (model, generator)
    }

    /// A tensor becomes one or more (suffix, tensor) pairs; `target` turns the suffix into the full HF key.
    typealias Transform = (Tensor) throws -> [(String, Tensor)]

    private static func same(_ t: Tensor) -> [(String, Tensor)] { [("", t)] }
    private static func transposed(_ t: Tensor) throws -> [(String, Tensor)] {
        guard t.rank == 2 else { throw ClipError.shape("a projection must be a matrix, got \(t.shape)") }
        return [(".weight", t.transposed().contiguous())]
    }

    /// The HF key (maker) and transform of one open_clip key, or nil when the key is unknown.
    private static func rename(_ key: String) throws -> ((String) -> String, Transform)? {
        let direct: [String: String] = [
            "visual.conv1.weight": "vision_model.embeddings.patch_embedding.weight",
            "visual.class_embedding": "vision_model.embeddings.class_embedding",
            "visual.positional_embedding": "vision_model.embeddings.position_embedding.weight",
            "token_embedding.weight": "text_model.embeddings.token_embedding.weight",
            "positional_embedding": "text_model.embeddings.position_embedding.weight",
            "logit_scale": "logit_scale",
            "logit_bias": "logit_bias",
        ]
        if let d = direct[key] { return ({ _ in d }, same) }
        if key == "visual.proj" { return ({ "visual_projection" + $0 }, transposed) }
        if key == "text_projection" { return ({ "text_projection" + $0 }, transposed) }
        for (from, to) in [("visual.ln_pre.", "vision_model.pre_layrnorm."), ("visual.ln_post.", "vision_model.post_layernorm."),
                           ("ln_final.", "text_model.final_layer_norm.")] where key.hasPrefix(from) {
            let rest = String(key.dropFirst(from.count))
            return ({ _ in to + rest }, same)
        }
        for (from, to) in [("visual.transformer.resblocks.", "vision_model.encoder.layers."),
                           ("transformer.resblocks.", "text_model.encoder.layers.")] where key.hasPrefix(from) {
            let rest = key.dropFirst(from.count)
            guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return nil }
            return try block(String(rest[rest.index(after: dot)...])).map { (suffix, transform) in
                ({ "\(to)\(layer)." + suffix + $0 }, transform)
            }
        }
        return nil
    }

    /// One residual block's key (after `resblocks.N.`).
    private static func block(_ key: String) throws -> (String, Transform)? {
        if key.hasPrefix("ls_1.") || key.hasPrefix("ls_2.") {
            throw ClipError.unsupported("layer scale ('\(key)', ls_init_value) is not supported")
        }
        if key == "attn.in_proj_weight" || key == "attn.in_proj_bias" {
            let suffix = key == "attn.in_proj_weight" ? ".weight" : ".bias"
            return ("self_attn.", { t in
                guard t.rank >= 1, t.shape[0] % 3 == 0 else { throw ClipError.shape("\(key) has shape \(t.shape), not 3 × width rows") }
                let d = t.shape[0] / 3
                return ["q_proj", "k_proj", "v_proj"].enumerated().map { i, name in
                    (name + suffix, t.narrowed(0, start: i * d, length: d).contiguous())
                }
            })
        }
        let renames = [("ln_1.", "layer_norm1."), ("ln_2.", "layer_norm2."), ("attn.out_proj.", "self_attn.out_proj."),
                       ("mlp.c_fc.", "mlp.fc1."), ("mlp.c_proj.", "mlp.fc2.")]
        for (from, to) in renames where key.hasPrefix(from) {
            return (to + key.dropFirst(from.count), same)
        }
        return nil
    }
}
