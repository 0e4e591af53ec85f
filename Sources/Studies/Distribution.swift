// The range one hyperparameter is drawn from, in Optuna's three kinds (FloatDistribution,
// IntDistribution, CategoricalDistribution), with Optuna's internal representation of values
// (a float; a categorical value is its choice's index), its JSON and its compatibility rule.
// Follows optuna/distributions.py (5.1.0).

import Foundation
import Tensor

/// Where one hyperparameter's values come from.
public enum Distribution: Equatable, Sendable, CustomStringConvertible {
    /// Floats in [low, high]; `log`: sampled in log space (low > 0); `step`: multiples of step from low.
    case float(low: Double, high: Double, log: Bool, step: Double?)
    /// Ints in [low, high] in multiples of `step` from low; `log`: sampled in log space (low ≥ 1, step 1).
    case int(low: Int, high: Int, log: Bool, step: Int)
    /// One of `choices` (strings, ints, floats or bools).
    case categorical([ParamValue])

    /// Checks the arguments as Optuna does and, like Optuna, lowers `high` onto the last step.
    /// - Throws: `ClipError` (.invalidArgument) naming `name`.
    public static func makeFloat(_ name: String, low: Double, high: Double, log: Bool = false,
                                 step: Double? = nil) throws -> Distribution {
        guard low.isFinite, high.isFinite else { throw ClipError.invalidArgument("\(name): low and high must be finite") }
        if log && step != nil { throw ClipError.invalidArgument("\(name): step is not supported when log is true") }
        if low > high { throw ClipError.invalidArgument("\(name): low <= high must hold (low \(low), high \(high))") }
        if log && low <= 0 { throw ClipError.invalidArgument("\(name): low > 0 must hold when log is true (low \(low))") }
        var high = high
        if let step {
            guard step > 0, step.isFinite else { throw ClipError.invalidArgument("\(name): step > 0 must hold (step \(step))") }
            high = adjustedHigh(low: low, high: high, step: step)
        }
        return .float(low: low, high: high, log: log, step: step)
    }

    /// - Throws: `ClipError` (.invalidArgument) naming `name`.
    public static func makeInt(_ name: String, low: Int, high: Int, log: Bool = false, step: Int = 1) throws -> Distribution {
        if log && step != 1 { throw ClipError.invalidArgument("\(name): step must be 1 when log is true") }
        if low > high { throw ClipError.invalidArgument("\(name): low <= high must hold (low \(low), high \(high))") }
        if log && low < 1 { throw ClipError.invalidArgument("\(name): low >= 1 must hold when log is true (low \(low))") }
        if step <= 0 { throw ClipError.invalidArgument("\(name): step > 0 must hold (step \(step))") }
        let r = high - low
        return .int(low: low, high: r % step == 0 ? high : r / step * step + low, log: log, step: step)
    }

    /// - Throws: `ClipError` (.invalidArgument) naming `name` when there are no choices.
    public static func makeCategorical(_ name: String, _ choices: [ParamValue]) throws -> Distribution {
        guard !choices.isEmpty else { throw ClipError.invalidArgument("\(name): choices must not be empty") }
        return .categorical(choices)
    }

    /// Optuna's `_adjust_discrete_uniform_high`, in decimal arithmetic on the values' shortest spellings.
    private static func adjustedHigh(low: Double, high: Double, step: Double) -> Double {
        guard let dl = Decimal(string: PythonJSON.repr(low)), let dh = Decimal(string: PythonJSON.repr(high)),
              let ds = Decimal(string: PythonJSON.repr(step)) else { return high }
        let r = dh - dl
        var quotient = r / ds, whole = Decimal()
        NSDecimalRound(&whole, &quotient, 0, .down)
        if r - whole * ds == 0 { return high }
        return NSDecimalNumber(decimal: whole * ds + dl).doubleValue
    }

    // MARK: - Values

    /// Optuna's internal representation (the `param_value` column): the number, or the choice's index.
    func internalValue(_ value: ParamValue) -> Double? {
        switch self {
        case .float: return value.doubleValue
        case .int: return value.intValue.map(Double.init)
        case .categorical(let choices):
            return (choices.firstIndex(of: value) ?? choices.firstIndex { $0.pythonEquals(value) }).map(Double.init)
        }
    }

    /// The value an internal representation stands for (nil for a categorical index out of range).
    func externalValue(_ internalValue: Double) -> ParamValue? {
        switch self {
        case .float: return .float(internalValue)
        case .int: return internalValue.isFinite ? .int(Int(internalValue)) : nil
        case .categorical(let choices):
            guard internalValue.isFinite, internalValue >= 0 else { return nil }
            let i = Int(internalValue)
            return i < choices.count ? choices[i] : nil
        }
    }

    /// Whether the range holds a single value (then nothing is sampled).
    var isSingle: Bool {
        switch self {
        case let .float(low, high, _, step):
            if low == high { return true }
            guard let step else { return false }
            return high - low < step
        case let .int(low, high, _, _): return low == high
        case .categorical(let choices): return choices.count == 1
        }
    }

    // MARK: - Optuna's names and JSON

    /// Optuna's class name.
    var className: String {
        switch self {
        case .float: return "FloatDistribution"
        case .int: return "IntDistribution"
        case .categorical: return "CategoricalDistribution"
        }
    }

    /// `optuna.distributions.distribution_to_json(self)`, byte for byte.
    public var optunaJSON: String {
        let attributes: [(String, PythonJSON)]
        switch self {
        case let .float(low, high, log, step):
            attributes = [("step", step.map { .float($0) } ?? .null), ("low", .float(low)), ("high", .float(high)),
                          ("log", .bool(log))]
        case let .int(low, high, log, step):
            attributes = [("log", .bool(log)), ("step", .int(step)), ("low", .int(low)), ("high", .int(high))]
        case .categorical(let choices):
            attributes = [("choices", .array(choices.map(\.json)))]
        }
        return PythonJSON.object([("name", .string(className)), ("attributes", .object(attributes))]).dumped
    }

    /// Reads `distribution_json` as Optuna wrote it (the current classes and the deprecated ones
    /// Optuna converts: Uniform, LogUniform, DiscreteUniform, IntUniform, IntLogUniform).
    /// - Throws: `ClipError` (.format) for JSON this cannot read (an Optuna `None` choice among them).
    static func fromOptunaJSON(_ text: String) throws -> Distribution {
        let json = try PythonJSON.parse(text, what: "distribution_json")
        guard case .string(let name)? = json["name"], let a = json["attributes"] else {
            throw ClipError(.format, "distribution_json: no name or attributes in \(text)")
        }
        func double(_ key: String) throws -> Double {
            switch a[key] {
            case .int(let i)?: return Double(i)
            case .float(let d)?: return d
            default: throw ClipError(.format, "distribution_json: \(name).\(key) is not a number in \(text)")
            }
        }
        func int(_ key: String) throws -> Int {
            switch a[key] {
            case .int(let i)?: return i
            case .float(let d)? where d.rounded() == d: return Int(d)
            default: throw ClipError(.format, "distribution_json: \(name).\(key) is not an int in \(text)")
            }
        }
        func bool(_ key: String) -> Bool { if case .bool(let b)? = a[key] { return b } else { return false } }
        switch name {
        case "FloatDistribution":
            let step: Double? = a["step"] == nil || a["step"] == .null ? nil : try double("step")
            return .float(low: try double("low"), high: try double("high"), log: bool("log"), step: step)
        case "UniformDistribution": return .float(low: try double("low"), high: try double("high"), log: false, step: nil)
        case "LogUniformDistribution": return .float(low: try double("low"), high: try double("high"), log: true, step: nil)
        case "DiscreteUniformDistribution":
            return .float(low: try double("low"), high: try double("high"), log: false, step: try double("q"))
        case "IntDistribution":
            return .int(low: try int("low"), high: try int("high"), log: bool("log"), step: a["step"] == nil ? 1 : try int("step"))
        case "IntUniformDistribution":
            return .int(low: try int("low"), high: try int("high"), log: false, step: a["step"] == nil ? 1 : try int("step"))
        case "IntLogUniformDistribution":
            return .int(low: try int("low"), high: try int("high"), log: true, step: 1)
        case "CategoricalDistribution":
            guard case .array(let items)? = a["choices"] else {
                throw ClipError(.format, "distribution_json: no choices in \(text)")
            }
            return .categorical(try items.map { item -> ParamValue in
                switch item {
                case .string(let s): return .string(s)
                case .int(let i): return .int(i)
                case .float(let d): return .float(d)
                case .bool(let b): return .bool(b)
                default: throw ClipError(.format, "distribution_json: choice \(item.dumped) is not supported in \(text)")
                }
            })
        default:
            throw ClipError(.format, "distribution_json: unknown distribution \(name)")
        }
    }

    /// As Optuna's `repr`: `FloatDistribution(high=0.001, log=True, low=1e-05, step=None)`.
    public var description: String {
        func py(_ b: Bool) -> String { b ? "True" : "False" }
        func choice(_ v: ParamValue) -> String {
            switch v {
            case .string(let s): return "'" + s + "'"
            case .bool(let b): return py(b)
            default: return v.description
            }
        }
        switch self {
        case let .float(low, high, log, step):
            return "FloatDistribution(high=\(PythonJSON.repr(high)), log=\(py(log)), low=\(PythonJSON.repr(low)), "
                + "step=\(step.map(PythonJSON.repr) ?? "None"))"
        case let .int(low, high, log, step):
            return "IntDistribution(high=\(high), log=\(py(log)), low=\(low), step=\(step))"
        case .categorical(let choices):
            return "CategoricalDistribution(choices=(" + choices.map(choice).joined(separator: ", ")
                + (choices.count == 1 ? ",))" : "))")
        }
    }

    // MARK: - Compatibility

    /// Optuna's `check_distribution_compatibility(old, new)`: nil when a study that stored `old` for a
    /// parameter may use `self`, else Optuna's message. Ranges may change (Optuna allows it); the kind,
    /// the log setting and a categorical's choices may not.
    func incompatibility(with old: Distribution) -> String? {
        switch (old, self) {
        case let (.float(_, _, oldLog, _), .float(_, _, newLog, _)),
             let (.int(_, _, oldLog, _), .int(_, _, newLog, _)):
            return oldLog == newLog ? nil : "Cannot set different log configuration to the same parameter name."
        case let (.categorical(a), .categorical(b)):
            let same = a.count == b.count && zip(a, b).allSatisfy { $0.pythonEquals($1) }
            return same ? nil : "CategoricalDistribution does not support dynamic value space."
        default:
            return "Cannot set different distribution kind to the same parameter name."
        }
    }
}
