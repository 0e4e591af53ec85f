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

    /// The official generator's hidden width for `m` prompts, `1024·m`: every ELIP generator in the
    /// official code is `Linear(d, 1024·m) → GELU → Linear(1024·m, 1024·m) → GELU → Linear(1024·m, width·m)`
    /// (ELIP-C/src/open_clip/transformer.py, `TextGuidedPromptedTransformer3.__init__`, `hidden_dim = 1024`
    /// times `num_mapped_vpt`; ELIP-S/S2: ELIP-C/ELIPC_env_code/vision_transformer.py, the same with m = 10).
    public static func officialHidden(promptTokens: Int) -> Int { 1024 * promptTokens }

    /// Weights truncated-normal with std 0.02, biases zero. `hidden` nil: `officialHidden(promptTokens:)`.
    public init(textDim: Int, hidden: Int? = nil, promptTokens: Int, visionDim: Int) {
        let hidden = hidden ?? Self.officialHidden(promptTokens: promptTokens)
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
    /// Every size is checked against the file's six tensors before anything is built, so nothing
    /// larger than the file's own data is allocated.
    /// - Throws: `ClipError` (.format naming the file and key for a file that is not a mapper, or the
    ///   reader's .io / .format).
    public static func load(path: String) throws -> ELIPMapper {
        let f = try SafeTensorsFile(path: path)
        let sizes = try sizes(of: f)
        let mapper = ParameterInitialization.withoutInitialization {
            ELIPMapper(textDim: sizes.textDim, hidden: sizes.hidden, promptTokens: sizes.promptTokens, visionDim: sizes.visionDim)
        }
        try mapper.load(try f.tensors())
        return mapper
    }

    /// The mapper sizes a file's header states, with `m` = metadata `prompt_tokens`.
    /// - Throws: `ClipError(.format)` naming the file and the first key that does not fit.
    static func sizes(of f: SafeTensorsFile) throws -> (textDim: Int, hidden: Int, promptTokens: Int, visionDim: Int) {
        let path = f.path
        guard let m = f.metadata["prompt_tokens"].flatMap(Int.init), m > 0 else {
            throw ClipError.format("\(path): metadata prompt_tokens missing or not a positive integer")
        }
        let (textDim, hidden, out) = try layout(source: path) { f.entries[$0]?.shape }
        guard out % m == 0 else {
            throw ClipError.format("\(path): mapper.4.weight has \(out) outputs, not prompt_tokens (\(m)) × a vision width")
        }
        return (textDim, hidden, m, out / m)
    }

    /// The sizes of a mapper's six tensors, checked before anything is built: `mapper.0.weight`
    /// `[H, d_in]`, `mapper.0.bias` `[H]`, `mapper.2.*` `[H, H]` / `[H]`, `mapper.4.weight` `[out, H]`,
    /// `mapper.4.bias` `[out]`, every size positive. Since every tensor's data must be present, a mapper
    /// built from these sizes takes no more memory than its source holds.
    /// - Throws: `ClipError(.format)` naming `source` and the first key that is missing or does not fit.
    static func layout(source: String, shape: (String) -> [Int]?) throws -> (textDim: Int, hidden: Int, out: Int) {
        func get(_ key: String, rank: Int) throws -> [Int] {
            guard let s = shape(key) else {
                throw ClipError.format("\(source): \(key) missing (not an ELIP mapper: mapper.0/2/4 weights and biases)")
            }
            guard s.count == rank, s.allSatisfy({ $0 > 0 }) else {
                throw ClipError.format("\(source): \(key) has shape \(s); an ELIP mapper needs \(rank == 2 ? "a matrix" : "a vector") of positive sizes")
            }
            return s
        }
        let w0 = try get("mapper.0.weight", rank: 2), w4 = try get("mapper.4.weight", rank: 2)
        let (hidden, textDim, out) = (w0[0], w0[1], w4[0])
        let expected: [(String, [Int])] = [
            ("mapper.0.bias", [hidden]), ("mapper.2.weight", [hidden, hidden]), ("mapper.2.bias", [hidden]),
            ("mapper.4.weight", [out, hidden]), ("mapper.4.bias", [out]),
        ]
        for (key, want) in expected {
            let got = try get(key, rank: want.count)
            guard got == want else {
                throw ClipError.format("\(source): \(key) has shape \(got), expected \(want) (mapper.0.weight is [\(hidden), \(textDim)])")
            }
        }
        return (textDim, hidden, out)
    }

    /// Checks the sizes of a new mapper that come from a caller or a config: each positive, and the
    /// weights (four copies while training: values, gradients, AdamW's two moments) within physical memory.
    /// - Throws: `ClipError(.invalidArgument)` naming `source` and the sizes.
    public static func checkSizes(textDim: Int, hidden: Int, promptTokens: Int, visionDim: Int, source: String) throws {
        let sizes = "d_text \(textDim), hidden \(hidden), prompt_tokens \(promptTokens), d_vision \(visionDim)"
        guard textDim > 0, hidden > 0, promptTokens > 0, visionDim > 0 else {
            throw ClipError.invalidArgument("\(source): ELIP mapper sizes must be positive (\(sizes))")
        }
        let out = promptTokens.multipliedReportingOverflow(by: visionDim)
        let h2 = hidden.multipliedReportingOverflow(by: hidden)
        let h0 = hidden.multipliedReportingOverflow(by: textDim)
        let h4 = out.partialValue.multipliedReportingOverflow(by: hidden)
        let total = [h2, h0, h4].reduce((partialValue: 0, overflow: out.overflow)) { acc, x in
            let s = acc.partialValue.addingReportingOverflow(x.partialValue)
            return (s.partialValue, acc.overflow || x.overflow || s.overflow)
        }
        guard !total.overflow, total.partialValue <= ParameterInitialization.trainableBudget else {
            throw ClipError.invalidArgument("\(source): an ELIP mapper of \(sizes) does not fit in memory")
        }
    }

    /// Checks that the mapper fits `model`: it takes the model's text embedding (`embeddingDim`) and
    /// makes prompts of the model's vision width. Every path that scores or trains with a mapper on a
    /// model calls this before any layer runs.
    /// - Throws: `ClipError(.shape)` naming `source` (the mapper file) and both sets of sizes.
    public func checkFits(model: any PromptGuidedModel, source: String = "ELIP mapper") throws {
        guard model.hasImageTower else {
            throw ClipError.unsupported("\(source): ELIP guides an image tower; this is a text-only model")
        }
        guard textDim == model.embeddingDim, visionDim == model.visionWidth else {
            throw ClipError.shape("\(source): mapper maps \(textDim) → \(promptTokens) × \(visionDim), "
                                  + "the model needs \(model.embeddingDim) → m × \(model.visionWidth)")
        }
    }
}
