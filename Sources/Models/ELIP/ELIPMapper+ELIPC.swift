// The official ELIP-C prompt generator (ypliubit/ELIP, ELIP-C/src/open_clip/transformer.py,
// TextGuidedPromptedTransformer3 with num_tokens > 0, project -1, deep false) read into ELIPMapper.
//
// Official layout, under `visual.transformer.vpt_generator.`:
//   0: Linear(512, 1024·m)  → GELU → 2: Linear(1024·m, 1024·m) → GELU → 4: Linear(1024·m, width·m)
// (in 512 is the ViT-B-16 embedding of the normalised query text, m = num_mapped_vpt prompt tokens;
// the output reshaped to [B, m, width] enters after ln_pre, after the class token). This is ELIPMapper's
// structure with hidden = 1024·m; keys 0/2/4 are the same.

import Foundation
import Tensor
import NN

extension ELIPMapper {
    /// A mapper from ELIP-C generator tensors keyed `mapper.{0,2,4}.{weight,bias}` (the
    /// `visual.transformer.vpt_generator.` prefix replaced), for a backbone of embedding `textDim`
    /// and vision width `visionDim`.
    /// - Throws: `ClipError` (.unsupported for another generator depth or input, .format for tensors of
    ///   the wrong shape, .shape for sizes that do not fit the model).
    static func elipC(_ tensors: [String: Tensor], textDim: Int, visionDim: Int) throws -> ELIPMapper {
        let expected = Set(["0", "2", "4"].flatMap { ["mapper.\($0).weight", "mapper.\($0).bias"] })
        guard Set(tensors.keys) == expected else {
            let layers = Set(tensors.keys.map { $0.split(separator: ".").dropFirst().first.map(String.init) ?? $0 }).sorted()
            throw ClipError.unsupported("ELIP-C prompt generator with layers \(layers.joined(separator: ", ")): only the three-Linear generator (vpt_generator.0, .2, .4; num_tokens > 0) is supported")
        }
        let (inputDim, hidden, out) = try layout(source: "ELIP-C prompt generator") { tensors[$0]?.shape }
        guard inputDim == textDim else {
            throw ClipError.unsupported("ELIP-C prompt generator takes \(inputDim)-wide input, the model's text embedding is \(textDim) (num_tokens 1, two embeddings concatenated, is not supported)")
        }
        guard out % visionDim == 0 else {
            throw ClipError.shape("ELIP-C prompt generator outputs \(out) values, not a multiple of the vision width \(visionDim)")
        }
        let mapper = ParameterInitialization.withoutInitialization {
            ELIPMapper(textDim: textDim, hidden: hidden, promptTokens: out / visionDim, visionDim: visionDim)
        }
        try mapper.load(tensors)
        return mapper
    }
}
