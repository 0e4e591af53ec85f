// InfoNCE and the sigmoid loss with several captions per image against the PyTorch reference
// (Tools/fixtures/multipositive.py): loss and the gradients of both embeddings, the temperature and
// the bias; and, with one caption per image in order, the same numbers as the plain pair losses.

import Testing
import Foundation
import Tensor
import Autograd
import NN
import Models
import TestSupport

@Suite struct MultiPositiveLossTests {
    @Test(arguments: ["infonce_5x", "infonce_uneven", "infonce_one_each", "sigmoid_uneven"])
    func lossAndGradientsMatchPyTorch(_ name: String) throws {
        let f = try SafeTensorsFile(path: Fixtures.path("multipositive/\(name).safetensors"))
        let t = Variable(try f.tensor("text"), requiresGrad: true)
        let i = Variable(try f.tensor("image"), requiresGrad: true)
        let s = Variable(try f.tensor("logit_scale"), requiresGrad: true)
        let owner = try f.tensor("image_of_text").toArray().map { Int($0) }
        let sigmoid = f.names.contains("logit_bias")
        let b = sigmoid ? Variable(try f.tensor("logit_bias"), requiresGrad: true) : nil
        let logits = t.matmul(i.transposed()) * s.exp()
        let loss = if let b { multiPositiveSigmoidLoss(logits + b, imageOfText: owner) }
                   else { multiPositiveContrastiveLoss(logits, imageOfText: owner) }
        let ref = try f.tensor("loss").item
        #expect(abs(loss.value.item - ref) <= 1e-5 * abs(ref), "\(name): loss \(loss.value.item) vs \(ref)")
        loss.backward()
        #expect(relativeError(t.grad!, try f.tensor("grad.text")) <= 1e-4)
        #expect(relativeError(i.grad!, try f.tensor("grad.image")) <= 1e-4)
        #expect(relativeError(s.grad!, try f.tensor("grad.logit_scale")) <= 1e-4)
        if let b { #expect(relativeError(b.grad!, try f.tensor("grad.logit_bias")) <= 1e-4) }
    }

    /// One caption per image, in order: the plain losses' values and gradients.
    @Test(arguments: [false, true])
    func oneCaptionPerImageIsThePlainLoss(_ sigmoid: Bool) throws {
        var rng = RandomGenerator(seed: 7)
        let n = 6, d = 10
        let tv = Tensor.randn([n, d], generator: &rng), iv = Tensor.randn([n, d], generator: &rng)
        func run(_ multi: Bool) -> (Float, Tensor, Tensor) {
            let t = Variable(tv, requiresGrad: true), i = Variable(iv, requiresGrad: true)
            let logits = t.matmul(i.transposed()) * 3
            let loss: Variable
            if sigmoid {
                loss = multi ? multiPositiveSigmoidLoss(logits - 2, imageOfText: Array(0..<n)) : sigmoidLoss(logits - 2)
            } else {
                loss = multi ? multiPositiveContrastiveLoss(logits, imageOfText: Array(0..<n)) : clipContrastiveLoss(logits)
            }
            loss.backward()
            return (loss.value.item, t.grad!, i.grad!)
        }
        let (a, at, ai) = run(true), (b, bt, bi) = run(false)
        #expect(abs(a - b) <= 1e-6 * abs(b))
        #expect(relativeError(at, bt) <= 1e-6 && relativeError(ai, bi) <= 1e-6)
    }

    /// A shuffled batch with several captions per image scores the same as the same pairs in
    /// another order (the loss depends on which caption belongs to which image, not on row order).
    @Test func rowOrderDoesNotMatter() {
        var rng = RandomGenerator(seed: 3)
        let images = Tensor.randn([4, 8], generator: &rng), texts = Tensor.randn([9, 8], generator: &rng)
        let owner = [0, 1, 1, 2, 2, 2, 3, 0, 3]
        let perm = [4, 0, 8, 2, 6, 1, 7, 3, 5]
        let a = multiPositiveContrastiveLoss(Variable(texts).matmul(Variable(images).transposed()), imageOfText: owner).value.item
        let permuted = texts.indexSelect(axis: 0, perm)
        let b = multiPositiveContrastiveLoss(Variable(permuted).matmul(Variable(images).transposed()),
                                             imageOfText: perm.map { owner[$0] }).value.item
        #expect(abs(a - b) <= 1e-5 * abs(a))
        // A caption moved to another image changes it.
        var moved = owner; moved[0] = 1
        let c = multiPositiveContrastiveLoss(Variable(texts).matmul(Variable(images).transposed()), imageOfText: moved).value.item
        #expect(abs(a - c) > 1e-3)
    }
}
