// `clip heads tune` (seed 002's tune_hyperparams.py): a study over a base run configuration. Each trial
// is the base config with the trial's params set at their dotted paths (`model.hidden_dim`), trained on
// the split's tuning subset; it reports validation R@1 every epoch (for the median pruner) and returns
// its best. The study is stored in Optuna's SQLite schema; `best_config.yaml` is the base config with
// the best params, for `clip heads train`.

import Foundation
import Tensor
import Studies
import Yams

/// A tuning file: the study blocks (`study`, `sampler`, `pruner`, `search_space`: see docs/STUDIES.md)
/// plus `base_config` (the run config the params modify), `output_dir` (trial folders and
/// `best_config.yaml`) and `trial_epochs` (each trial's `training.num_epochs`; default the base's).
public struct HeadsTuneConfig {
    public var study: StudyConfig
    public var baseConfigPath: String
    public var outputDir = "optuna_results"
    public var trialEpochs: Int?
    /// The base config as YAML, kept as a tree so that params land at their paths.
    let base: Node

    static let knownKeys = ["study", "sampler", "pruner", "search_space", "base_config", "output_dir", "trial_epochs"]

    public init(yaml: String, name: String = "tuning config") throws {
        let node = try YAMLGuard.compose(yaml, name: name)
        guard let node, let top = node.mapping else { throw ClipError.invalidArgument("\(name): the top level must be a mapping") }
        for key in top.keys.compactMap(\.string) where !Self.knownKeys.contains(key) {
            throw ClipError.invalidArgument("\(name): unknown key '\(key)' (known: \(Self.knownKeys.sorted().joined(separator: ", ")))")
        }
        do { study = try StudyConfig(node: node) } catch let e as ClipError { throw e.prefixed(name) }
        guard let base = top["base_config"]?.string, !base.isEmpty else {
            throw ClipError.invalidArgument("\(name): base_config is required (the run config the trials modify)")
        }
        baseConfigPath = base
        if let out = top["output_dir"] {
            guard let s = out.string, !s.isEmpty else { throw ClipError.invalidArgument("\(name): output_dir must be a path") }
            outputDir = s
        }
        if let e = top["trial_epochs"] {
            guard let n = e.int, n > 0 else { throw ClipError.invalidArgument("\(name): trial_epochs must be a positive integer") }
            trialEpochs = n
        }
        let text = try readConfigText(baseConfigPath)
        guard let b = try YAMLGuard.compose(text, name: baseConfigPath), b.mapping != nil else {
            throw ClipError.format("\(baseConfigPath): not a YAML mapping")
        }
        self.base = b
        // Every param must land on a key the run config knows: a typo fails now, not in every trial.
        _ = try runConfig(params: [:], trialDir: outputDir + "/check")
        for p in study.space.parameters {
            let probe: ParamValue
            switch p.distribution {
            case .categorical(let choices): probe = choices[0]
            default: continue
            }
            do { _ = try runConfig(params: [p.name: probe], trialDir: outputDir + "/check") } catch let e as ClipError {
                throw e.prefixed("search_space.\(p.name)")
            }
        }
    }

    public static func load(path: String) throws -> HeadsTuneConfig {
        try HeadsTuneConfig(yaml: try readConfigText(path), name: path)
    }

    /// The base config with `params` at their paths, trained on the tuning subset into `trialDir`.
    public func runConfig(params: [String: ParamValue], trialDir: String, tuning: Bool = true) throws -> HeadsRunConfig {
        var node = try withParams(params)
        if tuning {
            node = try Self.setting(node, path: ["training", "use_tuning_subset"], to: Node("true", Tag(.bool)), name: "training.use_tuning_subset")
            if let e = trialEpochs { node = try Self.setting(node, path: ["training", "num_epochs"], to: Node(String(e), Tag(.int)), name: "training.num_epochs") }
        }
        node = try Self.setting(node, path: ["output_dir"], to: Node(trialDir), name: "output_dir")
        return try HeadsRunConfig.parse(try Yams.serialize(node: node), name: baseConfigPath)
    }

    /// The best config's YAML: the base with `params`, its own output folder, the whole training split.
    public func bestConfigYAML(params: [String: ParamValue]) throws -> String {
        var node = try withParams(params)
        node = try Self.setting(node, path: ["output_dir"], to: Node(outputDir + "/best"), name: "output_dir")
        return try Yams.serialize(node: node)
    }

    /// The base config with each param's value at its dotted path.
    func withParams(_ params: [String: ParamValue]) throws -> Node {
        var node = base
        for (name, value) in params.sorted(by: { $0.key < $1.key }) {
            node = try Self.setting(node, path: name.split(separator: ".").map(String.init)[...], to: value.yamlNode, name: name)
        }
        return node
    }

    /// `node` with the value at `path` replaced (mappings created on the way).
    static func setting(_ node: Node, path: ArraySlice<String>, to value: Node, name: String) throws -> Node {
        guard let key = path.first else { return value }
        var m: Node.Mapping
        if let existing = node.mapping { m = existing } else if node.scalar?.string == "" || node.null != nil {
            m = Node.Mapping([])
        } else {
            throw ClipError.invalidArgument("\(name): the base config has a value where this path needs a mapping")
        }
        let child = m[Node(key)] ?? Node.mapping(Node.Mapping([]))
        m[Node(key)] = try setting(child, path: path.dropFirst(), to: value, name: name)
        return Node.mapping(m)
    }
}

/// A finished `clip heads tune`.
public struct HeadsTuneResult: Sendable {
    public var study: String
    public var storage: String
    public var trials: [FrozenTrial]
    public var best: FrozenTrial?
    public var bestConfigPath: String?
}

public enum HeadsTuning {
    /// Runs (or resumes) the study: trials until it holds `n_trials` finished ones, `n_jobs` at once.
    /// The data and split are read once and shared by the trials. Writes `best_config.yaml`.
    public static func run(_ tc: HeadsTuneConfig, log: @escaping @Sendable (String) -> Void = { _ in }) throws -> HeadsTuneResult {
        let first = try tc.runConfig(params: [:], trialDir: tc.outputDir + "/trials/check")
        let data = try HeadsData.load(first)
        let (split, _) = try HeadsSplit.read(folder: first.data.splits, data: data)
        guard !split.tuning.captionRows.isEmpty else {
            throw ClipError.invalidArgument("\(first.data.splits): the tuning subset is empty (split.tuning_samples)")
        }
        try FileManager.default.createDirectory(atPath: tc.outputDir, withIntermediateDirectories: true)
        let study = try Study.open(tc.study)
        if !study.failedOnOpen.isEmpty {
            log("resuming study \(study.name): trials \(study.failedOnOpen.map(String.init).joined(separator: ", ")) were left running and are now FAIL")
        }
        // Trials share the cores: each runs its kernels on its share.
        let jobs = min(tc.study.study.jobs, max(1, ProcessInfo.processInfo.activeProcessorCount))
        let threads = Threads.count
        if jobs > 1 { Threads.count = max(1, threads / jobs) }
        defer { Threads.count = threads }
        let shared = SharedData(data: data, split: split)
        try study.optimize(nTrials: tc.study.study.nTrials, timeout: tc.study.study.timeout, jobs: jobs, objective: { trial in
            let config = try tc.runConfig(params: trial.params, trialDir: tc.outputDir + "/trials/trial_\(trial.number)")
            let trainer = try HeadsTrainer(config: config, data: shared.data, split: shared.split)
            var best = -Double.infinity
            try trainer.run(resume: false) { e in
                best = max(best, e.valR1)
                try trial.report(e.valR1, step: e.epoch)
                if try trial.shouldPrune() { throw TrialPruned() }
            }
            return best
        }, onTrialFinished: { t in
            let params = t.params.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            log("trial \(t.number) \(t.state.rawValue)" + (t.value.map { String(format: " val R@1 %.2f", $0) } ?? "") + "  " + params)
        })
        let best = try study.best()
        var bestPath: String?
        if let best {
            let path = tc.outputDir + "/best_config.yaml"
            try AtomicFile.write(try tc.bestConfigYAML(params: best.params), to: path)
            bestPath = path
        }
        return HeadsTuneResult(study: study.name, storage: study.storagePath, trials: try study.trials(), best: best, bestConfigPath: bestPath)
    }

    /// The data and split, read once, shared read-only by concurrent trials.
    private final class SharedData: @unchecked Sendable {
        let data: HeadsData
        let split: HeadsSplit
        init(data: HeadsData, split: HeadsSplit) { (self.data, self.split) = (data, split) }
    }
}
