// Faults while training: a learning rate that blows the weights up makes the loss non-finite, and
// the run stops naming the update (or skips up to `skip_nonfinite` such updates, unchanged weights);
// a write that fails on a full file system is an error naming the file and the system's reason, and
// the file or checkpoint folder that was there stays whole and loadable.

import Testing
import Foundation
import Tensor
import TestSupport
import Autograd
import NN
import Models
import Training
import Datasets
import Pipelines

@Suite(.serialized) struct TrainingFaultTests {
    static let fixtures = ELIPTrainerTests.fixtures

    /// A contrastive run on the gelu_vocab fixture whose first update (lr 1e30) overflows the weights.
    func explodingContrastive(_ dir: String, skip: Int) throws -> ContrastiveTrainer {
        try SyntheticShapes(size: 64, seed: 3).write(to: dir + "/data", count: 32)
        var c = ContrastiveConfig(dataset: dir + "/data", model: Self.fixtures + "/clip/gelu_vocab", outputDir: dir + "/out")
        c.epochs = 2
        c.trainBs = 4
        c.lr = 1e30
        c.warmupRatio = 0
        c.seed = 5
        c.skipNonfinite = skip
        return try ContrastiveTrainer(config: c)
    }

    /// Runs `run`, recording the events and the weights after the first update; returns the error's message.
    func runToDivergence(_ run: ((TrainingEvent) throws -> Void) throws -> Void, weights: @escaping () -> [String: Tensor])
        -> (message: String?, events: [TrainingEvent], afterFirst: [String: Tensor]) {
        var events: [TrainingEvent] = [], afterFirst: [String: Tensor] = [:]
        do {
            try run { event in
                events.append(event)
                if case .update(let u) = event, u.update == 1 { afterFirst = weights().mapValues { $0 + Tensor.zeros($0.shape) } }
            }
            return (nil, events, afterFirst)
        } catch let e as ClipError {
            return (e.message, events, afterFirst)
        } catch {
            return ("\(error)", events, afterFirst)
        }
    }

    @Test(arguments: [0, 2])
    func contrastiveStopsAtANonFiniteUpdate(skip: Int) throws {
        let dir = try ScratchFolder("nonfinite")
        defer { dir.remove() }
        let trainer = try explodingContrastive(dir.path, skip: skip)
        trainer.checkpointEvery = 1                 // last/ after update 1
        let weights = { Dictionary(uniqueKeysWithValues: trainer.model.stateDict().map { ($0.key, $0.tensor) }) }
        let r = runToDivergence({ try trainer.run(onEvent: $0) }, weights: weights)
        let message = try #require(r.message, "the run with lr 1e30 finished")
        // Update 1 is made; every later one is non-finite: `skip` of them are skipped, the next one stops the run.
        #expect(message.contains("training diverged at update 2 (epoch 1)"), "\(message)")
        #expect(message.contains("loss is") || message.contains("gradient of '"), "\(message)")
        #expect(message.contains(dir.path + "/out/last holds the last checkpoint"), "\(message)")
        let skipped = r.events.compactMap { if case .skipped(_, let u, _, let n) = $0 { (u, n) } else { nil } }
        #expect(skipped.map(\.0) == Array(repeating: 2, count: skip) && skipped.map(\.1) == Array(0..<skip).map { $0 + 1 })
        #expect(trainer.skippedNonFinite == skip)
        if skip > 0 { #expect(message.contains("\(skip) non-finite updates were skipped already"), "\(message)") }
        // Neither the skipped updates nor the refused one changed a weight.
        let now = weights()
        #expect(!r.afterFirst.isEmpty)
        for (k, t) in r.afterFirst { #expect(now[k]!.toArray() == t.toArray(), "\(k) changed after update 1") }
    }

    @Test(arguments: [0, 1])
    func elipStopsAtANonFiniteUpdate(skip: Int) throws {
        let dir = try ScratchFolder("nonfinite-elip")
        defer { dir.remove() }
        let data = try ELIPTrainerTests().dataset(dir.path)
        var c = ELIPTrainerTests().config(dir.path)
        c.lr = 1e30
        c.gradAccumSteps = 1
        c.skipNonfinite = skip
        let trainer = try ELIPTrainer(config: c, pipeline: try ImageTextPipeline(directory: c.modelName), dataset: data)
        let weights = { Dictionary(uniqueKeysWithValues: trainer.mapper.stateDict().map { ($0.key, $0.tensor) }) }
        let r = runToDivergence({ try trainer.run(onEvent: $0) }, weights: weights)
        let message = try #require(r.message, "the run with lr 1e30 finished")
        #expect(message.contains("training diverged at update 2 (epoch 1)"), "\(message)")
        #expect(message.contains("loss is") || message.contains("gradient of 'mapper."), "\(message)")
        #expect(message.contains("no checkpoint was written yet"), "\(message)")
        let skipped = r.events.compactMap { if case .skipped(_, let u, _, let n) = $0 { (u, n) } else { nil } }
        #expect(skipped.count == skip && skipped.allSatisfy { $0.0 == 2 })
        #expect(trainer.skippedNonFinite == skip)
        let now = weights()
        #expect(!r.afterFirst.isEmpty)
        for (k, t) in r.afterFirst { #expect(now[k]!.toArray() == t.toArray(), "\(k) changed after update 1") }
    }

    /// The check names the first parameter whose gradient is not finite, and the element; the allowance
    /// skips that many updates, then throws naming the update.
    @Test func nonFiniteGradientIsNamed() throws {
        let a = Variable(Tensor([1, 2], shape: [2]), requiresGrad: true)
        let b = Variable(Tensor([1, 2, 3, 4], shape: [2, 2]), requiresGrad: true)
        a.grad = Tensor([0.5, -1], shape: [2])
        b.grad = Tensor([0, 1, 2, .infinity], shape: [2, 2])
        let named = [(key: "a.weight", variable: a), (key: "b.weight", variable: b)]
        #expect(NonFiniteSteps.problem(loss: 1, parameters: named) == "the gradient of 'b.weight' is not finite (inf at element 3 of [2, 2])")
        #expect(NonFiniteSteps.problem(loss: .nan, parameters: named) == "the loss is nan")
        b.grad = Tensor([0, 1, 2, 3], shape: [2, 2])
        #expect(NonFiniteSteps.problem(loss: 1, parameters: named) == nil)
        b.grad = Tensor([.nan, 1, 2, 3], shape: [2, 2])
        var steps = NonFiniteSteps(allowance: 1)
        #expect(try steps.check(loss: 1, parameters: named, update: 7, epoch: 2, checkpoint: "out/last") != nil)
        #expect(steps.skipped == 1)
        do {
            _ = try steps.check(loss: 1, parameters: named, update: 7, epoch: 2, checkpoint: "out/last")
            Issue.record("the second non-finite update was skipped past an allowance of 1")
        } catch let e as ClipError {
            #expect(e.message.hasPrefix("training diverged at update 7 (epoch 2): the gradient of 'b.weight' is not finite (nan at element 0"), "\(e.message)")
            #expect(e.message.contains("1 non-finite update was skipped already"), "\(e.message)")
        }
    }

    /// ELIP-S draws dropout masks on the prompts (0.1 by default for sigmoid models): a run stopped after
    /// update 5 and resumed from its checkpoint (update 4, mid-epoch) ends with the uninterrupted run's mapper, bit
    /// for bit. (The masks once came from one stream that a resumed run restarted from its beginning.)
    @Test func elipWithPromptDropoutResumesExactly() throws {
        let dir = try ScratchFolder("elip-dropout")
        defer { dir.remove() }
        let data = try ELIPTrainerTests().dataset(dir.path)
        var c = ELIPTrainerTests().config(dir.path)
        c.modelName = Self.fixtures + "/siglip/h6_64"
        c.imgSize = nil
        c.epochs = 2
        let pipeline = try ImageTextPipeline(directory: c.modelName)
        #expect(pipeline.model.usesSigmoidLoss && c.resolvedPromptDropout(sigmoid: true) > 0)
        c.lr = 3e-2
        c.outputRoot = dir.path + "/straight"
        let straight = try ELIPTrainer(config: c, pipeline: pipeline, dataset: data)
        try straight.run()
        c.outputRoot = dir.path + "/split"
        let first = try ELIPTrainer(config: c, pipeline: pipeline, dataset: data)
        first.checkpointEvery = 2
        try first.run(stopAfterUpdates: 5)       // 3 updates an epoch: the checkpoint holds update 4, in epoch 2
        let resumed = try ELIPTrainer(config: c, pipeline: pipeline, dataset: data)
        #expect(try resumed.resume())
        #expect(resumed.updates == 4 && resumed.batchInEpoch > 0, "resumed at update \(resumed.updates), \(resumed.updatesPerEpoch) updates an epoch")
        try resumed.run()
        // Bit-identical when run alone; suites that switch the kernel path while this runs can move the
        // last bits (as in ELIPTrainerTests), hence the tiny bound. Masks drawn anew differ by far more.
        for (x, y) in zip(straight.mapper.stateDict(), resumed.mapper.stateDict()) {
            #expect(x.key == y.key)
            let diff = zip(x.tensor.toArray(), y.tensor.toArray()).map { abs($0 - $1) }.max() ?? 0
            #expect(diff <= 1e-6, "\(x.key) differs after resuming by \(diff)")
        }
    }

    // MARK: - Full file systems

    /// A tmpfs of `kib` KiB mounted on a fresh folder (this needs root, as the test machines run);
    /// nil, with a note, where mounting is not allowed.
    static func tinyFileSystem(kib: Int) throws -> ScratchFolder? {
        let dir = try ScratchFolder("tmpfs")
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=\(kib)k", "tmpfs", dir.path]
        mount.standardError = FileHandle.nullDevice
        do { try mount.run() } catch { dir.remove(); return nil }
        mount.waitUntilExit()
        guard mount.terminationStatus == 0 else {
            print("skipped: cannot mount a tmpfs here (needs root); scripts/test-faults.sh covers full disks with ulimit -f too")
            dir.remove()
            return nil
        }
        return dir
    }

    static func unmount(_ dir: ScratchFolder) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/umount")
        p.arguments = [dir.path]
        try? p.run()
        p.waitUntilExit()
        dir.remove()
    }

    /// A safetensors file that does not fit fails naming the file and ENOSPC; the previous file is unchanged
    /// and no temporary is left.
    @Test func fullDiskKeepsThePreviousSafetensorsFile() throws {
        guard let fs = try Self.tinyFileSystem(kib: 256) else { return }
        defer { Self.unmount(fs) }
        let path = fs.path + "/weights.safetensors"
        let small = Tensor((0..<1000).map { Float($0) }, shape: [10, 100])
        try SafeTensors.write([(name: "w", tensor: small)], to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let big = Tensor.zeros([512, 512])            // 1 MiB
        do {
            try SafeTensors.write([(name: "w", tensor: big)], to: path)
            Issue.record("a 1 MiB file was written to a 256 KiB file system")
        } catch let e as ClipError {
            #expect(e.kind == .io && e.message.hasPrefix(path + ": ") && e.message.contains("No space left on device"), "\(e.message)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(try SafeTensorsFile(path: path).tensor("w").toArray() == small.toArray())
        #expect(try FileManager.default.contentsOfDirectory(atPath: fs.path) == ["weights.safetensors"])
    }

    /// A checkpoint folder that does not fit fails naming the file in the folder; the previous folder stays
    /// whole and loads, and no temporary folder is left.
    @Test func fullDiskKeepsThePreviousCheckpointFolder() throws {
        let source = Self.fixtures + "/clip/gelu_vocab"
        let pipeline = try ImageTextPipeline(directory: source)
        // The folder's size, written once on an ordinary disk.
        let sized = try ScratchFolder("sized")
        defer { sized.remove() }
        try ModelFolder.write(pipeline.model, processor: pipeline.processor.config, tokenizerSource: source, to: sized.path + "/m")
        let size = try FileManager.default.contentsOfDirectory(atPath: sized.path + "/m").reduce(0) {
            $0 + (try FileManager.default.attributesOfItem(atPath: sized.path + "/m/" + $1)[.size] as! Int)
        }
        // Room for one folder, not for a second beside it.
        guard let fs = try Self.tinyFileSystem(kib: size * 3 / 2 / 1024) else { return }
        defer { Self.unmount(fs) }
        let folder = fs.path + "/last"
        try ModelFolder.write(pipeline.model, processor: pipeline.processor.config, tokenizerSource: source, to: folder)
        let before = try Data(contentsOf: URL(fileURLWithPath: folder + "/model.safetensors"))
        do {
            try ModelFolder.write(pipeline.model, processor: pipeline.processor.config, tokenizerSource: source, to: folder)
            Issue.record("a second checkpoint fitted where only one has room")
        } catch let e as ClipError {
            #expect(e.kind == .io && e.message.contains(folder + "/") && e.message.contains("No space left on device")
                    && e.message.contains("left as it was"), "\(e.message)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/model.safetensors")) == before)
        let back = try ImageTextPipeline(directory: folder)
        #expect(back.model.stateDict().count == pipeline.model.stateDict().count)
        #expect(try FileManager.default.contentsOfDirectory(atPath: fs.path) == ["last"])
    }
}
