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
    public struct RerankK: Codable, Equatable, Sendable {
        public var coco = 100, flickr = 100, occludedCoco = 500, imagenetR = 1000

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
            try c.requirePositive([(.coco, coco), (.flickr, flickr), (.occludedCoco, occludedCoco), (.imagenetR, imagenetR)])
        }
    }

    public var modelName: String
    /// The model's input size; a config may state it (seed 000's configs do) and it must then match the
    /// model. nil (the key absent): the model's own size.
    public var imgSize: Int?
    public var promptTokens = 12
    /// Width of the mapper's hidden layers (clipcore's key; 1024 by default).
    public var mapperHidden = 1024
    public var seed = 0
    public var outputRoot: String
    public var dataset: Split
    public var maxTrainExamples: Int?
    public var hardmineSubset: Int?
    public var batchSize = 40
    public var numWorkers = 0
    public var epochs = 1
    public var lr = 1e-3
    public var weightDecay = 0.01
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

    enum CodingKeys: String, CodingKey, CaseIterable {
        case modelName = "model_name", imgSize = "img_size", promptTokens = "prompt_tokens", mapperHidden = "mapper_hidden"
        case seed, outputRoot = "output_root", dataset, maxTrainExamples = "max_train_examples"
        case hardmineSubset = "hardmine_subset", batchSize = "batch_size", numWorkers = "num_workers", epochs, lr
        case weightDecay = "weight_decay", fp16, gradAccumSteps = "grad_accum_steps", rerankK = "rerank_k"
        case objective, queryChunk = "query_chunk"
        case evalSplit = "eval_split", pixelCacheMB = "pixel_cache_mb"
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
        try c.decodeIfPresent(into: &mapperHidden, forKey: .mapperHidden)
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
        try c.requirePositive([(.promptTokens, promptTokens), (.mapperHidden, mapperHidden), (.imgSize, imgSize ?? 1),
                               (.batchSize, batchSize), (.epochs, epochs), (.gradAccumSteps, gradAccumSteps),
                               (.queryChunk, queryChunk ?? 1)])
        guard pixelCacheMB >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .pixelCacheMB, in: c, debugDescription: "must not be negative, got \(pixelCacheMB)")
        }
        guard lr > 0, weightDecay >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .lr, in: c, debugDescription: "lr must be positive and weight_decay not negative")
        }
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
