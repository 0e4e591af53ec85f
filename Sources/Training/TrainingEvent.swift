// What the trainers report while they run: each optimizer update, each epoch's
// end, each validation. `train_log.jsonl` holds one event a line (`jsonLine`);
// the CLI's progress lines and plots read the typed values.

import Foundation
import Search
import Tensor

/// One optimizer update. The optional fields are the contrastive trainer's (ELIP's leaves them nil).
public struct TrainingUpdate: Equatable, Sendable {
    /// The epoch as the trainer numbers it (contrastive: 1-based; ELIP: 0-based, as in their logs).
    public var epoch: Int
    /// Updates done so far, this one included.
    public var update: Int
    /// The mean loss over the update's batches.
    public var loss: Float
    /// The scheduled learning rate of the update.
    public var lr: Float?
    /// The gradient norm before clipping.
    public var gradNorm: Float?
    /// exp(logit_scale) after the update: the multiplier on cosine similarities.
    public var logitScale: Float?

    public init(epoch: Int, update: Int, loss: Float, lr: Float? = nil, gradNorm: Float? = nil, logitScale: Float? = nil) {
        (self.epoch, self.update, self.loss, self.lr, self.gradNorm, self.logitScale) = (epoch, update, loss, lr, gradNorm, logitScale)
    }
}

/// An event of a training run, Codable as the flat JSON object of its log line.
public enum TrainingEvent: Codable, Equatable, Sendable {
    case update(TrainingUpdate)
    /// The mean loss over the epoch's batches.
    case epochEnd(epoch: Int, meanLoss: Double)
    /// Validation metrics after `epoch` (1-based) epochs.
    case validation(epoch: Int, metrics: RetrievalMetrics)
    /// An update skipped because its loss or a gradient was not finite (`skip_nonfinite`): the update it
    /// would have been, why, and how many have been skipped in the run so far, this one included.
    case skipped(epoch: Int, update: Int, reason: String, count: Int)

    enum CodingKeys: String, CodingKey {
        case epoch, update, loss, lr, gradNorm = "grad_norm", logitScale = "logit_scale"
        case meanLoss = "epoch_mean_loss", metrics = "val"
        case skippedUpdate = "skipped_update", skippedCount = "skipped_nonfinite", reason
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let epoch = try c.decode(Int.self, forKey: .epoch)
        if c.contains(.skippedUpdate) {
            self = .skipped(epoch: epoch, update: try c.decode(Int.self, forKey: .skippedUpdate),
                            reason: try c.decode(String.self, forKey: .reason), count: try c.decode(Int.self, forKey: .skippedCount))
        } else if c.contains(.metrics) {
            self = .validation(epoch: epoch, metrics: try c.decode(RetrievalMetrics.self, forKey: .metrics))
        } else if c.contains(.meanLoss) {
            self = .epochEnd(epoch: epoch, meanLoss: try c.decode(Double.self, forKey: .meanLoss))
        } else {
            self = .update(TrainingUpdate(epoch: epoch, update: try c.decode(Int.self, forKey: .update),
                                          loss: try c.decode(Float.self, forKey: .loss),
                                          lr: try c.decodeIfPresent(Float.self, forKey: .lr),
                                          gradNorm: try c.decodeIfPresent(Float.self, forKey: .gradNorm),
                                          logitScale: try c.decodeIfPresent(Float.self, forKey: .logitScale)))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .update(let u):
            try c.encode(u.epoch, forKey: .epoch)
            try c.encode(u.update, forKey: .update)
            try c.encode(u.loss, forKey: .loss)
            try c.encodeIfPresent(u.lr, forKey: .lr)
            try c.encodeIfPresent(u.gradNorm, forKey: .gradNorm)
            try c.encodeIfPresent(u.logitScale, forKey: .logitScale)
        case .epochEnd(let epoch, let meanLoss):
            try c.encode(epoch, forKey: .epoch)
            try c.encode(meanLoss, forKey: .meanLoss)
        case .validation(let epoch, let metrics):
            try c.encode(epoch, forKey: .epoch)
            try c.encode(metrics, forKey: .metrics)
        case .skipped(let epoch, let update, let reason, let count):
            try c.encode(epoch, forKey: .epoch)
            try c.encode(update, forKey: .skippedUpdate)
            try c.encode(count, forKey: .skippedCount)
            try c.encode(reason, forKey: .reason)
        }
    }

    /// The epoch the event belongs to.
    public var epoch: Int {
        switch self {
        case .update(let u): u.epoch
        case .epochEnd(let e, _), .validation(let e, _), .skipped(let e, _, _, _): e
        }
    }

    /// The `train_log.jsonl` line: the keys above, `"key": value` separated by ", " (scripts grep
    /// `"update": 47,`). Updates with a learning rate (contrastive) use fixed precision (loss %.6f,
    /// lr %.6g, grad_norm and logit_scale %.4f); without (ELIP), the loss is the shortest exact Float.
    /// A validation's metrics are `RetrievalMetrics.json()` on one line; a skipped update is
    /// `skipped_update`, `skipped_nonfinite` (the count) and `reason`.
    public func jsonLine() throws -> String {
        func field(_ key: CodingKeys, _ value: String) -> String { "\"\(key.stringValue)\": \(value)" }
        var fields = [field(.epoch, "\(epoch)")]
        switch self {
        case .update(let u):
            fields.append(field(.update, "\(u.update)"))
            fields.append(field(.loss, u.lr == nil ? "\(u.loss)" : String(format: "%.6f", u.loss)))
            if let lr = u.lr { fields.append(field(.lr, String(format: "%.6g", lr))) }
            if let g = u.gradNorm { fields.append(field(.gradNorm, String(format: "%.4f", g))) }
            if let s = u.logitScale { fields.append(field(.logitScale, String(format: "%.4f", s))) }
        case .epochEnd(_, let meanLoss):
            fields.append(field(.meanLoss, "\(meanLoss)"))
        case .validation(_, let metrics):
            fields.append(field(.metrics, try metrics.json().replacingOccurrences(of: "\n", with: " ")))
        case .skipped(_, let update, let reason, let count):
            fields.append(field(.skippedUpdate, "\(update)"))
            fields.append(field(.skippedCount, "\(count)"))
            fields.append(field(.reason, JSONText.quoted(reason)))
        }
        return "{" + fields.joined(separator: ", ") + "}"
    }
}
