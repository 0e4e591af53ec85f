// Projection heads: keys, files, modes, objective state, refused settings.

import Testing
import Foundation
import Tensor
import Autograd
import NN
import Heads
import TestSupport

private func randomRows(_ n: Int, _ d: Int, seed: UInt64) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    return Tensor.randn([n, d], generator: &rng)
}

/// The `ClipError` `body` throws, if any.
private func clipError(_ body: () throws -> Void) -> ClipError? {
    do { try body(); return nil } catch let e as ClipError { return e } catch { return nil }
}

@Suite struct HeadsBehaviourTests {
    @Test func keysFollowTheType() throws {
        var config = HeadsConfig(type: .blip, outputDim: 8, hiddenDim: 12, dropout: 0)
        let blip = try ProjectionHeads(config: config, imageDim: 6, textDim: 5, seed: 1)
        let keys = blip.namedStateEntries().map(\.key)
        #expect(keys.contains("image_head.fc1.weight") && keys.contains("text_head.norm.bias"))
        #expect(keys.contains("image_head_m.fc2.weight") && keys.contains("logit_scale"))
        #expect(!blip.trainableParameters.contains { $0.key.contains("_m.") })
        #expect(blip.trainableParameters.count == blip.namedParameters().count / 2 + 1)
        config = HeadsConfig(type: .align, outputDim: 8)
        let align = try ProjectionHeads(config: config, imageDim: 6, textDim: 5, seed: 1)
        #expect(align.namedBuffers().map(\.key).contains("image_head.norm.running_var"))
        #expect(align.namedParameters().first { $0.key == "image_head.fc1.weight" }?.variable.shape == [32, 6])
        config = HeadsConfig(type: .clip, outputDim: 8)
        config.learnableTemp = false
        let clip = try ProjectionHeads(config: config, imageDim: 6, textDim: 10, seed: 1)
        #expect(clip.namedParameters().first { $0.key == "text_head.fc1.weight" }?.variable.shape == [5, 10])
        #expect(!clip.trainableParameters.contains { $0.key == "logit_scale" })
        #expect(abs(clip.logitScale!.value.item - log(1 / 0.07)) < 1e-6)
        config = HeadsConfig(type: .crossModal, outputDim: 8, hiddenDim: 8)
        config.numHeads = 2
        let cross = try ProjectionHeads(config: config, imageDim: 6, textDim: 5, seed: 1)
        #expect(cross.namedParameters().map(\.key).contains("bank"))
        #expect(cross.namedParameters().map(\.key).contains("image_head.layers.0.cross_attn.k_proj.weight"))
        // Same seed, same weights.
        let again = try ProjectionHeads(config: config, imageDim: 6, textDim: 5, seed: 1)
        #expect(zip(cross.stateDict(), again.stateDict()).allSatisfy { $0.tensor.toArray() == $1.tensor.toArray() })
    }

    /// cross_modal and attention embed each row on its own: a row's embedding does not depend on the
    /// rest of its batch (no pairing leak at retrieval time), in either mode without dropout.
    @Test(arguments: [HeadType.crossModal, .attention, .mlp]) func rowsAreIndependent(type: HeadType) throws {
        var config = HeadsConfig(type: type, outputDim: 8, hiddenDim: 8, dropout: 0)
        config.numHeads = 2
        let heads = try ProjectionHeads(config: config, imageDim: 6, textDim: 5, seed: 3)
        let images = randomRows(5, 6, seed: 1)
        let all = heads.embed(images: images, batch: 5).toArray()
        let one = heads.embed(images: images.sliced(0, 2..<3).contiguous()).toArray()
        #expect(zip(all[16..<24], one).allSatisfy { abs($0 - $1) < 1e-6 })
        let chunked = heads.embed(images: images, batch: 2).toArray()
        #expect(zip(all, chunked).allSatisfy { abs($0 - $1) < 1e-6 })
        let norms = heads.embed(texts: randomRows(3, 5, seed: 2))
        #expect(norms.shape == [3, 8])
        #expect(abs(norms.toArray()[0..<8].reduce(0) { $0 + $1 * $1 } - 1) < 1e-5)
    }

    /// BatchNorm: training mode uses the batch and updates the running statistics; embedding
    /// (evaluation mode) uses them, changes nothing, and leaves the mode as it was.
    @Test func alignBatchNormTrainAndEval() throws {
        let heads = try ProjectionHeads(config: HeadsConfig(type: .align, outputDim: 8, hiddenDim: 16, dropout: 0),
                                        imageDim: 6, textDim: 5, seed: 2)
        let images = randomRows(8, 6, seed: 4), texts = randomRows(8, 5, seed: 5)
        let runningMean = { heads.namedBuffers().first { $0.key == "image_head.norm.running_mean" }!.variable.value.toArray() }
        let before = runningMean()
        let evalOut = heads.embed(images: images)
        #expect(runningMean() == before && heads.isTraining)
        let trainOut = heads(image: Variable(images), text: Variable(texts)).image.value
        #expect(runningMean() != before)
        #expect(maxAbsDiff(trainOut, evalOut) > 1e-3)
        // Evaluation: row 0 alone equals row 0 in the batch.
        let row = heads.embed(images: images.sliced(0, 0..<1).contiguous())
        #expect(maxAbsDiff(row, heads.embed(images: images).sliced(0, 0..<1).contiguous()) < 1e-6)
    }

    /// Save and load keep the settings, every parameter, the BatchNorm statistics and the momentum copies.
    @Test(arguments: [HeadType.align, .blip, .siglip, .crossModal]) func saveLoadRoundTrip(type: HeadType) throws {
        let scratch = try ScratchFolder("heads-roundtrip")
        defer { scratch.remove() }
        var config = HeadsConfig(type: type, outputDim: 8, hiddenDim: 8, dropout: 0)
        config.numHeads = 2
        config.momentum = 0.5
        let heads = try ProjectionHeads(config: config, imageDim: 6, textDim: 5, seed: 9)
        let loss = HeadLossConfig(type: type == .blip ? .blip : .softmax, queueSize: 16)
        let objective = try HeadsObjective(heads: heads, loss: loss)
        let sgd = SGD(heads.trainableParameters.map(\.variable), learningRate: 0.5)
        for step in 0..<2 {
            sgd.zeroGrad()
            objective.loss(images: randomRows(4, 6, seed: UInt64(step)), texts: randomRows(4, 5, seed: UInt64(10 + step))).backward()
            sgd.step()
            objective.afterStep()
        }
        let path = scratch.path + "/heads.safetensors"
        try heads.save(to: path, metadata: ["run": "test"])
        let loaded = try ProjectionHeads.load(path: path)
        #expect(loaded.config == config && loaded.imageDim == 6 && loaded.textDim == 5)
        let a = heads.stateDict(), b = loaded.stateDict()
        #expect(a.map(\.key) == b.map(\.key))
        #expect(zip(a, b).allSatisfy { $0.tensor.toArray() == $1.tensor.toArray() })
        if type == .align {
            #expect(b.first { $0.key == "image_head.norm.num_batches_tracked" }?.tensor.item == 2)
        }
        if type == .blip {
            let m = b.first { $0.key == "image_head_m.fc1.weight" }!.tensor, p = b.first { $0.key == "image_head.fc1.weight" }!.tensor
            #expect(maxAbsDiff(m, p) > 0)
        }
        let images = randomRows(3, 6, seed: 42)
        #expect(heads.embed(images: images).toArray() == loaded.embed(images: images).toArray())
        #expect(try SafeTensorsFile(path: path).metadata["run"] == "test")
    }

    /// The queues survive state() / loadState(), so a resumed run continues the same losses.
    @Test func objectiveStateResumes() throws {
        let config = HeadsConfig(type: .mlp, outputDim: 8, hiddenDim: 8, dropout: 0)
        let heads = try ProjectionHeads(config: config, imageDim: 6, textDim: 5, seed: 1)
        let objective = try HeadsObjective(heads: heads, loss: HeadLossConfig(type: .queue, queueSize: 6))
        #expect(objective.state()["queue_count"]?.item == 0)
        for step in 0..<2 {
            _ = objective.loss(images: randomRows(4, 6, seed: UInt64(step)), texts: randomRows(4, 5, seed: UInt64(step + 5)))
            objective.afterStep()
        }
        let state = objective.state()
        #expect(state["queue_ptr"]?.item == 2 && state["queue_count"]?.item == 6)
        let resumed = try HeadsObjective(heads: heads, loss: HeadLossConfig(type: .queue, queueSize: 6))
        try resumed.loadState(state)
        let (x, y) = (randomRows(4, 6, seed: 77), randomRows(4, 5, seed: 78))
        #expect(objective.loss(images: x, texts: y).value.item == resumed.loss(images: x, texts: y).value.item)
        // Validation ignores the queues and changes nothing.
        let v1 = objective.validationLoss(images: x, texts: y)
        #expect(objective.state()["queue_ptr"]?.item == 2 && v1 == objective.validationLoss(images: x, texts: y))
        var bad = state
        bad["queue_image"] = Tensor.zeros([5, 8])
        #expect(clipError { try resumed.loadState(bad) }?.message.contains("queue_image has shape [5, 8]") == true)
        bad = state
        bad["queue_ptr"] = Tensor(scalar: 6)
        #expect(clipError { try resumed.loadState(bad) }?.message.contains("queue_ptr") == true)
    }

    @Test func refusedSettingsNameTheKey() throws {
        func message(_ config: HeadsConfig) -> String? {
            clipError { _ = try ProjectionHeads(config: config, imageDim: 6, textDim: 5, seed: 0) }?.message
        }
        var c = HeadsConfig(type: .attention, outputDim: 8, hiddenDim: 30)
        c.numHeads = 4
        #expect(message(c) == "model.num_heads (4) must divide model.hidden_dim (30)")
        c = HeadsConfig(type: .mlp, outputDim: 0)
        #expect(message(c) == "model.output_dim must be positive, got 0")
        c = HeadsConfig(type: .mlp, dropout: 1)
        #expect(message(c) == "model.dropout must lie in [0, 1), got 1.0")
        c = HeadsConfig(type: .blip)
        c.momentum = 1.5
        #expect(message(c) == "model.momentum must lie in [0, 1], got 1.5")
        c = HeadsConfig(type: .crossModal, hiddenDim: 16)
        c.bankSize = 0
        #expect(message(c) == "model.bank_size must be positive, got 0")
        #expect(clipError { _ = try ProjectionHeads(config: HeadsConfig(type: .mlp), imageDim: 0, textDim: 5, seed: 0) }?
            .message == "image_dim must be positive, got 0")

        let mlp = try ProjectionHeads(config: HeadsConfig(type: .mlp, outputDim: 8), imageDim: 6, textDim: 5, seed: 0)
        func lossMessage(_ loss: HeadLossConfig) -> String? { clipError { _ = try HeadsObjective(heads: mlp, loss: loss) }?.message }
        #expect(lossMessage(HeadLossConfig(type: .sigmoid))?.hasPrefix("loss.type sigmoid needs a logit bias: use model.type siglip") == true)
        #expect(lossMessage(HeadLossConfig(type: .siglip, bias: -10)) == nil)
        #expect(lossMessage(HeadLossConfig(type: .blip))?.hasPrefix("loss.type blip needs the momentum heads of model.type blip") == true)
        #expect(lossMessage(HeadLossConfig(type: .queue, queueSize: 0)) == "loss.queue_size must be positive, got 0")
        #expect(lossMessage(HeadLossConfig(type: .softmax, temperature: 0)) == "loss.temperature must be positive, got 0.0")
        #expect(lossMessage(HeadLossConfig(type: .align, labelSmoothing: 1)) == "loss.label_smoothing must lie in [0, 1), got 1.0")
        let siglip = try ProjectionHeads(config: HeadsConfig(type: .siglip, outputDim: 8), imageDim: 6, textDim: 5, seed: 0)
        #expect(clipError { _ = try HeadsObjective(heads: siglip, loss: HeadLossConfig(type: .sigmoid)) } == nil)
    }

    /// Settings decode from seed 002's keys, with defaults for what is missing.
    @Test func settingsDecodeFromSeedKeys() throws {
        let json = #"{"type": "cross_modal", "output_dim": 64, "hidden_dim": 32, "num_heads": 4, "dropout": 0.2}"#
        let c = try JSONDecoder().decode(HeadsConfig.self, from: Data(json.utf8))
        #expect(c.type == .crossModal && c.outputDim == 64 && c.hiddenDim == 32 && c.numHeads == 4 && c.dropout == 0.2)
        #expect(c.layers == 1 && c.bankSize == 32 && c.learnableTemp)
        let l = try JSONDecoder().decode(HeadLossConfig.self, from: Data(#"{"type": "blip", "alpha": 0.3}"#.utf8))
        #expect(l.type == .blip && l.alpha == 0.3 && l.queueSize == 4096)
        #expect(HeadsConfig(type: .clip).hiddenDim(inputDim: 1152) == 576)
    }

    @Test func corruptAndForeignFilesAreRefused() throws {
        let scratch = try ScratchFolder("heads-corrupt")
        defer { scratch.remove() }
        let garbage = scratch.path + "/garbage.safetensors"
        try Data([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).write(to: URL(fileURLWithPath: garbage))
        let e1 = clipError { _ = try ProjectionHeads.load(path: garbage) }
        #expect(e1?.kind == .format && e1?.message.contains(garbage) == true)

        let foreign = scratch.path + "/foreign.safetensors"
        try SafeTensors.write([(name: "w", tensor: Tensor.zeros([2]))], to: foreign)
        let e2 = clipError { _ = try ProjectionHeads.load(path: foreign) }
        #expect(e2?.kind == .format && e2?.message == "\(foreign): metadata key heads_config missing: not a file of projection heads")

        let heads = try ProjectionHeads(config: HeadsConfig(type: .align, outputDim: 8), imageDim: 6, textDim: 5, seed: 0)
        let partial = scratch.path + "/partial.safetensors"
        try SafeTensors.write(heads.stateDict().filter { $0.key != "text_head.norm.running_var" }.map { (name: $0.key, tensor: $0.tensor) },
                              metadata: heads.checkpointMetadata, to: partial)
        let e3 = clipError { _ = try ProjectionHeads.load(path: partial) }
        #expect(e3?.kind == .format && e3?.message.contains(partial) == true && e3?.message.contains("text_head.norm.running_var") == true)

        let badConfig = scratch.path + "/bad-config.safetensors"
        var meta = heads.checkpointMetadata
        meta["heads_config"] = #"{"type": "transformer"}"#
        try SafeTensors.write(heads.stateDict().map { (name: $0.key, tensor: $0.tensor) }, metadata: meta, to: badConfig)
        let e4 = clipError { _ = try ProjectionHeads.load(path: badConfig) }
        #expect(e4?.kind == .format && e4?.message.contains(badConfig) == true && e4?.message.contains("type") == true)

        let missing = clipError { _ = try ProjectionHeads.load(path: scratch.path + "/none.safetensors") }
        #expect(missing?.kind == .io)
    }
}
