// ELIP (Zhan et al. 2025, "ELIP: Enhanced Visual-Language Foundation Models
// for Image Retrieval"): an MLP maps a query's text embedding to visual prompt
// tokens that re-encode candidate images in a frozen CLIP or SigLIP.

import Foundation
import Tensor
import Autograd
import NN

/// `Linear(d_text, H) → GELU → Linear(H, H) → GELU → Linear(H, m·d_vision)` (exact GELU),
/// mapping L2-normalised text embeddings `[batch, d_text]` to prompts `[batch, m, d_vision]`.
/// Keys: `mapper.0.*`, `mapper.2.*`, `mapper.4.*` (PyTorch's `nn.Sequential` indices).
public final class ELIPMapper: Module {
    public let promptTokens: Int
    public let visionDim: Int
    public let hidden: Int
    let layers: [Linear]

    /// Weights truncated-normal with std 0.02, biases zero.
    public init(textDim: Int, hidden: Int = 1024, promptTokens: Int, visionDim: Int) {
        precondition(textDim > 0 && hidden > 0 && promptTokens > 0 && visionDim > 0, "ELIP mapper: sizes must be positive")
        self.promptTokens = promptTokens
        self.visionDim = visionDim
        self.hidden = hidden
        layers = [Linear(textDim, hidden), Linear(hidden, hidden), Linear(hidden, promptTokens * visionDim)]
        for l in layers {
            l.weight.assign(Parameter.truncatedNormal(l.weight.shape, std: 0.02).value)
            if let b = l.bias { b.assign(Tensor.zeros(b.shape)) }
        }
        super.init()
        let group = ModuleList(named: [("0", layers[0]), ("2", layers[1]), ("4", layers[2])])
        register("mapper", group)
    }

    public var textDim: Int { layers[0].inFeatures }

    /// text embeddings `[batch, d_text]` (L2-normalised) → prompts `[batch, m, d_vision]`.
    public func callAsFunction(_ textEmbeds: Variable) -> Variable {
        let h = layers[1](layers[0](textEmbeds).gelu()).gelu()
        return layers[2](h).reshaped([textEmbeds.shape[0], promptTokens, visionDim])
    }

    /// Writes the mapper (atomically) with `prompt_tokens` and `hidden` in the metadata.
    public func saveMapper(to path: String, metadata: [String: String] = [:]) throws {
        try save(to: path, metadata: metadata.merging(
            ["prompt_tokens": String(promptTokens), "hidden": String(hidden)]) { _, new in new })
    }

    /// Reads a mapper file; sizes come from the weights and `prompt_tokens` from the metadata.
    /// - Throws: `ClipError` (.format for a file that is not a mapper, or the reader's .io / .format).
    public static func load(path: String) throws -> ELIPMapper {
        let f = try SafeTensorsFile(path: path)
        guard let m = f.metadata["prompt_tokens"].flatMap(Int.init), m > 0 else {
            throw ClipError.format("\(path): metadata prompt_tokens missing or not a positive integer")
        }
        guard let w0 = f.entries["mapper.0.weight"], let w4 = f.entries["mapper.4.weight"],
              w0.shape.count == 2, w4.shape.count == 2, w4.shape[0] % m == 0 else {
            throw ClipError.format("\(path): not an ELIP mapper (mapper.0/2/4 weights with prompt_tokens × d_vision outputs)")
        }
        let mapper = ParameterInitialization.withoutInitialization {
            ELIPMapper(textDim: w0.shape[1], hidden: w0.shape[0], promptTokens: m, visionDim: w4.shape[0] / m)
        }
        try mapper.load(try f.tensors())
        return mapper
    }
}
