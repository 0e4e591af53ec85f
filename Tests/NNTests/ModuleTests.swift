// Modules: keys, modes, freezing, counts; optimizers and schedules against PyTorch.

import Testing
import Foundation
import Tensor
import Autograd
import NN

enum NNFixtures {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        url.deleteLastPathComponent()
        url.deleteLastPathComponent()
        return url.appendingPathComponent("Fixtures").path
    }()
}

func maxDiff(_ a: Tensor, _ b: Tensor) -> Float {
    guard a.shape == b.shape else { return .infinity }
    return zip(a.toArray(), b.toArray()).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

@Suite struct ModuleTests {
    @Test func keysModesFreezingAndCounts() throws {
        let enc = Encoder(layers: 2, EncoderOptions(dim: 8, heads: 2, mlpDim: 16, activation: .quickGelu, layerNormEps: 1e-5))
        let keys = enc.namedParameters().map(\.key)
        #expect(keys.contains("layers.1.self_attn.q_proj.weight"))
        #expect(keys.contains("layers.0.mlp.fc2.bias"))
        #expect(keys.contains("layers.0.layer_norm2.weight"))
        // Per layer: 4 projections (8·8 + 8) + 2 norms (2·8) + fc1 (8·16 + 16) + fc2 (16·8 + 8).
        let perLayer = 4 * 72 + 2 * 16 + 144 + 136
        #expect(enc.parameterCount == 2 * perLayer)
        enc.freeze { $0.hasPrefix("layers.0.") }
        #expect(enc.trainableParameterCount == perLayer)
        enc.unfreeze { $0.contains("norm") }
        #expect(enc.trainableParameterCount == perLayer + 2 * 16)
        enc.eval()
        #expect(enc.namedModules().allSatisfy { !$0.module.isTraining })
        enc.train()
        #expect(enc.layers[1].mlp.isTraining)
    }

    @Test func frozenParametersGetNoGradient() throws {
        let fc = Linear(4, 3)
        fc.freeze { $0 == "weight" }
        let x = Variable(Tensor.ones([2, 4]), requiresGrad: true)
        fc(x).sum().backward()
        #expect(fc.weight.grad == nil)
        #expect(fc.bias?.grad?.toArray() == [2, 2, 2])
    }

    @Test func dropoutOnlyInTraining() throws {
        let d = Dropout(0.5, seed: 3)
        let x = Variable(Tensor.ones([1000]))
        let y = d(x).value.toArray()
        #expect(Set(y).isSubset(of: [0, 2]))
        let kept = y.filter { $0 != 0 }.count
        #expect(kept > 400 && kept < 600)
        d.eval()
        #expect(d(x).value.toArray() == x.value.toArray())
    }

    @Test func attentionMasksHideKeys() throws {
        let attn = ParameterInitialization.seeded(5) { MultiHeadAttention(dim: 8, heads: 2) }
        var g = RandomGenerator(seed: 1)
        let x = Tensor.randn([1, 4, 8], generator: &g)
        // Causal: the first position's output does not depend on later tokens.
        let y1 = attn(Variable(x), mask: AttentionMask(causal: true)).value
        let x2 = x.contiguous()
        for j in 0..<8 { x2[0, 3, j] = 100 }
        let y2 = attn(Variable(x2), mask: AttentionMask(causal: true)).value
        #expect(maxDiff(y1.narrowed(1, start: 0, length: 3), y2.narrowed(1, start: 0, length: 3)) < 1e-5)
        // Padding: a padded key changes nothing for the others.
        let pad = Tensor([1, 1, 1, 0], shape: [1, 4])
        let p1 = attn(Variable(x), mask: AttentionMask(keyPadding: pad)).value
        let p2 = attn(Variable(x2), mask: AttentionMask(keyPadding: pad)).value
        #expect(maxDiff(p1.narrowed(1, start: 0, length: 3), p2.narrowed(1, start: 0, length: 3)) < 1e-5)
    }
}

@Suite struct OptimizerTests {
    let e: SafeTensorsFile
    init() throws { e = try SafeTensorsFile(path: NNFixtures.root + "/optim/expected.safetensors") }

    /// Runs five steps with the fixture's gradients.
    func run(_ tag: String, clip: Float? = nil, _ make: (Variable, Variable) -> Optimizer) throws {
        let w = Variable(try e.tensor("w0").contiguous(), requiresGrad: true)
        let b = Variable(try e.tensor("b0").contiguous(), requiresGrad: true)
        // Own copies: the optimizer writes in place.
        w.assign(w.value + Tensor.zeros(w.shape))
        b.assign(b.value + Tensor.zeros(b.shape))
        let opt = make(w, b)
        for i in 0..<5 {
            w.grad = try e.tensor("grad_w.\(i)")
            b.grad = try e.tensor("grad_b.\(i)")
            if let clip {
                let norm = clipGradientNorm([w, b], maxNorm: clip)
                #expect(abs(norm - (try e.tensor("\(tag).norm.\(i)")).item) < 1e-4)
            }
            opt.step()
        }
        #expect(maxDiff(w.value, try e.tensor("\(tag).w")) < 2e-6, "\(tag) weight")
        #expect(maxDiff(b.value, try e.tensor("\(tag).b")) < 2e-6, "\(tag) bias")
    }

    @Test func adamWWithGroupsEqualsPyTorch() throws {
        try run("adamw") { w, b in
            AdamW([ParameterGroup([w], weightDecay: 0.1), ParameterGroup([b], weightDecay: 0)],
                  learningRate: 0.01, beta1: 0.9, beta2: 0.98, eps: 1e-6)
        }
    }

    @Test func sgdWithMomentumEqualsPyTorch() throws {
        try run("sgd") { w, b in SGD([w, b], learningRate: 0.05, momentum: 0.9, weightDecay: 0.01) }
        try run("nesterov") { w, b in
            SGD([ParameterGroup([w, b])], learningRate: 0.05, momentum: 0.9, nesterov: true)
        }
    }

    @Test func clippingEqualsPyTorch() throws {
        try run("adamw_clip", clip: 1) { w, b in AdamW([w, b], learningRate: 0.01, weightDecay: 0.05) }
    }

    @Test func decaySplitSkipsBiasesAndNorms() {
        let layer = EncoderLayer(EncoderOptions(dim: 4, heads: 1, mlpDim: 8, activation: .gelu, layerNormEps: 1e-5))
        let groups = ParameterGroup.decaySplit(layer, weightDecay: 0.2)
        #expect(groups[0].weightDecay == 0.2 && groups[1].weightDecay == 0)
        #expect(groups[0].parameters.allSatisfy { $0.rank == 2 })
        #expect(groups[1].parameters.allSatisfy { $0.rank == 1 })
        #expect(groups[0].parameters.count + groups[1].parameters.count == layer.parameters.count)
    }

    @Test func schedules() {
        let s = WarmupCosineSchedule(base: 1, warmupSteps: 10, totalSteps: 110, minimum: 0.1)
        #expect(abs(s.rate(at: 0) - 0.1) < 1e-6)
        #expect(abs(s.rate(at: 9) - 1) < 1e-6)
        #expect(abs(s.rate(at: 10) - 1) < 1e-6)
        #expect(abs(s.rate(at: 60) - 0.55) < 1e-6)        // half-way down the cosine
        #expect(abs(s.rate(at: 109) - 0.1) < 1e-3)
        #expect(s.rate(at: 500) == 0.1)
        #expect(ConstantSchedule(0.3).rate(at: 1000) == 0.3)
    }

    @Test func accumulatedMicroBatchesEqualOneBatch() throws {
        let fc = ParameterInitialization.seeded(4) { Linear(5, 3) }
        var g = RandomGenerator(seed: 8)
        let x = Tensor.randn([6, 5], generator: &g)
        fc(Variable(x)).pow(2).mean().backward()
        let full = fc.weight.grad!.toArray()
        fc.zeroGrad()
        for half in [x.narrowed(0, start: 0, length: 3), x.narrowed(0, start: 3, length: 3)] {
            fc(Variable(half)).pow(2).mean().backward()
        }
        scaleGradients(fc.parameters, by: 0.5)
        let accumulated = fc.weight.grad!.toArray()
        #expect(zip(full, accumulated).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    @Test func adamWStateResumesExactly() throws {
        func model() -> Linear { ParameterInitialization.seeded(21) { Linear(4, 3) } }
        var g = RandomGenerator(seed: 5)
        let batches = (0..<5).map { _ in Tensor.randn([6, 4], generator: &g) }
        func step(_ m: Linear, _ opt: AdamW, _ x: Tensor) {
            opt.zeroGrad()
            m(Variable(x)).pow(2).mean().backward()
            opt.step()
        }
        let straight = model()
        let a = AdamW(straight.parameters, learningRate: 0.01, weightDecay: 0.1)
        for x in batches { step(straight, a, x) }

        let first = model()
        let b = AdamW(first.parameters, learningRate: 0.01, weightDecay: 0.1)
        for x in batches.prefix(3) { step(first, b, x) }
        let saved = Dictionary(uniqueKeysWithValues: b.state(named: first.namedParameters()).map { ($0.name, $0.tensor) })
        let weights = Dictionary(uniqueKeysWithValues: first.stateDict().map { ($0.key, $0.tensor + Tensor.zeros($0.tensor.shape)) })

        let resumed = model()
        try resumed.load(weights)
        let c = AdamW(resumed.parameters, learningRate: 0.01, weightDecay: 0.1)
        try c.load(state: saved, named: resumed.namedParameters())
        #expect(c.stepCount == 3)
        for x in batches.suffix(2) { step(resumed, c, x) }
        for (p, q) in zip(straight.parameters, resumed.parameters) { #expect(p.value.toArray() == q.value.toArray()) }
        #expect(ClipError.kind { try c.load(state: [:], named: resumed.namedParameters()) } == .format)
    }

    /// A budgeted build takes no memory past its budget (sizes from a file cannot ask for more than the
    /// checkpoint holds) and throws once the build returns, naming the source; within it, it builds.
    @Test func budgetedBuildsRefuseWhatTheCheckpointCannotHold() throws {
        // a checkpoint of n values allows 2n + 2^20 values: 1024 × 1024 + 1024 + 16 + 4 = 2 · 522 + 2^20
        let fits = try ParameterInitialization.withoutInitialization(checkpointValues: 522, what: "small.json") {
            (Linear(1024, 1024), Linear(4, 4))
        }
        #expect(fits.0.weight.shape == [1024, 1024] && fits.1.weight.shape == [4, 4] && fits.1.bias?.shape == [4])
        do {
            _ = try ParameterInitialization.withoutInitialization(checkpointValues: 521, what: "small.json") {
                (Linear(1024, 1024), Linear(4, 4))
            }
            Issue.record("a build past its budget was accepted")
        } catch let e as ClipError {
            #expect(e.kind == .shape && e.message.contains("small.json") && e.message.contains("[4]"), "\(e.message)")
        }
        // sizes whose product overflows Int are refused the same way, not trapped
        #expect(ClipError.kind {
            try ParameterInitialization.withoutInitialization(checkpointValues: 1 << 20, what: "huge.json") { Linear(1 << 40, 1 << 40) }
        } == .shape)
        #expect(ClipError.kind {
            try ParameterInitialization.withoutInitialization(checkpointValues: 1 << 20, what: "huge.json") { Embedding(1 << 62, 4) }
        } == .shape)
        // a seeded build with a budget: the same numbers as without one when it fits
        let a = ParameterInitialization.seeded(5) { Linear(3, 2) }
        let b = try ParameterInitialization.seeded(5, budget: 8, what: "preset") { Linear(3, 2) }
        #expect(a.weight.value.toArray() == b.weight.value.toArray())
        #expect(ClipError.kind { try ParameterInitialization.seeded(5, budget: 7, what: "preset") { Linear(3, 2) } } == .invalidArgument)
    }
}
