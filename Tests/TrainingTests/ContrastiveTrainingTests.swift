// Contrastive training: PyTorch parity over 20 steps, synthetic data, resume, checkpoints.

import Testing
import Foundation
import Tensor
import Autograd
import NN
import Models
import Retrieval
import Training

@Suite(.serialized) struct ContrastiveTrainingTests {
    static let fixtures = ELIPTrainerTests.fixtures

    /// The fixture's 20 steps (both towers, AdamW with the decay split, warmup 5 + cosine, clipping at
    /// norm 1, temperature clamp) from the same weights follow PyTorch's losses within 1e-3 relative.
    @Test(arguments: [("clip", "clip/p16_96"), ("siglip", "siglip/p8_48")])
    func twentyStepsFollowPyTorch(_ kind: String, _ folder: String) throws {
        let f = try SafeTensorsFile(path: Self.fixtures + "/training/\(kind)_steps.safetensors")
        let expected = try f.tensor("train_losses").toArray()
        let lrs = try f.tensor("lrs").toArray()
        let steps = Int(f.metadata["steps"]!)!, warmup = Int(f.metadata["warmup"]!)!
        let base = Float(f.metadata["base_lr"]!)!, wd = Float(f.metadata["weight_decay"]!)!
        let pipeline = try ImageTextPipeline(directory: Self.fixtures + "/" + folder)
        let model = pipeline.model as! any PromptGuidedModel
        let schedule = WarmupCosineSchedule(base: base, warmupSteps: warmup, totalSteps: steps)
        let step = ContrastiveStep(model: model, lr: base, weightDecay: wd, schedule: schedule, maxGradNorm: 1)
        let ids = Indices(shape: try f.tensor("input_ids").shape, values: try f.int64("input_ids").map { Int($0) })
        let mask = kind == "clip" ? try f.tensor("attention_mask") : nil
        let pixels = try f.tensor("pixel_values")
        var worst = 0.0
        for s in 0..<steps {
            #expect(abs(schedule.rate(at: s) - lrs[s]) <= 1e-6 * base)
            let loss = try step.lossAndBackward(TokenizedBatch(ids: ids, attentionMask: mask), pixels: pixels)
            step.update()
            worst = max(worst, Double(abs(loss - expected[s]) / abs(expected[s])))
        }
        #expect(worst <= 1e-3, "worst relative loss gap \(worst)")
        #expect(expected.last! < expected.first! * 0.8)
    }
}
