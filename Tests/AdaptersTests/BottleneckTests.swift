// Bottleneck adapters: placement on every family's layers, a new adapter changes nothing, the forward
// formula and Float64 finite-difference gradients of all four adapter tensors, the file's keys.

import Foundation
import Testing
import Tensor
import Autograd
import NN
import Models
import Adapters
import TestSupport

@Suite struct BottleneckTests {
    @Test func placementFollowsHoulsbyAndPfeiffer() throws {
        let pipeline = try ImageTextPipeline(directory: AdapterFixtures.clip)
        let houlsby = try BottleneckModel(wrapping: pipeline.model, config: .houlsby(reductionFactor: 4))
        // Two text and two vision layers, two adapters each.
        #expect(houlsby.adapters.count == 8)
        #expect(houlsby.config.nonLinearity == .swish && BottleneckConfig.pfeiffer().nonLinearity == .relu)
        let keys = houlsby.namedParameters().map(\.key)
        #expect(keys.contains("text_model.encoder.layers.0.attention_adapters.adapters.bottleneck.adapter_down.0.weight"))
        #expect(keys.contains("vision_model.encoder.layers.1.output_adapters.adapters.bottleneck.adapter_up.bias"))
        #expect(keys.count == 32)
        // Text width 32 / 4 = 8, vision 40 / 4 = 10.
        let down = houlsby.adapters.first { $0.layer == "vision_model.encoder.layers.0" }!.adapter.down
        #expect(down.weight.shape == [10, 40])
        houlsby.detach()

        let pfeiffer = try BottleneckModel(wrapping: pipeline.model, config: .pfeiffer(reductionFactor: 4))
        #expect(pfeiffer.adapters.count == 4 && pfeiffer.adapters.allSatisfy { $0.site == .output })
        #expect(pipeline.model.namedModules().filter { ($0.module as? Linear)?.adapter != nil }.map(\.key).allSatisfy { $0.hasSuffix("mlp.fc2") })

        // BERT: after attention.output.dense and output.dense; MPNet: after attention.attn.o and output.dense.
        for (name, attentionOut) in [("bert", "attention.output.dense"), ("mpnet", "attention.attn.o")] {
            let encoder = try AdapterFixtures.textEncoder(name)
            _ = try BottleneckModel(wrapping: encoder, config: .houlsby(reductionFactor: 4))
            let adapted = encoder.namedModules().filter { ($0.module as? Linear)?.adapter is BottleneckLayer }.map(\.key)
            #expect(adapted.count == 2 * encoder.config.numHiddenLayers, "\(name): \(adapted)")
            #expect(adapted.filter { $0.hasSuffix(attentionOut) }.count == encoder.config.numHiddenLayers, "\(adapted)")
            #expect(adapted.filter { !$0.hasSuffix(attentionOut) }.allSatisfy { $0.hasSuffix(".output.dense") }, "\(adapted)")
        }
    }

    @Test func newAdapterLeavesOutputsUnchanged() throws {
        for config in [BottleneckConfig.houlsby(reductionFactor: 4), .pfeiffer(reductionFactor: 4)] {
            let pipeline = try ImageTextPipeline(directory: AdapterFixtures.clip)
            var rng = RandomGenerator(seed: 1)
            let pixels = [Tensor.randn([3, pipeline.model.imageSize, pipeline.model.imageSize], generator: &rng)]
            let text = try pipeline.encode(texts: AdapterFixtures.texts), image = try pipeline.encode(pixels: pixels)
            let adapter = try BottleneckModel(wrapping: pipeline.model, config: config, seed: 2)
            #expect(adapter.adapters.allSatisfy { $0.adapter.up.weight.value.toArray().allSatisfy { $0 == 0 } })
            #expect(maxAbsDiff(text, try pipeline.encode(texts: AdapterFixtures.texts)) == 0)
            #expect(maxAbsDiff(image, try pipeline.encode(pixels: pixels)) == 0)
            AdapterFixtures.perturb(adapter, seed: 3)
            #expect(maxAbsDiff(text, try pipeline.encode(texts: AdapterFixtures.texts)) > 1e-4)
        }
        for name in ["bert", "mpnet"] {
            let encoder = try AdapterFixtures.textEncoder(name)
            let batch = AdapterFixtures.paddedBatch(vocabulary: encoder.config.vocabSize, seed: 4)
            let plain = try encoder.hiddenStates(batch.ids, attentionMask: batch.mask).value
            _ = try BottleneckModel(wrapping: encoder, config: .houlsby(reductionFactor: 4))
            #expect(maxAbsDiff(plain, try encoder.hiddenStates(batch.ids, attentionMask: batch.mask).value) == 0, "\(name)")
        }
    }

    /// z = y + U·act(D·y + d) + u on y = W·x + b; dL/dD, dL/dd, dL/dU, dL/du of L = Σ z ⊙ g against
    /// central differences in Float64, for swish and ReLU.
    @Test(arguments: [BottleneckActivation.swish, .relu, .gelu])
    func gradientsMatchFiniteDifferences(activation: BottleneckActivation) throws {
        let (n, i, o, r) = (6, 5, 8, 3)
        let base = ParameterInitialization.seeded(11) { Linear(i, o) }
        base.freeze()
        let adapter = ParameterInitialization.seeded(12) { BottleneckLayer(for: base, bottleneck: r, nonLinearity: activation) }
        var rng = RandomGenerator(seed: 13)
        adapter.up.weight.assign(Tensor.randn([o, r], generator: &rng))
        adapter.up.bias!.assign(Tensor.randn([o], generator: &rng))
        adapter.down.bias!.assign(Tensor.randn([r], std: 0.5, generator: &rng))
        adapter.attach()
        let xT = Tensor.randn([n, i], generator: &rng), g = Tensor.randn([n, o], generator: &rng)
        let z = base(Variable(xT))
        z.backward(gradient: g)

        let x = xT.doubles, gv = g.doubles, w = base.weight.value.doubles, b = base.bias!.value.doubles
        let p0 = [adapter.down.weight, adapter.down.bias!, adapter.up.weight, adapter.up.bias!].map(\.value.doubles)
        func act(_ v: Double) -> Double {
            switch activation {
            case .relu: max(v, 0)
            case .swish: v / (1 + Foundation.exp(-v))
            case .gelu: 0.5 * v * (1 + erf(v / 2.0.squareRoot()))
            case .tanh: Foundation.tanh(v)
            }
        }
        func forward(_ p: [[Double]]) -> [Double] {
            let y = linear64(x, rows: n, w, b, out: o)
            let h = linear64(y, rows: n, p[0], p[1], out: r).map(act)
            let u = linear64(h, rows: n, p[2], p[3], out: o)
            return zip(y, u).map { $0 + $1 }
        }
        func loss(_ p: [[Double]]) -> Double { zip(forward(p), gv).reduce(0) { $0 + $1.0 * $1.1 } }
        let forwardError = zip(z.value.toArray(), forward(p0)).map { abs(Double($0) - $1) }.max()!
        #expect(forwardError < 1e-5, "forward error \(forwardError)")
        let grads = [adapter.down.weight.grad, adapter.down.bias!.grad, adapter.up.weight.grad, adapter.up.bias!.grad]
        for (j, name) in ["down.weight", "down.bias", "up.weight", "up.bias"].enumerated() {
            let err = finiteDifferenceError(p0[j], grads[j]) { v in
                var p = p0
                p[j] = v
                return loss(p)
            }
            print("bottleneck (\(activation)) gradient check: \(name) max relative error \(err)")
            #expect(err <= 1e-3, "\(name): \(err)")
        }
        #expect(base.weight.grad == nil && base.bias?.grad == nil)
    }
}
