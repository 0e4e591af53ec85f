// The contents of a sentencepiece `.model` file (a serialized ModelProto).

import Foundation
import Tensor

/// A parsed sentencepiece model: pieces with scores and types, the trainer's
/// model type and byte-fallback flag, and the normalizer settings.
public struct SentencePieceModel: Sendable {
    /// A piece's type (sentencepiece_model.proto `ModelProto.SentencePiece.Type`).
    public enum PieceType: Int, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }
    /// The trainer's model type (`TrainerSpec.ModelType`): how text is split into pieces.
    public enum Algorithm: Int, Sendable {
        case unigram = 1, bpe = 2, word = 3, char = 4
    }
    /// One vocabulary entry: its text, score and type.
    public struct Piece: Sendable {
        public let text: String
        public let score: Float
        public let type: PieceType
    }

    public var pieces: [Piece] = []
    public var algorithm: Algorithm = .unigram
    public var byteFallback = false
    public var treatWhitespaceAsSuffix = false
    /// Normalizer: rule name, the precompiled character map, and the whitespace options.
    public var normalizerName = ""
    public var precompiledCharsMap: [UInt8] = []
    public var addDummyPrefix = true
    public var removeExtraWhitespaces = true
    public var escapeWhitespaces = true

    /// Reads a `.model` file.
    /// - Throws: `ClipError` naming the file for unreadable or malformed data.
    public init(path: String) throws {
        try self.init(bytes: [UInt8](try ResourceLimit.tokenizerFileBytes.readFile(path)), name: path)
    }

    public init(bytes: [UInt8], name: String = "sentencepiece model") throws {
        func fail(_ why: String) -> ClipError { ClipError.format("\(name): not a valid sentencepiece model (\(why))") }
        let maxPieces = ResourceLimit.tokenizerEntries.value
        var tooMany = false
        do {
            var r = ProtobufReader(bytes[...])
            reading: while !r.isAtEnd {
                let (field, value) = try r.next()
                switch (field, value) {
                case (1, .bytes(let b)):
                    guard pieces.count < maxPieces else { tooMany = true; break reading }
                    pieces.append(try SentencePieceModel.piece(b))
                case (2, .bytes(let b)): try readTrainer(b)
                case (3, .bytes(let b)): try readNormalizer(b)
                case (1, _), (2, _), (3, _): throw fail("field \(field) has the wrong wire type")
                default: continue
                }
            }
        } catch let e as ProtobufReader.Failure {
            throw fail(e.message)
        } catch let e as ClipError {
            throw fail(e.message)
        }
        if tooMany { throw ResourceLimit.tokenizerEntries.exceeded(maxPieces + 1, in: "\(name) (pieces)") }
        guard !pieces.isEmpty else { throw fail("no pieces") }
        guard pieces.contains(where: { $0.type == .unknown }) else { throw fail("no unknown piece") }
        if !byteFallback, pieces.contains(where: { $0.type == .byte }) { throw fail("byte pieces without byte_fallback") }
        guard algorithm == .unigram || algorithm == .bpe else {
            throw ClipError.unsupported("\(name): sentencepiece model type \(algorithm) is not supported (unigram, bpe)")
        }
    }

    private static func piece(_ b: ArraySlice<UInt8>) throws -> Piece {
        var r = ProtobufReader(b)
        var text: String?, score: Float = 0, type = PieceType.normal
        while !r.isAtEnd {
            switch try r.next() {
            case (1, .bytes(let s)):
                guard let t = String(validating: s, as: UTF8.self), !t.isEmpty else { throw ClipError.format("a piece is empty or not UTF-8") }
                text = t
            case (2, .fixed32(let bits)): score = Float(bitPattern: bits)
            case (3, .varint(let v)):
                guard let t = Int(exactly: v).flatMap(PieceType.init(rawValue:)) else { throw ClipError.format("piece type \(v) unknown") }
                type = t
            default: continue
            }
        }
        guard let text else { throw ClipError.format("a piece has no text") }
        return Piece(text: text, score: score, type: type)
    }

    private mutating func readTrainer(_ b: ArraySlice<UInt8>) throws {
        var r = ProtobufReader(b)
        while !r.isAtEnd {
            switch try r.next() {
            case (3, .varint(let v)):
                guard let a = Int(exactly: v).flatMap(Algorithm.init(rawValue:)) else { throw ClipError.format("model type \(v) unknown") }
                algorithm = a
            case (35, .varint(let v)): byteFallback = v != 0
            case (24, .varint(let v)): treatWhitespaceAsSuffix = v != 0
            default: continue
            }
        }
    }

    private mutating func readNormalizer(_ b: ArraySlice<UInt8>) throws {
        var r = ProtobufReader(b)
        while !r.isAtEnd {
            switch try r.next() {
            case (1, .bytes(let s)): normalizerName = String(decoding: s, as: UTF8.self)
            case (2, .bytes(let s)): precompiledCharsMap = Array(s)
            case (3, .varint(let v)): addDummyPrefix = v != 0
            case (4, .varint(let v)): removeExtraWhitespaces = v != 0
            case (5, .varint(let v)): escapeWhitespaces = v != 0
            default: continue
            }
        }
    }
}
