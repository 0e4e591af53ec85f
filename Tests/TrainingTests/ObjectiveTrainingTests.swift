// Seed 003's objectives in contrastive training: open_clip's --accum-freq (the gradients of one big
// batch from cached features), several captions per image, the sample commands' combinations (from
// scratch, from pretrained, LiT with heads), distillation between the towers and from a teacher.

import Testing
import Foundation
import Tensor
import TestSupport
import Autograd
import NN
import Models
import Datasets
import Training

@Suite(.serialized) struct ObjectiveTrainingTests {
    static let fixtures = ELIPTrainerTests.fixtures

    /// Every gradient of the model after a backward pass (zero where none), by key.
    func gradients(_ model: any PromptGuidedModel) -> [(String, Tensor)] {
        model.namedParameters().map { ($0.key, $0.variable.grad ?? Tensor.zeros($0.variable.shape)) }
    }

    /// accum_freq's cached-feature backward gives one big batch's loss and gradients, for InfoNCE and
    /// the sigmoid loss, with one or several captions per image.
    @Test(arguments: [("clip/gelu_vocab", false), ("clip/gelu_vocab", true), ("siglip/p8_48", false), ("siglip/p8_48", true)])
    func accumulatedFeaturesGiveTheBigBatchGradients(_ folder: String, _ multi: Bool) throws {
        let p = try ImageTextPipeline(directory: Self.fixtures + "/" + folder)
        let model = p.model
        model.train()
        var rng = RandomGenerator(seed: 11)
        let s = model.imageSize
        let images = multi ? 4 : 8
        let pixels = Tensor.randn([images, 3, s, s], generator: &rng)
        let words = ["red", "blue", "green", "small", "large", "circle", "square", "left", "right"]
        let captions = (0..<8).map { i in "a \(words[i % 9]) \(words[(i * 4 + 1) % 9]) \(words[(i * 7 + 2) % 9])" }
        let owners = multi ? [0, 0, 1, 1, 2, 2, 3, 3] : nil
        let step = ContrastiveStep(model: model, lr: 1e-3, weightDecay: 0,
                                   schedule: WarmupCosineSchedule(base: 1e-3, warmupSteps: 0, totalSteps: 10), maxGradNorm: 0)
        let big = try step.lossAndBackward(ContrastiveBatch(tokens: p.tokenize(captions), pixels: pixels, imageOfText: owners))
        let reference = gradients(model)
        model.zeroGrad()
        let parts = 4
        let micro = (0..<parts).map { k -> ContrastiveBatch in
            let t = Array(captions[(k * 2)..<(k * 2 + 2)])
            if multi {
                // two captions of one image per micro-batch
                return ContrastiveBatch(tokens: p.tokenize(t), pixels: pixels.narrowed(0, start: k, length: 1).contiguous(),
                                        imageOfText: [0, 0])
            }
            return ContrastiveBatch(tokens: p.tokenize(t), pixels: pixels.narrowed(0, start: k * 2, length: 2).contiguous())
        }
        let accumulated = try step.accumulatedLossAndBackward(micro)
        #expect(abs(accumulated - big) <= 1e-5 * abs(big), "\(folder): loss \(accumulated) vs \(big)")
        var worst: Float = 0, checked = 0
        for ((key, g), (_, r)) in zip(gradients(model), reference) where norm(r) > 1e-6 {
            let e = relativeError(g, r)
            if e > worst { worst = e }
            #expect(e <= 1e-4, "\(folder) \(key): relative gradient error \(e)")
            checked += 1
        }
        #expect(checked > 10, "only \(checked) parameters had a gradient")
        model.zeroGrad()
    }

    /// The same for a distillation loss joined by the pair loss, through DINO heads on both towers (the
    /// pair term then compares the towers' own features, a second set of cached features): every
    /// gradient of the model and of the heads is the big batch's.
    @Test func accumulatedFeaturesCarryHeadsAndThePairTerm() throws {
        let p = try ImageTextPipeline(directory: Self.fixtures + "/clip/gelu_vocab")
        let model = p.model
        var c = ContrastiveConfig(dataset: "unused")
        c.distiller = "dino"
        c.infonceWeight = 0.5
        c.imageHeadNLayers = 2
        c.headHiddenDim = 16
        c.headBottleneckDim = 8
        c.prototypes = 10
        var rng = RandomGenerator(seed: 12)
        let s = model.imageSize
        let pixels = Tensor.randn([6, 3, s, s], generator: &rng)
        let captions = ["a red circle", "a blue square", "two green stars", "a small red square", "a large blue circle", "one star"]
        func run(_ accumulate: Bool) throws -> (Float, [Tensor]) {
            let objective = try ContrastiveObjective.make(c, model: model, teacher: nil)
            let step = ContrastiveStep(model: model, lr: 1e-3, weightDecay: 0,
                                       schedule: WarmupCosineSchedule(base: 1e-3, warmupSteps: 0, totalSteps: 10), maxGradNorm: 0,
                                       objective: objective)
            let loss: Float
            if accumulate {
                loss = try step.accumulatedLossAndBackward((0..<3).map { k in
                    ContrastiveBatch(tokens: p.tokenize(Array(captions[(2 * k)..<(2 * k + 2)])),
                                     pixels: pixels.narrowed(0, start: 2 * k, length: 2).contiguous())
                })
            } else {
                loss = try step.lossAndBackward(ContrastiveBatch(tokens: p.tokenize(captions), pixels: pixels))
            }
            let grads = (model.parameters + objective.namedParameters().map(\.variable)).map { $0.grad ?? Tensor.zeros($0.shape) }
            model.zeroGrad()
            return (loss, grads)
        }
        let (big, reference) = try run(false)
        let (accumulated, grads) = try run(true)
        #expect(abs(accumulated - big) <= 1e-5 * abs(big), "loss \(accumulated) vs \(big)")
        var checked = 0
        for (g, r) in zip(grads, reference) where norm(r) > 1e-6 {
            #expect(relativeError(g, r) <= 1e-4)
            checked += 1
        }
        #expect(checked > 10)
    }

    /// A one-directional loss leaves the text tower alone; the pair term added to it trains both.
    @Test func infonceWeightJoinsThePairLoss() throws {
        let dir = try ScratchFolder("infonce-weight")
        defer { dir.remove() }
        try SyntheticShapes(size: 32, seed: 10).write(to: dir.path + "/data", count: 20)
        var c = config(dir.path)
        c.distiller = "rkd"
        c.trainBs = 8
        c.infonceWeight = 1
        let t = try ContrastiveTrainer(config: c)
        let before = snapshot(t.model)
        try t.run(stopAfterUpdates: 2)
        #expect(moved(before, t.model, prefix: "text_model.").any && moved(before, t.model, prefix: "vision_model.").any)
    }

    func config(_ dir: String, model: String = "micro") -> ContrastiveConfig {
        var c = ContrastiveConfig(dataset: dir + "/data", model: model, outputDir: dir + "/out")
        c.epochs = 1
        c.trainBs = 4
        c.imageSize = 32
        c.lr = 2e-3
        c.seed = 4
        c.evalEvery = 0
        c.saveEvery = 0
        return c
    }

    func snapshot(_ model: any PromptGuidedModel) -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.key, $0.tensor.contiguous().toArray()) })
    }

    /// Which parameters moved, by key prefix.
    func moved(_ before: [String: [Float]], _ model: any PromptGuidedModel, prefix: String) -> (all: Bool, any: Bool) {
        var all = true, any = false
        for (k, v) in model.stateDict() where k.hasPrefix(prefix) {
            let m = before[k]! != v.contiguous().toArray()
            all = all && m
            any = any || m
        }
        return (all, any)
    }

    /// The trainer with accum_freq 2 and batches of 4 sees the same rows per update as batches of 8:
    /// the same losses.
    @Test func accumFreqTrainsAsTheBigBatch() throws {
        let dir = try ScratchFolder("accum-freq")
        defer { dir.remove() }
        try SyntheticShapes(size: 64, seed: 3).write(to: dir.path + "/data", count: 24)
        var a = config(dir.path, model: Self.fixtures + "/clip/gelu_vocab")
        a.trainBs = 8
        a.outputDir = dir.path + "/a"
        var b = a
        b.trainBs = 4
        b.accumFreq = 2
        b.outputDir = dir.path + "/b"
        var la: [Float] = [], lb: [Float] = []
        let ta = try ContrastiveTrainer(config: a), tb = try ContrastiveTrainer(config: b)
        #expect(ta.updatesPerEpoch == tb.updatesPerEpoch)
        try ta.run { if case .update(let u) = $0 { la.append(u.loss) } }
        try tb.run { if case .update(let u) = $0 { lb.append(u.loss) } }
        #expect(la.count == lb.count && la.count >= 2, "\(la.count) and \(lb.count) updates")
        for (x, y) in zip(la, lb) { #expect(abs(x - y) <= 1e-3 * abs(x), "\(la) vs \(lb)") }
    }

    /// With multi_positive every caption of a batch's images is in it, each pointing at its image.
    @Test func multiPositiveBatchesCarryEveryCaption() throws {
        let dir = try ScratchFolder("multi-positive")
        defer { dir.remove() }
        try SyntheticShapes(size: 32, seed: 5).write(to: dir.path + "/data", count: 12)
        var c = config(dir.path)
        c.multiPositive = true
        let t = try ContrastiveTrainer(config: c)
        let picks = t.batches(epoch: 0)[0]
        let batch = try t.contrastiveBatch(picks)
        let expected = picks.flatMap { p in Array(repeating: 0, count: t.train.items[p.image].captions.count) }.count
        #expect(batch.tokens.ids.shape[0] == expected && expected > picks.count)
        let owners = try #require(batch.imageOfText)
        for (row, p) in picks.enumerated() {
            #expect(owners.filter { $0 == row }.count == t.train.items[p.image].captions.count)
        }
        #expect(owners.first == 0)
        c.maxCaptionsPerImage = 2
        c.outputDir = dir.path + "/out2"
        let capped = try ContrastiveTrainer(config: c)
        #expect(try capped.contrastiveBatch(picks).imageOfText == picks.indices.flatMap { [$0, $0] })
        var losses: [Float] = []
        try capped.run(stopAfterUpdates: 2) { if case .update(let u) = $0 { losses.append(u.loss) } }
        #expect(losses.count == 2 && losses.allSatisfy(\.isFinite))
    }

    /// Seed 003's three sample commands: a CLIP from scratch with both towers unlocked; from
    /// pretrained weights, unlocked; LiT, the text tower locked and a 2-layer head on the image tower.
    @Test func seed003SampleCommandsRun() throws {
        let dir = try ScratchFolder("seed003")
        defer { dir.remove() }
        try SyntheticShapes(size: 32, seed: 6).write(to: dir.path + "/data", count: 16)
        // from scratch: --image-head-n-layers 0 --text-head-n-layers 0 --unlock-image-model --unlock-text-model --distiller InfoNCE
        var scratch = config(dir.path)
        scratch.distiller = "InfoNCE"
        scratch.outputDir = dir.path + "/scratch"
        let a = try ContrastiveTrainer(config: scratch)
        #expect(a.model.namedParameters().allSatisfy { $0.variable.requiresGrad })
        let a0 = snapshot(a.model)
        try a.run(stopAfterUpdates: 2)
        #expect(moved(a0, a.model, prefix: "vision_model.").any && moved(a0, a.model, prefix: "text_model.").any)

        // from pretrained, unlocked: --pretrained-image-model --pretrained-text-model --unlock-…
        var pretrained = config(dir.path, model: Self.fixtures + "/clip/gelu_vocab")
        pretrained.outputDir = dir.path + "/pretrained"
        let b = try ContrastiveTrainer(config: pretrained)
        let b0 = snapshot(b.model)
        try b.run(stopAfterUpdates: 2)
        #expect(moved(b0, b.model, prefix: "vision_model.").any && moved(b0, b.model, prefix: "text_model.").any)

        // LiT: --lock-text-model --image-head-n-layers 2 --text-head-n-layers 0
        var lit = config(dir.path, model: Self.fixtures + "/clip/gelu_vocab")
        lit.outputDir = dir.path + "/lit"
        lit.lockText = true
        lit.imageHeadNLayers = 2
        lit.headHiddenDim = 32
        lit.evalEvery = 1
        let c = try ContrastiveTrainer(config: lit)
        let head = try #require(c.objective.imageHead)
        #expect(c.objective.textHead == nil && !head.hasPrototypes)
        #expect(head.outDim == c.model.embeddingDim)
        let c0 = snapshot(c.model)
        let h0 = head.module.parameters.map { $0.value.contiguous().toArray() }
        try c.run()
        #expect(!moved(c0, c.model, prefix: "text_model.").any)
        #expect(moved(c0, c.model, prefix: "vision_model.").any)
        #expect(zip(h0, head.module.parameters).contains { $0.0 != $0.1.value.contiguous().toArray() })
        // the head travels with the checkpoint and retrieval embeds through it
        #expect(FileManager.default.fileExists(atPath: dir.path + "/lit/last/" + ContrastiveTrainer.objectiveFile))
        let resumed = try ContrastiveTrainer(config: lit)
        #expect(try resumed.resume())
        let h1 = try #require(resumed.objective.imageHead).module.parameters.map { $0.value.contiguous().toArray() }
        #expect(h1 == head.module.parameters.map { $0.value.contiguous().toArray() })
        #expect(try c.writeTestMetrics() != nil)
    }

    /// Settings that do not fit together are named.
    @Test func objectiveSettingsAreChecked() throws {
        for (yaml, needle) in [("dataset: d\ndistiller: nope\n", "nope"),
                               ("dataset: d\nteacher: t\n", "teacher"),
                               ("dataset: d\naccum_freq: 2\ngrad_accum: 2\n", "accum_freq"),
                               ("dataset: d\naccum_freq: 0\n", "accum_freq"),
                               ("dataset: d\nimage_head_n_layers: -1\n", "image_head_n_layers"),
                               ("dataset: d\ndistiller: rkd\nmulti_positive: true\n", "multi_positive"),
                               ("dataset: d\nadapter: nope\n", "nope"),
                               ("dataset: d\ndistiller: rkd\ninfonce_weight: -1\n", "infonce_weight")] {
            #expect {
                _ = try ContrastiveConfig.parse(yaml)
            } throws: { "\($0)".contains(needle) }
        }
        let ok = try ContrastiveConfig.parse("dataset: d\ndistiller: SimReg-L1\naccum_freq: 3\nmulti_positive: true\nteacher: t\n")
        #expect(ok.distiller == "SimReg-L1" && ok.accumFreq == 3 && ok.multiPositive && ok.teacher == "t")
    }

    /// Every distiller trains between the towers: finite losses, the image tower moves, and the
    /// one-directional ones leave the text tower as it was.
    @Test(arguments: ["simreg", "simreg-l1", "simreg-smoothl1", "vicreg", "barlowtwins", "rkd", "compress-1q",
                      "compress-2q", "seed", "dino", "protocpc", "protoclip", "infonce"])
    func everyDistillerTrainsBetweenTheTowers(_ name: String) throws {
        let dir = try ScratchFolder("distill-\(name)")
        defer { dir.remove() }
        try SyntheticShapes(size: 32, seed: 7).write(to: dir.path + "/data", count: 20)
        var c = config(dir.path)
        c.distiller = name
        c.trainBs = 8
        c.prototypes = 6
        if name == "dino" || name == "protocpc" {
            c.imageHeadNLayers = 3
            c.headHiddenDim = 32
            c.headBottleneckDim = 16
        }
        let t = try ContrastiveTrainer(config: c)
        let kind = try ContrastiveObjectiveKind(distiller: name)
        let oneDirectional: Bool
        if case .distill(let k) = kind { oneDirectional = k.makeLoss().isOneDirectional } else { oneDirectional = false }
        let before = snapshot(t.model)
        var losses: [Float] = []
        try t.run(stopAfterUpdates: 2) { if case .update(let u) = $0 { losses.append(u.loss) } }
        #expect(losses.count == 2 && losses.allSatisfy(\.isFinite), "\(name): \(losses)")
        #expect(moved(before, t.model, prefix: "vision_model.").any, "\(name): the image tower did not move")
        let textMoved = moved(before, t.model, prefix: "text_model.").any
        #expect(textMoved == !oneDirectional, "\(name): text tower moved \(textMoved), one-directional \(oneDirectional)")
        // the objective's state (heads, queues, centres, prototypes) round-trips through a checkpoint
        try t.saveLast()
        let resumed = try ContrastiveTrainer(config: c)
        #expect(try resumed.resume())
        let a = t.objective.stateTensors(), b = resumed.objective.stateTensors()
        #expect(a.map(\.name) == b.map(\.name))
        for (x, y) in zip(a, b) { #expect(x.tensor.contiguous().toArray() == y.tensor.contiguous().toArray(), "\(name): \(x.name)") }
    }

    /// A teacher's towers are distilled into a smaller student's, the teacher stays frozen, and a
    /// preset student takes the teacher's embedding width; a text-only teacher distils the text tower.
    @Test(arguments: ["simreg", "rkd", "seed", "dino"])
    func teachersDistilIntoAStudent(_ name: String) throws {
        let dir = try ScratchFolder("teacher-\(name)")
        defer { dir.remove() }
        try SyntheticShapes(size: 32, seed: 8).write(to: dir.path + "/data", count: 20)
        let teacherFolder = Self.fixtures + "/clip/gelu_vocab"
        var c = config(dir.path)
        c.teacher = teacherFolder
        c.distiller = name
        c.trainBs = 8
        if name == "dino" {
            c.imageHeadNLayers = 2
            c.textHeadNLayers = 2
            c.headHiddenDim = 32
            c.headBottleneckDim = 16
            c.prototypes = 12
        }
        let t = try ContrastiveTrainer(config: c)
        let teacher = try #require(t.objective.teacher)
        #expect(t.model.embeddingDim == teacher.model.embeddingDim)
        let teacherBefore = snapshot(teacher.model)
        let before = snapshot(t.model)
        var losses: [Float] = []
        try t.run(stopAfterUpdates: 2) { if case .update(let u) = $0 { losses.append(u.loss) } }
        #expect(losses.count == 2 && losses.allSatisfy(\.isFinite), "\(name): \(losses)")
        #expect(moved(before, t.model, prefix: "vision_model.").any && moved(before, t.model, prefix: "text_model.").any)
        #expect(!moved(teacherBefore, teacher.model, prefix: "").any, "\(name): the teacher changed")

        // a text-only teacher (a sentence encoder) trains the text tower only
        try TinyTextEncoder.write(to: dir.path + "/text", pooling: "mean", maxSeqLength: 24)
        var textOnly = c
        textOnly.teacher = dir.path + "/text"
        textOnly.outputDir = dir.path + "/text-only"
        textOnly.projectionDim = nil
        let s = try ContrastiveTrainer(config: textOnly)
        let b2 = snapshot(s.model)
        try s.run(stopAfterUpdates: 1)
        #expect(!moved(b2, s.model, prefix: "vision_model.").any && moved(b2, s.model, prefix: "text_model.").any)
    }

    /// `adapter` trains only the adapters: the model's weights stay bit for bit, the adapters move,
    /// their file travels with every checkpoint and a resumed run reads it back.
    @Test(arguments: ["lora", "houlsby", "prefix", "ia3"])
    func adaptersTrainAloneAndTravelWithCheckpoints(_ name: String) throws {
        let dir = try ScratchFolder("adapter-\(name)")
        defer { dir.remove() }
        try SyntheticShapes(size: 32, seed: 9).write(to: dir.path + "/data", count: 20)
        var c = config(dir.path, model: Self.fixtures + "/clip/gelu_vocab")
        c.adapter = name
        c.prefixLength = 3
        c.adapterReduction = 4
        c.evalEvery = 1
        let t = try ContrastiveTrainer(config: c)
        let adapters = try #require(t.adapters)
        #expect(t.model.namedParameters().allSatisfy { !$0.variable.requiresGrad })
        let before = snapshot(t.model)
        let a0 = adapters.parameters.map { $0.value.contiguous().toArray() }
        try t.run()
        #expect(!moved(before, t.model, prefix: "").any, "\(name): a base weight moved")
        #expect(zip(a0, adapters.parameters).contains { $0.0 != $0.1.value.contiguous().toArray() }, "\(name): no adapter moved")
        for folder in ["last", "best"] {
            #expect(FileManager.default.fileExists(atPath: dir.path + "/out/\(folder)/" + ContrastiveTrainer.adapterFile))
        }
        let resumed = try ContrastiveTrainer(config: c)
        #expect(try resumed.resume())
        let r = try #require(resumed.adapters)
        #expect(r.parameters.map { $0.value.contiguous().toArray() } == adapters.parameters.map { $0.value.contiguous().toArray() })
        let texts = ["a red circle", "a small blue square"]
        #expect(maxAbsDiff(try resumed.pipeline.encode(texts: texts), try t.pipeline.encode(texts: texts)) <= 1e-6)
        // the adapters are in the embeddings: the base folder alone encodes differently
        let plain = try ImageTextPipeline(directory: Self.fixtures + "/clip/gelu_vocab")
        #expect(maxAbsDiff(try plain.encode(texts: texts), try t.pipeline.encode(texts: texts)) > 1e-5, "\(name)")
        #expect(try t.writeTestMetrics() != nil)
    }
}
