// sentencepiece encoding (Kudo & Richardson 2018): Unigram by Viterbi over
// the piece lattice, BPE by merging the best-scoring adjacent pair; unknown
// text becomes the unknown piece, or its UTF-8 bytes with byte fallback.

import Foundation
import Tensor

/// Encodes text to sentencepiece ids as `SentencePieceProcessor.encode` does.
public final class SentencePiece: @unchecked Sendable {
    public let model: SentencePieceModel
    let normalizer: SentencePieceNormalizer
    /// Normal, user-defined and unused pieces (the ones text can match).
    private let matchable: [String: Int]
    /// Every piece, for `id(of:)`.
    private let allPieces: [String: Int]
    /// Matchable pieces as a trie over Unicode scalars: children per node, and the piece id ending there.
    private let trieChildren: [[UInt32: Int32]]
    private let trieValue: [Int32]
    public let unknownId: Int
    private let byteIds: [Int]
    private let minScore: Float
    private let maxScore: Float

    public convenience init(path: String) throws {
        try self.init(try SentencePieceModel(path: path), name: path)
    }

    public init(_ model: SentencePieceModel, name: String = "sentencepiece model") throws {
        self.model = model
        do { normalizer = try SentencePieceNormalizer(model) } catch let e as ClipError {
            throw e.prefixed(name)
        }
        var matchable: [String: Int] = [:], all: [String: Int] = [:]
        var bytes = [Int](repeating: -1, count: 256)
        var unk = -1
        var children: [[UInt32: Int32]] = [[:]], values: [Int32] = [-1]
        var lo = Float.greatestFiniteMagnitude, hi = -Float.greatestFiniteMagnitude
        for (i, p) in model.pieces.enumerated() {
            if all[p.text] == nil { all[p.text] = i }
            switch p.type {
            case .normal, .userDefined, .unused:
                if matchable[p.text] == nil {
                    matchable[p.text] = i
                    var node = 0
                    for u in p.text.unicodeScalars {
                        if let next = children[node][u.value] { node = Int(next); continue }
                        children.append([:]); values.append(-1)
                        children[node][u.value] = Int32(children.count - 1)
                        node = children.count - 1
                    }
                    values[node] = Int32(i)
                }
                if p.type == .normal { lo = min(lo, p.score); hi = max(hi, p.score) }
            case .unknown: unk = i
            case .byte:
                if p.text.count == 6, p.text.hasPrefix("<0x"), p.text.hasSuffix(">"),
                   let b = UInt8(p.text.dropFirst(3).prefix(2), radix: 16) { bytes[Int(b)] = i }
            case .control: break
            }
        }
        if model.byteFallback, bytes.contains(-1) { throw ClipError.format("\(name): byte_fallback is set but byte pieces are missing") }
        self.matchable = matchable
        allPieces = all
        trieChildren = children
        trieValue = values
        unknownId = unk
        byteIds = bytes
        minScore = lo == .greatestFiniteMagnitude ? 0 : lo
        maxScore = hi == -.greatestFiniteMagnitude ? 0 : hi
    }

    /// The id of a piece, or the unknown id.
    public func id(of piece: String) -> Int { allPieces[piece] ?? unknownId }

    public var pieceCount: Int { model.pieces.count }

    /// Normalizes and encodes `text` to (piece, id) pairs.
    public func encodePieces(_ text: String) -> [(piece: String, id: Int)] {
        let normalized = normalizer.normalize(text)
        guard !normalized.isEmpty else { return [] }
        let chars = Array(String(decoding: normalized, as: UTF8.self).unicodeScalars)
        var raw: [(String, Int)] = []
        // Runs of unknown pieces become one unknown piece.
        for (piece, id) in model.algorithm == .bpe ? bpe(chars) : unigram(chars) {
            if id == unknownId, let last = raw.last, last.1 == unknownId {
                raw[raw.count - 1].0 += piece
            } else {
                raw.append((piece, id))
            }
        }
        var out: [(String, Int)] = []
        for (piece, id) in raw {
            if id == unknownId && model.byteFallback {
                for b in piece.utf8 { out.append((model.pieces[byteIds[Int(b)]].text, byteIds[Int(b)])) }
            } else {
                out.append((piece, id))
            }
        }
        return out
    }

    /// Normalizes and encodes `text` to ids.
    public func encode(_ text: String) -> [Int] { encodePieces(text).map(\.id) }

    // MARK: - Unigram

    private func unigram(_ chars: [Unicode.Scalar]) -> [(String, Int)] {
        let n = chars.count
        struct Node { let begin: Int; let length: Int; let id: Int; let score: Float }
        // Nodes ending at each position, in insertion order (by begin, then length).
        var endingAt = [[Int]](repeating: [], count: n + 1)
        var nodes: [Node] = []
        let unkScore = minScore - 10
        for begin in 0..<n {
            var hasSingle = false
            var trieNode = 0
            for length in 1...(n - begin) {
                guard let next = trieChildren[trieNode][chars[begin + length - 1].value] else { break }
                trieNode = Int(next)
                let id = Int(trieValue[trieNode])
                guard id >= 0 else { continue }
                let p = model.pieces[id]
                if p.type == .unused { continue }
                let score = p.type == .userDefined ? Float(length) * maxScore - 0.1 : p.score
                endingAt[begin + length].append(nodes.count)
                nodes.append(Node(begin: begin, length: length, id: id, score: score))
                if length == 1 { hasSingle = true }
            }
            if !hasSingle {
                endingAt[begin + 1].append(nodes.count)
                nodes.append(Node(begin: begin, length: 1, id: unknownId, score: unkScore))
            }
        }
        // best[pos]: the best node ending at pos (first maximum), and its path score.
        var bestScore = [Float](repeating: 0, count: n + 1)
        var bestNode = [Int](repeating: -1, count: n + 1)
        for pos in 1...n {
            var chosen = -1
            var score: Float = 0
            for k in endingAt[pos] {
                let s = bestScore[nodes[k].begin] + nodes[k].score
                if chosen < 0 || s > score { chosen = k; score = s }
            }
            bestNode[pos] = chosen
            bestScore[pos] = score
        }
        var path: [Node] = []
        var pos = n
        while pos > 0 {
            let node = nodes[bestNode[pos]]
            path.append(node)
            pos = node.begin
        }
        return path.reversed().map { node in
            var s = ""
            s.unicodeScalars.append(contentsOf: chars[node.begin..<(node.begin + node.length)])
            return (s, node.id)
        }
    }

    // MARK: - BPE

    private func bpe(_ chars: [Unicode.Scalar]) -> [(String, Int)] {
        var symbols = chars.map { String($0) }
        // scores[i]: the score of merging symbols i and i + 1, nil when that is no piece.
        func pairScore(_ i: Int) -> Float? {
            matchable[symbols[i] + symbols[i + 1]].map { model.pieces[$0].score }
        }
        var scores: [Float?] = symbols.indices.dropLast().map(pairScore)
        while true {
            var best = -1
            var bestScore = -Float.greatestFiniteMagnitude
            for (i, s) in scores.enumerated() {
                if let s, best < 0 || s > bestScore { best = i; bestScore = s }
            }
            if best < 0 { break }
            symbols[best] += symbols[best + 1]
            symbols.remove(at: best + 1)
            scores.remove(at: best)
            if best < scores.count { scores[best] = pairScore(best) }
            if best > 0 { scores[best - 1] = pairScore(best - 1) }
        }
        return symbols.map { s in
            if let id = matchable[s], model.pieces[id].type != .unused { return (s, id) }
            return (s, unknownId)
        }
    }
}
