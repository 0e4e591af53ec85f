// Contrastive training configuration (YAML), with the hyperparameters of
// seed 001's command line.

import Foundation
import Tensor
import Models
import Datasets

/// A contrastive (CLIP / SigLIP) training run. Every key is optional except `dataset`;
/// an unknown key is an error that names it.
///
/// `model` is a preset name for training from scratch (a family's `presetNames`: CLIP's `micro`, `tiny`,
/// `small`, with the standard vocabulary; `image_size` sets their resolution) or a model folder in HF
/// layout to fine-tune.
public struct ContrastiveConfig: Codable, Equatable, Sendable {
    public var model = "tiny"
    public var dataset: String
    public var trainSplit = "train"
    public var valSplit = "val"
    public var testSplit = "test"
    public var outputDir = "runs/contrastive"
    public var epochs = 10
    public var lr = 5e-4
    public var weightDecay = 0.1
    public var trainBs = 64
    public var evalBs = 128
    public var gradAccum = 1
    public var warmupRatio = 0.1
    /// Gradient clipping by global norm; 0 turns it off.
    public var maxGradNorm = 1.0
    public var seed = 0
    /// Locks the image tower except its last `lockImageUnlockedLayers` encoder layers (with the final
    /// norm and projection when that is above 0); LiT when the count is 0.
    public var lockImage = false
    public var lockImageUnlockedLayers = 0
    public var lockText = false
    public var lockTextUnlockedLayers = 0
    /// Validation every N epochs (0: never); checkpoints every N epochs (0: only `last` and `best`).
    public var evalEvery = 1
    public var saveEvery = 1
    public var maxTrainExamples: Int?
    public var imageSize = 64
    /// Width of the shared embedding space of a preset (open_clip's `embed_dim`); nil: the tower width.
    public var projectionDim: Int?
    /// A Hugging Face or sentence-transformers text encoder folder (seed 003's `--text-model`): `model` then
    /// gives the image tower only (a preset, new; or a CLIP folder's pretrained vision tower), and the model
    /// is a dual encoder of that image tower and this pretrained text tower, joined by new projections
    /// (`lock_text` keeps the text tower frozen; `lock_image` the image tower: LiT).
    public var textModel: String?
    /// How that text tower pools its tokens (`mean`, `cls`, `max`, …); nil: the folder's own pooling
    /// (sentence-transformers' `1_Pooling`), else the mean.
    public var textPooler: String?
    /// Skip bad dataset records (missing images, malformed rows, empty or non-UTF-8 captions), counting
    /// them, instead of stopping at the first.
    public var skipBad = false
    /// How the dataset is read (open_clip's `--csv-img-key`, `--csv-caption-key`, `--csv-separator`);
    /// nil: the layout detected, the columns inferred, the separator from the extension.
    public var layout: DatasetLayout?
    public var imageColumn: String?
    public var textColumn: String?
    public var separator: String?
    /// Folder the image paths are relative to; nil: the annotation file's folder.
    public var imageRoot: String?
    /// The training loss (seed 003's `--distiller`): `infonce` (the model's own pair loss: InfoNCE, or
    /// the sigmoid loss for SigLIP models) or a loss of the `Losses` layer (`DistillationLosses.names`),
    /// between the image tower (student) and the text tower, or towards `teacher`. Seed 003's spellings
    /// (`InfoNCE`, `SimReg-L1`, `CompRess-1q`, …) are accepted in any case.
    public var distiller = "infonce"
    /// The weight of the model's own pair loss (InfoNCE) added to a distillation loss (0: the
    /// distillation loss alone, as seed 003 trains): the towers' cross-modal alignment that relational
    /// and prototype losses do not give.
    public var infonceWeight: Double = 0
    /// A frozen teacher model folder for the distillation losses: each tower the teacher has is
    /// distilled into the student's tower of the same modality.
    public var teacher: String?
    /// Parameter-efficient adapters on the towers' transformer layers (`lora`, `bottleneck`, `prefix`,
    /// `ia3`); the model's own weights stay frozen and only the adapters (and heads) train.
    public var adapter: String?
    /// LoRA's rank and alpha; the bottleneck adapters' reduction factor; prefix tuning's prefix length.
    public var loraRank = 8
    public var loraAlpha: Double = 16
    public var adapterReduction = 16
    public var prefixLength = 10
    /// Heads on the towers (seed 003's `--image-head-n-layers` / `--text-head-n-layers`): 0 none, 1 a
    /// linear projection, 2 or more DINO's MLP head with that many layers.
    public var imageHeadNLayers = 0
    public var textHeadNLayers = 0
    /// The MLP heads' hidden and bottleneck widths, and the prototypes of the prototype layer the
    /// prototype losses (DINO, ProtoCPC) put at the end of a head.
    public var headHiddenDim = 2048
    public var headBottleneckDim = 256
    public var prototypes = 4096
    /// DINO's frozen prototype layer during the first epoch.
    public var freezeLastLayerEpochs = 1
    /// open_clip's `--accum-freq`: this many batches of `train_bs` make one update, and the loss sees
    /// all of their rows (features cached without a graph, each batch re-encoded for its backward).
    public var accumFreq = 1
    /// Each image of a batch brings all its captions (up to `max_captions_per_image`), every one a
    /// positive of the image (multi-positive InfoNCE or sigmoid loss).
    public var multiPositive = false
    public var maxCaptionsPerImage: Int?
    /// Updates whose loss or gradients are NaN or infinite that may be skipped (no optimizer step,
    /// counted and logged) before the run stops with an error; 0: the first one stops it.
    public var skipNonfinite = 0

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, dataset, trainSplit = "train_split", valSplit = "val_split", testSplit = "test_split"
        case outputDir = "output_dir", epochs, lr, weightDecay = "weight_decay", trainBs = "train_bs", evalBs = "eval_bs"
        case gradAccum = "grad_accum", warmupRatio = "warmup_ratio", maxGradNorm = "max_grad_norm", seed
        case lockImage = "lock_image", lockImageUnlockedLayers = "lock_image_unlocked_layers"
        case lockText = "lock_text", lockTextUnlockedLayers = "lock_text_unlocked_layers"
        case evalEvery = "eval_every", saveEvery = "save_every", maxTrainExamples = "max_train_examples"
        case imageSize = "image_size", projectionDim = "projection_dim", skipBad = "skip_bad"
        case layout, imageColumn = "image_column", textColumn = "text_column", separator = "csv_separator"
        case imageRoot = "image_root"
        case textModel = "text_model", textPooler = "text_pooler"
        case distiller, infonceWeight = "infonce_weight", teacher, adapter, loraRank = "lora_rank", loraAlpha = "lora_alpha", adapterReduction = "adapter_reduction"
        case prefixLength = "prefix_length", imageHeadNLayers = "image_head_n_layers", textHeadNLayers = "text_head_n_layers"
        case headHiddenDim = "head_hidden_dim", headBottleneckDim = "head_bottleneck_dim", prototypes
        case freezeLastLayerEpochs = "freeze_last_layer_epochs", accumFreq = "accum_freq", multiPositive = "multi_positive"
        case maxCaptionsPerImage = "max_captions_per_image", skipNonfinite = "skip_nonfinite"
    }

    /// The defaults above, with `model` and `outputDir` when given.
    public init(dataset: String, model: String? = nil, outputDir: String? = nil) {
        self.dataset = dataset
        if let model { self.model = model }
        if let outputDir { self.outputDir = outputDir }
    }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(dataset: try c.decode(String.self, forKey: .dataset))
        try c.decodeIfPresent(into: &model, forKey: .model)
        try c.decodeIfPresent(into: &trainSplit, forKey: .trainSplit)
        try c.decodeIfPresent(into: &valSplit, forKey: .valSplit)
        try c.decodeIfPresent(into: &testSplit, forKey: .testSplit)
        try c.decodeIfPresent(into: &outputDir, forKey: .outputDir)
        try c.decodeIfPresent(into: &epochs, forKey: .epochs)
        try c.decodeIfPresent(into: &lr, forKey: .lr)
        try c.decodeIfPresent(into: &weightDecay, forKey: .weightDecay)
        try c.decodeIfPresent(into: &trainBs, forKey: .trainBs)
        try c.decodeIfPresent(into: &evalBs, forKey: .evalBs)
        try c.decodeIfPresent(into: &gradAccum, forKey: .gradAccum)
        try c.decodeIfPresent(into: &warmupRatio, forKey: .warmupRatio)
        try c.decodeIfPresent(into: &maxGradNorm, forKey: .maxGradNorm)
        try c.decodeIfPresent(into: &seed, forKey: .seed)
        try c.decodeIfPresent(into: &lockImage, forKey: .lockImage)
        try c.decodeIfPresent(into: &lockImageUnlockedLayers, forKey: .lockImageUnlockedLayers)
        try c.decodeIfPresent(into: &lockText, forKey: .lockText)
        try c.decodeIfPresent(into: &lockTextUnlockedLayers, forKey: .lockTextUnlockedLayers)
        try c.decodeIfPresent(into: &evalEvery, forKey: .evalEvery)
        try c.decodeIfPresent(into: &saveEvery, forKey: .saveEvery)
        maxTrainExamples = try c.decodeIfPresent(Int.self, forKey: .maxTrainExamples)
        try c.decodeIfPresent(into: &imageSize, forKey: .imageSize)
        projectionDim = try c.decodeIfPresent(Int.self, forKey: .projectionDim)
        try c.decodeIfPresent(into: &skipBad, forKey: .skipBad)
        if let name = try c.decodeIfPresent(String.self, forKey: .layout) {
            guard let l = DatasetLayout(rawValue: name) else {
                throw ClipError.invalidArgument("layout: unknown '\(name)' (one of \(DatasetLayout.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            layout = l
        }
        imageColumn = try c.decodeIfPresent(String.self, forKey: .imageColumn)
        textColumn = try c.decodeIfPresent(String.self, forKey: .textColumn)
        separator = try c.decodeIfPresent(String.self, forKey: .separator)
        imageRoot = try c.decodeIfPresent(String.self, forKey: .imageRoot)
        textModel = try c.decodeIfPresent(String.self, forKey: .textModel)
        textPooler = try c.decodeIfPresent(String.self, forKey: .textPooler)
        try c.decodeIfPresent(into: &distiller, forKey: .distiller)
        try c.decodeIfPresent(into: &infonceWeight, forKey: .infonceWeight)
        teacher = try c.decodeIfPresent(String.self, forKey: .teacher)
        adapter = try c.decodeIfPresent(String.self, forKey: .adapter)
        try c.decodeIfPresent(into: &loraRank, forKey: .loraRank)
        try c.decodeIfPresent(into: &loraAlpha, forKey: .loraAlpha)
        try c.decodeIfPresent(into: &adapterReduction, forKey: .adapterReduction)
        try c.decodeIfPresent(into: &prefixLength, forKey: .prefixLength)
        try c.decodeIfPresent(into: &imageHeadNLayers, forKey: .imageHeadNLayers)
        try c.decodeIfPresent(into: &textHeadNLayers, forKey: .textHeadNLayers)
        try c.decodeIfPresent(into: &headHiddenDim, forKey: .headHiddenDim)
        try c.decodeIfPresent(into: &headBottleneckDim, forKey: .headBottleneckDim)
        try c.decodeIfPresent(into: &prototypes, forKey: .prototypes)
        try c.decodeIfPresent(into: &freezeLastLayerEpochs, forKey: .freezeLastLayerEpochs)
        try c.decodeIfPresent(into: &accumFreq, forKey: .accumFreq)
        try c.decodeIfPresent(into: &multiPositive, forKey: .multiPositive)
        maxCaptionsPerImage = try c.decodeIfPresent(Int.self, forKey: .maxCaptionsPerImage)
        try c.decodeIfPresent(into: &skipNonfinite, forKey: .skipNonfinite)
        try validate()
    }

    /// Checks ranges; the error names the key.
    public func validate() throws {
        try ClipError.requirePositive([("epochs", epochs), ("train_bs", trainBs), ("eval_bs", evalBs), ("grad_accum", gradAccum),
                                       ("image_size", imageSize), ("projection_dim", projectionDim ?? 1)])
        for (key, v) in [("eval_every", evalEvery), ("save_every", saveEvery), ("lock_image_unlocked_layers", lockImageUnlockedLayers),
                         ("lock_text_unlocked_layers", lockTextUnlockedLayers), ("skip_nonfinite", skipNonfinite)] where v < 0 {
            throw ClipError.invalidArgument("\(key) must not be negative, got \(v)")
        }
        guard trainBs >= 2 else { throw ClipError.invalidArgument("train_bs must be at least 2 for a contrastive loss, got \(trainBs)") }
        guard lr > 0 else { throw ClipError.invalidArgument("lr must be positive, got \(lr)") }
        guard weightDecay >= 0, maxGradNorm >= 0 else { throw ClipError.invalidArgument("weight_decay and max_grad_norm must not be negative") }
        guard (0...1).contains(warmupRatio) else { throw ClipError.invalidArgument("warmup_ratio must lie in [0, 1], got \(warmupRatio)") }
        if let separator { _ = try ImageTextSourceOptions.separator(separator, what: "csv_separator") }
        if let textPooler { _ = try TextPooling(name: textPooler) }
        if textPooler != nil, textModel == nil {
            throw ClipError.invalidArgument("text_pooler applies with text_model (a Hugging Face text encoder folder) only")
        }
        try ClipError.requirePositive([("accum_freq", accumFreq), ("lora_rank", loraRank), ("adapter_reduction", adapterReduction),
                                       ("prefix_length", prefixLength), ("head_hidden_dim", headHiddenDim),
                                       ("head_bottleneck_dim", headBottleneckDim), ("prototypes", prototypes),
                                       ("max_captions_per_image", maxCaptionsPerImage ?? 1)])
        for (key, v) in [("image_head_n_layers", imageHeadNLayers), ("text_head_n_layers", textHeadNLayers),
                         ("freeze_last_layer_epochs", freezeLastLayerEpochs)] where v < 0 {
            throw ClipError.invalidArgument("\(key) must not be negative, got \(v)")
        }
        guard infonceWeight >= 0 && infonceWeight.isFinite else {
            throw ClipError.invalidArgument("infonce_weight must be a finite number ≥ 0, got \(infonceWeight)")
        }
        guard loraAlpha > 0 else { throw ClipError.invalidArgument("lora_alpha must be positive, got \(loraAlpha)") }
        if accumFreq > 1 && gradAccum > 1 {
            throw ClipError.invalidArgument("accum_freq \(accumFreq) and grad_accum \(gradAccum): choose one way of accumulating")
        }
        let objective = try ContrastiveObjectiveKind(distiller: distiller)
        if let adapter { _ = try AdapterChoice(name: adapter) }
        if teacher != nil, objective == .pair {
            throw ClipError.invalidArgument("teacher applies with a distillation loss (distiller: \(ContrastiveObjectiveKind.distillerNames.dropFirst().joined(separator: ", "))), not with \(distiller)")
        }
        if multiPositive, teacher == nil, objective != .pair {
            throw ClipError.invalidArgument("multi_positive pairs several captions with one image: it applies to infonce, or to a distiller with a teacher, not to \(distiller) between the towers")
        }
    }

    public static func parse(_ yaml: String, name: String = "config") throws -> ContrastiveConfig {
        try decodeConfig(ContrastiveConfig.self, yaml, name: name)
    }

    public static func load(path: String) throws -> ContrastiveConfig {
        try parse(try readConfigText(path), name: path)
    }

    // MARK: - Presets

    /// The CLIP configuration of a preset name (see `CLIPFamily.presetConfig`).
    @available(*, deprecated, message: "presets belong to the families: CLIPFamily.presetConfig, ModelFamily.preset")
    public static func preset(_ name: String, imageSize: Int, projectionDim: Int? = nil) -> CLIPConfig? {
        CLIPFamily.presetConfig(name, imageSize: imageSize, projectionDim: projectionDim)
    }

    /// Every family's preset names (`ModelFamilies.presetNames`).
    public static var presetNames: [String] { ModelFamilies.presetNames }
}

extension ContrastiveConfig {
    /// The options that open `split` of the configured dataset.
    public func sourceOptions(split: String) -> ImageTextSourceOptions {
        ImageTextSourceOptions(layout: layout, split: split, imageColumn: imageColumn, textColumn: textColumn,
                               separator: separator.flatMap { try? ImageTextSourceOptions.separator($0) },
                               imageRoot: imageRoot, skipBad: skipBad)
    }
}
