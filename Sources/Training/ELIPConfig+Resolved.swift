// The configuration a run actually uses: model-dependent defaults filled in, written as
// `resolved_config.yaml` beside the run's outputs.

import Foundation
import Models
import Tensor
import Yams

extension ELIPConfig {
    /// The mapper's hidden width: `mapper_hidden`, else the official `1024·m`.
    public var resolvedMapperHidden: Int { mapperHidden ?? ELIPMapper.officialHidden(promptTokens: promptTokens) }

    /// The prompt dropout used in training: `prompt_dropout`, else 0.1 for sigmoid models (ELIP-S) and 0.
    public func resolvedPromptDropout(sigmoid: Bool) -> Double { promptDropout ?? (sigmoid ? 0.1 : 0) }

    /// This configuration with every default that depends on the model or the data filled in (image
    /// size, mapper width, prompt dropout, query chunk, Flickr's re-ranking depth, and the mined subset
    /// when `pairs` is given): what `resolved_config.yaml` records.
    public func resolved(for model: any PromptGuidedModel, pairs: Int? = nil) -> ELIPConfig {
        var r = self
        r.imgSize = imgSize ?? model.imageSize
        r.mapperHidden = resolvedMapperHidden
        r.promptDropout = resolvedPromptDropout(sigmoid: model.usesSigmoidLoss)
        r.queryChunk = queryChunk ?? ELIPObjective.defaultQueryChunk(batch: batchSize)
        r.rerankK.flickr = rerankK.flickr ?? RerankK.defaultFlickr(sigmoid: model.usesSigmoidLoss)
        if batches == nil, let pairs { r.hardmineSubset = min(hardmineSubset ?? pairs, pairs) }
        return r
    }

    /// The configuration as YAML, every key present (keys without a value as `null`).
    /// - Throws: `ClipError(.format)` when it cannot be encoded.
    public func yaml() throws -> String {
        do {
            return try YAMLEncoder().encode(self)
        } catch {
            throw ClipError.format("ELIP config: cannot write YAML (\(error))")
        }
    }
}
