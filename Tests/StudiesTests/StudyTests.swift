// Studies end to end on SQLite: outcomes of the objective, resuming after a kill, a changed search
// space refused with Optuna's message, parallel trials.

import Foundation
import Testing
import Tensor
import Studies
import TestSupport

@Suite struct StudyTests {
    static let space = try! SearchSpace([
        .init("model.type", .categorical(["mlp", "attention"])),
        .init("model.num_heads", .categorical([4, 8]), when: [.init("model.type", in: ["attention"])]),
        .init("lr", try! .makeFloat("lr", low: 1e-5, high: 1e-2, log: true)),
        .init("dim", try! .makeInt("dim", low: 64, high: 512, step: 64)),
    ])

    static func open(_ path: String, name: String = "s", direction: StudyDirection = .maximize,
                     space: SearchSpace = space, seed: UInt64 = 1) throws -> Study {
        try Study.open(storage: path, name: name, direction: direction, space: space, sampler: .tpe(TPESettings(seed: seed)),
                       pruner: .median(MedianPrunerSettings(nStartupTrials: 2)))
    }

    @Test func objectiveOutcomesAreStoredAsOptunaDoes() throws {
        let dir = try ScratchFolder("studies-outcomes")
        defer { dir.remove() }
        let study = try Self.open(dir.path + "/o.db")
        try study.optimize(nTrials: 4) { t in
            try t.report(0.25, step: 0)
            try t.report(0.5, step: 1)
            switch t.number {
            case 1: throw TrialPruned()
            case 2: throw ClipError.invalidArgument("bad batch size")
            case 3: return .nan
            default: return 0.75
            }
        }
        let trials = try study.trials()
        #expect(trials.map(\.number) == [0, 1, 2, 3, 4, 5])
        #expect(trials.map(\.state) == [.complete, .pruned, .fail, .fail, .complete, .complete])
        #expect(trials[0].value == 0.75 && trials[0].intermediateValues == [0: 0.25, 1: 0.5])
        #expect(trials[1].value == 0.5)                                   // the last intermediate value
        #expect(trials[2].value == nil && trials[2].systemAttributes["fail_reason"] == "\"bad batch size\"")
        #expect(trials[3].systemAttributes["fail_reason"] == "\"The objective function returned nan.\"")
        #expect(trials.allSatisfy { $0.datetimeStart != nil && $0.datetimeComplete != nil })
        #expect(study.bestTrial?.number == 0)
        #expect(study.bestParams == trials[0].params)
    }

    @Test func resumesAfterAKill() throws {
        let dir = try ScratchFolder("studies-resume")
        defer { dir.remove() }
        let path = dir.path + "/r.db"
        do {
            let study = try Self.open(path)
            try study.optimize(nTrials: 3) { t in try t.double("lr") * 100 }
            // A process killed in the middle of trial 3 leaves it RUNNING.
            let abandoned = try study.startTrialAndAbandon()
            #expect(abandoned.number == 3)
            #expect(try study.trials().last?.state == .running)
        }
        let study = try Self.open(path)
        #expect(study.failedOnOpen == [3])
        let stale = try #require(try study.trials().last)
        #expect(stale.state == .fail && stale.datetimeComplete != nil)
        #expect(stale.systemAttributes["fail_reason"]?.contains("RUNNING when the study was reopened") == true)
        // The same call resumes: 3 finished, 2 more to run; numbers continue after the failed one.
        final class Seen: @unchecked Sendable { let lock = NSLock(); var numbers: [Int] = [] }
        let seen = Seen()
        try study.optimize(nTrials: 5, objective: { t in
            seen.lock.withLock { seen.numbers.append(t.number) }
            return try t.double("lr") * 100
        })
        #expect(seen.numbers == [4, 5])
        let trials = try study.trials()
        #expect(trials.count == 6 && trials.filter { $0.state == .complete }.count == 5)
        try study.optimize(nTrials: 5, objective: { _ in Issue.record("no trial should run"); return 0 })
        #expect(try study.trials().count == 6)
        // A trial that is no longer running cannot be updated.
        let late = try Self.open(path)
        let t = try late.startTrialAndAbandon()
        _ = try Self.open(path)
        #expect(throws: ClipError.self) { try t.report(1, step: 0) }
    }

    static func refusal(_ path: String, space: SearchSpace = space, direction: StudyDirection = .maximize) -> String? {
        do { _ = try open(path, direction: direction, space: space); return nil } catch let e as ClipError {
            return e.kind == .invalidArgument ? e.message : "wrong kind \(e.kind): \(e.message)"
        } catch { return "\(error)" }
    }

    @Test func changedSearchSpaceIsRefusedWithOptunasMessage() throws {
        let dir = try ScratchFolder("studies-space")
        defer { dir.remove() }
        let path = dir.path + "/s.db"
        try Self.open(path).optimize(nTrials: 3) { t in try t.double("lr") }

        let moreChoices = try SearchSpace([.init("model.type", .categorical(["mlp", "attention", "siglip"]))])
        let m1 = try #require(Self.refusal(path, space: moreChoices))
        #expect(m1.hasPrefix("CategoricalDistribution does not support dynamic value space. Parameter model.type of study s"))
        #expect(m1.contains("CategoricalDistribution(choices=('mlp', 'attention'))"))
        #expect(m1.contains("CategoricalDistribution(choices=('mlp', 'attention', 'siglip'))"))

        let otherKind = try SearchSpace([.init("dim", try .makeFloat("dim", low: 64, high: 512))])
        let m2 = try #require(Self.refusal(path, space: otherKind))
        #expect(m2.hasPrefix("Cannot set different distribution kind to the same parameter name. Parameter dim"))
        #expect(m2.contains("IntDistribution(high=512, log=False, low=64, step=64)"))

        let notLog = try SearchSpace([.init("lr", try .makeFloat("lr", low: 1e-5, high: 1e-2))])
        #expect(Self.refusal(path, space: notLog)?.hasPrefix("Cannot set different log configuration to the same parameter name.") == true)

        #expect(Self.refusal(path, direction: .minimize)?.contains("maximize") == true)

        // As in Optuna, a numeric range may change, and new parameters may be added.
        let wider = try SearchSpace([.init("model.type", .categorical(["mlp", "attention"])),
                                     .init("lr", try .makeFloat("lr", low: 1e-6, high: 1e-1, log: true)),
                                     .init("dropout", try .makeFloat("dropout", low: 0, high: 0.5))])
        #expect(Self.refusal(path, space: wider) == nil)
    }

    @Test func parallelJobsGetDistinctNumbersAndAConsistentDatabase() throws {
        let dir = try ScratchFolder("studies-parallel")
        defer { dir.remove() }
        let study = try Self.open(dir.path + "/p.db")
        final class Counter: @unchecked Sendable { let lock = NSLock(); var now = 0, most = 0, numbers: [Int] = [] }
        let c = Counter()
        try study.optimize(nTrials: 16, jobs: 2) { t in
            c.lock.withLock { c.now += 1; c.most = max(c.most, c.now); c.numbers.append(t.number) }
            for step in 0..<3 {
                try t.report(Double(step) * (try t.double("lr")) * 100, step: step)
                Thread.sleep(forTimeInterval: 0.01)
            }
            c.lock.withLock { c.now -= 1 }
            return try t.double("lr") * 100
        }
        let trials = try study.trials()
        #expect(trials.map(\.number) == Array(0..<trials.count))
        #expect(Set(c.numbers).count == c.numbers.count)
        #expect(trials.filter { $0.state == .complete || $0.state == .pruned }.count == 16)
        #expect(trials.allSatisfy { $0.state != .running && !$0.params.isEmpty && $0.intermediateValues.count >= 1 })
        #expect(trials.filter { $0.state == .complete }.allSatisfy { $0.value != nil && $0.intermediateValues.count == 3 })
        if ProcessInfo.processInfo.activeProcessorCount >= 2 { #expect(c.most == 2) }
    }

    @Test func stopsAfterTooManyFailuresAndOnTimeout() throws {
        let dir = try ScratchFolder("studies-stop")
        defer { dir.remove() }
        let study = try Self.open(dir.path + "/f.db")
        study.maxConsecutiveFailures = 3
        do {
            try study.optimize(nTrials: 10) { _ in throw ClipError.io("disk full") }
            Issue.record("optimize should throw")
        } catch let e as ClipError {
            #expect(e.kind == .io && e.message.contains("3 trials failed in a row") && e.message.contains("disk full"))
        }
        #expect(try study.trials().map(\.state) == [.fail, .fail, .fail])

        let timed = try Self.open(dir.path + "/t.db")
        let start = Date()
        try timed.optimize(nTrials: 1000, timeout: 0.3) { t in Thread.sleep(forTimeInterval: 0.05); return try t.double("lr") }
        #expect(Date().timeIntervalSince(start) < 5)
        let n = try timed.trials().count
        #expect(n >= 1 && n < 1000)
    }

    @Test func invalidArgumentsAreRefused() throws {
        let dir = try ScratchFolder("studies-args")
        defer { dir.remove() }
        let study = try Self.open(dir.path + "/a.db")
        #expect(throws: ClipError.self) { try study.optimize(nTrials: 0) { _ in 0 } }
        #expect(throws: ClipError.self) { try study.optimize(nTrials: 1, jobs: 0) { _ in 0 } }
        #expect(throws: ClipError.self) { try study.optimize(nTrials: 1, timeout: -1) { _ in 0 } }
        #expect(throws: ClipError.self) { _ = try Study.open(storage: dir.path + "/a.db", name: "", direction: .maximize, space: Self.space) }
        try "not a database".write(toFile: dir.path + "/junk.db", atomically: true, encoding: .utf8)
        #expect(throws: ClipError.self) { _ = try Self.open(dir.path + "/junk.db") }
    }
}
