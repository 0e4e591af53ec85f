// One contrastive optimisation step: the batch (captions, images, several captions per image, the
// teacher's inputs), forward and backward through the objective, open_clip's accumulation with cached
// features, and the update (clipping, schedule, AdamW, temperature clamp).

import Foundation
import Tensor
import Autograd
import NN
import Models
import ClipDistributed

/// One batch of a contrastive step: the captions' tokens, the images' pixels and, with several
/// captions per image, which image each caption describes; the teacher's own tokens and pixels of the
/// same captions and images when the objective has a teacher.
public struct ContrastiveBatch {
    public var tokens: TokenizedBatch
    public var pixels: Tensor
    /// The image (row of `pixels`) of each caption; nil: caption i describes image i.
    public var imageOfText: [Int]?
    public var teacherTokens: TokenizedBatch?
    public var teacherPixels: Tensor?

    public init(tokens: TokenizedBatch, pixels: Tensor, imageOfText: [Int]? = nil,
                teacherTokens: TokenizedBatch? = nil, teacherPixels: Tensor? = nil) {
        self.tokens = tokens
        self.pixels = pixels
        self.imageOfText = imageOfText
        self.teacherTokens = teacherTokens
        self.teacherPixels = teacherPixels
    }
}

/// One optimisation step's machinery, shared by the trainer and the parity tests: forward and
/// backward of a batch, and the update (clipping, schedule, AdamW, temperature clamp).
public final class ContrastiveStep {
    public let model: any PromptGuidedModel
    public let objective: ContrastiveObjective
    public let optimizer: AdamW
    public let schedule: any LearningRateSchedule
    public let maxGradNorm: Float
    let trainable: [Variable]
    public private(set) var updates = 0
    /// The ranks a global batch is split over (`SingleProcess`: all of it here). With several, each
    /// rank passes its own rows; the features are gathered into the global batch (open_clip's
    /// `gather_with_grad`) and `synchronizeGradients` averages the gradients before `update`.
    public var communicator: any Communicator = SingleProcess()

    /// AdamW over the model's trainable parameters and those of `extra` (adapters; the objective's
    /// heads are added), biases / norms / temperature without weight decay.
    public init(model: any PromptGuidedModel, lr: Float, weightDecay: Float, schedule: any LearningRateSchedule,
                maxGradNorm: Float, objective: ContrastiveObjective = .pair(),
                extra: [(key: String, variable: Variable)] = []) {
        self.model = model
        self.objective = objective
        self.schedule = schedule
        self.maxGradNorm = maxGradNorm
        let others = (objective.namedParameters() + extra).filter { $0.variable.requiresGrad }
        let groups = ParameterGroup.decaySplit(model, weightDecay: weightDecay)
            + ParameterGroup.decaySplit(others, weightDecay: weightDecay)
        optimizer = AdamW(groups.filter { !$0.parameters.isEmpty }, learningRate: lr)
        trainable = model.parameters.filter(\.requiresGrad) + others.map(\.variable)
    }

    /// Forward and backward of one batch (gradients accumulate, scaled by `scale`); returns the loss.
    public func lossAndBackward(_ batch: TokenizedBatch, pixels: Tensor, scale: Float = 1) throws -> Float {
        try lossAndBackward(ContrastiveBatch(tokens: batch, pixels: pixels), scale: scale)
    }

    /// Forward and backward of one batch through the objective (gradients accumulate, scaled by
    /// `scale`); returns the loss.
    public func lossAndBackward(_ batch: ContrastiveBatch, scale: Float = 1) throws -> Float {
        if communicator.size > 1 { return try gatheredLossAndBackward(batch, scale: scale) }
        let teacher = try objective.teacherFeatures(batch)
        let features = try objective.studentFeatures(model, batch)
        let loss = try objective.loss(model: model, features: features, imageOfText: batch.imageOfText, teacher: teacher)
        (loss * scale).backward()
        return loss.value.item
    }

    /// open_clip's `--accum-freq`: the loss of all `batches` together, as one batch of all their
    /// rows, with the memory of one. Each batch is encoded without a graph and its features kept; the
    /// loss of the concatenated features is differentiated with respect to those features (and the
    /// temperature); then each batch is encoded again with a graph and back-propagates its rows'
    /// feature gradients. The gradients equal the single big batch's (up to rounding) when the towers
    /// are deterministic (no dropout). Gradients accumulate, scaled by `scale`; returns the loss.
    public func accumulatedLossAndBackward(_ batches: [ContrastiveBatch], scale: Float = 1) throws -> Float {
        guard batches.count > 1 else { return try lossAndBackward(batches[0], scale: scale) }
        guard communicator.size == 1 else {
            throw ClipError.unsupported("accum_freq > 1 is single-process only; under mpirun, raise train_bs (the global batch) instead")
        }
        var kept: [[Tensor]] = [], layout: StudentFeatures?, owners: [Int] = [], images = 0
        var teacherTexts: [Tensor] = [], teacherImages: [Tensor] = []
        var anyOwners = false
        for b in batches {
            let f = try withNoGrad { try objective.studentFeatures(model, b) }
            if let tf = try objective.teacherFeatures(b) {
                teacherTexts.append(tf.text)
                if let ti = tf.image { teacherImages.append(ti) }
            }
            owners += (b.imageOfText ?? Array(0..<f.text.shape[0])).map { $0 + images }
            anyOwners = anyOwners || b.imageOfText != nil
            images += f.image.shape[0]
            let parts = f.parts.map(\.value.value)
            if kept.isEmpty { kept = parts.map { [$0] } } else { for (k, p) in parts.enumerated() { kept[k].append(p) } }
            layout = f
        }
        let leaves = kept.map { Variable(Tensor.concat($0, axis: 0), requiresGrad: true) }
        let teacher = teacherTexts.isEmpty ? nil
            : (text: Tensor.concat(teacherTexts, axis: 0), image: teacherImages.isEmpty ? nil : Tensor.concat(teacherImages, axis: 0))
        let loss = try objective.loss(model: model, features: layout!.replacing(leaves), imageOfText: anyOwners ? owners : nil,
                                      teacher: teacher)
        (loss * scale).backward()
        var (textRow, imageRow) = (0, 0)
        for b in batches {
            let parts = try objective.studentFeatures(model, b).parts
            var surrogate: Variable?
            for (k, part) in parts.enumerated() {
                guard let g = leaves[k].grad else { continue }
                let rows = part.value.shape[0]
                let slice = g.narrowed(0, start: part.captions ? textRow : imageRow, length: rows).contiguous()
                let term = (part.value * Variable(slice)).sum()
                surrogate = surrogate.map { $0 + term } ?? term
            }
            surrogate?.backward()
            textRow += parts[0].value.shape[0]
            imageRow += parts[1].value.shape[0]
        }
        return loss.value.item
    }

    // MARK: - Data parallel

    /// This rank's rows of a global batch: the features of every rank gathered (rank order: the
    /// global batch's row order), the loss of the global batch (the same on every rank), its backward
    /// into the gathered features, and their summed gradient's local rows back through this rank's
    /// towers (`Communicator.backwardGathered`). The teacher's features are gathered without graph;
    /// `imageOfText` (local rows) is mapped to the global image rows.
    func gatheredLossAndBackward(_ batch: ContrastiveBatch, scale: Float) throws -> Float {
        let comm = communicator
        let teacher = try objective.teacherFeatures(batch).map { tf in
            (text: try comm.allgatherRows(tf.text).rows, image: try tf.image.map { try comm.allgatherRows($0).rows })
        }
        let features = try objective.studentFeatures(model, batch)
        let gathered = try features.parts.map { try comm.gatherWithGrad($0.value) }
        var owners: [Int]?
        if let local = batch.imageOfText {
            let offset = gathered[1].localRows.lowerBound
            owners = try comm.allgather(local.map { Int32(truncatingIfNeeded: $0 + offset) }).flatMap { $0.map(Int.init) }
        } else if gathered[0].rowCounts != gathered[1].rowCounts {
            throw ClipError.shape("a rank's batch has \(gathered[0].rowCounts) captions for \(gathered[1].rowCounts) images")
        }
        let loss = try objective.loss(model: model, features: features.replacing(gathered.map(\.global)), imageOfText: owners,
                                      teacher: teacher)
        (loss * scale).backward()
        try comm.backwardGathered(gathered)
        return loss.value.item
    }

    /// The mean over the ranks of every trained parameter's gradient (one allreduce); with the
    /// gathered backward, one process's gradient on the global batch. Nothing in a single process.
    public func synchronizeGradients() throws {
        try communicator.allreduceGradients(trainable, op: .mean)
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
