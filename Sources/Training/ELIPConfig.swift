// ELIP run configuration: the YAML keys of seed 000's configs.

import Foundation
import Tensor
import Models
import Datasets

/// A training/evaluation configuration (`configs/*.yaml`). Every key of seed 000's configs is
/// accepted; an unknown key is an error that names it. `fp16` is accepted and recorded, but
/// training runs in float32 (there is no half-precision path on the CPU).
public struct ELIPConfig: Codable, Equatable, Sendable {
    /// A `dataset:` / `eval_split:` block. `name` is a dataset of any layout `ImageTextSourceFactory.open`
    /// reads; columns left out are inferred as seed 000's `_infer_columns` does.
    public struct Split: Codable, Equatable, Sendable {
        public var name: String
        public var split: String = "train"
        public var imageColumn: String?
        public var textColumn: String?
        /// Accepted for seed 000's configs; captions may be a string or a list either way.
        public var textIsList: Bool = false
        public var maxEvalExamples: Int?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case name, split, imageColumn = "image_column", textColumn = "text_column", textIsList = "text_is_list"
            case maxEvalExamples = "max_eval_examples"
        }

        public init(name: String) { self.name = name }

        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.allCases.map(\.rawValue))
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init(name: try c.decode(String.self, forKey: .name))
            try c.decodeIfPresent(into: &split, forKey: .split)
            imageColumn = try c.decodeIfPresent(String.self, forKey: .imageColumn)
            textColumn = try c.decodeIfPresent(String.self, forKey: .textColumn)
            try c.decodeIfPresent(into: &textIsList, forKey: .textIsList)
            maxEvalExamples = try c.decodeIfPresent(Int.self, forKey: .maxEvalExamples)
        }
    }

    /// Re-ranking depth by evaluation dataset kind; `rerank_k: 50` (a plain number) sets every kind.
    /// `flickr` left out: 50 for sigmoid models (ELIP-S's Flickr evaluation re-ranks the top 50), 100
    /// otherwise (`depth(forDataset:sigmoid:)`).
    public struct RerankK: Codable, Equatable, Sendable {
        public var coco = 100, occludedCoco = 500, imagenetR = 1000
        public var flickr: Int?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case coco, flickr, occludedCoco = "occluded_coco", imagenetR = "imagenet_r"
        }

        public init() {}

        public init(all k: Int) {
            (coco, flickr, occludedCoco, imagenetR) = (k, k, k, k)
        }

        public init(from decoder: Decoder) throws {
            if let single = try? decoder.singleValueContainer(), let k = try? single.decode(Int.self) {
                if let bad = firstNonPositive([("rerank_k", k)]) {
                    throw DecodingError.dataCorruptedError(in: single, debugDescription: bad.problem)
                }
                self.init(all: k)
                return
            }
            try rejectUnknownKeys(decoder, CodingKeys.allCases.map(\.rawValue))
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init()
            try c.decodeIfPresent(into: &coco, forKey: .coco)
            try c.decodeIfPresent(into: &flickr, forKey: .flickr)
            try c.decodeIfPresent(into: &occludedCoco, forKey: .occludedCoco)
            try c.decodeIfPresent(into: &imagenetR, forKey: .imagenetR)
            try c.requirePositive([(.coco, coco), (.flickr, flickr ?? 1), (.occludedCoco, occludedCoco), (.imagenetR, imagenetR)])
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(coco, forKey: .coco)
            try c.encode(flickr, forKey: .flickr)
            try c.encode(occludedCoco, forKey: .occludedCoco)
            try c.encode(imagenetR, forKey: .imagenetR)
        }

        /// Flickr's depth when the config leaves it out: 50 for ELIP-S (sigmoid models), 100 otherwise.
        public static func defaultFlickr(sigmoid: Bool) -> Int { sigmoid ? 50 : 100 }

        /// The depth for an evaluation dataset, by the kind its name shows (occluded COCO, ImageNet-R,
        /// Flickr, else COCO); `sigmoid`: the model is trained with the sigmoid loss (ELIP-S).
        public func depth(forDataset name: String, sigmoid: Bool) -> Int {
            let name = name.lowercased()
            if name.contains("occluded") { return occludedCoco }
            if name.contains("imagenet") { return imagenetR }
            if name.contains("flickr") { return flickr ?? Self.defaultFlickr(sigmoid: sigmoid) }
            return coco
        }
    }

    /// The learning-rate schedule (`lr_scheduler`), open_clip's names.
    public enum LRScheduler: String, Codable, CaseIterable, Sendable {
        /// Linear warm-up over `warmup` updates, then a half cosine to 0 at the last update (`cosine_lr`).
        case cosine
        /// Linear warm-up, then constant (`const_lr`).
        case const
    }

    public var modelName: String
    /// The model's input size; a config may state it (seed 000's configs do) and it must then match the
    /// model. nil (the key absent): the model's own size.
    public var imgSize: Int?
    /// m, the prompt tokens the mapper makes. 10: ELIP-S and ELIP-S2 hard-code `num_mapped_vpt = 10`
    /// (ELIP-C/ELIPC_env_code/vision_transformer.py, `TextGuidedPromptedVisionTransformerSO.__init__`).
    /// ELIP-C reads m from `model_configs/ViT-B-16_tgvpt.json`, which the repository does not hold;
    /// a released ELIP-C generator brings its own m (its output width / the vision width, read by
    /// `ELIPMapper.elipC`), and a new one gets 10 too.
    public var promptTokens = 10
    /// Width of the mapper's hidden layers; nil (the key left out): the official `1024·m`
    /// (`ELIPMapper.officialHidden(promptTokens:)`). clipcore's override for smaller mappers.
    public var mapperHidden: Int?
    public var seed = 0
    public var outputRoot: String
    public var dataset: Split
    public var maxTrainExamples: Int?
    public var hardmineSubset: Int?
    public var batchSize = 40
    public var numWorkers = 0
    public var epochs = 1
    /// ELIP's released models were trained with lr 1e-3 (their file names: `lr_0.001`).
    public var lr = 1e-3
    /// AdamW weight decay on weight matrices; gains and biases get none (open_clip's parameter groups,
    /// ELIP-C/src/training/main.py, `main`). 0.2: params.py's `--wd` default.
    public var weightDecay = 0.2
    /// AdamW β1, β2 and ε: params.py's `get_default_params` for ViT models (0.9, 0.98, 1e-6).
    public var beta1 = 0.9
    public var beta2 = 0.98
    public var eps = 1e-6
    /// The learning-rate schedule: params.py's `--lr-scheduler` default, `cosine`.
    public var lrScheduler = LRScheduler.cosine
    /// Warm-up updates: params.py's `--warmup` default, 10000.
    public var warmup = 10_000
    /// ELIP-S's sigmoid query loss uses this fixed bias with the model's scale, not the model's own
    /// bias (−10). Models trained with InfoNCE (ELIP-C) ignore it.
    public var sigmoidBias = -10.0
    /// Dropout on the generated prompts while training; nil (the key left out): 0.1 for sigmoid models
    /// (ELIP-S: `prompt_dropout = nn.Dropout(0.1)` in vision_transformer.py) and 0 for the others (ELIP-C
    /// takes it from the missing vpt config; `ELIPConfig.resolved` records the value used).
    public var promptDropout: Double?
    /// The official batch file (`--batches`): a CSV of the released training format, rows in batch order,
    /// replayed as consecutive batches of `batch_size` rows with no shuffling and the last partial batch
    /// dropped. nil: batches come from clipcore's hard-negative miner.
    public var batches: String?
    /// The batch file's separator, image column and caption column: params.py's `--csv-separator`
    /// (a tab), `--csv-img-key` (`filepath`) and `--csv-caption-key` (`title`) defaults.
    public var batchesSeparator = "\t"
    public var batchesImageKey = "filepath"
    public var batchesCaptionKey = "title"
    public var fp16 = false
    public var gradAccumSteps = 1
    /// The training objective (clipcore's key; `query`, ELIP's own, by default).
    public var objective = ELIPObjectiveKind.query
    /// Queries whose B guided encodes run forward and backward together (clipcore's key; memory grows
    /// with it); nil: `ELIPObjective.defaultQueryChunk(batch:)`.
    public var queryChunk: Int?
    public var rerankK = RerankK()
    public var evalSplit: Split?
    /// Memory for preprocessed training images kept across epochs, in MiB (clipcore's key); images
    /// beyond it are decoded again for every batch that needs them. 0 turns the cache off.
    public var pixelCacheMB = 1024
    /// Updates whose loss or gradients are NaN or infinite that may be skipped (no optimizer step,
    /// counted and logged) before the run stops with an error (clipcore's key); 0: the first one stops it.
    public var skipNonfinite = 0

    enum CodingKeys: String, CodingKey, CaseIterable {
        case modelName = "model_name", imgSize = "img_size", promptTokens = "prompt_tokens", mapperHidden = "mapper_hidden"
        case seed, outputRoot = "output_root", dataset, maxTrainExamples = "max_train_examples"
        case hardmineSubset = "hardmine_subset", batchSize = "batch_size", numWorkers = "num_workers", epochs, lr
        case weightDecay = "weight_decay", fp16, gradAccumSteps = "grad_accum_steps", rerankK = "rerank_k"
        case objective, queryChunk = "query_chunk"
        case evalSplit = "eval_split", pixelCacheMB = "pixel_cache_mb"
        case beta1, beta2, eps, lrScheduler = "lr_scheduler", warmup, sigmoidBias = "sigmoid_bias"
        case promptDropout = "prompt_dropout", batches, batchesSeparator = "batches_sep"
        case batchesImageKey = "batches_img_key", batchesCaptionKey = "batches_caption_key"
        case skipNonfinite = "skip_nonfinite"
    }

    public init(modelName: String, outputRoot: String, dataset: Split) {
        self.modelName = modelName
        self.outputRoot = outputRoot
        self.dataset = dataset
    }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(modelName: try c.decode(String.self, forKey: .modelName), outputRoot: try c.decode(String.self, forKey: .outputRoot),
                  dataset: try c.decode(Split.self, forKey: .dataset))
        imgSize = try c.decodeIfPresent(Int.self, forKey: .imgSize)
        try c.decodeIfPresent(into: &promptTokens, forKey: .promptTokens)
        mapperHidden = try c.decodeIfPresent(Int.self, forKey: .mapperHidden)
        try c.decodeIfPresent(into: &seed, forKey: .seed)
        maxTrainExamples = try c.decodeIfPresent(Int.self, forKey: .maxTrainExamples)
        hardmineSubset = try c.decodeIfPresent(Int.self, forKey: .hardmineSubset)
        try c.decodeIfPresent(into: &batchSize, forKey: .batchSize)
        try c.decodeIfPresent(into: &numWorkers, forKey: .numWorkers)
        try c.decodeIfPresent(into: &epochs, forKey: .epochs)
        try c.decodeIfPresent(into: &lr, forKey: .lr)
        try c.decodeIfPresent(into: &weightDecay, forKey: .weightDecay)
        try c.decodeIfPresent(into: &fp16, forKey: .fp16)
        try c.decodeIfPresent(into: &gradAccumSteps, forKey: .gradAccumSteps)
        if let name = try c.decodeIfPresent(String.self, forKey: .objective) {
            guard let kind = ELIPObjectiveKind(rawValue: name) else {
                throw ClipError.invalidArgument("objective: unknown value '\(name)' (known: \(ELIPObjectiveKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            objective = kind
        }
        queryChunk = try c.decodeIfPresent(Int.self, forKey: .queryChunk)
        try c.decodeIfPresent(into: &rerankK, forKey: .rerankK)
        evalSplit = try c.decodeIfPresent(Split.self, forKey: .evalSplit)
        try c.decodeIfPresent(into: &pixelCacheMB, forKey: .pixelCacheMB)
        try c.decodeIfPresent(into: &beta1, forKey: .beta1)
        try c.decodeIfPresent(into: &beta2, forKey: .beta2)
        try c.decodeIfPresent(into: &eps, forKey: .eps)
        if let name = try c.decodeIfPresent(String.self, forKey: .lrScheduler) {
            guard let kind = LRScheduler(rawValue: name) else {
                throw ClipError.invalidArgument("lr_scheduler: unknown value '\(name)' (known: \(LRScheduler.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            lrScheduler = kind
        }
        try c.decodeIfPresent(into: &warmup, forKey: .warmup)
        try c.decodeIfPresent(into: &sigmoidBias, forKey: .sigmoidBias)
        promptDropout = try c.decodeIfPresent(Double.self, forKey: .promptDropout)
        batches = try c.decodeIfPresent(String.self, forKey: .batches)
        try c.decodeIfPresent(into: &batchesSeparator, forKey: .batchesSeparator)
        try c.decodeIfPresent(into: &batchesImageKey, forKey: .batchesImageKey)
        try c.decodeIfPresent(into: &batchesCaptionKey, forKey: .batchesCaptionKey)
        try c.decodeIfPresent(into: &skipNonfinite, forKey: .skipNonfinite)
        func bad(_ key: CodingKeys, _ what: String) -> Error {
            DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: what)
        }
        guard (0..<1).contains(beta1) else { throw bad(.beta1, "must lie in [0, 1), got \(beta1)") }
        guard (0..<1).contains(beta2) else { throw bad(.beta2, "must lie in [0, 1), got \(beta2)") }
        guard eps > 0 else { throw bad(.eps, "must be positive, got \(eps)") }
        guard warmup >= 0 else { throw bad(.warmup, "must not be negative, got \(warmup)") }
        guard sigmoidBias.isFinite else { throw bad(.sigmoidBias, "must be a finite number") }
        if let p = promptDropout, !(0..<1).contains(p) { throw bad(.promptDropout, "must lie in [0, 1), got \(p)") }
        _ = try ImageTextSourceOptions.separator(batchesSeparator, what: "batches_sep")
        try c.requirePositive([(.promptTokens, promptTokens), (.mapperHidden, mapperHidden ?? 1), (.imgSize, imgSize ?? 1),
                               (.batchSize, batchSize), (.epochs, epochs), (.gradAccumSteps, gradAccumSteps),
                               (.queryChunk, queryChunk ?? 1)])
        guard skipNonfinite >= 0 else { throw bad(.skipNonfinite, "must not be negative, got \(skipNonfinite)") }
        guard pixelCacheMB >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .pixelCacheMB, in: c, debugDescription: "must not be negative, got \(pixelCacheMB)")
        }
        guard lr > 0, weightDecay >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .lr, in: c, debugDescription: "lr must be positive and weight_decay not negative")
        }
    }

    /// Writes every key, those without a value as `null` (so `resolved_config.yaml` lists them all).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(modelName, forKey: .modelName)
        try c.encode(imgSize, forKey: .imgSize)
        try c.encode(promptTokens, forKey: .promptTokens)
        try c.encode(mapperHidden, forKey: .mapperHidden)
        try c.encode(seed, forKey: .seed)
        try c.encode(outputRoot, forKey: .outputRoot)
        try c.encode(dataset, forKey: .dataset)
        try c.encode(maxTrainExamples, forKey: .maxTrainExamples)
        try c.encode(hardmineSubset, forKey: .hardmineSubset)
        try c.encode(batchSize, forKey: .batchSize)
        try c.encode(numWorkers, forKey: .numWorkers)
        try c.encode(epochs, forKey: .epochs)
        try c.encode(lr, forKey: .lr)
        try c.encode(weightDecay, forKey: .weightDecay)
        try c.encode(beta1, forKey: .beta1)
        try c.encode(beta2, forKey: .beta2)
        try c.encode(eps, forKey: .eps)
        try c.encode(lrScheduler, forKey: .lrScheduler)
        try c.encode(warmup, forKey: .warmup)
        try c.encode(fp16, forKey: .fp16)
        try c.encode(gradAccumSteps, forKey: .gradAccumSteps)
        try c.encode(objective, forKey: .objective)
        try c.encode(queryChunk, forKey: .queryChunk)
        try c.encode(sigmoidBias, forKey: .sigmoidBias)
        try c.encode(promptDropout, forKey: .promptDropout)
        try c.encode(batches, forKey: .batches)
        try c.encode(batchesSeparator, forKey: .batchesSeparator)
        try c.encode(batchesImageKey, forKey: .batchesImageKey)
        try c.encode(batchesCaptionKey, forKey: .batchesCaptionKey)
        try c.encode(rerankK, forKey: .rerankK)
        try c.encode(evalSplit, forKey: .evalSplit)
        try c.encode(pixelCacheMB, forKey: .pixelCacheMB)
        try c.encode(skipNonfinite, forKey: .skipNonfinite)
    }

    /// Parses YAML text.
    /// - Throws: `ClipError` naming the file and the offending key.
    public static func parse(_ yaml: String, name: String = "config") throws -> ELIPConfig {
        try decodeConfig(ELIPConfig.self, yaml, name: name)
    }

    /// Reads a YAML file.
    public static func load(path: String) throws -> ELIPConfig {
        try parse(try readConfigText(path), name: path)
    }
}

// MARK: - Datasets

extension ELIPConfig.Split {
    /// The options that open this split's dataset.
    public func sourceOptions(skipBad: Bool = false) -> ImageTextSourceOptions {
        ImageTextSourceOptions(split: split, imageColumn: imageColumn, textColumn: textColumn, skipBad: skipBad)
    }

    /// The split's images and captions, of any layout; `maxItems` keeps the first distinct images.
    /// - Throws: `ClipError` naming the dataset file and line or offset of bad input.
    public func load(skipBad: Bool = false, maxItems: Int? = nil) throws -> ImageTextDataset {
        try ImageTextDataset(name, options: sourceOptions(skipBad: skipBad), maxItems: maxItems)
    }
}
