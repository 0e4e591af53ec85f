// The hyperparameters a study samples: named distributions, some sampled only when another
// parameter took given values (a head type's own settings). Read from the `search_space:` block of
// a study file (docs/STUDIES.md) or built in code.

import Foundation
import Tensor
import Yams

/// The hyperparameters of a study, in sampling order (a parameter after those its condition names).
public struct SearchSpace: Equatable, Sendable {
    /// One hyperparameter.
    public struct Parameter: Equatable, Sendable {
        public let name: String
        public let distribution: Distribution
        /// Sampled only when every named parameter was sampled with one of the listed values
        /// (values compare as Python's `==`: `4` matches `4.0`). Empty: always sampled.
        public let conditions: [Condition]

        public init(_ name: String, _ distribution: Distribution, when conditions: [Condition] = []) {
            self.name = name
            self.distribution = distribution
            self.conditions = conditions
        }
    }

    /// `parameter` took one of `values`.
    public struct Condition: Equatable, Sendable {
        public let parameter: String
        public let values: [ParamValue]
        public init(_ parameter: String, in values: [ParamValue]) {
            self.parameter = parameter
            self.values = values
        }
    }

    /// Parameters in sampling order.
    public let parameters: [Parameter]

    /// Orders `parameters` so that each comes after those its conditions name (otherwise keeping the
    /// given order).
    /// - Throws: `ClipError` (.invalidArgument) for a repeated name, a condition on an unknown
    ///   parameter or on itself, or conditions that form a cycle.
    public init(_ parameters: [Parameter]) throws {
        var seen = Set<String>()
        for p in parameters {
            guard seen.insert(p.name).inserted else {
                throw ClipError.invalidArgument("search_space.\(p.name): declared twice")
            }
        }
        for p in parameters {
            for c in p.conditions {
                guard c.parameter != p.name else {
                    throw ClipError.invalidArgument("search_space.\(p.name).when: a parameter cannot depend on itself")
                }
                guard seen.contains(c.parameter) else {
                    throw ClipError.invalidArgument("search_space.\(p.name).when: \(c.parameter) is not a parameter of the search space")
                }
            }
        }
        var ordered: [Parameter] = [], placed = Set<String>(), rest = parameters
        while !rest.isEmpty {
            guard let i = rest.firstIndex(where: { $0.conditions.allSatisfy { placed.contains($0.parameter) } }) else {
                throw ClipError.invalidArgument("search_space: the conditions of " + rest.map(\.name).joined(separator: ", ")
                                                + " form a cycle")
            }
            placed.insert(rest[i].name)
            ordered.append(rest.remove(at: i))
        }
        self.parameters = ordered
    }

    /// The parameter named `name`.
    public subscript(name: String) -> Parameter? { parameters.first { $0.name == name } }

    /// Whether `parameter`'s conditions hold for the values sampled so far.
    func isActive(_ parameter: Parameter, given values: [String: ParamValue]) -> Bool {
        parameter.conditions.allSatisfy { c in
            guard let v = values[c.parameter] else { return false }
            return c.values.contains { $0.pythonEquals(v) }
        }
    }

    // MARK: - Nested values

    /// Params with dotted names (`model.hidden_dim`) as a nested YAML mapping
    /// (`model: {hidden_dim: 512}`), names sorted, ready to merge into a run configuration.
    /// - Throws: `ClipError` (.invalidArgument) when a name is both a value and a prefix of another.
    public static func nestedYAML(_ params: [String: ParamValue]) throws -> Node {
        final class Tree { var children: [(String, Tree)] = []; var value: ParamValue? }
        let root = Tree()
        for name in params.keys.sorted() {
            var node = root
            for part in name.split(separator: ".", omittingEmptySubsequences: false).map(String.init) {
                if node.value != nil { throw ClipError.invalidArgument("\(name): a parent of this name is itself a parameter") }
                if let child = node.children.first(where: { $0.0 == part })?.1 { node = child } else {
                    let child = Tree()
                    node.children.append((part, child))
                    node = child
                }
            }
            if !node.children.isEmpty { throw ClipError.invalidArgument("\(name): is both a parameter and a prefix of another") }
            node.value = params[name]
        }
        func build(_ t: Tree) -> Node {
            if let v = t.value { return v.yamlNode }
            return Node.mapping(Node.Mapping(t.children.map { (Node($0.0), build($0.1)) }))
        }
        return build(root)
    }
}
