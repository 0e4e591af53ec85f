// ELIP mapper training on a frozen CLIP or SigLIP: batches from global
// text→image hard mining, ELIP's query objective (or the pairs objective),
// AdamW, gradient accumulation, atomic checkpoints that resume exactly.

import Foundation
import Tensor
import Autograd
import NN
import Models
import Search
import Datasets
import ClipDistributed

/// Trains an `ELIPMapper` for a loaded model folder on an image–text dataset.
///
/// Per epoch `e` the batches are `HardNegativeMiner.batches(seed: seed + e)` over the neighbours mined
/// once from the frozen model's base embeddings (`hardmine_subset` pairs, k = batch size), in an order
/// shuffled from the seed and the epoch; or, with `batches:` (the official batch CSV), the file's rows
/// in consecutive batches of `batch_size`, in file order, the last partial batch dropped, every epoch. With the `query` objective no batch shows an image twice, and
/// each batch is `ELIPObjective.queryLossAndBackward` (B × B guided encodes, `query_chunk` queries at a
/// time); with `pairs` it is one forward/backward of `ELIPObjective.loss`. Every `grad_accum_steps`
/// batches the averaged gradients update the mapper, with the official recipe's optimizer: AdamW
/// (`beta1`, `beta2`, `eps`), weight decay on the weight matrices only (open_clip's groups), and the
/// learning rate from `lr_scheduler` with `warmup` updates. Sigmoid models (ELIP-S) use `sigmoid_bias`
/// in the query loss and dropout on the prompts (`prompt_dropout`). A checkpoint (`checkpoint_last.safetensors`:
/// mapper, AdamW moments, position, objective, the epoch's running mean loss) is written atomically
/// every `checkpointEvery` updates and at each epoch's end, with `mapper_epoch{N}.safetensors` and
/// `mapper_last.safetensors`; `resume()` continues from it exactly.
///
/// Data parallel (`mpirun -np N clip elip train`, docs/DISTRIBUTED.md): every rank draws the same
/// global batches and takes its contiguous part of each; the text features are gathered so the query
/// objective's batch is global, each rank encodes its own images under every query's prompts, the
/// score columns are gathered with their gradient, and the mapper's gradients are averaged before
/// each update. The base embeddings of mining are encoded in parts by the ranks and gathered.
/// Rank 0 alone writes checkpoints and mappers.
public final class ELIPTrainer {
    public let config: ELIPConfig
    public let pipeline: ImageTextPipeline
    public let model: any PromptGuidedModel
    public let mapper: ELIPMapper
    public let optimizer: AdamW
    /// The learning rate per update (`lr_scheduler`, `warmup`, over every update of the run).
    public private(set) var schedule: any LearningRateSchedule = ConstantSchedule(0)
    /// Dropout on the generated prompts in training; nil when the resolved `prompt_dropout` is 0.
    let promptDropout: Dropout?
    /// The bias of the sigmoid query loss (ELIP-S's fixed −10); nil for InfoNCE models.
    let sigmoidBias: Float?
    public let captions: [String]
    /// The dataset's images by index, as they are loaded.
    public let images: [ImageRef]
    /// The dataset's images by index: paths, or `shard.tar:key.jpg` names of tar members.
    public var imagePaths: [String] { images.map(\.name) }
    public let imageOfCaption: [Int]
    /// Preprocessed images kept across epochs (`pixel_cache_mb`).
    package let pixelCache: PixelCache
    /// Normalised caption embeddings of the frozen model `[pairs, d]`.
    public let textEmbeds: Tensor
    /// The miner and its neighbours; nil when batches come from the official batch file.
    let mined: (miner: HardNegativeMiner, neighbours: HardNeighbours)?
    /// The official batch file's batches (row indices), replayed in order every epoch.
    let fixedBatches: [[Int]]?
    public private(set) var epoch = 0
    public private(set) var batchInEpoch = 0
    public private(set) var updates = 0
    /// Sum and count of the batch losses of the current epoch so far (kept in checkpoints).
    private var epochLoss: (sum: Double, batches: Int) = (0, 0)
    public var checkpointEvery = 50
    /// Updates skipped so far because their loss or a gradient was not finite (`skip_nonfinite`).
    public var skippedNonFinite: Int { nonFinite.skipped }
    var nonFinite: NonFiniteSteps
    /// The seed of the prompt dropout's masks; each batch draws from its own stream (`dropoutSeed`).
    private let dropoutSeed: UInt64
    /// The ranks the global batches are split over.
    public let communicator: any Communicator

    /// With `config.batches` set, the training rows come from that file (`ELIPTrainer.readBatchFile`)
    /// and `dataset` is not used; pass nil then.
    /// - Throws: `ClipError` for an unusable model, dataset or batch file.
    public init(config: ELIPConfig, pipeline: ImageTextPipeline, dataset: ImageTextDataset?,
                communicator: any Communicator = SingleProcess()) throws {
        try pipeline.requireImageTower()
        self.communicator = communicator
        guard config.batchSize >= communicator.size else {
            throw ClipError.invalidArgument("batch_size \(config.batchSize) is the global batch: it must be at least the \(communicator.size) ranks")
        }
        let guided = pipeline.model
        if let size = config.imgSize, size != guided.imageSize {
            throw ClipError.invalidArgument("img_size \(size) does not match the model's image size \(guided.imageSize) (\(pipeline.directory)/config.json); leave the key out to use the model's")
        }
        self.config = config
        nonFinite = NonFiniteSteps(allowance: config.skipNonfinite)
        self.pipeline = pipeline
        model = guided
        model.freeze()
        let refs: [ImageRef]
        var rows: RowOrderedPairs?
        if let file = config.batches {
            let read = try Self.readBatchFile(config)
            guard read.captions.count >= config.batchSize, read.captions.count >= 2 else {
                throw ClipError.invalidArgument("\(file): \(read.captions.count) rows make no batch of batch_size \(config.batchSize)")
            }
            (captions, imageOfCaption, refs, rows) = (read.captions, read.imageOfRow, read.images, read)
        } else {
            guard let dataset else { throw ClipError.invalidArgument("ELIP training: no dataset and no batches file") }
            var pairs = dataset.pairs
            if let m = config.maxTrainExamples { pairs = Array(pairs.prefix(m)) }
            guard pairs.count >= 2 else { throw ClipError.invalidArgument("\(dataset.source): need at least two caption–image pairs") }
            captions = pairs.map(\.caption)
            imageOfCaption = pairs.map(\.image)
            refs = dataset.items.map(\.ref)
        }
        images = refs
        let seed = UInt64(truncatingIfNeeded: config.seed)
        let (textDim, visionDim) = (guided.embeddingDim, guided.visionWidth)
        let (hidden, tokens) = (config.resolvedMapperHidden, config.promptTokens)
        try ELIPMapper.checkSizes(textDim: textDim, hidden: hidden, promptTokens: tokens, visionDim: visionDim,
                                  source: "mapper_hidden / prompt_tokens")
        mapper = ParameterInitialization.seeded(seed) {
            ELIPMapper(textDim: textDim, hidden: hidden, promptTokens: tokens, visionDim: visionDim)
        }
        try mapper.checkFits(model: guided)
        optimizer = AdamW(ParameterGroup.decaySplit(mapper, weightDecay: Float(config.weightDecay),
                                                    noDecay: ParameterGroup.openCLIPNoDecay),
                          learningRate: Float(config.lr), beta1: Float(config.beta1), beta2: Float(config.beta2),
                          eps: Float(config.eps))
        let dropout = config.resolvedPromptDropout(sigmoid: guided.usesSigmoidLoss)
        dropoutSeed = seed ^ 0xD50F_0000_0000_0001
        promptDropout = dropout > 0 ? Dropout(Float(dropout), seed: dropoutSeed) : nil
        sigmoidBias = guided.usesSigmoidLoss ? Float(config.sigmoidBias) : nil
        textEmbeds = try pipeline.encode(texts: captions)
        pixelCache = PixelCache(budgetMB: config.pixelCacheMB)
        if let rows {
            fixedBatches = rows.batches(size: config.batchSize)
            mined = nil
        } else {
            fixedBatches = nil
            mined = try Self.mine(config: config, pipeline: pipeline, refs: refs, imageOfCaption: imageOfCaption,
                                  textEmbeds: textEmbeds, cache: pixelCache, communicator: communicator)
        }
        let total = updatesPerEpoch * config.epochs
        switch config.lrScheduler {
        case .cosine: schedule = WarmupCosineSchedule(base: Float(config.lr), warmupSteps: config.warmup, totalSteps: total)
        case .const: schedule = WarmupConstantSchedule(base: Float(config.lr), warmupSteps: config.warmup)
        }
    }

    /// The official batch file of `config` (`batches`, `batches_sep`, `batches_img_key`,
    /// `batches_caption_key`), rows in file order; relative image paths are relative to the file's folder.
    /// - Throws: `ClipError` naming the file and line of bad input.
    public static func readBatchFile(_ config: ELIPConfig) throws -> RowOrderedPairs {
        guard let file = config.batches else { throw ClipError.invalidArgument("batches: no batch file given") }
        let sep = try ImageTextSourceOptions.separator(config.batchesSeparator, what: "batches_sep")
        return try RowOrderedPairs(source: CSVSource(path: file, imageColumn: config.batchesImageKey,
                                                     textColumn: config.batchesCaptionKey, separator: sep))
    }

    /// Mines text → image neighbours once from the frozen model's base image embeddings, over the first
    /// `hardmine_subset` pairs (k = batch size).
    private static func mine(config: ELIPConfig, pipeline: ImageTextPipeline, refs: [ImageRef], imageOfCaption: [Int],
                             textEmbeds: Tensor, cache: PixelCache,
                             communicator: any Communicator) throws -> (miner: HardNegativeMiner, neighbours: HardNeighbours) {
        let usedImages = Array(Set(imageOfCaption)).sorted()
        let processor = pipeline.processor
        // Chunks of 32 images; with several ranks each encodes a contiguous run of whole chunks (the
        // same chunks, so the same numbers, as one process) and the rows are gathered in order.
        let starts = Array(stride(from: 0, to: usedImages.count, by: 32))
        let (r, n) = (communicator.rank, communicator.size)
        let mine = starts[(r * starts.count / n)..<((r + 1) * starts.count / n)]
        let encoded = try mine.map { start in
            let chunk = Array(usedImages[start..<min(start + 32, usedImages.count)])
            return try pipeline.encode(pixels: chunk.map { i in try cache.pixels(i) { try processor(try refs[i].decode()) } })
        }
        var baseImages = encoded.isEmpty ? Tensor.zeros([0, textEmbeds.shape[1]]) : Tensor.concat(encoded, axis: 0)
        if n > 1 { baseImages = try communicator.allgatherRows(baseImages).rows }
        var row = [Int](repeating: 0, count: refs.count)
        for (r, i) in usedImages.enumerated() { row[i] = r }
        let pairs = imageOfCaption.count
        let miner = try HardNegativeMiner(imageOfText: imageOfCaption.map { row[$0] }, imageCount: usedImages.count)
        let subset = min(config.hardmineSubset ?? pairs, pairs)
        let k = max(1, min(config.batchSize, usedImages.count - 1))
        let neighbours = subset == pairs
            ? try miner.mine(texts: textEmbeds, over: .exact(baseImages), k: k)
            : try minePrefix(miner, textEmbeds, baseImages, k: k, subset: subset)
        return (miner, neighbours)
    }

    /// The configuration this trainer uses, every model- and data-dependent default filled in.
    public var resolvedConfig: ELIPConfig { config.resolved(for: model, pairs: captions.count) }

    private static func minePrefix(_ miner: HardNegativeMiner, _ texts: Tensor, _ images: Tensor, k: Int, subset: Int) throws -> HardNeighbours {
        let head = try HardNegativeMiner(imageOfText: Array(miner.imageOfText.prefix(subset)), imageCount: miner.imageCount)
        let mined = try head.mine(texts: texts.narrowed(0, start: 0, length: subset), over: .exact(images), k: k)
        return HardNeighbours(k: k, images: mined.images + [Int64](repeating: -1, count: (texts.shape[0] - subset) * k))
    }

    /// The batches (pair indices) of `epoch`.
    public func batches(epoch: Int) -> [[Int]] {
        if let fixedBatches { return fixedBatches }
        guard let (miner, neighbours) = mined else { return [] }
        let seed = UInt64(truncatingIfNeeded: config.seed) &+ UInt64(epoch)
        var all = miner.batches(neighbours, batchSize: config.batchSize, seed: seed, distinctImages: config.objective == .query)
        var g = RandomGenerator(seed: seed ^ 0x5EED_BA7C_4E50_0000)
        g.shuffle(&all)
        return all
    }

    /// Optimizer updates in one epoch (every epoch has as many batches).
    public var updatesPerEpoch: Int {
        let accumulation = max(1, config.gradAccumSteps)
        return (batches(epoch: 0).count + accumulation - 1) / accumulation
    }

    /// One forward/backward on a batch of pairs; returns its loss (gradients accumulate).
    func lossAndBackward(_ pairs: [Int], scale: Float) throws -> Float {
        if communicator.size > 1 { return try gatheredLossAndBackward(pairs, scale: scale) }
        let pixels = try pixelCache.batch(pairs.map { imageOfCaption[$0] }) { try pipeline.processor(try images[$0].decode()) }
        let texts = textEmbeds.indexSelect(axis: 0, pairs)
        switch config.objective {
        case .query:
            return try ELIPObjective.queryLossAndBackward(model: model, mapper: mapper, textEmbeds: texts, pixels: pixels,
                                                          queryChunk: config.queryChunk, gradientScale: scale,
                                                          fixedBias: sigmoidBias, promptDropout: promptDropout)
        case .pairs:
            let loss = try ELIPObjective.loss(model: model, mapper: mapper, textEmbeds: texts, pixels: pixels)
            (loss * scale).backward()
            return loss.value.item
        }
    }

    /// Trains to the end of `config.epochs` (or until `stopAfterUpdates` updates, for interruption tests),
    /// calling `onEvent` with each update (`loss`: the mean over its batches) and at each epoch's end
    /// (the mean loss over the epoch's batches).
    public func run(stopAfterUpdates: Int? = nil, onEvent: (TrainingEvent) throws -> Void = { _ in }) throws {
        let accumulation = max(1, config.gradAccumSteps)
        let root = communicator.isRoot
        if root {
            // Rank 0 owns the output folder.
            try FileManager.default.createDirectory(atPath: config.outputRoot, withIntermediateDirectories: true)
            ModelFolder.removeStaleTemporaries(in: config.outputRoot)
        }
        while epoch < config.epochs {
            let all = batches(epoch: epoch)
            var pending = 0, lossSum: Float = 0, batchLosses: [Float] = []
            while batchInEpoch < all.count {
                if let stop = stopAfterUpdates, updates >= stop { return }
                // The masks of a batch depend on its place in the run only, so a resumed run draws the
                // masks an uninterrupted one draws.
                promptDropout?.reseed(dropoutSeed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(batchInEpoch) &* 0xBF58_476D_1CE4_E5B9)
                let batchLoss = try lossAndBackward(all[batchInEpoch], scale: 1 / Float(accumulation))
                lossSum += batchLoss
                batchLosses.append(batchLoss)
                batchInEpoch += 1
                pending += 1
                if pending == accumulation || batchInEpoch == all.count {
                    try communicator.allreduceGradients(mapper.parameters, op: .mean)
                    if let reason = try nonFinite.check(loss: lossSum, parameters: mapper.namedParameters(), update: updates + 1,
                                                        epoch: epoch + 1, checkpoint: config.outputRoot + "/checkpoint_last.safetensors") {
                        optimizer.zeroGrad()
                        try onEvent(.skipped(epoch: epoch, update: updates + 1, reason: reason, count: nonFinite.skipped))
                        (pending, lossSum, batchLosses) = (0, 0, [])
                        continue
                    }
                    for l in batchLosses { epochLoss = (epochLoss.sum + Double(l), epochLoss.batches + 1) }
                    batchLosses = []
                    if pending < accumulation { scaleGradients(mapper.parameters, by: Float(accumulation) / Float(pending)) }
                    optimizer.learningRate = schedule.rate(at: updates)
                    optimizer.step()
                    optimizer.zeroGrad()
                    updates += 1
                    try onEvent(.update(TrainingUpdate(epoch: epoch, update: updates, loss: lossSum / Float(pending))))
                    pending = 0
                    lossSum = 0
                    if updates % max(checkpointEvery, 1) == 0 && root { try saveCheckpoint() }
                }
            }
            try onEvent(.epochEnd(epoch: epoch, meanLoss: epochLoss.sum / Double(max(epochLoss.batches, 1))))
            epoch += 1
            batchInEpoch = 0
            epochLoss = (0, 0)
            guard root else { continue }
            try mapper.saveMapper(to: config.outputRoot + "/mapper_epoch\(epoch).safetensors")
            try saveCheckpoint()
        }
    }

    /// Writes `checkpoint_last.safetensors` (mapper, optimizer, position) and `mapper_last.safetensors`.
    public func saveCheckpoint() throws {
        let state = TrainingState(epoch: epoch, batch: batchInEpoch, updates: updates)
            .entries(optimizer, named: mapper.namedParameters(),
                     extra: ["prompt_tokens": String(mapper.promptTokens), "hidden": String(mapper.hidden),
                            "objective": config.objective.rawValue,
                            "epoch_loss_sum": String(epochLoss.sum), "epoch_loss_batches": String(epochLoss.batches),
                            NonFiniteSteps.metadataKey: String(nonFinite.skipped)])
        let tensors = mapper.stateDict().map { (name: $0.key, tensor: $0.tensor) } + state.tensors
        try SafeTensors.write(tensors, metadata: state.metadata, to: config.outputRoot + "/checkpoint_last.safetensors")
        try mapper.saveMapper(to: config.outputRoot + "/mapper_last.safetensors")
    }

    /// Restores the last checkpoint in `output_root`; false when there is none. With several ranks,
    /// every rank must have read the same position (one shared checkpoint), else every rank throws.
    @discardableResult
    public func resume() throws -> Bool {
        let resumed = try readLastCheckpoint()
        try communicator.requireSame([epoch, batchInEpoch, updates], "the position to resume from (epoch, batch, update)")
        return resumed
    }

    private func readLastCheckpoint() throws -> Bool {
        let path = config.outputRoot + "/checkpoint_last.safetensors"
        guard FileManager.default.fileExists(atPath: path) else { return false }
        let file = try SafeTensorsFile(path: path)
        if let o = file.metadata["objective"], o != config.objective.rawValue {
            throw ClipError.invalidArgument("\(path): the checkpoint was trained with objective '\(o)', the config asks for '\(config.objective.rawValue)'")
        }
        let (state, all) = try TrainingState.read(file, path: path, into: optimizer, named: mapper.namedParameters())
        try mapper.load(all.filter { $0.key.hasPrefix("mapper.") }.mapValues { $0 + Tensor.zeros($0.shape) })
        (epoch, batchInEpoch, updates) = (state.epoch, state.batch, state.updates)
        epochLoss = (file.metadata["epoch_loss_sum"].flatMap(Double.init) ?? 0, file.metadata["epoch_loss_batches"].flatMap(Int.init) ?? 0)
        nonFinite.skipped = file.metadata[NonFiniteSteps.metadataKey].flatMap(Int.init) ?? 0
        return true
    }
}
