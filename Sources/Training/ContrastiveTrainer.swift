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

/// One optimisation step's machinery, shared by the trainer and the parity tests: forward and
/// backward of a batch, and the update (clipping, schedule, AdamW, temperature clamp).
public final class ContrastiveStep {
    public let model: any PromptGuidedModel
    public let optimizer: AdamW
    public let schedule: any LearningRateSchedule
    public let maxGradNorm: Float
    let trainable: [Variable]
    public private(set) var updates = 0

    /// AdamW over the model's trainable parameters, biases / norms / temperature without weight decay.
    public init(model: any PromptGuidedModel, lr: Float, weightDecay: Float, schedule: any LearningRateSchedule,
                maxGradNorm: Float) {
        self.model = model
        self.schedule = schedule
        self.maxGradNorm = maxGradNorm
        optimizer = AdamW(ParameterGroup.decaySplit(model, weightDecay: weightDecay), learningRate: lr)
        trainable = model.parameters.filter(\.requiresGrad)
    }

    /// Forward and backward of one batch (gradients accumulate, scaled by `scale`); returns the loss.
    public func lossAndBackward(_ batch: TokenizedBatch, pixels: Tensor, scale: Float = 1) throws -> Float {
        let t = try model.textFeatures(batch.ids, attentionMask: batch.attentionMask).l2Normalized()
        let i = try model.imageFeatures(Variable(pixels)).l2Normalized()
        let loss = model.pairLoss(textEmbeds: t, imageEmbeds: i)
        (loss * scale).backward()
        return loss.value.item
    }

    /// Clips, sets the scheduled rate, steps AdamW, clears gradients and clamps the temperature to the
    /// model's `logitScaleRange` (CLIP: [0, ln 100], as open_clip does). Returns the gradient norm before clipping.
    @discardableResult
    public func update() -> Float {
        let norm = maxGradNorm > 0 ? clipGradientNorm(trainable, maxNorm: maxGradNorm) : 0
        optimizer.learningRate = schedule.rate(at: updates)
        optimizer.step()
        optimizer.zeroGrad()
        if let range = model.logitScaleRange {
            let v = model.logitScale.value.item
            let clamped = min(max(v, range.lowerBound), range.upperBound)
            if clamped != v { model.logitScale.assign(Tensor.full(model.logitScale.shape, clamped)) }
        }
        updates += 1
        return norm
    }

    /// Restores the update counter (the schedule position) after a resume.
    public func restore(updates: Int) { self.updates = updates }
}

/// Trains a CLIP or SigLIP model on an image–text dataset (see `ContrastiveConfig`).
///
/// Epoch `e` visits the training images in an order drawn from `seed + e`, each with one of its
/// captions drawn from the same stream, in batches of `train_bs`; `grad_accum` batches make an
/// update. The output folder gets `train_log.jsonl`, `epoch_{N}/` every `save_every` epochs, `best/`
/// (highest validation mean recall), `last/` (with `trainer_state.safetensors`, written every
/// `checkpointEvery` updates and at each epoch's end) and `test_metric.json` at the end; every
/// checkpoint is a model folder in HF layout written as a whole.
public final class ContrastiveTrainer {
    public let config: ContrastiveConfig
    public let model: any PromptGuidedModel
    public let pipeline: ImageTextPipeline
    public let step: ContrastiveStep
    public let tokenizerSource: String?
    /// The training split, as read.
    public let train: ImageTextDataset
    let trainPixels: [Tensor]
    /// Optimizer updates in one epoch.
    public let updatesPerEpoch: Int
    public private(set) var epoch = 0
    public private(set) var batchInEpoch = 0
    public private(set) var bestScore = -Double.infinity
    public var checkpointEvery = 100
    /// Validation metrics by epoch (1-based), as they were computed.
    public private(set) var history: [(epoch: Int, metrics: RetrievalMetrics)] = []

    /// Builds the model (a preset, or a folder to fine-tune), applies the locks, decodes and
    /// preprocesses the training images once.
    /// - Throws: `ClipError` naming the problem.
    public init(config: ContrastiveConfig) throws {
        try config.validate()
        self.config = config
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
        train = try ImageTextDataset(config.dataset, options: config.sourceOptions(split: config.trainSplit),
                                     maxItems: config.maxTrainExamples)
        guard train.items.count >= 2 else { throw ClipError.invalidArgument("\(train.source): need at least two training images") }
        let processor = pipeline.processor
        trainPixels = try train.items.map { try processor(try $0.decode()) }
        // As many batches as `batches(epoch:)` makes: full ones, plus a last one of at least two.
        let batches = train.items.count / config.trainBs + (train.items.count % config.trainBs >= 2 ? 1 : 0)
        updatesPerEpoch = (batches + config.gradAccum - 1) / config.gradAccum
        let (total, overflow) = updatesPerEpoch.multipliedReportingOverflow(by: config.epochs)
        guard !overflow else { throw ClipError.invalidArgument("epochs \(config.epochs) × \(updatesPerEpoch) updates per epoch is too many steps") }
        let warmup = min(Int((config.warmupRatio * Double(total)).rounded()), total)
        step = ContrastiveStep(model: model, lr: Float(config.lr), weightDecay: Float(config.weightDecay),
                               schedule: WarmupCosineSchedule(base: Float(config.lr), warmupSteps: warmup, totalSteps: total),
                               maxGradNorm: Float(config.maxGradNorm))
    }

    /// Freezes the locked towers (all of a tower, or all but its last N encoder layers and its head),
    /// where the model's family says the towers' keys are.
    static func applyLocks(_ model: any PromptGuidedModel, _ config: ContrastiveConfig) {
        let keys = model.namedParameters().map(\.key)
        var frozen = Set<String>()
        if config.lockImage { frozen.formUnion(model.family.imageTower.lockedKeys(in: keys, unlockedLayers: config.lockImageUnlockedLayers)) }
        if config.lockText { frozen.formUnion(model.family.textTower.lockedKeys(in: keys, unlockedLayers: config.lockTextUnlockedLayers)) }
        model.freeze(where: { frozen.contains($0) })
    }

    /// The batches of `epoch`: (image index, caption index) lists.
    public func batches(epoch: Int) -> [[(image: Int, caption: Int)]] {
        var rng = RandomGenerator(seed: UInt64(truncatingIfNeeded: config.seed) &* 0x100_0000_01B3 &+ UInt64(epoch) &+ 1)
        var order = Array(0..<train.items.count)
        rng.shuffle(&order)
        let picks = order.map { (image: $0, caption: rng.nextInt(below: train.items[$0].captions.count)) }
        return stride(from: 0, to: picks.count, by: config.trainBs).map { Array(picks[$0..<min($0 + config.trainBs, picks.count)]) }
            .filter { $0.count >= 2 }
    }

    /// Trains to the end (or until `stopAfterUpdates` updates, for interruption tests), calling `onEvent`
    /// with each update and validation.
    public func run(stopAfterUpdates: Int? = nil, onEvent: (TrainingEvent) throws -> Void = { _ in }) throws {
        let out = config.outputDir
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        ModelFolder.removeStaleTemporaries(in: out)
        let accumulation = config.gradAccum
        while epoch < config.epochs {
            let all = batches(epoch: epoch)
            var pending = 0, lossSum: Float = 0
            model.train()
            while batchInEpoch < all.count {
                if let stop = stopAfterUpdates, step.updates >= stop { return }
                let b = all[batchInEpoch]
                let texts = b.map { train.items[$0.image].captions[$0.caption] }
                let pixels = Tensor.stack(b.map { trainPixels[$0.image] }, axis: 0)
                lossSum += try step.lossAndBackward(pipeline.tokenize(texts), pixels: pixels, scale: 1 / Float(accumulation))
                batchInEpoch += 1
                pending += 1
                if pending == accumulation || batchInEpoch == all.count {
                    if pending < accumulation { scaleGradients(step.trainable, by: Float(accumulation) / Float(pending)) }
                    let lr = step.schedule.rate(at: step.updates)
                    let norm = step.update()
                    try onEvent(.update(TrainingUpdate(epoch: epoch + 1, update: step.updates, loss: lossSum / Float(pending),
                                                       lr: lr, gradNorm: norm, logitScale: temperature)))
                    pending = 0
                    lossSum = 0
                    if step.updates % max(checkpointEvery, 1) == 0 && batchInEpoch < all.count { try saveLast() }
                }
            }
            epoch += 1
            batchInEpoch = 0
            model.eval()
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
        return try Self.evaluate(pipeline: pipeline, dataset: data, batchSize: config.evalBs)
    }

    /// The records of `split`; nil when it has none, or (with `requireSplit`) when the dataset has no
    /// such split and would be read whole.
    private func dataset(split: String, requireSplit: Bool) throws -> ImageTextDataset? {
        let options = config.sourceOptions(split: split)
        if requireSplit, !ImageTextSourceFactory.hasSplit(config.dataset, options: options) { return nil }
        let data = try ImageTextDataset(config.dataset, options: options)
        return data.items.isEmpty ? nil : data
    }

    /// Encodes a dataset's images and captions and scores text→image and image→text retrieval.
    public static func evaluate(pipeline: ImageTextPipeline, dataset: ImageTextDataset, batchSize: Int = 128) throws -> RetrievalMetrics {
        let images = try dataset.items.map { try $0.decode() }
        let pairs = dataset.pairs
        let imageEmb = try pipeline.encode(images: images, batchSize: batchSize)
        let textEmb = try pipeline.encode(texts: pairs.map(\.caption), batchSize: batchSize)
        return try RetrievalEvaluator.metrics(texts: textEmb, images: imageEmb, imageOfText: pairs.map(\.image))
    }

    /// Writes the model as an HF folder.
    public func writeModel(to directory: String, extra: (String) throws -> Void = { _ in }) throws {
        try ModelFolder.write(model, processor: pipeline.processor.config, tokenizerSource: tokenizerSource,
                              to: directory, extra: extra)
    }

    /// `last/`: the model plus `trainer_state.safetensors` (AdamW moments and the position).
    public func saveLast() throws {
        let named = model.namedParameters().filter { $0.variable.requiresGrad }
        let state = TrainingState(epoch: epoch, batch: batchInEpoch, updates: step.updates)
            .entries(step.optimizer, named: named, extra: ["best_score": String(bestScore)])
        try writeModel(to: config.outputDir + "/last") { dir in
            try SafeTensors.write(state.tensors, metadata: state.metadata, to: dir + "/trainer_state.safetensors")
        }
    }

    /// Restores `output_dir/last` (weights, optimizer, position); false when there is none.
    @discardableResult
    public func resume() throws -> Bool {
        let dir = config.outputDir + "/last"
        let statePath = dir + "/trainer_state.safetensors"
        guard FileManager.default.fileExists(atPath: statePath) else { return false }
        let file = try SafeTensorsFile(path: statePath)
        let (state, _) = try TrainingState.read(file, path: statePath, into: step.optimizer,
                                                named: model.namedParameters().filter { $0.variable.requiresGrad })
        // The mapping is private: updates stay in memory, and a later checkpoint replacing the file
        // leaves it valid.
        try model.load(try Checkpoint(path: dir + "/model.safetensors"))
        (epoch, batchInEpoch) = (state.epoch, state.batch)
        step.restore(updates: state.updates)
        bestScore = file.metadata["best_score"].flatMap(Double.init) ?? -Double.infinity
        return true
    }

    /// Evaluates the best checkpoint (or the current model when no validation ran) on the test split
    /// and writes `test_metric.json`.
    @discardableResult
    public func writeTestMetrics() throws -> RetrievalMetrics? {
        let best = config.outputDir + "/best"
        let evalPipeline = FileManager.default.fileExists(atPath: best + "/model.safetensors")
            ? try ImageTextPipeline(directory: best) : pipeline
        guard let data = try dataset(split: config.testSplit, requireSplit: true) else { return nil }
        let m = try Self.evaluate(pipeline: evalPipeline, dataset: data, batchSize: config.evalBs)
        try AtomicFile.write(try m.json() + "\n", to: config.outputDir + "/test_metric.json")
        return m
    }
}
