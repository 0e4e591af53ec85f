// The value of one hyperparameter in a trial: what the objective reads and what best-config files hold.

import Foundation
import Yams

/// A sampled hyperparameter value: a categorical choice (string, int, float or bool), an int or a float.
public enum ParamValue: Hashable, Sendable, CustomStringConvertible {
    case string(String)
    case int(Int)
    case float(Double)
    case bool(Bool)

    /// The value as a Double when it is a number (an int or a float).
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .float(let d): return d
        default: return nil
        }
    }

    /// The value as an Int when it is an int (or a float with an integral value).
    public var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .float(let d): return d.rounded() == d && abs(d) < 9.0e15 ? Int(d) : nil
        default: return nil
        }
    }

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }

    public var description: String {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .float(let d): return PythonJSON.repr(d)
        case .bool(let b): return b ? "true" : "false"
        }
    }

    /// The value as a YAML scalar (`512`, `0.0003`, `true`, `mlp`; strings that would read back as
    /// another type are quoted).
    public var yamlNode: Node {
        switch self {
        case .string(let s):
            let plain = Node(s)
            let readsBack = plain.tag.rawValue == Tag.Name.str.rawValue
            return readsBack ? plain : Node(s, Tag(.str), .doubleQuoted)
        case .int(let i): return Node(String(i), Tag(.int))
        case .float(let d): return Node(PythonJSON.repr(d), Tag(.float))
        case .bool(let b): return Node(b ? "true" : "false", Tag(.bool))
        }
    }

    /// The value as Python's `json.dumps` writes it.
    var json: PythonJSON {
        switch self {
        case .string(let s): return .string(s)
        case .int(let i): return .int(i)
        case .float(let d): return .float(d)
        case .bool(let b): return .bool(b)
        }
    }

    /// Python's `==` between choices: `1 == 1.0 == True`, strings only equal strings.
    func pythonEquals(_ other: ParamValue) -> Bool {
        if case .string(let a) = self { if case .string(let b) = other { return a == b } else { return false } }
        if case .string = other { return false }
        return numeric == other.numeric
    }

    private var numeric: Double {
        switch self {
        case .int(let i): return Double(i)
        case .float(let d): return d
        case .bool(let b): return b ? 1 : 0
        case .string: return .nan
        }
    }
}

extension ParamValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .float(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
