// (IA)³: the scaled layers on every family, a new adapter changes nothing, Float64 finite-difference
// gradients of output and input scaling, PEFT's keys and shapes, and merging into the weights.

import Foundation
import Testing
import Tensor
import Autograd
import NN
import Models
import Adapters
import TestSupport

@Suite struct IA3Tests {
    @Test func scalesKeysValuesAndFeedForwardInput() throws {
        let pipeline = try ImageTextPipeline(directory: AdapterFixtures.clip)
        let text = try pipeline.encode(texts: AdapterFixtures.texts)
        let ia3 = try IA3Model(wrapping: pipeline.model, config: IA3Config())
        #expect(ia3.layers.count == 12)
        // Within float rounding: with adapters on k and v, q, k and v are no longer one fused GEMM.
        #expect(maxAbsDiff(text, try pipeline.encode(texts: AdapterFixtures.texts)) <= 1e-5)
        let named = Dictionary(uniqueKeysWithValues: ia3.namedParameters().map { ($0.key, $0.variable.shape) })
        #expect(named["base_model.model.text_model.encoder.layers.0.self_attn.k_proj.ia3_l"] == [32, 1])
        #expect(named["base_model.model.text_model.encoder.layers.1.self_attn.v_proj.ia3_l"] == [32, 1])
        #expect(named["base_model.model.vision_model.encoder.layers.0.mlp.fc2.ia3_l"] == [1, 80])
        #expect(ia3.settings["target_modules"] == "k_proj,v_proj,fc2" && ia3.settings["feedforward_modules"] == "fc2")
        #expect(ia3.parameters.allSatisfy { $0.value.toArray().allSatisfy { $0 == 1 } })

        for (name, expected) in [("bert", "key,value,dense"), ("mpnet", "k,v,dense")] {
            let encoder = try AdapterFixtures.textEncoder(name)
            let batch = AdapterFixtures.paddedBatch(vocabulary: encoder.config.vocabSize, seed: 4)
            let plain = try encoder.hiddenStates(batch.ids, attentionMask: batch.mask).value
            let m = try IA3Model(wrapping: encoder, config: IA3Config())
            #expect(m.settings["target_modules"] == expected, "\(name): \(m.settings)")
            #expect(m.layers.filter { $0.adapter.scalesInput }.allSatisfy { $0.path.hasSuffix(".output.dense") && !$0.path.contains("attention") })
            #expect(maxAbsDiff(plain, try encoder.hiddenStates(batch.ids, attentionMask: batch.mask).value) == 0, "\(name)")
            AdapterFixtures.perturb(m, seed: 5)
            #expect(maxAbsDiff(plain, try encoder.hiddenStates(batch.ids, attentionMask: batch.mask).value) > 1e-4, "\(name)")
        }
    }

    /// y = l ⊙ (W·x + b) and y = W·(l ⊙ x) + b: dL/dl of L = Σ y ⊙ g against central differences in Float64.
    @Test(arguments: [false, true])
    func gradientMatchesFiniteDifferences(scalesInput: Bool) {
        let (n, i, o) = (6, 7, 5)
        let base = ParameterInitialization.seeded(21) { Linear(i, o) }
        base.freeze()
        let adapter = IA3Layer(for: base, scalesInput: scalesInput)
        var rng = RandomGenerator(seed: 22)
        adapter.vector.assign(Tensor.randn(adapter.vector.shape, generator: &rng))
        adapter.attach()
        let xT = Tensor.randn([n, i], generator: &rng), g = Tensor.randn([n, o], generator: &rng)
        let y = base(Variable(xT))
        y.backward(gradient: g)
        let x = xT.doubles, gv = g.doubles, w = base.weight.value.doubles, b = base.bias!.value.doubles
        func forward(_ l: [Double]) -> [Double] {
            if scalesInput {
                let xs = x.enumerated().map { $0.element * l[$0.offset % i] }
                return linear64(xs, rows: n, w, b, out: o)
            }
            return linear64(x, rows: n, w, b, out: o).enumerated().map { $0.element * l[$0.offset % o] }
        }
        let l0 = adapter.vector.value.doubles
        let forwardError = zip(y.value.toArray(), forward(l0)).map { abs(Double($0) - $1) }.max()!
        #expect(forwardError < 1e-5, "forward error \(forwardError)")
        let err = finiteDifferenceError(l0, adapter.vector.grad) { l in zip(forward(l), gv).reduce(0) { $0 + $1.0 * $1.1 } }
        print("(IA)3 gradient check (\(scalesInput ? "input" : "output")): max relative error \(err)")
        #expect(err <= 1e-3, "\(err)")
        #expect(base.weight.grad == nil && base.bias?.grad == nil)

        // Merged weights compute the same output.
        let adapted = y.value
        let m = adapter.merged()!
        base.weight.assign(m.weight)
        if let mb = m.bias { base.bias!.assign(mb) }
        adapter.detach()
        #expect(maxAbsDiff(adapted, base(Variable(xT)).value) < 1e-5)
    }

    /// The merged folder loads as a plain model whose embeddings equal the adapted model's.
    @Test func mergedFolderMatchesTheAdaptedModel() throws {
        let scratch = try ScratchFolder("ia3-merge")
        defer { scratch.remove() }
        let pipeline = try ImageTextPipeline(directory: AdapterFixtures.clip)
        let ia3 = try IA3Model(wrapping: pipeline.model, config: IA3Config())
        AdapterFixtures.perturb(ia3, seed: 7)
        var rng = RandomGenerator(seed: 8)
        let pixels = [Tensor.randn([3, pipeline.model.imageSize, pipeline.model.imageSize], generator: &rng)]
        let text = try pipeline.encode(texts: AdapterFixtures.texts), image = try pipeline.encode(pixels: pixels)
        let file = scratch.path + "/ia3.safetensors", out = scratch.path + "/merged"
        try ia3.save(to: file)
        let (merged, kind) = try Adapters.mergeFolder(model: AdapterFixtures.clip, adapter: file, output: out)
        #expect(kind == .ia3)
        _ = merged
        let reloaded = try ImageTextPipeline(directory: out)
        let textDiff = maxAbsDiff(text, try reloaded.encode(texts: AdapterFixtures.texts))
        let imageDiff = maxAbsDiff(image, try reloaded.encode(pixels: pixels))
        print("(IA)3 merge: max |adapted − merged| text \(textDiff), image \(imageDiff)")
        #expect(textDiff <= 1e-5 && imageDiff <= 1e-5, "text \(textDiff), image \(imageDiff)")
        ia3.merge()
        #expect(ia3.isMerged)
        #expect(maxAbsDiff(text, try pipeline.encode(texts: AdapterFixtures.texts)) <= 1e-5)

        // Bottleneck and prefix files cannot be merged.
        let other = try ImageTextPipeline(directory: AdapterFixtures.clip)
        let bn = try BottleneckModel(wrapping: other.model, config: .pfeiffer(reductionFactor: 4))
        try bn.save(to: scratch.path + "/bn.safetensors")
        #expect(throws: ClipError.self) { try Adapters.mergeFolder(model: AdapterFixtures.clip, adapter: scratch.path + "/bn.safetensors", output: out + "2") }
    }
}
