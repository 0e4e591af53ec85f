// optuna 5.1.0 reads what we write: Tools/check_optuna_study.py loads the study with
// `optuna.load_study` and compares every trial with the JSON written here, then continues the study
// from Python; the study then resumes here. Runs when CLIPCORE_TEST_PYTHON names a Python with
// optuna (scripts/test.sh sets it to the suite's environment, Tools/requirements-test.txt).

import Foundation
import Testing
import Tensor
import Studies
import TestSupport

@Suite struct OptunaCompatibilityTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static func json(_ v: ParamValue) -> String {
        if case .string(let s) = v { return JSONText.quoted(s) }
        return v.description                                  // Python's spelling of numbers and bools
    }

    static func json(_ d: Double) -> String {
        d.isNaN ? "NaN" : d.isInfinite ? (d > 0 ? "Infinity" : "-Infinity") : ParamValue.float(d).description
    }

    /// The study as the checker expects to read it.
    static func expected(_ study: Study) throws -> String {
        func params(_ p: [String: ParamValue]) -> String {
            "{" + p.keys.sorted().map { JSONText.quoted($0) + ": " + json(p[$0]!) }.joined(separator: ", ") + "}"
        }
        let trials = try study.trials().map { t -> String in
            let inter = "{" + t.intermediateValues.keys.sorted().map { "\"\($0)\": " + json(t.intermediateValues[$0]!) }
                .joined(separator: ", ") + "}"
            let reason = t.systemAttributes["fail_reason"] ?? "null"
            return "{\"number\": \(t.number), \"state\": \"\(t.state.rawValue)\", \"value\": \(t.value.map(json) ?? "null"), "
                + "\"params\": \(params(t.params)), \"intermediate_values\": \(inter), \"fail_reason\": \(reason)}"
        }
        let best = study.bestTrial
        return "{\"direction\": \"\(study.direction.rawValue)\", \"best_value\": \(best?.value.map(json) ?? "null"), "
            + "\"best_params\": \(params(best?.params ?? [:])), \"trials\": [\n" + trials.joined(separator: ",\n") + "]}\n"
    }

    static func run(_ python: String, _ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [repository + "/Tools/check_optuna_study.py"] + args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: out, as: UTF8.self))
    }

    @Test func optunaLoadsAndContinuesOurStudy() throws {
        guard let python = ProcessInfo.processInfo.environment["CLIPCORE_TEST_PYTHON"], !python.isEmpty else {
            print("OptunaCompatibilityTests: skipped, CLIPCORE_TEST_PYTHON is not set (scripts/test.sh sets it to a Python "
                  + "with optuna==5.1.0 from Tools/requirements-test.txt)")
            return
        }
        let dir = try ScratchFolder("studies-optuna")
        defer { dir.remove() }
        let space = try SearchSpace([
            .init("model.type", .categorical(["mlp", "attention", "siglip"])),
            .init("model.num_heads", .categorical([4, 8]), when: [.init("model.type", in: ["attention"])]),
            .init("model.hidden_dim", try .makeInt("model.hidden_dim", low: 256, high: 2048, step: 256)),
            .init("training.learning_rate", try .makeFloat("training.learning_rate", low: 1e-5, high: 1e-3, log: true)),
            .init("training.warmup", try .makeInt("training.warmup", low: 1, high: 1000, log: true)),
            .init("training.dropout", try .makeFloat("training.dropout", low: 0, high: 0.5, step: 0.1)),
            .init("training.temperature", .categorical([0.05, 0.07, 1])),
            .init("training.use_amp", .categorical([true, false])),
            .init("training.tag", .categorical(["é \"q\""])),
        ])
        var tpe = TPESettings(seed: 9)
        tpe.nStartupTrials = 4
        let path = dir.path + "/study.db"
        func open() throws -> Study {
            try Study.open(storage: path, name: "heads_tuning", direction: .maximize, space: space, sampler: .tpe(tpe),
                           pruner: .median(MedianPrunerSettings(nStartupTrials: 100)))
        }
        let study = try open()
        try study.optimize(nTrials: 8, jobs: 2) { t in
            let v = -abs(log10(try t.double("training.learning_rate")) + 4) + Double(try t.int("model.hidden_dim")) / 2048
            try t.report(v / 2, step: 0)
            try t.report(t.number == 5 ? .infinity : v, step: 1)
            try t.setUserAttribute("epochs", 2)
            if t.number == 2 { throw TrialPruned() }
            if t.number == 3 { throw ClipError.invalidArgument("out of memory at batch 512") }
            return v
        }
        let expectedPath = dir.path + "/expected.json"
        try Self.expected(study).write(toFile: expectedPath, atomically: true, encoding: .utf8)
        let (status, output) = try Self.run(python, [path, "heads_tuning", expectedPath, "--continue", "3"])
        print(output)
        #expect(status == 0, "\(output)")

        // Optuna's three trials are there, and the study resumes here.
        let resumed = try open()
        let before = try resumed.trials()
        #expect(before.count == 12 && before.suffix(3).allSatisfy { $0.state == .complete })
        try resumed.optimize(nTrials: 13) { t in try t.double("training.learning_rate") }
        let after = try resumed.trials()
        #expect(after.count == 14 && after.last?.number == 13 && after.last?.state == .complete)
        // And optuna reads it again, including the trials Python wrote.
        try Self.expected(resumed).write(toFile: expectedPath, atomically: true, encoding: .utf8)
        let (again, output2) = try Self.run(python, [path, "heads_tuning", expectedPath])
        #expect(again == 0, "\(output2)")
    }

    @Test func resumesAStudyOptunaWrote() throws {
        guard let python = ProcessInfo.processInfo.environment["CLIPCORE_TEST_PYTHON"], !python.isEmpty else {
            print("OptunaCompatibilityTests: skipped, CLIPCORE_TEST_PYTHON is not set")
            return
        }
        let dir = try ScratchFolder("studies-from-optuna")
        defer { dir.remove() }
        let path = dir.path + "/optuna.db"
        let (created, output) = try Self.run(python, ["--create", path, "from_optuna"])
        #expect(created == 0, "\(output)")
        let space = try SearchSpace([
            .init("x", try .makeFloat("x", low: -5, high: 5)),
            .init("kind", .categorical(["a", "b"])),
            .init("k", try .makeInt("k", low: 1, high: 8), when: [.init("kind", in: ["b"])]),
        ])
        var tpe = TPESettings(seed: 2)
        tpe.nStartupTrials = 3
        let study = try Study.open(storage: path, name: "from_optuna", direction: .maximize, space: space, sampler: .tpe(tpe))
        // The trial Optuna left RUNNING fails; the WAITING one is left to Optuna.
        #expect(study.failedOnOpen == [6])
        let before = try study.trials()
        #expect(before.map(\.state) == [.complete, .complete, .pruned, .fail, .complete, .complete, .fail, .waiting])
        #expect(before[0].params["extra"] != nil && before[0].params["x"] != nil)
        #expect(before[3].systemAttributes["fail_reason"] == nil)
        // Five finished trials: three more reach eight.
        try study.optimize(nTrials: 8) { t in
            let x = try t.double("x")
            return -(x - 1) * (x - 1) + 0.1 * Double(t.params["k"]?.intValue ?? 0)
        }
        let after = try study.trials()
        #expect(after.count == 11 && after.suffix(3).map(\.number) == [8, 9, 10])
        #expect(after.suffix(3).allSatisfy { $0.state == .complete && ($0.params["k"] != nil) == ($0.params["kind"] == "b") })
        let expectedPath = dir.path + "/expected.json"
        try Self.expected(study).write(toFile: expectedPath, atomically: true, encoding: .utf8)
        let (status, output2) = try Self.run(python, [path, "from_optuna", expectedPath])
        #expect(status == 0, "\(output2)")
    }
}
