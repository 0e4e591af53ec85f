// Contrastive training of CLIP and SigLIP models, from a preset or from a
// checkpoint: InfoNCE with a learnable temperature or the sigmoid loss with
// learnable scale and bias, AdamW, warmup + cosine, clipping, tower locking,
// validation retrieval metrics, HF-layout checkpoints and exact resume.

import Foundation
import Tensor
import Images
import Autograd
import NN
import Models
import Search
import Datasets
import Losses
import Adapters
import ClipDistributed

/// Trains a CLIP or SigLIP model on an image–text dataset (see `ContrastiveConfig`).
///
/// Epoch `e` visits the training images in an order drawn from `seed + e`, each with one of its
/// captions drawn from the same stream, in batches of `train_bs`; `grad_accum` batches make an
/// update. The output folder gets `train_log.jsonl`, `epoch_{N}/` every `save_every` epochs, `best/`
/// (highest validation mean recall), `last/` (with `trainer_state.safetensors`, written every
/// `checkpointEvery` updates and at each epoch's end) and `test_metric.json` at the end; every
/// checkpoint is a model folder in HF layout written as a whole.
///
/// Data parallel (`mpirun -np N clip train`, docs/DISTRIBUTED.md): every rank draws the same global
/// batches; rank r takes its contiguous part of each (rows ⌊rB/N⌋ ..< ⌊(r+1)B/N⌋), decodes only the
/// images it is given, and the step gathers the features so that the loss is the global batch's;
/// gradients are averaged before each update, so the run follows one process's on the same batches.
/// Rank 0 alone validates and writes checkpoints; every rank resumes from `last/`.
public final class ContrastiveTrainer {
    public let config: ContrastiveConfig
    public let model: any PromptGuidedModel
    public let pipeline: ImageTextPipeline
    public let step: ContrastiveStep
    public let tokenizerSource: String?
    /// The training split, as read.
    public let train: ImageTextDataset
    /// The ranks the global batches are split over.
    public let communicator: any Communicator
    /// The preprocessed training images: all of them in a single process (decoded at start), those
    /// this rank was given so far with several ranks (decoded on first use).
    private var trainPixels: [Tensor?]
    /// The teacher's own preprocessing of the training images (when it has an image tower).
    private var teacherPixels: [Tensor?]?
    private let usesTeacherPixels: Bool
    /// The adapters on the towers (`adapter`), nil without.
    public let adapters: (any ModelAdapter)?
    /// Optimizer updates in one epoch.
    public let updatesPerEpoch: Int
    public private(set) var epoch = 0
    public private(set) var batchInEpoch = 0
    public private(set) var bestScore = -Double.infinity
    public var checkpointEvery = 100
    /// Updates skipped so far because their loss or a gradient was not finite (`skip_nonfinite`).
    public var skippedNonFinite: Int { nonFinite.skipped }
    var nonFinite: NonFiniteSteps
    /// Validation metrics by epoch (1-based), as they were computed.
    public private(set) var history: [(epoch: Int, metrics: RetrievalMetrics)] = []

    /// Builds the model (a preset, or a folder to fine-tune), applies the locks, decodes and
    /// preprocesses the training images once.
    /// - Throws: `ClipError` naming the problem.
    public init(config: ContrastiveConfig, communicator: any Communicator = SingleProcess()) throws {
        try config.validate()
        self.communicator = communicator
        if communicator.size > 1 {
            guard config.trainBs >= communicator.size else {
                throw ClipError.invalidArgument("train_bs \(config.trainBs) is the global batch: it must be at least the \(communicator.size) ranks")
            }
            guard config.accumFreq == 1 else {
                throw ClipError.unsupported("accum_freq \(config.accumFreq): under mpirun the global batch is already split over the ranks; use accum_freq 1 and a larger train_bs")
            }
        }
        var config = config
        let teacher = try config.teacher.map { try ContrastiveObjective.loadTeacher($0) }
        // A preset student learns in its teacher's embedding space.
        if let teacher, config.projectionDim == nil, ModelFamilies.family(preset: config.model) != nil {
            config.projectionDim = teacher.model.embeddingDim
        }
        self.config = config
        nonFinite = NonFiniteSteps(allowance: config.skipNonfinite)
        if let textModel = config.textModel {
            let pooling = try config.textPooler.map { try TextPooling(name: $0) }
            pipeline = try ParameterInitialization.seeded(
                UInt64(truncatingIfNeeded: config.seed), budget: ParameterInitialization.trainableBudget,
                what: "preset '\(config.model)' with text model '\(textModel)'") {
                try DualEncoderFamily.make(vision: config.model, imageSize: config.imageSize, projectionDim: config.projectionDim,
                                           textFolder: textModel, pooling: pooling)
            }
            model = pipeline.model
            tokenizerSource = try SentenceTransformerLayout.read(directory: textModel).transformerDirectory
        } else if let family = ModelFamilies.family(preset: config.model),
           let preset = try ParameterInitialization.seeded(
               UInt64(truncatingIfNeeded: config.seed), budget: ParameterInitialization.trainableBudget,
               what: "preset '\(config.model)' with image_size \(config.imageSize)"
                   + (config.projectionDim.map { " and projection_dim \($0)" } ?? ""), {
               try family.preset(config.model, imageSize: config.imageSize, projectionDim: config.projectionDim)
           }) {
            model = preset.model
            pipeline = preset
            tokenizerSource = nil
        } else {
            if let p = config.projectionDim {
                throw ClipError.invalidArgument("projection_dim \(p) applies to presets (\(ContrastiveConfig.presetNames.joined(separator: ", "))) only; '\(config.model)' brings its own")
            }
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: config.model, isDirectory: &isDir), isDir.boolValue else {
                throw ClipError.invalidArgument("model '\(config.model)' is neither a preset (\(ContrastiveConfig.presetNames.joined(separator: ", "))) nor a model folder")
            }
            pipeline = try ImageTextPipeline(directory: config.model)
            model = pipeline.model
            tokenizerSource = config.model
        }
        try pipeline.requireImageTower()
        Self.applyLocks(model, config)
        let objective = try ContrastiveObjective.make(config, model: model, teacher: teacher)
        if let name = config.adapter {
            adapters = try AdapterChoice(name: name).attach(to: model, config: config)
        } else {
            adapters = nil
        }
        train = try ImageTextDataset(config.dataset, options: config.sourceOptions(split: config.trainSplit),
                                     maxItems: config.maxTrainExamples)
        guard train.items.count >= 2 else { throw ClipError.invalidArgument("\(train.source): need at least two training images") }
        usesTeacherPixels = teacher != nil && objective.imageLoss != nil
        trainPixels = Array(repeating: nil, count: train.items.count)
        teacherPixels = usesTeacherPixels ? Array(repeating: nil, count: train.items.count) : nil
        // As many batches as `batches(epoch:)` makes: full ones, plus a last one of at least two
        // (and at least one row per rank).
        let batches = train.items.count / config.trainBs + (train.items.count % config.trainBs >= max(2, communicator.size) ? 1 : 0)
        let perUpdate = config.gradAccum * config.accumFreq
        updatesPerEpoch = (batches + perUpdate - 1) / perUpdate
        let (total, overflow) = updatesPerEpoch.multipliedReportingOverflow(by: config.epochs)
        guard !overflow else { throw ClipError.invalidArgument("epochs \(config.epochs) × \(updatesPerEpoch) updates per epoch is too many steps") }
        let warmup = min(Int((config.warmupRatio * Double(total)).rounded()), total)
        step = ContrastiveStep(model: model, lr: Float(config.lr), weightDecay: Float(config.weightDecay),
                               schedule: WarmupCosineSchedule(base: Float(config.lr), warmupSteps: warmup, totalSteps: total),
                               maxGradNorm: Float(config.maxGradNorm), objective: objective,
                               extra: adapters?.namedParameters() ?? [])
        step.communicator = communicator
        if communicator.size == 1 {
            // One process uses every image: decode them all now (a bad image stops the run before it starts).
            for i in train.items.indices { try loadPixels(i) }
        }
    }

    /// The objective: loss, heads, teacher.
    public var objective: ContrastiveObjective { step.objective }

    /// Freezes the locked towers (all of a tower, or all but its last N encoder layers and its head),
    /// where the model's family says the towers' keys are.
    static func applyLocks(_ model: any PromptGuidedModel, _ config: ContrastiveConfig) {
        let keys = model.namedParameters().map(\.key)
        var frozen = Set<String>()
        if config.lockImage { frozen.formUnion(model.family.imageTower.lockedKeys(in: keys, unlockedLayers: config.lockImageUnlockedLayers)) }
        if config.lockText { frozen.formUnion(model.family.textTower.lockedKeys(in: keys, unlockedLayers: config.lockTextUnlockedLayers)) }
        model.freeze(where: { frozen.contains($0) })
    }

    /// The smallest batch trained: two rows, and one per rank.
    var minimumBatch: Int { max(2, communicator.size) }

    /// Decodes and preprocesses training image `i` (and the teacher's view of it) unless done.
    private func loadPixels(_ i: Int) throws {
        guard trainPixels[i] == nil else { return }
        let image = try train.items[i].decode()
        trainPixels[i] = try pipeline.processor(image)
        if usesTeacherPixels, let tp = objective.teacher?.processor { teacherPixels?[i] = try tp(image) }
    }

    /// This rank's rows of a global batch: a contiguous part, rank order (all of it in one process).
    public func localPart<T>(of batch: [T]) -> [T] {
        let (r, n) = (communicator.rank, communicator.size)
        guard n > 1 else { return batch }
        return Array(batch[(r * batch.count / n)..<((r + 1) * batch.count / n)])
    }

    /// The batches of `epoch`: (image index, caption index) lists, the same on every rank.
    public func batches(epoch: Int) -> [[(image: Int, caption: Int)]] {
        var rng = RandomGenerator(seed: UInt64(truncatingIfNeeded: config.seed) &* 0x100_0000_01B3 &+ UInt64(epoch) &+ 1)
        var order = Array(0..<train.items.count)
        rng.shuffle(&order)
        let picks = order.map { (image: $0, caption: rng.nextInt(below: train.items[$0].captions.count)) }
        return stride(from: 0, to: picks.count, by: config.trainBs).map { Array(picks[$0..<min($0 + config.trainBs, picks.count)]) }
            .filter { $0.count >= minimumBatch }
    }

    /// ProtoCLIP's episode: the prototypes of the training set's current features. Every training image
    /// and its first caption are encoded (after the heads, no graph), each modality is clustered by
    /// k-means (FAISS, min(`prototypes`, images) clusters, seeded), and the loss gets both modalities'
    /// centroids with their back-translated targets (each modality's mean over the other's clusters).
    func startEpisode() throws {
        guard let proto = objective.imageLoss as? ProtoCLIP else { return }
        let n = train.items.count
        var images: [Tensor] = [], texts: [Tensor] = []
        for start in stride(from: 0, to: n, by: config.evalBs) {
            let b = try contrastiveBatch((start..<min(start + config.evalBs, n)).map { (image: $0, caption: 0) })
            let f = try withNoGrad { try objective.studentFeatures(model, b) }
            texts.append(f.text.value)
            images.append(f.image.value)
        }
        let image = Tensor.concat(images, axis: 0).l2Normalized(), text = Tensor.concat(texts, axis: 0).l2Normalized()
        var kmeans = KMeans(clusters: min(config.prototypes, n))
        kmeans.seed = Int64(config.seed) &+ Int64(epoch)
        let ri = try kmeans.fit(image), rt = try kmeans.fit(text)
        try proto.setPrototypes(image: ri.centroids, text: rt.centroids,
                                imageTargets: ProtoCLIP.backTranslated(features: image, assignments: rt.assignments, count: ri.centroids.shape[0]),
                                textTargets: ProtoCLIP.backTranslated(features: text, assignments: ri.assignments, count: rt.centroids.shape[0]))
    }

    /// The batch of (image, caption) picks: the captions' tokens and the images' pixels; with
    /// `multi_positive`, every caption of each image (the drawn one first, up to
    /// `max_captions_per_image`); the teacher's tokens and pixels when there is a teacher.
    public func contrastiveBatch(_ picks: [(image: Int, caption: Int)]) throws -> ContrastiveBatch {
        var texts: [String] = []
        var owners: [Int]?
        if config.multiPositive {
            var o: [Int] = []
            for (row, p) in picks.enumerated() {
                let captions = train.items[p.image].captions
                let order = [p.caption] + captions.indices.filter { $0 != p.caption }
                let chosen = order.prefix(min(captions.count, config.maxCaptionsPerImage ?? captions.count))
                texts += chosen.map { captions[$0] }
                o += Array(repeating: row, count: chosen.count)
            }
            owners = o
        } else {
            texts = picks.map { train.items[$0.image].captions[$0.caption] }
        }
        for p in picks { try loadPixels(p.image) }
        let pixels = Tensor.stack(picks.map { trainPixels[$0.image]! }, axis: 0)
        return ContrastiveBatch(tokens: pipeline.tokenize(texts), pixels: pixels, imageOfText: owners,
                                teacherTokens: objective.teacher?.tokenize(texts),
                                teacherPixels: teacherPixels.map { tp in Tensor.stack(picks.map { tp[$0.image]! }, axis: 0) })
    }

    /// Trains to the end (or until `stopAfterUpdates` updates, for interruption tests), calling `onEvent`
    /// with each update and validation.
    public func run(stopAfterUpdates: Int? = nil, onEvent: (TrainingEvent) throws -> Void = { _ in }) throws {
        let out = config.outputDir
        if communicator.isRoot {
            // Rank 0 owns the output folder (another rank's sweep could take its checkpoint in progress).
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            ModelFolder.removeStaleTemporaries(in: out)
        }
        let accumulation = config.gradAccum
        while epoch < config.epochs {
            let all = batches(epoch: epoch)
            var pending = 0, lossSum: Float = 0
            model.train()
            objective.setEpoch(epoch)
            if batchInEpoch == 0 { try startEpisode() }
            while batchInEpoch < all.count {
                if let stop = stopAfterUpdates, step.updates >= stop { return }
                if config.accumFreq > 1 {
                    // One update from accum_freq batches seen together.
                    let end = min(batchInEpoch + config.accumFreq, all.count)
                    lossSum = try step.accumulatedLossAndBackward((batchInEpoch..<end).map { try contrastiveBatch(all[$0]) })
                    batchInEpoch = end
                    pending = 1
                } else {
                    lossSum += try step.lossAndBackward(try contrastiveBatch(localPart(of: all[batchInEpoch])), scale: 1 / Float(accumulation))
                    batchInEpoch += 1
                    pending += 1
                    guard pending == accumulation || batchInEpoch == all.count else { continue }
                    if pending < accumulation { scaleGradients(step.trainable, by: Float(accumulation) / Float(pending)) }
                }
                try step.synchronizeGradients()
                if epoch < config.freezeLastLayerEpochs { objective.cancelLastLayerGradients() }
                if let reason = try nonFinite.check(loss: lossSum, parameters: optimizedParameters, update: step.updates + 1,
                                                    epoch: epoch + 1, checkpoint: out + "/last") {
                    step.optimizer.zeroGrad()
                    try onEvent(.skipped(epoch: epoch + 1, update: step.updates + 1, reason: "the \(config.distiller) loss: " + reason,
                                         count: nonFinite.skipped))
                    pending = 0
                    lossSum = 0
                    continue
                }
                let lr = step.schedule.rate(at: step.updates)
                let norm = step.update()
                objective.updateMovingAverages()
                try onEvent(.update(TrainingUpdate(epoch: epoch + 1, update: step.updates, loss: lossSum / Float(pending),
                                                   lr: lr, gradNorm: norm, logitScale: temperature)))
                pending = 0
                lossSum = 0
                if step.updates % max(checkpointEvery, 1) == 0 && batchInEpoch < all.count && communicator.isRoot { try saveLast() }
            }
            epoch += 1
            batchInEpoch = 0
            model.eval()
            // Rank 0 validates and writes; the others go on to the next epoch's first collective.
            guard communicator.isRoot else { continue }
            if config.evalEvery > 0 && epoch % config.evalEvery == 0, let val = try evaluate(split: config.valSplit) {
                history.append((epoch, val))
                try onEvent(.validation(epoch: epoch, metrics: val))
                let score = Self.meanRecall(val)
                if score > bestScore {
                    bestScore = score
                    try writeModel(to: out + "/best")
                }
            }
            if config.saveEvery > 0 && epoch % config.saveEvery == 0 { try writeModel(to: out + "/epoch_\(epoch)") }
            try saveLast()
        }
    }

    /// exp(logit_scale): the multiplier on cosine similarities.
    public var temperature: Float { model.temperature }

    /// Mean of R@1/5/10 in both directions (open_clip's `mean_recall`-style model selection score).
    public static func meanRecall(_ m: RetrievalMetrics) -> Double {
        let ks = [1, 5, 10]
        return ks.map { (m.imageToText.recall[$0] ?? 0) + (m.textToImage.recall[$0] ?? 0) }.reduce(0, +) / Double(2 * ks.count)
    }

    /// Retrieval metrics of the current model on a split; nil when the dataset has no such split
    /// (a `{split}.jsonl`, a `{split}/` folder, Karpathy `split` values) or it is empty.
    public func evaluate(split: String) throws -> RetrievalMetrics? {
        guard let data = try dataset(split: split, requireSplit: split != config.trainSplit) else { return nil }
        return try Self.evaluate(pipeline: pipeline, dataset: data, batchSize: config.evalBs, heads: retrievalHeads)
    }

    /// The records of `split`; nil when it has none, or (with `requireSplit`) when the dataset has no
    /// such split and would be read whole.
    private func dataset(split: String, requireSplit: Bool) throws -> ImageTextDataset? {
        let options = config.sourceOptions(split: split)
        if requireSplit, !ImageTextSourceFactory.hasSplit(config.dataset, options: options) { return nil }
        let data = try ImageTextDataset(config.dataset, options: options)
        return data.items.isEmpty ? nil : data
    }

    /// The heads retrieval embeds through: the towers' heads, unless they end in prototype layers
    /// (prototype logits are a training target; the towers' own features are the embedding then).
    var retrievalHeads: (image: TrainingHead?, text: TrainingHead?) {
        let usable = { (h: TrainingHead?) in h.flatMap { $0.hasPrototypes ? nil : $0 } }
        return (usable(objective.imageHead), usable(objective.textHead))
    }

    /// Encodes a dataset's images and captions (through `heads` when given) and scores text→image and
    /// image→text retrieval.
    public static func evaluate(pipeline: ImageTextPipeline, dataset: ImageTextDataset, batchSize: Int = 128,
                                heads: (image: TrainingHead?, text: TrainingHead?) = (nil, nil)) throws -> RetrievalMetrics {
        let images = try dataset.items.map { try $0.decode() }
        let pairs = dataset.pairs
        func embed(_ raw: Tensor, _ head: TrainingHead?) -> Tensor {
            guard let head else { return raw }
            return withNoGrad { head(Variable(raw)).value.l2Normalized() }
        }
        let imageEmb = embed(try pipeline.encode(images: images, normalize: heads.image == nil, batchSize: batchSize), heads.image)
        let textEmb = embed(try pipeline.encode(texts: pairs.map(\.caption), normalize: heads.text == nil, batchSize: batchSize), heads.text)
        return try RetrievalEvaluator.metrics(texts: textEmb, images: imageEmb, imageOfText: pairs.map(\.image))
    }

    /// The adapters' file in a checkpoint folder, and the objective's (heads, their moving averages,
    /// the losses' queues and centres).
    public static let adapterFile = "adapter_model.safetensors"
    public static let objectiveFile = "objective.safetensors"

    /// Writes the model as an HF folder, with the adapters' and the objective's files when there are.
    public func writeModel(to directory: String, extra: (String) throws -> Void = { _ in }) throws {
        try ModelFolder.write(model, processor: pipeline.processor.config, tokenizerSource: tokenizerSource,
                              to: directory) { dir in
            let state = objective.stateTensors()
            if objective.hasState {
                try SafeTensors.write(state, metadata: ["distiller": config.distiller], to: dir + "/" + Self.objectiveFile)
            }
            if let adapters {
                try adapters.save(to: dir + "/" + Self.adapterFile, metadata: [:])
                // PEFT's settings file beside LoRA's weights: PeftModel.from_pretrained reads the folder.
                if let lora = adapters as? LoRAModel { try PEFTConfig.write(lora.config, baseModel: config.model, to: dir) }
            }
            try extra(dir)
        }
    }

    /// Loads the adapters' and the objective's files of a checkpoint folder written by `writeModel`.
    func loadExtras(from dir: String) throws {
        if let adapters { try adapters.load(from: dir + "/" + Self.adapterFile) }
        let path = dir + "/" + Self.objectiveFile
        guard objective.hasState else { return }
        guard FileManager.default.fileExists(atPath: path) else { throw ClipError.io("\(path): missing (the objective's heads and state)") }
        try objective.loadState(try SafeTensorsFile(path: path).tensors(), file: path)
    }

    /// What the optimizer updates, by checkpoint key: the model's trainable parameters, the heads'
    /// (`image_head.*`, `text_head.*`) and the adapters'.
    var optimizedParameters: [(key: String, variable: Variable)] {
        model.namedParameters().filter { $0.variable.requiresGrad } + objective.namedParameters()
            + (adapters?.namedParameters() ?? [])
    }

    /// `last/`: the model plus `trainer_state.safetensors` (AdamW moments and the position).
    public func saveLast() throws {
        let state = TrainingState(epoch: epoch, batch: batchInEpoch, updates: step.updates)
            .entries(step.optimizer, named: optimizedParameters, extra: ["best_score": String(bestScore),
                                                                          NonFiniteSteps.metadataKey: String(nonFinite.skipped)])
        try writeModel(to: config.outputDir + "/last") { dir in
            try SafeTensors.write(state.tensors, metadata: state.metadata, to: dir + "/trainer_state.safetensors")
        }
    }

    /// Restores `output_dir/last` (weights, optimizer, position); false when there is none. With
    /// several ranks, every rank must have read the same position (one shared checkpoint), else every
    /// rank throws.
    @discardableResult
    public func resume() throws -> Bool {
        let resumed = try readLastCheckpoint()
        try communicator.requireSame([epoch, batchInEpoch, step.updates], "the position to resume from (epoch, batch, update)")
        return resumed
    }

    private func readLastCheckpoint() throws -> Bool {
        let dir = config.outputDir + "/last"
        let statePath = dir + "/trainer_state.safetensors"
        guard FileManager.default.fileExists(atPath: statePath) else { return false }
        let file = try SafeTensorsFile(path: statePath)
        let (state, _) = try TrainingState.read(file, path: statePath, into: step.optimizer, named: optimizedParameters)
        // The mapping is private: updates stay in memory, and a later checkpoint replacing the file
        // leaves it valid.
        try model.load(try Checkpoint(path: dir + "/model.safetensors"))
        try loadExtras(from: dir)
        (epoch, batchInEpoch) = (state.epoch, state.batch)
        step.restore(updates: state.updates)
        bestScore = file.metadata["best_score"].flatMap(Double.init) ?? -Double.infinity
        nonFinite.skipped = file.metadata[NonFiniteSteps.metadataKey].flatMap(Int.init) ?? 0
        return true
    }

    /// Evaluates the best checkpoint (or the current model when no validation ran) on the test split
    /// and writes `test_metric.json`.
    @discardableResult
    public func writeTestMetrics() throws -> RetrievalMetrics? {
        let best = config.outputDir + "/best"
        var evalPipeline = pipeline
        if FileManager.default.fileExists(atPath: best + "/model.safetensors") {
            if adapters == nil && !objective.hasState {
                evalPipeline = try ImageTextPipeline(directory: best)
            } else {
                // The trainer's own model takes the best weights, adapters and heads.
                try model.load(try Checkpoint(path: best + "/model.safetensors"))
                try loadExtras(from: best)
            }
        }
        guard let data = try dataset(split: config.testSplit, requireSplit: true) else { return nil }
        let m = try Self.evaluate(pipeline: evalPipeline, dataset: data, batchSize: config.evalBs, heads: retrievalHeads)
        try AtomicFile.write(try m.json() + "\n", to: config.outputDir + "/test_metric.json")
        return m
    }
}
