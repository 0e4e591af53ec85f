// Study files: the four blocks, every parameter kind, conditions, and errors that name the key.

import Foundation
import Testing
import Tensor
import Studies
import Yams

@Suite struct StudyConfigTests {
    static let example = """
        study:   {name: heads_tuning, storage: study.db, direction: maximize, n_trials: 20, timeout: 600, n_jobs: 2}
        sampler: {type: tpe, seed: 42, n_startup_trials: 10}
        pruner:  {type: median, n_startup_trials: 5, n_warmup_steps: 1}
        base_config:
          training: {epochs: 3}
        search_space:
          model.num_heads:       {type: categorical, choices: [4, 8], when: {model.type: [attention, cross_modal]}}
          model.type:            {type: categorical, choices: [mlp, attention, siglip, clip]}
          model.hidden_dim:      {type: int, low: 256, high: 2048, step: 256}
          training.learning_rate: {type: float, low: 1.0e-5, high: 1.0e-3, log: true}
          training.weight_decay: {type: float, low: 0, high: 0.1, step: 0.03}
          training.use_amp:      {type: categorical, choices: [true, false]}
          training.temperature:  {type: categorical, choices: [0.05, 0.07, 1]}
          training.warmup:       {type: int, low: 1, high: 1000, log: true}
          training.eps:          {type: float, low: 1e-8, high: 1e-6}
        """

    @Test func readsTheExampleFile() throws {
        let c = try StudyConfig(yaml: Self.example)
        #expect(c.study == StudySettings(name: "heads_tuning", storage: "study.db", direction: .maximize, nTrials: 20,
                                         timeout: 600, jobs: 2))
        var tpe = TPESettings(seed: 42)
        tpe.nStartupTrials = 10
        #expect(c.sampler == .tpe(tpe))
        #expect(c.pruner == .median(MedianPrunerSettings(nStartupTrials: 5, nWarmupSteps: 1)))
        // A conditional parameter comes after the one its condition names; the rest keep file order.
        #expect(c.space.parameters.map(\.name) == ["model.type", "model.num_heads", "model.hidden_dim",
                                                   "training.learning_rate", "training.weight_decay", "training.use_amp",
                                                   "training.temperature", "training.warmup", "training.eps"])
        #expect(c.space["model.type"]?.distribution == .categorical(["mlp", "attention", "siglip", "clip"]))
        #expect(c.space["model.num_heads"]?.distribution == .categorical([4, 8]))
        #expect(c.space["model.num_heads"]?.conditions == [SearchSpace.Condition("model.type", in: ["attention", "cross_modal"])])
        #expect(c.space["model.hidden_dim"]?.distribution == .int(low: 256, high: 2048, log: false, step: 256))
        #expect(c.space["training.learning_rate"]?.distribution == .float(low: 1e-5, high: 1e-3, log: true, step: nil))
        // Optuna lowers high onto the last step: 0, 0.03, 0.06, 0.09.
        #expect(c.space["training.weight_decay"]?.distribution == .float(low: 0, high: 0.09, log: false, step: 0.03))
        #expect(c.space["training.use_amp"]?.distribution == .categorical([true, false]))
        #expect(c.space["training.temperature"]?.distribution == .categorical([0.05, 0.07, 1]))
        #expect(c.space["training.warmup"]?.distribution == .int(low: 1, high: 1000, log: true, step: 1))
        // `1e-8` (no dot) is a string to YAML 1.1 readers; as a bound it is read as a number.
        #expect(c.space["training.eps"]?.distribution == .float(low: 1e-8, high: 1e-6, log: false, step: nil))
    }

    @Test func readsAParsedFileAndLeavesOtherBlocks() throws {
        let node = try #require(try Yams.compose(yaml: Self.example))
        let c = try StudyConfig(node: node)
        #expect(c.study.name == "heads_tuning")
        #expect(node["base_config"]?["training"]?["epochs"]?.int == 3)
    }

    @Test func defaultsAndStoragePrefix() throws {
        let c = try StudyConfig(yaml: """
            study: {name: s, storage: "sqlite:///runs/x.db"}
            search_space: {a: {type: float, low: 0, high: 1}}
            """)
        #expect(c.study.storage == "runs/x.db")
        #expect(c.study.direction == .maximize && c.study.nTrials == 20 && c.study.jobs == 1 && c.study.timeout == nil)
        #expect(c.sampler == .tpe(TPESettings()))
        #expect(c.pruner == .median(MedianPrunerSettings()))
        let r = try StudyConfig(yaml: """
            study: {name: s, storage: x.db, direction: minimize}
            sampler: {type: random, seed: 3}
            pruner: {type: none}
            search_space: {a: {type: categorical, choices: [x]}}
            """)
        #expect(r.sampler == .random(seed: 3) && r.pruner == PrunerSettings.none && r.study.direction == .minimize)
    }

    static func message(_ yaml: String) -> String? {
        do { _ = try StudyConfig(yaml: yaml); return nil } catch let e as ClipError {
            return e.kind == .invalidArgument ? e.message : "wrong kind \(e.kind): \(e.message)"
        } catch { return "\(error)" }
    }

    @Test func errorsNameTheKey() {
        let head = "study: {name: s, storage: x.db}\n"
        let cases: [(String, String)] = [
            ("search_space: {a: {type: float, low: 0, high: 1}}", "study: missing"),
            (head, "search_space: missing"),
            ("study: {name: s, storage: x.db, n_trail: 3}\nsearch_space: {a: {type: float, low: 0, high: 1}}", "study.n_trail: unknown key"),
            ("study: {storage: x.db}\nsearch_space: {a: {type: float, low: 0, high: 1}}", "study.name: missing"),
            ("study: {name: s, storage: x.db, direction: up}\nsearch_space: {a: {type: float, low: 0, high: 1}}", "study.direction"),
            ("study: {name: s, storage: x.db, n_trials: 0}\nsearch_space: {a: {type: float, low: 0, high: 1}}", "study.n_trials: must be at least 1"),
            (head + "sampler: {type: cmaes}\nsearch_space: {a: {type: float, low: 0, high: 1}}", "sampler.type: cmaes"),
            (head + "sampler: {type: random, n_startup_trials: 3}\nsearch_space: {a: {type: float, low: 0, high: 1}}", "sampler.n_startup_trials"),
            (head + "pruner: {type: median, warmup: 3}\nsearch_space: {a: {type: float, low: 0, high: 1}}", "pruner.warmup: unknown key"),
            (head + "search_space: {lr: {low: 0, high: 1}}", "search_space.lr.type: missing"),
            (head + "search_space: {lr: {type: uniform, low: 0, high: 1}}", "search_space.lr.type: uniform"),
            (head + "search_space: {lr: {type: float, low: 0}}", "search_space.lr.high: missing"),
            (head + "search_space: {lr: {type: float, low: 0, high: 1, choices: [1]}}", "search_space.lr.choices: unknown key"),
            (head + "search_space: {lr: {type: float, low: 1, high: 0}}", "search_space.lr: low <= high"),
            (head + "search_space: {lr: {type: float, low: 0, high: 1, log: true}}", "search_space.lr: low > 0"),
            (head + "search_space: {lr: {type: float, low: 0.1, high: 1, log: true, step: 0.1}}", "search_space.lr: step is not supported"),
            (head + "search_space: {n: {type: int, low: 1, high: 9, log: true, step: 2}}", "search_space.n: step must be 1"),
            (head + "search_space: {n: {type: int, low: 1.5, high: 9}}", "search_space.n.low: must be an integer"),
            (head + "search_space: {c: {type: categorical, choices: []}}", "search_space.c: choices must not be empty"),
            (head + "search_space: {c: {type: categorical, choices: [a, null]}}", "search_space.c.choices[1]: null"),
            (head + "search_space: {c: {type: categorical, choices: [a], when: {head: [x]}}}", "search_space.c.when: head is not a parameter"),
            (head + "search_space: {a: {type: categorical, choices: [x], when: {b: [x]}}, b: {type: categorical, choices: [x], when: {a: [x]}}}",
             "form a cycle"),
        ]
        for (yaml, expected) in cases {
            let m = Self.message(yaml)
            #expect(m?.contains(expected) == true, "\(yaml) → \(m ?? "no error"), expected \(expected)")
        }
    }

    @Test func nestedBestParams() throws {
        let node = try SearchSpace.nestedYAML(["model.type": "mlp", "model.hidden_dim": 512, "training.learning_rate": 0.0003,
                                               "training.use_amp": true, "training.tag": "1.5"])
        let text = try Yams.serialize(node: node)
        #expect(text == """
            model:
              hidden_dim: 512
              type: mlp
            training:
              learning_rate: 0.0003
              tag: "1.5"
              use_amp: true

            """)
        #expect(throws: ClipError.self) { try SearchSpace.nestedYAML(["a": 1, "a.b": 2]) }
    }
}
