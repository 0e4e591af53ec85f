// The samplers: TPE against random search on a quadratic, determinism for a seed, ranges and steps
// kept, conditional parameters.

import Foundation
import Testing
import Tensor
import Studies
import TestSupport

@Suite struct SamplerTests {
    @Sendable static func quadratic(_ trial: Trial) throws -> Double {
        let x = try trial.double("x"), y = try trial.double("y")
        return (x - 0.7) * (x - 0.7) + (y + 1.3) * (y + 1.3)
    }

    static let plane = try! SearchSpace([.init("x", try! .makeFloat("x", low: -5, high: 5)),
                                         .init("y", try! .makeFloat("y", low: -5, high: 5))])

    /// Best value after `budget` trials of a fresh study.
    static func best(_ sampler: SamplerSettings, budget: Int, in dir: ScratchFolder, tag: String) throws -> Double {
        let study = try Study.open(storage: dir.path + "/\(tag).db", name: tag, direction: .minimize, space: plane,
                                   sampler: sampler, pruner: .none)
        try study.optimize(nTrials: budget, objective: quadratic)
        return try #require(study.bestTrial?.value)
    }

    @Test func tpeBeatsRandomSearchOnAQuadratic() throws {
        let dir = try ScratchFolder("studies-tpe")
        defer { dir.remove() }
        var tpe: [Double] = [], random: [Double] = []
        for seed in UInt64(1)...5 {
            tpe.append(try Self.best(.tpe(TPESettings(seed: seed)), budget: 60, in: dir, tag: "tpe\(seed)"))
            random.append(try Self.best(.random(seed: seed), budget: 60, in: dir, tag: "random\(seed)"))
        }
        let meanTPE = tpe.reduce(0, +) / 5, meanRandom = random.reduce(0, +) / 5
        print("2-D quadratic, 60 trials, best value averaged over 5 seeds: TPE \(meanTPE), random \(meanRandom)")
        #expect(meanTPE < 0.5 * meanRandom)
        #expect(meanTPE < 0.05)
    }

    @Test func sameSeedSameTrials() throws {
        let dir = try ScratchFolder("studies-seed")
        defer { dir.remove() }
        func params(_ tag: String, seed: UInt64) throws -> [[String: ParamValue]] {
            let study = try Study.open(storage: dir.path + "/\(tag).db", name: "s", direction: .minimize, space: Self.plane,
                                       sampler: .tpe(TPESettings(seed: seed)), pruner: .none)
            try study.optimize(nTrials: 25, objective: Self.quadratic)
            return try study.trials().map(\.params)
        }
        let a = try params("a", seed: 11), b = try params("b", seed: 11), c = try params("c", seed: 12)
        #expect(a == b)
        #expect(a != c)
    }

    @Test func valuesStayInRangeAndOnSteps() throws {
        let dir = try ScratchFolder("studies-range")
        defer { dir.remove() }
        let space = try SearchSpace([
            .init("i", try .makeInt("i", low: 3, high: 17, step: 2)),
            .init("il", try .makeInt("il", low: 1, high: 1000, log: true)),
            .init("fl", try .makeFloat("fl", low: 1e-5, high: 1e-2, log: true)),
            .init("fs", try .makeFloat("fs", low: 0.1, high: 0.9, step: 0.2)),
            .init("c", .categorical(["a", 2, 0.5, false])),
        ])
        for sampler in [SamplerSettings.tpe(TPESettings(seed: 3)), .random(seed: 3)] {
            let study = try Study.open(storage: dir.path + "/\(sampler.seed!)-\(UUID().uuidString).db", name: "s", direction: .maximize,
                                       space: space, sampler: sampler, pruner: .none)
            try study.optimize(nTrials: 30) { t in
                Double(try t.int("i")) - log(Double(try t.int("il"))) + log(try t.double("fl")) + (try t.double("fs"))
            }
            for t in try study.trials() {
                let i = try #require(t.params["i"]?.intValue), il = try #require(t.params["il"]?.intValue)
                let fl = try #require(t.params["fl"]?.doubleValue), fs = try #require(t.params["fs"]?.doubleValue)
                #expect((3...17).contains(i) && (i - 3) % 2 == 0)
                #expect((1...1000).contains(il))
                #expect(fl >= 1e-5 && fl <= 1e-2)
                let k = (fs - 0.1) / 0.2
                #expect(fs >= 0.1 - 1e-12 && fs <= 0.9 + 1e-12 && abs(k - k.rounded()) < 1e-9)
                #expect([ParamValue.string("a"), .int(2), .float(0.5), .bool(false)].contains(try #require(t.params["c"])))
                if case .int = t.params["i"] {} else { Issue.record("i is not an int: \(String(describing: t.params["i"]))") }
            }
            // TPE moves towards the better end of each range.
            if case .tpe = sampler {
                let late = try study.trials().suffix(10)
                let meanI = late.map { Double($0.params["i"]!.intValue!) }.reduce(0, +) / 10
                #expect(meanI > 10, "TPE's last trials should favour large i (mean \(meanI))")
            }
        }
    }

    @Test func conditionalParametersOnlyWhenTheirConditionHolds() throws {
        let dir = try ScratchFolder("studies-cond")
        defer { dir.remove() }
        let space = try SearchSpace([
            .init("model.type", .categorical(["mlp", "attention", "siglip"])),
            .init("model.num_heads", .categorical([4, 8]), when: [.init("model.type", in: ["attention"])]),
            .init("model.hidden_dim", try .makeInt("model.hidden_dim", low: 256, high: 2048, step: 256)),
        ])
        var tpe = TPESettings(seed: 5)
        tpe.nStartupTrials = 5
        let study = try Study.open(storage: dir.path + "/c.db", name: "c", direction: .maximize, space: space,
                                   sampler: .tpe(tpe), pruner: .none)
        try study.optimize(nTrials: 30) { t in
            let heads = t.params["model.num_heads"]?.intValue ?? 0
            return (try t.string("model.type") == "attention" ? 1.0 : 0.0) + Double(heads) / 8 + Double(try t.int("model.hidden_dim")) / 2048
        }
        let trials = try study.trials()
        #expect(trials.count == 30)
        for t in trials {
            #expect((t.params["model.num_heads"] != nil) == (t.params["model.type"] == "attention"))
        }
        // TPE finds the best branch: most of the last ten trials are attention with 8 heads.
        let late = trials.suffix(10).filter { $0.params["model.type"] == "attention" && $0.params["model.num_heads"] == 8 }
        #expect(late.count >= 6, "\(trials.suffix(10).map(\.params))")
    }
}
