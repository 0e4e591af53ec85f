// Training events: the log lines they write (byte for byte as the trainers always wrote them)
// and the typed values read back from them.

import Testing
import Foundation
import Tensor
import Search
import Training

@Suite struct TrainingEventTests {
    @Test func logLinesKeepTheirText() throws {
        let contrastive = TrainingEvent.update(TrainingUpdate(epoch: 2, update: 47, loss: 1.25, lr: 0.001, gradNorm: 3.5, logitScale: 14.285714))
        #expect(try contrastive.jsonLine()
                == #"{"epoch": 2, "update": 47, "loss": 1.250000, "lr": 0.001, "grad_norm": 3.5000, "logit_scale": 14.2857}"#)
        let elip = TrainingEvent.update(TrainingUpdate(epoch: 0, update: 3, loss: 0.1))
        #expect(try elip.jsonLine() == #"{"epoch": 0, "update": 3, "loss": 0.1}"#)
        #expect(try TrainingEvent.epochEnd(epoch: 1, meanLoss: 0.5).jsonLine() == #"{"epoch": 1, "epoch_mean_loss": 0.5}"#)
        let metrics = try RetrievalEvaluator.metrics(similarity: Tensor([0.9, 0.1, 0.2, 0.8], shape: [2, 2]), imageOfText: [0, 1])
        let val = try TrainingEvent.validation(epoch: 3, metrics: metrics).jsonLine()
        #expect(val == "{\"epoch\": 3, \"val\": \(try metrics.json().replacingOccurrences(of: "\n", with: " "))}")
        let skipped = TrainingEvent.skipped(epoch: 1, update: 5, reason: "the loss is \"nan\"", count: 2)
        #expect(try skipped.jsonLine() == #"{"epoch": 1, "skipped_update": 5, "skipped_nonfinite": 2, "reason": "the loss is \"nan\""}"#)
        // Every line reads back as the event (the ELIP loss exactly, the contrastive one to its 6 decimals).
        for event in [elip, .epochEnd(epoch: 1, meanLoss: 0.5), .validation(epoch: 3, metrics: metrics), contrastive, skipped] {
            let back = try JSONDecoder().decode(TrainingEvent.self, from: Data(try event.jsonLine().utf8))
            if case .update(let u) = event, u.lr != nil {
                guard case .update(let b) = back else { Issue.record("not an update: \(back)"); continue }
                #expect(b.update == u.update && abs(b.loss - u.loss) < 1e-6)
            } else {
                #expect(back == event)
            }
            #expect(try JSONDecoder().decode(TrainingEvent.self, from: try JSONEncoder().encode(event)) == event)
        }
    }
}
