// A study file (docs/STUDIES.md): the `study:`, `sampler:`, `pruner:` and `search_space:` blocks, read
// with Yams. Other top-level blocks (a `base_config:` for the trained runs) are left to the caller.

import Foundation
import Tensor
import Yams

/// Whether the objective is minimised or maximised (Optuna's `StudyDirection`).
public enum StudyDirection: String, Sendable, Equatable {
    case minimize, maximize

    /// Optuna's spelling in `study_directions.direction`.
    var optunaName: String { self == .minimize ? "MINIMIZE" : "MAXIMIZE" }
}

/// The `study:` block.
public struct StudySettings: Equatable, Sendable {
    public var name: String
    /// The SQLite file (Optuna's `sqlite:///PATH`; a `sqlite:///` prefix is accepted and removed).
    public var storage: String
    public var direction: StudyDirection
    /// The study runs until it holds this many finished (COMPLETE or PRUNED) trials.
    public var nTrials: Int
    /// Seconds after which no new trial starts (running ones finish); nil: no limit.
    public var timeout: Double?
    /// Trials run at once (threads), at most the number of cores.
    public var jobs: Int

    public init(name: String, storage: String, direction: StudyDirection = .maximize, nTrials: Int = 20,
                timeout: Double? = nil, jobs: Int = 1) {
        self.name = name
        self.storage = storage
        self.direction = direction
        self.nTrials = nTrials
        self.timeout = timeout
        self.jobs = jobs
    }
}

/// A study file: its settings, sampler, pruner and search space.
public struct StudyConfig: Equatable, Sendable {
    public var study: StudySettings
    public var sampler: SamplerSettings
    public var pruner: PrunerSettings
    public var space: SearchSpace

    public init(study: StudySettings, sampler: SamplerSettings, pruner: PrunerSettings, space: SearchSpace) {
        self.study = study
        self.sampler = sampler
        self.pruner = pruner
        self.space = space
    }

    /// Parses a study file's text.
    /// - Throws: `ClipError` (.format) for YAML that does not parse, (.invalidArgument) naming the key
    ///   for a missing, unknown or wrong value.
    public init(yaml: String) throws {
        guard let node = try YAMLGuard.compose(yaml, name: "study file") else { throw ClipError.invalidArgument("study file: empty") }
        try self.init(node: node)
    }

    /// Reads the study blocks of an already parsed file (a mapping; blocks other than `study`,
    /// `sampler`, `pruner` and `search_space` are ignored).
    /// - Throws: `ClipError` (.invalidArgument) naming the key for a missing, unknown or wrong value.
    public init(node: Node) throws {
        guard let top = node.mapping else { throw ClipError.invalidArgument("study file: the top level must be a mapping") }
        guard let studyNode = top["study"] else { throw ClipError.invalidArgument("study: missing") }
        let s = try Block(studyNode, "study", known: ["name", "storage", "direction", "n_trials", "timeout", "n_jobs"])
        let direction: StudyDirection
        switch try s.string("direction") ?? "maximize" {
        case "maximize": direction = .maximize
        case "minimize": direction = .minimize
        case let other: throw ClipError.invalidArgument("study.direction: \(other) is neither maximize nor minimize")
        }
        var storage = try s.required(s.string("storage"), "storage")
        if storage.hasPrefix("sqlite:///") { storage.removeFirst("sqlite:///".count) }
        study = StudySettings(name: try s.required(s.string("name"), "name"), storage: storage, direction: direction,
                              nTrials: try s.int("n_trials", min: 1) ?? 20, timeout: try s.double("timeout", positive: true),
                              jobs: try s.int("n_jobs", min: 1) ?? 1)

        if let samplerNode = top["sampler"] {
            let b = try Block(samplerNode, "sampler", known: ["type", "seed", "n_startup_trials", "n_ei_candidates",
                                                             "prior_weight", "consider_magic_clip", "consider_endpoints",
                                                             "constant_liar"])
            let seed = try b.int("seed", min: 0).map(UInt64.init)
            switch try b.string("type") ?? "tpe" {
            case "tpe":
                var t = TPESettings(seed: seed)
                t.nStartupTrials = try b.int("n_startup_trials", min: 0) ?? t.nStartupTrials
                t.nEICandidates = try b.int("n_ei_candidates", min: 1) ?? t.nEICandidates
                t.priorWeight = try b.double("prior_weight", positive: true) ?? t.priorWeight
                t.considerMagicClip = try b.bool("consider_magic_clip") ?? t.considerMagicClip
                t.considerEndpoints = try b.bool("consider_endpoints") ?? t.considerEndpoints
                t.constantLiar = try b.bool("constant_liar") ?? t.constantLiar
                sampler = .tpe(t)
            case "random":
                for key in ["n_startup_trials", "n_ei_candidates", "prior_weight", "consider_magic_clip",
                            "consider_endpoints", "constant_liar"] where b.map[key] != nil {
                    throw ClipError.invalidArgument("sampler.\(key): only the tpe sampler takes it")
                }
                sampler = .random(seed: seed)
            case let other: throw ClipError.invalidArgument("sampler.type: \(other) is neither tpe nor random")
            }
        } else {
            sampler = .tpe(TPESettings())
        }

        if let prunerNode = top["pruner"] {
            let b = try Block(prunerNode, "pruner", known: ["type", "n_startup_trials", "n_warmup_steps", "interval_steps",
                                                           "n_min_trials"])
            switch try b.string("type") ?? "median" {
            case "median":
                var m = MedianPrunerSettings()
                m.nStartupTrials = try b.int("n_startup_trials", min: 0) ?? m.nStartupTrials
                m.nWarmupSteps = try b.int("n_warmup_steps", min: 0) ?? m.nWarmupSteps
                m.intervalSteps = try b.int("interval_steps", min: 1) ?? m.intervalSteps
                m.nMinTrials = try b.int("n_min_trials", min: 1) ?? m.nMinTrials
                pruner = .median(m)
            case "none", "nop":
                if let key = b.map.keys.compactMap(\.string).first(where: { $0 != "type" }) {
                    throw ClipError.invalidArgument("pruner.\(key): pruner type none takes no settings")
                }
                pruner = .none
            case let other: throw ClipError.invalidArgument("pruner.type: \(other) is neither median nor none")
            }
        } else {
            pruner = .median(MedianPrunerSettings())
        }

        guard let spaceNode = top["search_space"] else { throw ClipError.invalidArgument("search_space: missing") }
        space = try StudyConfig.searchSpace(spaceNode)
    }

    /// Reads a `search_space:` mapping (`name: {type: …}` in sampling order).
    /// - Throws: `ClipError` (.invalidArgument) naming the parameter and key.
    public static func searchSpace(_ node: Node) throws -> SearchSpace {
        guard let map = node.mapping else { throw ClipError.invalidArgument("search_space: must be a mapping of parameters") }
        guard !map.isEmpty else { throw ClipError.invalidArgument("search_space: no parameters") }
        var parameters: [SearchSpace.Parameter] = []
        for (keyNode, valueNode) in map {
            guard let name = keyNode.string, !name.isEmpty else {
                throw ClipError.invalidArgument("search_space: a parameter name must be a non-empty string")
            }
            let path = "search_space.\(name)"
            let type = try Block(valueNode, path, known: []).string("type")
            let known: [String]
            switch type {
            case "categorical": known = ["type", "choices", "when"]
            case "int", "float": known = ["type", "low", "high", "step", "log", "when"]
            case nil: throw ClipError.invalidArgument("\(path).type: missing (categorical, int or float)")
            case let other?: throw ClipError.invalidArgument("\(path).type: \(other) is not categorical, int or float")
            }
            let b = try Block(valueNode, path, known: known)
            let distribution: Distribution
            switch type {
            case "categorical":
                guard let choicesNode = b.map["choices"] else { throw ClipError.invalidArgument("\(path).choices: missing") }
                distribution = try Distribution.makeCategorical(path, try choices(choicesNode, "\(path).choices"))
            case "int":
                let low = try b.required(b.int("low"), "low"), high = try b.required(b.int("high"), "high")
                distribution = try Distribution.makeInt(path, low: low, high: high, log: try b.bool("log") ?? false,
                                                        step: try b.int("step") ?? 1)
            default:
                let low = try b.required(b.double("low"), "low"), high = try b.required(b.double("high"), "high")
                distribution = try Distribution.makeFloat(path, low: low, high: high, log: try b.bool("log") ?? false,
                                                          step: try b.double("step"))
            }
            var conditions: [SearchSpace.Condition] = []
            if let whenNode = b.map["when"] {
                guard let whenMap = whenNode.mapping, !whenMap.isEmpty else {
                    throw ClipError.invalidArgument("\(path).when: must map parameter names to values ({model.type: [attention]})")
                }
                for (k, v) in whenMap {
                    guard let parent = k.string else { throw ClipError.invalidArgument("\(path).when: keys must be parameter names") }
                    let values = v.sequence != nil ? try choices(v, "\(path).when.\(parent)") : [try choice(v, "\(path).when.\(parent)")]
                    guard !values.isEmpty else { throw ClipError.invalidArgument("\(path).when.\(parent): no values") }
                    conditions.append(SearchSpace.Condition(parent, in: values))
                }
            }
            parameters.append(SearchSpace.Parameter(name, distribution, when: conditions))
        }
        return try SearchSpace(parameters)
    }

    private static func choices(_ node: Node, _ path: String) throws -> [ParamValue] {
        guard let seq = node.sequence else { throw ClipError.invalidArgument("\(path): must be a list") }
        return try seq.enumerated().map { try choice($0.element, "\(path)[\($0.offset)]") }
    }

    /// A YAML scalar as a choice: its resolved type (int, float, bool) or a string, as PyYAML reads it.
    private static func choice(_ node: Node, _ path: String) throws -> ParamValue {
        guard let scalar = node.scalar else { throw ClipError.invalidArgument("\(path): must be a string, number or bool") }
        switch node.tag.rawValue {
        case Tag.Name.int.rawValue: if let i = node.int { return .int(i) }
        case Tag.Name.float.rawValue: if let d = node.float { return .float(d) }
        case Tag.Name.bool.rawValue: if let b = node.bool { return .bool(b) }
        case Tag.Name.null.rawValue: throw ClipError.invalidArgument("\(path): null is not supported as a choice")
        default: break
        }
        return .string(scalar.string)
    }
}

/// One mapping block with typed, key-naming accessors.
private struct Block {
    let map: Node.Mapping
    let path: String

    init(_ node: Node, _ path: String, known: [String]) throws {
        guard let map = node.mapping else { throw ClipError.invalidArgument("\(path): must be a mapping") }
        self.map = map
        self.path = path
        if !known.isEmpty {
            for key in map.keys {
                guard let k = key.string, known.contains(k) else {
                    throw ClipError.invalidArgument("\(path).\(key.string ?? "?"): unknown key (known: \(known.joined(separator: ", ")))")
                }
            }
        }
    }

    func required<T>(_ value: T?, _ key: String) throws -> T {
        guard let value else { throw ClipError.invalidArgument("\(path).\(key): missing") }
        return value
    }

    private func scalar(_ key: String) -> Node? {
        guard let n = map[key], n.null == nil || n.scalar?.style != .plain else { return nil }
        return n
    }

    func string(_ key: String) throws -> String? {
        guard let n = scalar(key) else { return nil }
        guard n.scalar != nil, let s = n.string else { throw ClipError.invalidArgument("\(path).\(key): must be a string") }
        return s
    }

    func int(_ key: String, min: Int? = nil) throws -> Int? {
        guard let n = scalar(key) else { return nil }
        guard let i = n.int ?? n.float.flatMap({ $0.rounded() == $0 && abs($0) < 9e15 ? Int($0) : nil })
                ?? n.scalar.flatMap({ Int($0.string) }) else {
            throw ClipError.invalidArgument("\(path).\(key): must be an integer (got \(n.scalar?.string ?? "a collection"))")
        }
        if let min, i < min { throw ClipError.invalidArgument("\(path).\(key): must be at least \(min) (got \(i))") }
        return i
    }

    func double(_ key: String, positive: Bool = false) throws -> Double? {
        guard let n = scalar(key) else { return nil }
        // PyYAML, like Yams, reads `1e-5` (no dot) as a string: accept it as a number here.
        guard let d = n.float ?? n.scalar.flatMap({ Double($0.string) }), d.isFinite else {
            throw ClipError.invalidArgument("\(path).\(key): must be a number (got \(n.scalar?.string ?? "a collection"))")
        }
        if positive && d <= 0 { throw ClipError.invalidArgument("\(path).\(key): must be positive (got \(d))") }
        return d
    }

    func bool(_ key: String) throws -> Bool? {
        guard let n = scalar(key) else { return nil }
        guard let b = n.bool else { throw ClipError.invalidArgument("\(path).\(key): must be true or false") }
        return b
    }
}
