// A projection-head run (seed 002's configs/*.yaml): where the pre-encoded embeddings are, how
// they are split, the heads (`model:`), the loss (`loss:`), training and evaluation settings.

import Foundation
import Tensor
import Heads

/// One projection-head run. Every block and key is optional except `data.image_embeddings`; an unknown
/// key is an error that names it. Relative paths are relative to the working directory.
///
/// ```yaml
/// data:
///   image_embeddings: runs/enc-clip        # `clip encode-dataset` output, or an embedding store (.safetensors)
///   text_embeddings: runs/enc-minilm       # default: the text rows of image_embeddings
///   splits: runs/splits                    # `clip heads split` writes here
/// split: {val_images: 0.1, test_images: 0.1, tuning_samples: 0.2, seed: 0}
/// model: {type: mlp, output_dim: 512, hidden_dim: 1024, dropout: 0.1}
/// loss: {type: softmax, temperature: 0.05}
/// training: {batch_size: 512, learning_rate: 1.0e-4, weight_decay: 0.01, num_epochs: 50, patience: 5}
/// evaluation: {ks: [1, 5, 10], plot_samples: 500}
/// output_dir: results/mlp
/// ```
public struct HeadsRunConfig: Codable, Equatable, Sendable {
    public struct DataPaths: Codable, Equatable, Sendable {
        /// Image embeddings: an embedding shard folder (`clip encode-dataset`) or an embedding store.
        public var imageEmbeddings: String
        /// Caption embeddings (may come from another model); nil: the text rows of `imageEmbeddings`.
        public var textEmbeddings: String?
        /// The split manifests' folder (`clip heads split`).
        public var splits = "splits"

        enum CodingKeys: String, CodingKey, CaseIterable {
            case imageEmbeddings = "image_embeddings", textEmbeddings = "text_embeddings", splits
        }

        public init(imageEmbeddings: String, textEmbeddings: String? = nil, splits: String = "splits") {
            self.imageEmbeddings = imageEmbeddings
            self.textEmbeddings = textEmbeddings
            self.splits = splits
        }

        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.allCases.map(\.rawValue))
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init(imageEmbeddings: try c.decode(String.self, forKey: .imageEmbeddings))
            textEmbeddings = try c.decodeIfPresent(String.self, forKey: .textEmbeddings)
            try c.decodeIfPresent(into: &splits, forKey: .splits)
        }
    }

    /// Image-level split sizes: a value below 1 is a fraction, 1 or more a count (of images for val and
    /// test, of training captions for the tuning subset).
    public struct SplitSizes: Codable, Equatable, Sendable {
        public var valImages = 0.1
        public var testImages = 0.1
        public var tuningSamples = 0.2
        public var seed = 0

        enum CodingKeys: String, CodingKey, CaseIterable {
            case valImages = "val_images", testImages = "test_images", tuningSamples = "tuning_samples", seed
        }

        public init() {}

        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.allCases.map(\.rawValue))
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try c.decodeIfPresent(into: &valImages, forKey: .valImages)
            try c.decodeIfPresent(into: &testImages, forKey: .testImages)
            try c.decodeIfPresent(into: &tuningSamples, forKey: .tuningSamples)
            try c.decodeIfPresent(into: &seed, forKey: .seed)
        }

        /// A size of `total`: the fraction or the count, checked.
        static func count(_ value: Double, of total: Int, key: String) throws -> Int {
            guard value.isFinite, value >= 0 else { throw ClipError.invalidArgument("split.\(key) must be a fraction in [0, 1) or a count, got \(value)") }
            if value < 1 { return Int((value * Double(total)).rounded()) }
            guard value == value.rounded() else { throw ClipError.invalidArgument("split.\(key): a count must be whole, got \(value)") }
            return Int(value)
        }
    }

    /// The training loop's settings (seed 002's `training:` block).
    public struct TrainingSettings: Codable, Equatable, Sendable {
        public var batchSize = 512
        public var learningRate = 1e-4
        public var weightDecay = 0.01
        public var numEpochs = 50
        /// Epochs without improvement of `early_stopping` before stopping; 0: never stop early.
        public var patience = 5
        /// What early stopping and `best_model.safetensors` follow: `val_loss` (lower is better) or
        /// `val_r1` (the mean of image→text and text→image R@1 on validation, higher is better).
        public var earlyStopping = "val_loss"
        /// Gradient clipping by global norm; 0 turns it off.
        public var maxGradNorm = 0.0
        /// Train on the split's tuning subset instead of the whole training split (what `clip heads tune` does).
        public var useTuningSubset = false
        public var seed = 0

        enum CodingKeys: String, CodingKey, CaseIterable {
            case batchSize = "batch_size", learningRate = "learning_rate", weightDecay = "weight_decay"
            case numEpochs = "num_epochs", patience, earlyStopping = "early_stopping", maxGradNorm = "max_grad_norm"
            case useTuningSubset = "use_tuning_subset", seed
        }

        public init() {}

        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.allCases.map(\.rawValue))
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try c.decodeIfPresent(into: &batchSize, forKey: .batchSize)
            try c.decodeIfPresent(into: &learningRate, forKey: .learningRate)
            try c.decodeIfPresent(into: &weightDecay, forKey: .weightDecay)
            try c.decodeIfPresent(into: &numEpochs, forKey: .numEpochs)
            try c.decodeIfPresent(into: &patience, forKey: .patience)
            try c.decodeIfPresent(into: &earlyStopping, forKey: .earlyStopping)
            try c.decodeIfPresent(into: &maxGradNorm, forKey: .maxGradNorm)
            try c.decodeIfPresent(into: &useTuningSubset, forKey: .useTuningSubset)
            try c.decodeIfPresent(into: &seed, forKey: .seed)
        }
    }

    /// Evaluation on the test split.
    public struct EvaluationSettings: Codable, Equatable, Sendable {
        public var ks = [1, 5, 10]
        /// Test images drawn (each with its first caption) for the PCA and t-SNE maps; 0: no maps.
        public var plotSamples = 500
        public var seed = 0

        enum CodingKeys: String, CodingKey, CaseIterable {
            case ks, plotSamples = "plot_samples", seed
        }

        public init() {}

        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.allCases.map(\.rawValue))
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try c.decodeIfPresent(into: &ks, forKey: .ks)
            try c.decodeIfPresent(into: &plotSamples, forKey: .plotSamples)
            try c.decodeIfPresent(into: &seed, forKey: .seed)
        }
    }

    public var data: DataPaths
    public var split = SplitSizes()
    public var model = HeadsConfig(type: .mlp)
    public var loss = HeadsLossSettings()
    public var training = TrainingSettings()
    public var evaluation = EvaluationSettings()
    public var outputDir = "results/heads"

    enum CodingKeys: String, CodingKey, CaseIterable {
        case data, split, model, loss, training, evaluation, outputDir = "output_dir"
    }

    public init(data: DataPaths, outputDir: String? = nil) {
        self.data = data
        if let outputDir { self.outputDir = outputDir }
    }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guard let data = try c.decodeIfPresent(DataPaths.self, forKey: .data) else {
            throw ClipError.invalidArgument("data.image_embeddings is required (an embedding shard folder or store)")
        }
        self.init(data: data)
        try c.decodeIfPresent(into: &split, forKey: .split)
        if let m = try c.decodeIfPresent(CheckedHeadsConfig.self, forKey: .model) { model = m.value }
        try c.decodeIfPresent(into: &loss, forKey: .loss)
        try c.decodeIfPresent(into: &training, forKey: .training)
        try c.decodeIfPresent(into: &evaluation, forKey: .evaluation)
        try c.decodeIfPresent(into: &outputDir, forKey: .outputDir)
        try validate()
    }

    /// Checks ranges and combinations; the error names the key.
    public func validate() throws {
        try ClipError.requirePositive([("training.batch_size", training.batchSize), ("training.num_epochs", training.numEpochs)])
        guard training.batchSize >= 2 else { throw ClipError.invalidArgument("training.batch_size must be at least 2 for a contrastive loss, got \(training.batchSize)") }
        guard training.learningRate > 0, training.learningRate.isFinite else {
            throw ClipError.invalidArgument("training.learning_rate must be positive, got \(training.learningRate)")
        }
        guard training.weightDecay >= 0, training.maxGradNorm >= 0 else {
            throw ClipError.invalidArgument("training.weight_decay and training.max_grad_norm must not be negative")
        }
        guard training.patience >= 0 else { throw ClipError.invalidArgument("training.patience must not be negative, got \(training.patience)") }
        guard ["val_loss", "val_r1"].contains(training.earlyStopping) else {
            throw ClipError.invalidArgument("training.early_stopping: val_loss or val_r1, got '\(training.earlyStopping)'")
        }
        guard !evaluation.ks.isEmpty, evaluation.ks.allSatisfy({ $0 > 0 }) else {
            throw ClipError.invalidArgument("evaluation.ks must list positive cut-offs, got \(evaluation.ks)")
        }
        guard evaluation.plotSamples >= 0 else { throw ClipError.invalidArgument("evaluation.plot_samples must not be negative") }
        for (key, v) in [("val_images", split.valImages), ("test_images", split.testImages), ("tuning_samples", split.tuningSamples)] {
            _ = try SplitSizes.count(v, of: 1, key: key)
        }
        _ = try heads()
        _ = try lossConfig()
    }

    public static func parse(_ yaml: String, name: String = "config") throws -> HeadsRunConfig {
        try decodeConfig(HeadsRunConfig.self, yaml, name: name)
    }

    public static func load(path: String) throws -> HeadsRunConfig {
        try parse(try readConfigText(path), name: path)
    }

    /// The text embeddings' path (the image path's text rows when not given).
    public var textEmbeddingsPath: String { data.textEmbeddings ?? data.imageEmbeddings }
}
