// The stateless distillation losses against the PyTorch reference (Tools/fixtures/losses.py): loss
// and gradients of both inputs for every loss and shape; the teacher's gradient where one-directional;
// named errors for bad shapes, names and settings.

import Testing
import Foundation
import Tensor
import Autograd
import NN
import Losses
import TestSupport

/// A fixture of Tests/Fixtures/losses: the inputs, the loss the reference computed and its gradients.
struct LossFixture {
    let file: SafeTensorsFile
    init(_ name: String) throws { file = try SafeTensorsFile(path: Fixtures.path("losses/\(name).safetensors")) }
    var lossName: String { file.metadata["name", default: ""] }
    func tensor(_ key: String) throws -> Tensor { try file.tensor(key) }
    func has(_ key: String) -> Bool { file.names.contains(key) }
}

/// The loss each fixture case describes (its settings are those in the fixture's `options`).
func loss(forCase name: String) throws -> any DistillationLoss {
    switch name {
    case "simreg-smoothl1_raw": return SimReg(form: .smoothL1, beta: 0.5, normalize: false)
    case "vicreg_weights": return VICReg(invariance: 10, variance: 5, covariance: 3)
    default: return try DistillationLosses.make(name)
    }
}

struct Evaluated {
    let loss: Variable
    let student: Variable
    let teacher: Variable
}

func evaluate(_ loss: any DistillationLoss, _ f: LossFixture) throws -> Evaluated {
    let student = Variable(try f.tensor("student"), requiresGrad: true)
    let teacher = Variable(try f.tensor("teacher"), requiresGrad: true)
    let value = try loss.loss(student: student, teacher: teacher)
    value.backward()
    return Evaluated(loss: value, student: student, teacher: teacher)
}

@Suite struct LossesParityTests {
    static let cases = ["simreg", "simreg-l1", "simreg-smoothl1", "simreg-smoothl1_raw", "vicreg", "vicreg_weights",
                        "barlowtwins", "rkd", "infonce"]
    static let shapes = ["8x16", "12x24"]

    /// Loss and gradients within 1e-4 (relative, per tensor) of PyTorch; no teacher gradient where
    /// the loss is one-directional, the reference's where it is not.
    @Test(arguments: cases, shapes) func lossAndGradients(name: String, shape: String) throws {
        let f = try LossFixture("\(name)_\(shape)")
        let loss = try loss(forCase: name)
        #expect(loss.name == f.lossName, "\(name): fixture is for \(f.lossName)")
        let r = try evaluate(loss, f)
        let want = try f.tensor("loss")
        #expect(r.loss.value.count == 1, "\(name): loss is not a scalar: \(r.loss.shape)")
        let lossError = relativeError(r.loss.value.contiguous().reshaped(want.shape), want)
        #expect(lossError <= 1e-4, "\(name) \(shape): loss \(r.loss.value.item) vs \(want.item) (relative \(lossError))")
        let gradStudent = try #require(r.student.grad, "\(name): the student got no gradient")
        let studentError = relativeError(gradStudent.contiguous(), try f.tensor("grad.student"))
        #expect(studentError <= 1e-4, "\(name) \(shape): grad.student relative error \(studentError)")
        if f.has("grad.teacher") {
            #expect(!loss.isOneDirectional, "\(name): the reference differentiates the teacher")
            let gradTeacher = try #require(r.teacher.grad, "\(name): the teacher got no gradient")
            let teacherError = relativeError(gradTeacher.contiguous(), try f.tensor("grad.teacher"))
            #expect(teacherError <= 1e-4, "\(name) \(shape): grad.teacher relative error \(teacherError)")
        } else {
            #expect(loss.isOneDirectional, "\(name): the reference detaches the teacher")
            #expect(r.teacher.grad == nil, "\(name): the detached teacher got a gradient")
        }
    }

    /// The comparison tells settings apart: other weights miss the reference by far more than 1e-4.
    @Test func comparisonDetectsOtherSettings() throws {
        let f = try LossFixture("vicreg_8x16")
        let r = try evaluate(VICReg(invariance: 25, variance: 25, covariance: 2), f)
        #expect(relativeError(r.loss.value.contiguous().reshaped([1]), try f.tensor("loss")) > 1e-2)
        let b = try evaluate(BarlowTwins(lambda: 1e-2), try LossFixture("barlowtwins_8x16"))
        #expect(relativeError(b.student.grad!.contiguous(), try LossFixture("barlowtwins_8x16").tensor("grad.student")) > 1e-3)
    }
}

@Suite struct LossesBehaviourTests {
    @Test func namesSelectLosses() throws {
        #expect(DistillationLosses.names == ["simreg", "simreg-l1", "simreg-smoothl1", "vicreg", "barlowtwins", "rkd",
                                             "compress-1q", "compress-2q", "seed", "dino", "protocpc", "protoclip", "infonce"])
        for name in DistillationLosses.names {
            #expect(try DistillationLosses.make(name).name == name)
        }
        #expect(try DistillationLosses.make("simreg-l1") is SimReg)
        #expect(try DistillationLosses.make("rkd").isOneDirectional)
        #expect(try !DistillationLosses.make("barlowtwins").isOneDirectional)
    }

    @Test func unknownNameIsNamed() {
        do {
            _ = try DistillationLosses.make("simclr")
            Issue.record("an unknown loss name was accepted")
        } catch let e as ClipError {
            #expect(e.kind == .invalidArgument)
            #expect(e.message.contains("simclr") && e.message.contains("barlowtwins") && e.message.contains("simreg-smoothl1"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test(arguments: DistillationLosses.names) func badShapesAreNamed(name: String) throws {
        let loss = try DistillationLosses.make(name)
        let a = Variable(Tensor.ones([4, 8]), requiresGrad: true)
        var cases: [(Variable, Variable, String)] = [
            (a, Variable(Tensor.ones([5, 8])), "differ in shape"),
            (Variable(Tensor.ones([8])), Variable(Tensor.ones([8])), "[batch, dim]"),
            (Variable(Tensor.ones([2, 4, 8])), Variable(Tensor.ones([2, 4, 8])), "[batch, dim]"),
        ]
        // CompRess-2q and ProtoCLIP compare each tower with its own memory: dimensions may differ.
        if loss.needsEqualDimensions { cases.append((a, Variable(Tensor.ones([4, 6])), "differ in shape")) }
        for (s, t, words) in cases {
            do {
                _ = try loss.loss(student: s, teacher: t)
                Issue.record("\(name): accepted student \(s.shape), teacher \(t.shape)")
            } catch let e as ClipError {
                #expect(e.kind == .shape, "\(name): \(e)")
                #expect(e.message.contains(name) && e.message.contains(words), "\(name): \(e.message)")
            }
        }
    }

    @Test(arguments: ["vicreg", "barlowtwins", "rkd"]) func batchOfOneIsRefused(name: String) throws {
        let one = Variable(Tensor.ones([1, 8]))
        #expect(ClipError.kind(thrownBy: { try DistillationLosses.make(name).loss(student: one, teacher: one) }) == .shape)
    }

    @Test func badSettingsAreNamed() {
        let x = Variable(Tensor.ones([4, 8]))
        #expect(ClipError.kind(thrownBy: { try SimReg(form: .smoothL1, beta: 0).loss(student: x, teacher: x) }) == .invalidArgument)
        #expect(ClipError.kind(thrownBy: { try VICReg(variance: -1).loss(student: x, teacher: x) }) == .invalidArgument)
        #expect(ClipError.kind(thrownBy: { try BarlowTwins(lambda: .nan).loss(student: x, teacher: x) }) == .invalidArgument)
        #expect(ClipError.kind(thrownBy: { try RKD(angle: -2).loss(student: x, teacher: x) }) == .invalidArgument)
    }

    /// A batch whose rows are all equal has no distance scale; RKD names the tower.
    @Test func rkdRefusesCollapsedBatch() {
        let collapsed = Variable(Tensor.ones([4, 8]))
        var rng = RandomGenerator(seed: 2)
        let spread = Variable(Tensor.randn([4, 8], generator: &rng))
        do {
            _ = try RKD().loss(student: spread, teacher: collapsed)
            Issue.record("rkd accepted a collapsed teacher")
        } catch let e as ClipError {
            #expect(e.kind == .invalidArgument && e.message.contains("teacher"), "\(e)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
        #expect(ClipError.kind(thrownBy: { try RKD().loss(student: collapsed, teacher: spread) }) == .invalidArgument)
    }

    /// Identical embeddings cost nothing under SimReg and RKD; the student's gradient vanishes there.
    @Test func identicalEmbeddingsCostNothing() throws {
        var rng = RandomGenerator(seed: 5)
        let x = Tensor.randn([6, 10], generator: &rng)
        let losses: [any DistillationLoss] = [SimReg(form: .l2), SimReg(form: .l1), SimReg(form: .smoothL1), RKD()]
        for loss in losses {
            let s = Variable(x, requiresGrad: true)
            let value = try loss.loss(student: s, teacher: Variable(x))
            #expect(Swift.abs(value.value.item) < 1e-6, "\(loss.name): \(value.value.item)")
        }
    }

    /// Duplicate rows in a batch (two images with the same caption) keep RKD finite in value and
    /// gradient, and the duplicated pair adds nothing to the student's gradient from its own distance.
    @Test func rkdStaysFiniteOnDuplicateRows() throws {
        var rng = RandomGenerator(seed: 6)
        let base = Tensor.randn([5, 8], generator: &rng)
        // rows 1 and 3 of both inputs coincide
        let rows = [0, 1, 2, 1, 4]
        let student = Variable(base.indexSelect(axis: 0, rows), requiresGrad: true)
        let teacher = Variable(Tensor.randn([5, 8], generator: &rng).indexSelect(axis: 0, rows))
        let value = try RKD().loss(student: student, teacher: teacher)
        value.backward()
        #expect(value.value.item.isFinite)
        let g = try #require(student.grad).toArray()
        #expect(g.allSatisfy { $0.isFinite }, "\(g)")
        #expect(g.contains { $0 != 0 })
    }
}
