// Training projection heads on pre-encoded pairs (seed 002's train.py): shuffled caption batches with
// their images, AdamW, validation loss and retrieval every epoch, early stopping with patience,
// best_model.safetensors, loss_history.json, training_curves.png, and a checkpoint every epoch from
// which a killed run resumes.

import Foundation
import Tensor
import Autograd
import NN
import Search
import Heads
import Plots

/// Per-epoch losses and validation retrieval (`loss_history.json`).
public struct HeadsHistory: Codable, Equatable, Sendable {
    public var trainLoss: [Double] = []
    public var valLoss: [Double] = []
    /// Mean of image→text and text→image R@1 on validation (percent).
    public var valR1: [Double] = []
    public var bestEpoch = 0
    public var earlyStopping = "val_loss"
    public var stoppedEarly = false
    public var finished = false

    enum CodingKeys: String, CodingKey {
        case trainLoss = "train_loss", valLoss = "val_loss", valR1 = "val_r1", bestEpoch = "best_epoch"
        case earlyStopping = "early_stopping", stoppedEarly = "stopped_early", finished
    }

    public init() {}

    /// The early-stopping metric of epoch `e` (1-based), oriented so that lower is better.
    func score(_ e: Int) -> Double { earlyStopping == "val_loss" ? valLoss[e - 1] : -valR1[e - 1] }

    /// The best epoch's validation R@1 (0 before any epoch).
    public var bestValR1: Double { bestEpoch > 0 ? valR1[bestEpoch - 1] : 0 }
}

/// One finished epoch.
public struct HeadsEpochReport: Sendable {
    public var epoch: Int
    public var trainLoss: Double
    public var valLoss: Double
    public var valR1: Double
    public var improved: Bool
    public var seconds: Double
}

/// Trains the heads of a `HeadsRunConfig` on the training (or tuning) captions of a split.
public final class HeadsTrainer {
    public let config: HeadsRunConfig
    public let data: HeadsData
    public let split: HeadsSplit
    public let heads: ProjectionHeads
    public let objective: HeadsObjective
    let optimizer: AdamW
    let named: [(key: String, variable: Variable)]
    public private(set) var history = HeadsHistory()

    public static let bestModelFile = "best_model.safetensors"
    public static let checkpointFile = "checkpoint.safetensors"
    public static let historyFile = "loss_history.json"
    public static let curvesFile = "training_curves.png"

    public var outputDir: String { config.outputDir }

    /// Builds the heads for the data's dimensions (seeded by `training.seed`).
    public init(config: HeadsRunConfig, data: HeadsData, split: HeadsSplit) throws {
        try config.validate()
        self.config = config
        self.data = data
        self.split = split
        heads = try ProjectionHeads(config: try config.heads(), imageDim: data.imageDim, textDim: data.textDim,
                                    seed: UInt64(truncatingIfNeeded: config.training.seed))
        objective = try HeadsObjective(heads: heads, loss: try config.lossConfig())
        named = heads.trainableParameters
        let decay = named.filter { $0.variable.value.rank >= 2 }.map(\.variable)
        let noDecay = named.filter { $0.variable.value.rank < 2 }.map(\.variable)
        optimizer = AdamW([ParameterGroup(decay, weightDecay: Float(config.training.weightDecay)),
                           ParameterGroup(noDecay, weightDecay: 0)],
                          learningRate: Float(config.training.learningRate))
        history.earlyStopping = config.training.earlyStopping
    }

    /// The caption rows trained on.
    public var trainingRows: [Int] { config.training.useTuningSubset ? split.tuning.captionRows : split.train.captionRows }

    // MARK: - Running

    /// Trains until `num_epochs` or early stopping, resuming from the output folder's checkpoint when
    /// `resume` and one exists (a finished run returns its history at once). `onEpoch` sees every epoch
    /// and may throw to stop (a pruned tuning trial): the checkpoint of that epoch is kept.
    @discardableResult
    public func run(resume: Bool = true, onEpoch: (HeadsEpochReport) throws -> Void = { _ in }) throws -> HeadsHistory {
        try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
        let ckpt = outputDir + "/" + Self.checkpointFile
        var badEpochs = 0
        if resume, FileManager.default.fileExists(atPath: ckpt) {
            badEpochs = try restore(ckpt)
            if history.finished { return history }
        }
        let rows = trainingRows
        guard rows.count >= 2 else {
            throw ClipError.invalidArgument("heads: \(rows.count) training captions; a contrastive loss needs at least 2")
        }
        let valRows = split.val.captionRows
        guard !valRows.isEmpty else { throw ClipError.invalidArgument("heads: the validation split holds no caption (split.val_images)") }
        let bs = config.training.batchSize
        var epoch = history.trainLoss.count
        while epoch < config.training.numEpochs {
            epoch += 1
            let start = Date()
            var order = rows
            var rng = RandomGenerator(seed: UInt64(truncatingIfNeeded: config.training.seed) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(epoch))
            rng.shuffle(&order)
            // Dropout masks from a stream of this epoch's own: a resumed epoch draws what it drew before.
            for (i, m) in heads.namedModules().enumerated() {
                (m.module as? Dropout)?.reseed(rng.nextUInt64() ^ UInt64(i))
            }
            heads.train(true)
            var sum = 0.0, batches = 0
            for b in stride(from: 0, to: order.count, by: bs) {
                let idx = Array(order[b..<min(b + bs, order.count)])
                guard idx.count >= 2 else { continue }
                let (images, texts) = batch(idx)
                let loss = objective.loss(images: images, texts: texts)
                let value = Double(loss.value.item)
                loss.backward()
                // A non-finite loss, or the first parameter whose gradient is not finite, stops the run.
                if let problem = NonFiniteSteps.problem(loss: loss.value.item, parameters: named) {
                    throw ClipError.invalidArgument("heads: training diverged at epoch \(epoch), batch \(batches + 1): \(problem); the heads were not updated with it (\(checkpointState(ckpt))). Lower training.learning_rate, or check the embeddings")
                }
                if config.training.maxGradNorm > 0 { clipGradientNorm(named.map(\.variable), maxNorm: Float(config.training.maxGradNorm)) }
                optimizer.step()
                optimizer.zeroGrad()
                objective.afterStep()
                sum += value
                batches += 1
            }
            heads.train(false)
            let (valLoss, valR1) = try validate(valRows)
            history.trainLoss.append(sum / Double(max(batches, 1)))
            history.valLoss.append(valLoss)
            history.valR1.append(valR1)
            let improved = history.bestEpoch == 0 || history.score(epoch) < history.score(history.bestEpoch)
            if improved {
                history.bestEpoch = epoch
                badEpochs = 0
                try heads.save(to: outputDir + "/" + Self.bestModelFile, metadata: ["epoch": String(epoch),
                                                                                  "val_loss": String(valLoss), "val_r1": String(valR1)])
            } else {
                badEpochs += 1
            }
            if config.training.patience > 0, badEpochs >= config.training.patience, epoch < config.training.numEpochs {
                history.stoppedEarly = true
            }
            history.finished = history.stoppedEarly || epoch == config.training.numEpochs
            try saveCheckpoint(ckpt, badEpochs: badEpochs)
            try writeHistory()
            try onEpoch(HeadsEpochReport(epoch: epoch, trainLoss: history.trainLoss.last!, valLoss: valLoss, valR1: valR1,
                                         improved: improved, seconds: Date().timeIntervalSince(start)))
            if history.stoppedEarly { break }
        }
        return history
    }

    /// Where a stopped run resumes from: the checkpoint written at the end of every epoch.
    func checkpointState(_ ckpt: String) -> String {
        let done = history.trainLoss.count
        return done > 0 ? "\(ckpt) holds epoch \(done)" : "no epoch finished, no checkpoint was written"
    }

    /// The rows' image and text embeddings.
    func batch(_ captionRows: [Int]) -> (images: Tensor, texts: Tensor) {
        (data.images.indexSelect(axis: 0, captionRows.map { data.imageOfText[$0] }), data.texts.indexSelect(axis: 0, captionRows))
    }

    /// Validation loss (batch-size batches in caption order) and R@1 (mean of both directions).
    func validate(_ rows: [Int]) throws -> (loss: Double, r1: Double) {
        var sum = 0.0, n = 0
        let bs = config.training.batchSize
        for b in stride(from: 0, to: rows.count, by: bs) {
            let idx = Array(rows[b..<min(b + bs, rows.count)])
            guard idx.count >= 2 || n == 0 else { continue }
            let (images, texts) = batch(idx)
            sum += objective.validationLoss(images: images, texts: texts) * Double(idx.count)
            n += idx.count
        }
        let m = try HeadsEvaluation.metrics(heads: heads, data: data, part: split.val, ks: [1])
        return (sum / Double(max(n, 1)), HeadsEvaluation.meanR1(m))
    }

    // MARK: - Files

    public func writeHistory() throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(String(decoding: try enc.encode(history), as: UTF8.self) + "\n", to: outputDir + "/" + Self.historyFile)
        let epochs = history.trainLoss.indices.map { Double($0 + 1) }
        var loss = CurvePlot.Panel(title: "loss (line: train, overlay: validation)", xLabel: "epoch", yLabel: "loss",
                                   points: Array(zip(epochs, history.trainLoss)).map { (x: $0.0, y: $0.1) })
        loss.overlay = Array(zip(epochs, history.valLoss)).map { (x: $0.0, y: $0.1) }
        let r1 = CurvePlot.Panel(title: "validation R@1 (mean of both directions)", xLabel: "epoch", yLabel: "R@1 %",
                                 points: Array(zip(epochs, history.valR1)).map { (x: $0.0, y: $0.1) })
        try CurvePlot(panels: [loss, r1]).write(to: outputDir + "/" + Self.curvesFile)
    }

    /// The run's identity: a checkpoint resumes only a run with the same data, split and settings
    /// (`num_epochs` and `patience` may change, and the folder may move).
    var fingerprint: String {
        var c = config
        c.training.numEpochs = 0
        c.training.patience = 0
        c.evaluation = .init()
        c.outputDir = ""
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let body = String(decoding: (try? enc.encode(c)) ?? Data(), as: UTF8.self)
        return body + "|\(data.images.shape)|\(data.texts.shape)|\(split.summary.seed)|\(trainingRows.count)"
    }

    func saveCheckpoint(_ path: String, badEpochs: Int) throws {
        let state = TrainingState(epoch: history.trainLoss.count, batch: 0, updates: optimizer.stepCount)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let (opt, meta) = state.entries(optimizer, named: named, extra: [
            "history": String(decoding: try enc.encode(history), as: UTF8.self),
            "bad_epochs": String(badEpochs), "fingerprint": fingerprint,
        ])
        var tensors = heads.stateDict().map { (name: "heads." + $0.key, tensor: $0.tensor) }
        tensors += objective.state().map { (name: "objective." + $0.key, tensor: $0.value) }
        try SafeTensors.write(tensors.sorted { $0.name < $1.name } + opt, metadata: meta, to: path)
    }

    /// Loads a checkpoint into the heads, the optimizer and the objective; returns the epochs without
    /// improvement so far.
    func restore(_ path: String) throws -> Int {
        let file = try SafeTensorsFile(path: path)
        guard file.metadata["fingerprint"] == fingerprint else {
            throw ClipError.invalidArgument("\(path) belongs to a run with other data or settings: remove it (or pass --no-resume) to start again")
        }
        let (_, tensors) = try TrainingState.read(file, path: path, into: optimizer, named: named)
        guard let h = file.metadata["history"], let hist = try? JSONDecoder().decode(HeadsHistory.self, from: Data(h.utf8)),
              let bad = file.metadata["bad_epochs"].flatMap(Int.init) else {
            throw ClipError.format("\(path): no training history in the checkpoint's metadata")
        }
        var own: [String: Tensor] = [:], obj: [String: Tensor] = [:]
        for (k, v) in tensors {
            if k.hasPrefix("heads.") { own[String(k.dropFirst(6))] = v.contiguous().copied() }
            else if k.hasPrefix("objective.") { obj[String(k.dropFirst(10))] = v.contiguous().copied() }
        }
        do { try heads.load(own) } catch let e as ClipError { throw e.prefixed(path) }
        try objective.loadState(obj)
        history = hist
        // A run extended past its old `num_epochs` goes on; one whose patience ran out stays stopped.
        history.finished = history.stoppedEarly || history.trainLoss.count >= config.training.numEpochs
        return bad
    }
}
