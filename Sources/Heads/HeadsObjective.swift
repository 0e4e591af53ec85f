// The heads' training objective: the loss of a batch, and what changes after each optimizer step
// (momentum heads, feature queues), with its state for resuming.

import Foundation
import Tensor
import Autograd
import NN

/// The loss that trains `ProjectionHeads`, with the state it keeps between steps. Per step the
/// trainer calls `loss(images:texts:)`, backpropagates, steps its optimizer over
/// `heads.trainableParameters`, then calls `afterStep()`.
///
/// With z_i, z_t the normalised features of a batch of n pairs and s the logit scale
/// (`exp(logit_scale)` at most 100 when the heads carry one, else 1/`loss.temperature`):
/// - sigmoid (siglip): `−Σ log σ(y_ij (s·z_i·z_tᵀ + b)) / n`, y = +1 on the diagonal, −1 elsewhere;
///   s and b are the siglip heads' `exp(logit_scale)` and `logit_bias`, else 1/temperature and `loss.bias`.
/// - softmax (clip): `(CE(s·z_i·z_tᵀ) + CE(s·z_t·z_iᵀ)) / 2` with the diagonal as labels.
/// - align: the same with label smoothing (`loss.label_smoothing`, ALIGN's 0.1), as transformers' `AlignModel`.
/// - queue: image rows score `[z_t; text queue]`, text rows `[z_i; image queue]`; the queues hold
///   earlier batches' detached features (`loss.queue_size` rows, starting empty).
/// - blip: BLIP's ITC with momentum distillation: the momentum heads' features `m_i`, `m_t` of the
///   batch, followed by the queues, are the candidates; the targets are
///   `alpha·softmax(s·m·candidatesᵀ) + (1 − alpha)·onehot`; the loss is the mean soft cross-entropy
///   of `s·z·candidatesᵀ`, averaged over both directions; the queues take `m_i`, `m_t`.
public final class HeadsObjective {
    public let heads: ProjectionHeads
    public let config: HeadLossConfig
    private let imageQueue: FeatureQueue?
    private let textQueue: FeatureQueue?
    /// The features the last `loss` call will enqueue in `afterStep()`.
    private var pending: (image: Tensor, text: Tensor)?

    /// - Throws: `ClipError.invalidArgument` for a setting `validate()` refuses, or a combination
    ///   that cannot train (the message says what to change).
    public init(heads: ProjectionHeads, loss: HeadLossConfig) throws {
        try Self.check(heads: heads.config, loss: loss)
        let type = loss.type.canonical
        self.heads = heads
        config = loss
        if type.usesQueues {
            imageQueue = FeatureQueue(capacity: loss.queueSize, dim: heads.config.outputDim)
            textQueue = FeatureQueue(capacity: loss.queueSize, dim: heads.config.outputDim)
        } else {
            imageQueue = nil
            textQueue = nil
        }
    }

    /// Checks the loss settings and that the heads can train with them.
    /// - Throws: `ClipError.invalidArgument` saying what to change.
    public static func check(heads: HeadsConfig, loss: HeadLossConfig) throws {
        try loss.validate()
        let type = loss.type.canonical
        if type == .sigmoid, heads.type != .siglip, loss.bias == nil {
            throw ClipError.invalidArgument("loss.type \(loss.type.rawValue) needs a logit bias: use model.type siglip "
                                            + "(learnable logit_scale and logit_bias) or set loss.bias (SigLIP starts at -10)")
        }
        if type == .blip, heads.type != .blip {
            throw ClipError.invalidArgument("loss.type blip needs the momentum heads of model.type blip "
                                            + "(got model.type \(heads.type.rawValue)); use loss.type queue for queues without them")
        }
    }

    // MARK: - Loss

    /// The loss of a batch of pairs (row i of `images` `[n, image_dim]` matches row i of `texts`
    /// `[n, text_dim]`), in training mode, with a graph to the trainable parameters. For queue and
    /// blip it remembers the features `afterStep()` enqueues.
    public func loss(images: Tensor, texts: Tensor) -> Variable {
        heads.train()
        return loss(image: Variable(images), text: Variable(texts), queues: true)
    }

    /// The loss in evaluation mode without a graph; the queues neither take part (in-batch
    /// candidates only, so values compare across epochs) nor change.
    public func validationLoss(images: Tensor, texts: Tensor) -> Double {
        let wasTraining = heads.isTraining
        heads.eval()
        defer { heads.train(wasTraining) }
        let saved = pending
        defer { pending = saved }
        return Double(withNoGrad { loss(image: Variable(images), text: Variable(texts), queues: false) }.value.item)
    }

    /// The loss of inputs given as variables (so tests can take their gradients), in the heads' mode.
    package func loss(image: Variable, text: Variable, queues: Bool) -> Variable {
        precondition(image.shape[0] == text.shape[0], "HeadsObjective: \(image.shape[0]) images for \(text.shape[0]) texts")
        let (zi, zt) = heads(image: image, text: text)
        let n = zi.shape[0]
        let labels = Array(0..<n)
        switch config.type.canonical {
        case .sigmoid:
            let scale: Variable, bias: Variable
            if heads.config.type == .siglip, let s = heads.logitScale, let b = heads.logitBias {
                (scale, bias) = (s.exp(), b)
            } else {
                (scale, bias) = (Variable(Tensor(scalar: 1 / config.temperature)), Variable(Tensor(scalar: config.bias ?? 0)))
            }
            let signs = Tensor.full([n, n], -1)
            for i in 0..<n { signs.data[i * n + i] = 1 }
            let logits = zi.matmul(zt.transposed()) * scale + bias
            return -((logits * Variable(signs)).logSigmoid().sum()) * (1 / Float(n))
        case .softmax, .align:
            let smoothing = config.type == .align ? config.labelSmoothing : 0
            let logits = zi.matmul(zt.transposed()) * logitScale()
            return (logits.crossEntropy(labels: labels, labelSmoothing: smoothing)
                    + logits.transposed().contiguous().crossEntropy(labels: labels, labelSmoothing: smoothing)) * 0.5
        case .queue:
            let qi = queues ? imageQueue!.filled : Tensor.zeros([0, zi.shape[1]])
            let qt = queues ? textQueue!.filled : Tensor.zeros([0, zt.shape[1]])
            let scale = logitScale()
            let textCandidates = qt.shape[0] > 0 ? Variable.concat([zt, Variable(qt)], axis: 0) : zt
            let imageCandidates = qi.shape[0] > 0 ? Variable.concat([zi, Variable(qi)], axis: 0) : zi
            let li = zi.matmul(textCandidates.transposed()) * scale
            let lt = zt.matmul(imageCandidates.transposed()) * scale
            if queues { pending = (zi.value.contiguous().copied(), zt.value.contiguous().copied()) }
            return (li.crossEntropy(labels: labels) + lt.crossEntropy(labels: labels)) * 0.5
        case .blip:
            return blipLoss(zi, zt, image: image.value, text: text.value, queues: queues)
        case .siglip, .clip:
            preconditionFailure("canonical loss types have no aliases")
        }
    }

    /// exp(logit_scale) clamped at 100 (CLIP's ceiling) when the heads carry a temperature, else
    /// 1/`loss.temperature`. siglip's scale belongs to the sigmoid loss and is not used here.
    private func logitScale() -> Variable {
        if heads.config.type != .siglip, let s = heads.logitScale { return s.exp().clamp(max: 100) }
        return Variable(Tensor(scalar: 1 / config.temperature))
    }

    private func blipLoss(_ zi: Variable, _ zt: Variable, image: Tensor, text: Tensor, queues: Bool) -> Variable {
        let n = zi.shape[0]
        guard let (mi, mt) = heads.momentumFeatures(image: image, text: text) else {
            preconditionFailure("HeadsObjective: blip loss without momentum heads")
        }
        let qi = queues ? imageQueue!.filled : Tensor.zeros([0, mi.shape[1]])
        let qt = queues ? textQueue!.filled : Tensor.zeros([0, mt.shape[1]])
        let c = qi.shape[0]
        let imageCandidates = c > 0 ? Tensor.concat([mi, qi], axis: 0) : mi   // [n + c, d]
        let textCandidates = c > 0 ? Tensor.concat([mt, qt], axis: 0) : mt
        let scale = logitScale()
        let s = scale.value.item
        let alpha = config.alpha
        func targets(_ m: Tensor, _ candidates: Tensor) -> Tensor {
            let soft = (m.matmul(candidates.transposed()) * s).softmax(axis: 1) * alpha
            let d = soft.contiguous()
            for i in 0..<n { d.data[i * (n + c) + i] += 1 - alpha }
            d.storage.markModified()
            return d
        }
        let ti = targets(mi, textCandidates), tt = targets(mt, imageCandidates)
        let li = -((zi.matmul(Variable(textCandidates).transposed()) * scale).logSoftmax(axis: 1) * Variable(ti)).sum(axis: 1).mean()
        let lt = -((zt.matmul(Variable(imageCandidates).transposed()) * scale).logSoftmax(axis: 1) * Variable(tt)).sum(axis: 1).mean()
        if queues { pending = (mi, mt) }
        return (li + lt) * 0.5
    }

    // MARK: - After a step

    /// After the optimizer's step: the momentum heads follow the heads (blip), and the last
    /// `loss` call's detached features (the momentum features for blip) join the queues.
    public func afterStep() {
        if config.type.canonical == .blip { heads.updateMomentumHeads() }
        if let (image, text) = pending, let imageQueue, let textQueue {
            imageQueue.enqueue(image)
            textQueue.enqueue(text)
        }
        pending = nil
    }

    // MARK: - State

    /// Names of the state tensors.
    public enum StateKey {
        public static let imageQueue = "queue_image", textQueue = "queue_text"
        public static let pointer = "queue_ptr", count = "queue_count"
    }

    /// What a resumed run needs besides the heads' weights (which hold the momentum copies): the
    /// queues `[queue_size, output_dim]`, the write pointer and the filled count. Empty without queues.
    public func state() -> [String: Tensor] {
        guard let imageQueue, let textQueue else { return [:] }
        return [StateKey.imageQueue: imageQueue.rows.copied(), StateKey.textQueue: textQueue.rows.copied(),
                StateKey.pointer: Tensor(scalar: Float(imageQueue.pointer)), StateKey.count: Tensor(scalar: Float(imageQueue.count))]
    }

    /// Restores `state()`'s tensors.
    /// - Throws: `ClipError.format` naming the key that is missing, wrongly shaped or out of range.
    public func loadState(_ s: [String: Tensor]) throws {
        guard let imageQueue, let textQueue else {
            if let key = s.keys.sorted().first {
                throw ClipError.format("objective state: unexpected key \(key) (loss.type \(config.type.rawValue) keeps no queues)")
            }
            return
        }
        let shape = [imageQueue.capacity, imageQueue.dim]
        func rows(_ key: String) throws -> Tensor {
            guard let t = s[key] else { throw ClipError.format("objective state: \(key) missing") }
            guard t.shape == shape else {
                throw ClipError.format("objective state: \(key) has shape \(t.shape), expected \(shape) (loss.queue_size, model.output_dim)")
            }
            return t.contiguous().copied()
        }
        func integer(_ key: String, _ range: ClosedRange<Int>) throws -> Int {
            guard let t = s[key] else { throw ClipError.format("objective state: \(key) missing") }
            guard t.count == 1, let v = Int(exactly: t.contiguous().data[0]), range.contains(v) else {
                throw ClipError.format("objective state: \(key) must be one integer in \(range), got \(t.toArray().prefix(4))")
            }
            return v
        }
        let qi = try rows(StateKey.imageQueue), qt = try rows(StateKey.textQueue)
        let pointer = try integer(StateKey.pointer, 0...(imageQueue.capacity - 1))
        let count = try integer(StateKey.count, 0...imageQueue.capacity)
        imageQueue.restore(rows: qi, pointer: pointer, count: count)
        textQueue.restore(rows: qt, pointer: pointer, count: count)
        pending = nil
    }
}
