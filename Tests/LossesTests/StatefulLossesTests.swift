// The stateful losses (queues, centres, priors, prototypes) against the PyTorch reference
// (Tools/fixtures/losses.py, `stateful_*` fixtures): five consecutive steps with fresh inputs and the
// state carried over, the loss and gradients at every step and the state after the last; resuming
// from saved state; DINO's teacher-temperature schedule; named errors.

import Testing
import Foundation
import Tensor
import Autograd
import NN
import Losses
import TestSupport

/// ‖a − ref‖/‖ref‖, or max |a| where the reference is all zeros (a loss with nothing queued yet).
func parityError(_ a: Tensor, _ ref: Tensor) -> Float {
    guard a.shape == ref.shape || a.count == ref.count else { return .infinity }
    if ref.toArray().allSatisfy({ $0 == 0 }) { return a.toArray().map { Swift.abs($0) }.max() ?? 0 }
    return relativeError(a.contiguous().reshaped(ref.shape), ref)
}

/// A stateful fixture: five steps of inputs and expected results, and the final state.
struct StatefulFixture {
    let file: SafeTensorsFile
    let name: String
    init(_ name: String) throws {
        self.name = name
        file = try SafeTensorsFile(path: Fixtures.path("losses/stateful_\(name).safetensors"))
    }
    var steps: Int { Int(file.metadata["steps", default: "0"]) ?? 0 }
    func tensor(_ key: String) throws -> Tensor { try file.tensor(key) }
    func has(_ key: String) -> Bool { file.names.contains(key) }

    /// The loss with the fixture's settings.
    func makeLoss() throws -> any StatefulDistillationLoss {
        switch name {
        case "compress-1q": return CompRess(queues: .one, queueSize: 20)
        case "compress-2q": return CompRess(queues: .two, queueSize: 20)
        case "compress-2q_temps": return CompRess(queues: .two, queueSize: 20, studentTemperature: 0.1, teacherTemperature: 0.05)
        case "seed": return SEED(queueSize: 20)
        case "dino": return DINO(warmupTeacherTemperature: 0.04, teacherTemperature: 0.07, warmupEpochs: 3)
        case "protocpc": return ProtoCPC()
        case "protoclip": return ProtoCLIP()
        case "protoclip_soft": return ProtoCLIP(targetTemperature: 0.1)
        default: throw ClipError.invalidArgument("no stateful fixture case \(name)")
        }
    }

    struct Step {
        let loss: Variable
        let student: Variable
        let teacher: Variable
    }

    /// Runs step `k` on `loss`: epoch, episode prototypes where the fixture starts an episode, the batch.
    func run(_ k: Int, on loss: any StatefulDistillationLoss) throws -> Step {
        loss.setEpoch(Int(try tensor("step\(k).epoch").item))
        if let protoclip = loss as? ProtoCLIP, has("step\(k).prototypes.image") {
            var imageTargets: Tensor?, textTargets: Tensor?
            if has("step\(k).targets.image") {
                imageTargets = try tensor("step\(k).targets.image")
                textTargets = try tensor("step\(k).targets.text")
            }
            try protoclip.setPrototypes(image: try tensor("step\(k).prototypes.image"), text: try tensor("step\(k).prototypes.text"),
                                        imageTargets: imageTargets, textTargets: textTargets)
        }
        let s = Variable(try tensor("step\(k).student"), requiresGrad: true)
        let t = Variable(try tensor("step\(k).teacher"), requiresGrad: true)
        let value = try loss.loss(student: s, teacher: t)
        value.backward()
        return Step(loss: value, student: s, teacher: t)
    }

    /// Records where step `k`'s results miss the reference by more than 1e-4.
    func expectMatches(_ r: Step, step k: Int, loss: any StatefulDistillationLoss) throws {
        let want = try tensor("step\(k).loss")
        let lossError = parityError(r.loss.value, want)
        #expect(lossError <= 1e-4, "\(name) step \(k): loss \(r.loss.value.item) vs \(want.item) (\(lossError))")
        let gs = try #require(r.student.grad, "\(name) step \(k): the student got no gradient")
        let studentError = parityError(gs, try tensor("step\(k).grad.student"))
        #expect(studentError <= 1e-4, "\(name) step \(k): grad.student error \(studentError)")
        if has("step\(k).grad.teacher") {
            #expect(!loss.isOneDirectional)
            let gt = try #require(r.teacher.grad, "\(name) step \(k): the teacher got no gradient")
            let teacherError = parityError(gt, try tensor("step\(k).grad.teacher"))
            #expect(teacherError <= 1e-4, "\(name) step \(k): grad.teacher error \(teacherError)")
        } else {
            #expect(loss.isOneDirectional, "\(name): the reference detaches the teacher")
            #expect(r.teacher.grad == nil, "\(name) step \(k): the detached teacher got a gradient")
        }
    }

    /// Records where the loss's state differs from the reference's after the last step.
    func expectFinalState(_ loss: any StatefulDistillationLoss) throws {
        let state = loss.stateTensors
        let want = file.names.filter { $0.hasPrefix("final.") }
        #expect(Set(state.keys) == Set(want.map { String($0.dropFirst(6)) }), "\(name): state keys \(state.keys.sorted())")
        for key in want {
            let k = String(key.dropFirst(6))
            let got = try #require(state[k], "\(name): no state tensor \(k)")
            let error = parityError(got, try tensor(key))
            #expect(error <= 1e-4, "\(name): state \(k) error \(error)")
        }
    }
}

@Suite struct StatefulLossesParityTests {
    static let cases = ["compress-1q", "compress-2q", "compress-2q_temps", "seed", "dino", "protocpc", "protoclip", "protoclip_soft"]

    /// Loss and gradients within 1e-4 of PyTorch at each of five steps, then the state.
    @Test(arguments: cases) func fiveSteps(name: String) throws {
        let f = try StatefulFixture(name)
        #expect(f.steps == 5)
        let loss = try f.makeLoss()
        #expect(loss.name == f.file.metadata["name"])
        for k in 0..<f.steps { try f.expectMatches(try f.run(k, on: loss), step: k, loss: loss) }
        try f.expectFinalState(loss)
    }

    /// State saved after three steps and loaded into a fresh loss gives the reference's steps 4 and 5.
    @Test(arguments: cases) func resumeFromSavedState(name: String) throws {
        let f = try StatefulFixture(name)
        let first = try f.makeLoss()
        for k in 0..<3 { _ = try f.run(k, on: first) }
        let saved = first.stateTensors
        #expect(!saved.isEmpty)
        let resumed = try f.makeLoss()
        try resumed.loadState(saved)
        for k in 3..<f.steps { try f.expectMatches(try f.run(k, on: resumed), step: k, loss: resumed) }
        try f.expectFinalState(resumed)
    }

    /// The comparison can fail: a loss that forgets its state, or other temperatures, miss the reference.
    @Test func comparisonDetectsLostStateAndOtherSettings() throws {
        let f = try StatefulFixture("seed")
        let loss = try f.makeLoss()
        _ = try f.run(0, on: loss)
        let fresh = try f.run(1, on: try f.makeLoss())            // nothing queued: loss 0
        #expect(parityError(fresh.loss.value, try f.tensor("step1.loss")) > 1e-2)
        let d = try StatefulFixture("dino")
        let other = try d.run(0, on: DINO(studentTemperature: 0.2, warmupTeacherTemperature: 0.04, teacherTemperature: 0.07, warmupEpochs: 3))
        #expect(parityError(other.student.grad!, try d.tensor("step0.grad.student")) > 1e-2)
        let warm = try d.makeLoss()
        _ = try d.run(0, on: warm)
        warm.setEpoch(10)                                          // τt 0.07 where step 1 (epoch 1 of 3) has 0.055
        let s = Variable(try d.tensor("step1.student"), requiresGrad: true)
        let value = try warm.loss(student: s, teacher: Variable(try d.tensor("step1.teacher")))
        #expect(parityError(value.value, try d.tensor("step1.loss")) > 1e-3)
    }

    /// ProtoCLIP's back translation equals the reference's image-space centroids of the text clusters.
    @Test func backTranslation() throws {
        let f = try StatefulFixture("protoclip_soft")
        for k in [0, 3] {
            let labels = try f.tensor("step\(k).labels.text").toArray().map { Int($0) }
            let got = try ProtoCLIP.backTranslated(features: try f.tensor("step\(k).memory.image"), assignments: labels, count: 6)
            #expect(parityError(got, try f.tensor("step\(k).targets.image")) <= 1e-5)
        }
    }
}

@Suite struct StatefulLossesBehaviourTests {
    static let stateful = ["compress-1q", "compress-2q", "seed", "dino", "protocpc", "protoclip"]

    @Test func kindsAndFlags() throws {
        for name in Self.stateful {
            let loss = try DistillationLosses.make(name)
            #expect(loss.name == name)
            #expect((loss as? any StatefulDistillationLoss) != nil, "\(name) is not stateful")
        }
        let oneDirectional = DistillationLosses.names.filter { try! DistillationLosses.make($0).isOneDirectional }
        #expect(oneDirectional == ["simreg", "simreg-l1", "simreg-smoothl1", "rkd", "compress-1q", "seed", "dino", "protocpc"])
        let prototypes = DistillationLosses.names.filter { try! DistillationLosses.make($0).needsPrototypes }
        #expect(prototypes == ["dino", "protocpc"])
        let anyDimensions = DistillationLosses.names.filter { try! !DistillationLosses.make($0).needsEqualDimensions }
        #expect(anyDimensions == ["compress-2q", "protoclip"])
        #expect(try DistillationLosses.make("compress-2q") is CompRess)
        // make gives a new loss each time: state is never shared.
        let a = try DistillationLosses.make("seed") as! SEED, b = try DistillationLosses.make("seed") as! SEED
        #expect(a !== b)
    }

    /// The default DINO schedule is the paper's: 0.04 → 0.07 linearly over 30 epochs, then 0.07.
    @Test func dinoTeacherTemperatureSchedule() throws {
        let dino = DINO()
        let expected: [(Int, Float)] = [(0, 0.04), (1, 0.04 + 0.03 / 29), (15, 0.04 + 0.03 * 15 / 29), (29, 0.07), (30, 0.07), (300, 0.07)]
        for (epoch, want) in expected {
            dino.setEpoch(epoch)
            #expect(Swift.abs(dino.currentTeacherTemperature - want) < 1e-7, "epoch \(epoch): \(dino.currentTeacherTemperature)")
        }
        #expect(TeacherTemperatureSchedule(warmup: 0.04, target: 0.07, warmupEpochs: 0).temperature(atEpoch: 0) == 0.07)
        let one = TeacherTemperatureSchedule(warmup: 0.04, target: 0.07, warmupEpochs: 1)
        #expect(one.temperature(atEpoch: 0) == 0.04 && one.temperature(atEpoch: 1) == 0.07)
        let three = TeacherTemperatureSchedule(warmup: 0.04, target: 0.07, warmupEpochs: 3)
        #expect(Swift.abs(three.temperature(atEpoch: 1) - 0.055) < 1e-7)
        #expect(ProtoCPC().currentTeacherTemperature == 0.04)
    }

    /// Bad shapes and settings are named errors, and a call that throws leaves the state as it was.
    @Test func errorsAreNamedAndLeaveStateAlone() throws {
        var rng = RandomGenerator(seed: 9)
        func batch(_ n: Int, _ d: Int) -> Variable { Variable(Tensor.randn([n, d], generator: &rng), requiresGrad: true) }
        func kind(_ body: () throws -> Void) -> ClipError.Kind? { ClipError.kind(thrownBy: body) }

        let seed = SEED(queueSize: 8)
        _ = try seed.loss(student: batch(4, 6), teacher: batch(4, 6))
        let before = seed.stateTensors
        #expect(kind({ _ = try seed.loss(student: batch(4, 5), teacher: batch(4, 5)) }) == .shape)     // queue dimension
        #expect(kind({ _ = try seed.loss(student: batch(9, 6), teacher: batch(9, 6)) }) == .invalidArgument)   // over the queue
        #expect(kind({ _ = try seed.loss(student: batch(4, 6), teacher: batch(4, 5)) }) == .shape)
        #expect(seed.stateTensors["queue.filled"]!.item == before["queue.filled"]!.item)
        #expect(seed.stateTensors["queue"]!.toArray() == before["queue"]!.toArray())
        #expect(kind({ _ = try SEED(studentTemperature: 0).loss(student: batch(2, 4), teacher: batch(2, 4)) }) == .invalidArgument)
        #expect(kind({ _ = try CompRess(queueSize: 0).loss(student: batch(2, 4), teacher: batch(2, 4)) }) == .invalidArgument)
        #expect(kind({ _ = try CompRess(queues: .one).loss(student: batch(2, 4), teacher: batch(2, 3)) }) == .shape)
        #expect(kind({ _ = try CompRess(queues: .two).loss(student: batch(2, 4), teacher: batch(3, 3)) }) == .shape)
        _ = try CompRess(queues: .two).loss(student: batch(2, 4), teacher: batch(2, 3))

        let dino = DINO()
        _ = try dino.loss(student: batch(4, 10), teacher: batch(4, 10))
        #expect(kind({ _ = try dino.loss(student: batch(4, 12), teacher: batch(4, 12)) }) == .shape)   // K changed
        dino.setEpoch(-1)
        #expect(kind({ _ = try dino.loss(student: batch(4, 10), teacher: batch(4, 10)) }) == .invalidArgument)
        #expect(kind({ _ = try DINO(centerMomentum: 1.5).loss(student: batch(2, 4), teacher: batch(2, 4)) }) == .invalidArgument)
        #expect(kind({ _ = try DINO(teacherTemperature: -0.07).loss(student: batch(2, 4), teacher: batch(2, 4)) }) == .invalidArgument)
        #expect(kind({ _ = try ProtoCPC(studentTemperature: .nan).loss(student: batch(2, 4), teacher: batch(2, 4)) }) == .invalidArgument)

        let protoclip = ProtoCLIP()
        #expect(kind({ _ = try protoclip.loss(student: batch(2, 4), teacher: batch(2, 4)) }) == .invalidArgument)
        #expect(kind({ try protoclip.setPrototypes(image: Tensor.ones([3, 4]), text: Tensor.ones([2, 4])) }) == .shape)
        #expect(kind({ try protoclip.setPrototypes(image: Tensor.ones([3, 4]), text: Tensor.ones([3, 5])) }) == .shape)
        try protoclip.setPrototypes(image: Tensor.ones([3, 4]), text: Tensor.ones([3, 5]),
                                    imageTargets: Tensor.ones([3, 4]), textTargets: Tensor.ones([3, 5]))
        #expect(kind({ _ = try protoclip.loss(student: batch(2, 4), teacher: batch(2, 4)) }) == .shape)
        _ = try protoclip.loss(student: batch(2, 4), teacher: batch(2, 5))
        #expect(kind({ _ = try ProtoCLIP.backTranslated(features: Tensor.ones([3, 2]), assignments: [0, 1, 7], count: 2) }) == .invalidArgument)
    }

    @Test func badStateIsNamed() throws {
        func kind(_ body: () throws -> Void) -> ClipError.Kind? { ClipError.kind(thrownBy: body) }
        let seed = SEED(queueSize: 4)
        #expect(kind({ try seed.loadState(["queues": Tensor.ones([4, 2])]) }) == .invalidArgument)
        #expect(kind({ try seed.loadState(["queue": Tensor.ones([5, 2]), "queue.filled": Tensor([4], shape: [1]),
                                           "queue.head": Tensor([0], shape: [1])]) }) == .shape)
        #expect(kind({ try seed.loadState(["queue": Tensor.ones([4, 2]), "queue.filled": Tensor([9], shape: [1]),
                                           "queue.head": Tensor([0], shape: [1])]) }) == .invalidArgument)
        #expect(kind({ try seed.loadState(["queue": Tensor.ones([4, 2])]) }) == .invalidArgument)
        #expect(seed.stateTensors.isEmpty)
        try seed.loadState(["queue": Tensor.ones([4, 2]), "queue.filled": Tensor([2], shape: [1]), "queue.head": Tensor([2], shape: [1])])
        #expect(seed.stateTensors["queue.filled"]?.item == 2)
        try seed.loadState([:])
        #expect(seed.stateTensors.isEmpty)
        #expect(kind({ try DINO().loadState(["center": Tensor.ones([2, 3])]) }) == .shape)
        #expect(kind({ try ProtoCPC().loadState(["prior": Tensor([1, 0, 1], shape: [3])]) }) == .invalidArgument)
        #expect(kind({ try ProtoCLIP().loadState(["prototypes.image": Tensor.ones([2, 2])]) }) == .invalidArgument)
    }
}
