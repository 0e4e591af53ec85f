// The one way YAML text is parsed (run configs, study files, tuning files): its size, its nesting and
// its size with aliases expanded are checked before anything decodes it, so that a "billion laughs"
// document or a deeply nested one gets an error instead of exhausting memory or the stack.

import Foundation
import Tensor
import Yams

/// Parses YAML within `ResourceLimit.yamlBytes`, `.yamlDepth` and `.yamlNodes`.
public enum YAMLGuard {
    /// The node tree of `yaml` (nil for an empty document), after checking in turn: its size, an upper
    /// bound of its nesting read from the text (before Yams, whose composer recurses, sees it), and
    /// the nodes and depth of the tree with every alias expanded (what a decoder walks).
    /// - Throws: `ClipError` naming `name`: `.unsupported` beyond a limit, `.format` for text that is not YAML.
    public static func compose(_ yaml: String, name: String) throws -> Node? {
        try ResourceLimit.yamlBytes.check(yaml.utf8.count, in: name)
        let depthLimit = ResourceLimit.yamlDepth
        let bound = nestingBound(yaml.utf8)
        if bound > depthLimit.value { throw depthLimit.exceeded(bound, in: "\(name) (nesting read from the text)") }
        let node: Node?
        do { node = try Yams.compose(yaml: yaml) } catch { throw ClipError.format("\(name): not YAML (\(error))") }
        if let node { try checkExpanded(node, name: name) }
        return node
    }

    /// Counts the nodes of `root` with aliases expanded, depth first with an explicit stack, and stops
    /// at the first limit passed: the work is bounded by `ResourceLimit.yamlNodes` whatever the document.
    static func checkExpanded(_ root: Node, name: String) throws {
        let maxNodes = ResourceLimit.yamlNodes.value, maxDepth = ResourceLimit.yamlDepth.value
        var stack: [(Node, Int)] = [(root, 1)]
        var nodes = 0
        while let (node, depth) = stack.popLast() {
            nodes += 1
            if nodes > maxNodes { throw ResourceLimit.yamlNodes.exceeded(nodes, in: "\(name) (aliases expanded)") }
            if depth > maxDepth { throw ResourceLimit.yamlDepth.exceeded(depth, in: "\(name) (aliases expanded)") }
            switch node {
            case .mapping(let m):
                for (k, v) in m { stack.append((k, depth + 1)); stack.append((v, depth + 1)) }
            case .sequence(let s):
                for v in s { stack.append((v, depth + 1)) }
            default: break
            }
        }
    }

    /// An upper bound of the nesting of YAML text, from one scan that allocates nothing: per line, the
    /// indentation plus the block indicators on it (`- `, `? `, `: `), plus the flow brackets open
    /// (`[`, `{`); quoted scalars and comments are skipped.
    static func nestingBound(_ text: String.UTF8View) -> Int {
        var best = 0, flow = 0, indent = 0, indicators = 0
        var atLineStart = true, previous: UInt8 = 0x0A
        var quote: UInt8? = nil, escaped = false, comment = false
        var it = text.makeIterator()
        var current = it.next()
        while let b = current {
            let next = it.next()
            defer { previous = b; current = next }
            if b == 0x0A {
                best = max(best, flow + indent + indicators)
                (indent, indicators, atLineStart, comment) = (0, 0, true, false)
                if quote == nil { continue }
            }
            if comment { continue }
            if let q = quote {
                if escaped { escaped = false } else if q == 0x22 && b == 0x5C { escaped = true } else if b == q { quote = nil }
                continue
            }
            let separated = previous == 0x20 || previous == 0x09 || previous == 0x0A || previous == 0x5B
                || previous == 0x7B || previous == 0x2C
            let blankAfter = next == nil || next == 0x20 || next == 0x0A || next == 0x0D || next == 0x09
            switch b {
            case 0x20: if atLineStart { indent += 1 }
            case 0x23: if separated { comment = true }
            case 0x22, 0x27: if separated { quote = b }
            case 0x5B, 0x7B:
                flow += 1
                best = max(best, flow + indent + indicators)
            case 0x5D, 0x7D: flow = max(0, flow - 1)
            case 0x2D, 0x3F, 0x3A: if blankAfter { indicators += 1 }
            default: break
            }
            if b != 0x20 { atLineStart = false }
        }
        return max(best, flow + indent + indicators)
    }
}
