// Projection heads and their losses against the PyTorch reference (Tools/fixtures/heads.py):
// loss and every gradient per head type and loss, and 5 SGD steps of the queue, BLIP and ALIGN objectives.

import Testing
import Foundation
import Tensor
import Autograd
import NN
import Heads
import TestSupport

/// A fixture file of Tests/Fixtures/heads with the heads and objective it describes, at its initial weights.
struct HeadsFixture {
    let file: SafeTensorsFile
    let heads: ProjectionHeads
    let objective: HeadsObjective

    init(_ name: String) throws {
        file = try SafeTensorsFile(path: Fixtures.path("heads/\(name).safetensors"))
        let model = try JSONDecoder().decode(HeadsConfig.self, from: Data(file.metadata["model", default: ""].utf8))
        let loss = try JSONDecoder().decode(HeadLossConfig.self, from: Data(file.metadata["loss", default: ""].utf8))
        heads = try ProjectionHeads(config: model, imageDim: Int(file.metadata["image_dim"] ?? "") ?? 0,
                                    textDim: Int(file.metadata["text_dim"] ?? "") ?? 0, seed: 7)
        var initial: [String: Tensor] = [:]
        for name in file.names where name.hasPrefix("param.") {
            initial[String(name.dropFirst("param.".count))] = try file.tensor(name).copiedForTest()
        }
        try heads.load(initial)
        objective = try HeadsObjective(heads: heads, loss: loss)
    }

    func tensor(_ key: String) throws -> Tensor { try file.tensor(key) }
}

extension Tensor {
    /// A dense copy that owns its memory (parameters updated in place must not be file views).
    func copiedForTest() -> Tensor { Tensor(toArray(), shape: shape) }
}

/// ‖a − b‖ / ‖b‖ of a result against the reference, recorded with its name.
func worst(_ errors: inout [(String, Float)], _ name: String, _ got: Tensor?, _ want: Tensor) {
    guard let got, got.count == want.count else { errors.append((name + " (missing or misshaped)", .infinity)); return }
    errors.append((name, relativeError(got.contiguous().reshaped(want.shape), want)))
}

/// Gradients that vanish analytically, so both sides hold rounding noise: attention's key bias
/// (softmax cancels a shift shared by all keys) and a bias right before BatchNorm in training mode
/// (the batch mean removes it). They are held to an absolute bound instead.
func vanishes(_ key: String, _ config: HeadsConfig) -> Bool {
    key.hasSuffix("k_proj.bias") || (config.type == .align && config.useBN && key.hasSuffix("fc1.bias"))
}

@Suite struct HeadsParityTests {
    static let cases = ["mlp_sigmoid", "mlp_softmax", "attention_softmax", "cross_modal_softmax", "siglip_siglip",
                        "clip_clip", "clip_fixed_clip", "align_align", "align_ln_align", "blip_blip", "mlp_queue"]

    /// Loss, input gradients and every parameter gradient within 1e-4 (relative, per tensor).
    @Test(arguments: cases) func lossAndGradients(name: String) throws {
        let f = try HeadsFixture(name)
        let image = Variable(try f.tensor("image"), requiresGrad: true)
        let text = Variable(try f.tensor("text"), requiresGrad: true)
        f.heads.train()
        let loss = f.objective.loss(image: image, text: text, queues: true)
        loss.backward()
        var errors: [(String, Float)] = []
        worst(&errors, "loss", loss.value, try f.tensor("loss"))
        worst(&errors, "grad.image", image.grad, try f.tensor("grad.image"))
        worst(&errors, "grad.text", text.grad, try f.tensor("grad.text"))
        let trainable = f.heads.trainableParameters
        let expectedKeys = Set(f.file.names.filter { $0.hasPrefix("grad.") && $0 != "grad.image" && $0 != "grad.text" }
            .map { String($0.dropFirst("grad.".count)) })
        #expect(Set(trainable.map(\.key)) == expectedKeys, "\(name): trainable parameters differ from PyTorch's")
        for p in trainable where expectedKeys.contains(p.key) {
            let want = try f.tensor("grad." + p.key)
            if vanishes(p.key, f.heads.config) {
                let size = max(norm(want), p.variable.grad.map(norm) ?? .infinity)
                #expect(size < 1e-5, "\(name): grad.\(p.key) should vanish, has norm \(size)")
            } else {
                worst(&errors, "grad." + p.key, p.variable.grad, want)
            }
        }
        // Evaluation mode after that training-mode step (BatchNorm: the updated running statistics).
        worst(&errors, "eval.image", f.heads.embed(images: try f.tensor("image")), try f.tensor("eval.image"))
        worst(&errors, "eval.text", f.heads.embed(texts: try f.tensor("text")), try f.tensor("eval.text"))
        let bad = errors.filter { !($0.1 <= 1e-4) }
        #expect(bad.isEmpty, "\(name): relative errors above 1e-4: \(bad)")
        let maxError = errors.map(\.1).max() ?? 0
        print("heads parity \(name): max relative error \(maxError) over \(errors.count) tensors")
    }

    static let runs = ["queue_steps", "blip_steps", "align_steps"]

    /// 5 steps of SGD (lr 0.1): losses, queues, momentum weights and BatchNorm statistics after each
    /// step, the final weights, evaluation-mode embeddings and the validation loss.
    @Test(arguments: runs) func fiveSteps(name: String) throws {
        let f = try HeadsFixture(name)
        let images = try f.tensor("image"), texts = try f.tensor("text")
        let sgd = SGD(f.heads.trainableParameters.map(\.variable), learningRate: 0.1)
        let losses = try f.tensor("losses").toArray()
        var errors: [(String, Float)] = []
        let stepKeys = f.file.names.filter { $0.hasPrefix("step.") }
        #expect(!stepKeys.isEmpty)
        for step in 0..<5 {
            sgd.zeroGrad()
            let loss = f.objective.loss(images: images.sliced(0, step..<step + 1).squeezed(0).contiguous(),
                                        texts: texts.sliced(0, step..<step + 1).squeezed(0).contiguous())
            loss.backward()
            sgd.step()
            f.objective.afterStep()
            errors.append(("loss[\(step)]", abs(loss.value.item - losses[step]) / abs(losses[step])))
            print("heads steps \(name) step \(step): loss \(loss.value.item), PyTorch \(losses[step])")
            let state = f.objective.state()
            let entries = Dictionary(uniqueKeysWithValues: f.heads.namedStateEntries().map { ($0.key, $0.variable.value) })
            for key in stepKeys {
                let want = try f.tensor(key).sliced(0, step..<step + 1).squeezed(0).contiguous()
                let k = String(key.dropFirst("step.".count))
                worst(&errors, "\(k)[\(step)]", state[k] ?? entries[k], want)
            }
        }
        for (key, value) in f.heads.namedStateEntries() {
            worst(&errors, "final." + key, value.value, try f.tensor("final." + key))
        }
        let first = images.sliced(0, 0..<1).squeezed(0).contiguous(), firstText = texts.sliced(0, 0..<1).squeezed(0).contiguous()
        worst(&errors, "eval.image", f.heads.embed(images: first), try f.tensor("eval.image"))
        worst(&errors, "eval.text", f.heads.embed(texts: firstText), try f.tensor("eval.text"))
        let validation = f.objective.validationLoss(images: first, texts: firstText)
        let wantValidation = try f.tensor("validation_loss").item
        errors.append(("validation_loss", Float(abs(validation - Double(wantValidation)) / abs(Double(wantValidation)))))
        let bad = errors.filter { !($0.1 <= 1e-4) }
        #expect(bad.isEmpty, "\(name): relative errors above 1e-4: \(bad)")
        print("heads steps \(name): max relative error \(errors.map(\.1).max() ?? 0) over \(errors.count) values")
    }
}
