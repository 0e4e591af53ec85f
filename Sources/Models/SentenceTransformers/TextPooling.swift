// Pooling token embeddings into one sentence embedding, as sentence-transformers'
// Pooling module (sentence_transformers/.../modules/pooling.py) does it over the
// attention mask: cls, max, mean, mean_sqrt_len_tokens, weightedmean, lasttoken;
// several modes concatenate in the order given.

import Foundation
import Tensor
import Autograd

/// How a text tower's token embeddings `[batch, seq, dim]` become one vector per text.
public struct TextPooling: Sendable, Equatable, CustomStringConvertible {
    public enum Mode: String, Sendable, CaseIterable {
        /// The first real token (`[CLS]`, `<s>`).
        case cls
        /// The largest value of each feature over the real tokens.
        case max
        /// The mean over the real tokens.
        case mean
        /// The sum over the real tokens divided by the square root of their count.
        case meanSqrtLen = "mean_sqrt_len_tokens"
        /// The mean weighted by position (1, 2, … over the real tokens).
        case weightedMean = "weightedmean"
        /// The last real token.
        case lastToken = "lasttoken"
    }

    /// The modes, concatenated in this order.
    public var modes: [Mode]

    public init(_ modes: [Mode]) {
        precondition(!modes.isEmpty, "pooling: at least one mode")
        self.modes = modes
    }

    public static let mean = TextPooling([.mean])
    public static let cls = TextPooling([.cls])
    public static let max = TextPooling([.max])

    /// A pooling named as seed 003's `--text-pooler` and sentence-transformers' `pooling_mode`:
    /// `mean`, `cls`, `max`, `mean_sqrt_len_tokens`, `weightedmean`, `lasttoken`, or several joined by `+`.
    /// - Throws: `ClipError.invalidArgument` naming the unknown mode and the known ones.
    public init(name: String) throws {
        let parts = name.split(separator: "+").map { $0.trimmingCharacters(in: .whitespaces) }
        var modes: [Mode] = []
        for p in parts {
            let key = p == "mean_tokens" ? "mean" : p == "cls_token" ? "cls" : p == "max_tokens" ? "max" : p
            guard let m = Mode(rawValue: key) else {
                throw ClipError.invalidArgument("text pooler '\(p)' is not known (\(Mode.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            modes.append(m)
        }
        guard !modes.isEmpty else { throw ClipError.invalidArgument("text pooler: no mode given") }
        self.init(modes)
    }

    /// The modes joined by `+` (`mean`, `cls+mean`).
    public var description: String { modes.map(\.rawValue).joined(separator: "+") }

    /// Width of the pooled vector for `dim`-wide tokens.
    public func outputDim(_ dim: Int) -> Int { dim * modes.count }

    /// Reads a sentence-transformers `Pooling` config (`1_Pooling/config.json`): the `pooling_mode`
    /// key (a name or a list), or the older `pooling_mode_*_token(s)` flags.
    /// - Throws: `ClipError.format` naming the file, for an unknown mode or none set.
    public static func load(path: String) throws -> TextPooling {
        guard let data = FileContents.read(atPath: path) else { throw ClipError.io("\(path): cannot read the file") }
        let root = try JSONText.object(data, file: path)
        var names: [String] = []
        if let m = root["pooling_mode"] {
            if let s = m as? String { names = [s] } else if let l = m as? [String] { names = l } else {
                throw ClipError.format("\(path): pooling_mode must be a name or a list of names")
            }
        } else {
            let flags: [(String, String)] = [("pooling_mode_cls_token", "cls"), ("pooling_mode_max_tokens", "max"),
                                             ("pooling_mode_mean_tokens", "mean"),
                                             ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens"),
                                             ("pooling_mode_weightedmean_tokens", "weightedmean"),
                                             ("pooling_mode_lasttoken", "lasttoken")]
            names = flags.filter { (root[$0.0] as? Bool) == true }.map(\.1)
        }
        guard !names.isEmpty else { throw ClipError.format("\(path): no pooling mode is set") }
        if let include = root["include_prompt"] as? Bool, !include {
            throw ClipError.unsupported("\(path): include_prompt false (pooling without the prompt tokens) is not supported")
        }
        do { return try TextPooling(name: names.joined(separator: "+")) } catch let e as ClipError {
            throw ClipError.format("\(path): \(e.message)")
        }
    }

    /// Pools `hidden` `[batch, seq, dim]` over `mask` `[batch, seq]` (1 for tokens, 0 for padding;
    /// nil: every position is a token) → `[batch, dim · modes]`. A row without tokens pools to zeros
    /// (max: the lowest float), as sentence-transformers' clamped denominators give.
    public func callAsFunction(_ hidden: Variable, mask: Tensor?) -> Variable {
        precondition(hidden.rank == 3, "pooling: token embeddings must be [batch, seq, dim], got \(hidden.shape)")
        let (b, s, d) = (hidden.shape[0], hidden.shape[1], hidden.shape[2])
        let m = (mask ?? Tensor.ones([b, s])).contiguous()
        precondition(m.shape == [b, s], "pooling: mask \(m.shape) is not [\(b), \(s)]")
        var counts = [Int](repeating: 0, count: b), first = [Int](repeating: 0, count: b), last = [Int](repeating: s - 1, count: b)
        for r in 0..<b {
            var f = -1
            for j in 0..<s where m.data[r * s + j] != 0 {
                counts[r] += 1
                if f < 0 { f = j }
                last[r] = j
            }
            first[r] = Swift.max(f, 0)
        }
        func rows(_ positions: [Int]) -> Variable {
            hidden.reshaped([b * s, d]).indexSelect(axis: 0, positions.enumerated().map { $0.offset * s + $0.element })
        }
        let column = Variable(m.reshaped([b, s, 1]))
        var sum: Variable?
        func maskedSum() -> Variable {
            if let sum { return sum }
            let v = (hidden * column).sum(axis: 1)
            sum = v
            return v
        }
        func perRow(_ f: (Int) -> Float) -> Variable { Variable(Tensor((0..<b).map(f), shape: [b, 1])) }
        let parts: [Variable] = modes.map { mode in
            switch mode {
            case .cls: return rows(first)
            case .lastToken: return rows((0..<b).map { counts[$0] == 0 ? s - 1 : last[$0] }) * perRow { counts[$0] == 0 ? 0 : 1 }
            case .max:
                let blocked = Tensor(m.toArray().map { $0 == 0 ? 1 : 0 }, shape: [b, s, 1]).expanded(to: [b, s, d]).contiguous()
                return hidden.maskedFill(blocked, -Float.greatestFiniteMagnitude).max(axis: 1)
            case .mean: return maskedSum() * perRow { 1 / Swift.max(Float(counts[$0]), 1e-9) }
            case .meanSqrtLen: return maskedSum() * perRow { 1 / Swift.max(Float(counts[$0]), 1e-9).squareRoot() }
            case .weightedMean:
                var w = [Float](repeating: 0, count: b * s), total = [Float](repeating: 0, count: b)
                for r in 0..<b {
                    for j in 0..<s where m.data[r * s + j] != 0 {
                        w[r * s + j] = Float(j + 1 - first[r])
                        total[r] += w[r * s + j]
                    }
                }
                return (hidden * Variable(Tensor(w, shape: [b, s, 1]))).sum(axis: 1) * perRow { 1 / Swift.max(total[$0], 1e-9) }
            }
        }
        return parts.count == 1 ? parts[0] : Variable.concat(parts, axis: 1)
    }
}
