// Values read from configuration files (config.json, preprocessor configs, YAML run
// configs) and arguments, checked in one place: the "must be positive" check, and
// decoding failures turned into ClipErrors that name the file and the key.

import Foundation

// MARK: - Positive sizes

/// The first of `values` that is not positive (sizes, counts, depths), with the words that say so
/// ("must be positive, got 0"): the one check behind every config and argument that states it.
package func firstNonPositive<Key>(_ values: [(Key, Int)]) -> (key: Key, problem: String)? {
    values.first { $0.1 <= 0 }.map { ($0.0, "must be positive, got \($0.1)") }
}

extension ClipError {
    /// Throws `.invalidArgument` "KEY must be positive, got V" for the first of `values` that is not.
    package static func requirePositive(_ values: [(String, Int)]) throws {
        if let bad = firstNonPositive(values) { throw ClipError.invalidArgument("\(bad.key) \(bad.problem)") }
    }

    /// A value read by `JSONSerialization` that must be a positive integer, at most `limit`; `file`
    /// prefixes the message.
    /// - Throws: `.format` "KEY missing", "KEY must be a positive integer, got V" or "KEY V is beyond LIMIT".
    package static func positiveInteger(_ value: Any?, _ key: String, file: String? = nil,
                                        atMost limit: Int = .max) throws -> Int {
        let at = file.map { $0 + ": " } ?? ""
        guard let value, !(value is NSNull) else { throw ClipError.format("\(at)\(key) missing") }
        guard let n = value as? Int, firstNonPositive([(key, n)]) == nil else {
            throw ClipError.format("\(at)\(key) must be a positive integer, got \(value)")
        }
        guard n <= limit else { throw ClipError.format("\(at)\(key) \(n) is beyond \(limit)") }
        return n
    }
}

extension KeyedDecodingContainer {
    /// Replaces `value` (the property's default, stated once at its declaration) when `key` is present.
    package func decodeIfPresent<T: Decodable>(into value: inout T, forKey key: Key) throws {
        if let v = try decodeIfPresent(T.self, forKey: key) { value = v }
    }

    /// Throws for the first of `values` that is not positive, naming its key.
    package func requirePositive(_ values: [(Key, Int)]) throws {
        if let bad = firstNonPositive(values) {
            throw DecodingError.dataCorruptedError(forKey: bad.key, in: self, debugDescription: bad.problem)
        }
    }

    /// Throws for the first of `values` that is negative, naming its key (layer counts may be 0).
    package func requireNonNegative(_ values: [(Key, Int)]) throws {
        if let bad = values.first(where: { $0.1 < 0 }) {
            throw DecodingError.dataCorruptedError(forKey: bad.0, in: self, debugDescription: "must not be negative, got \(bad.1)")
        }
    }

    /// The value of `key`, which must be positive and at most `limit`.
    package func positive(_ key: Key, atMost limit: Int = .max) throws -> Int {
        let v = try decode(Int.self, forKey: key)
        try requirePositive([(key, v)])
        guard v <= limit else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "must lie in 1...\(limit), got \(v)")
        }
        return v
    }
}

// MARK: - Decoding failures

extension ClipError {
    /// A failure to decode `file` (a `DecodingError`, or a `ClipError` thrown by a decoder) as a
    /// `ClipError` that names the file and the key path: "config.json: vision_config.patch_size missing".
    /// Text that does not parse as `syntax` ("JSON", "YAML") is `.format`; a missing, mistyped or
    /// invalid value is `valueKind`: `.format` in files programs write (a model folder's config.json),
    /// `.invalidArgument` in files people write (run configurations).
    package static func decoding(_ error: Error, file: String, syntax: String, valueKind: Kind) -> ClipError {
        func path(_ keys: [CodingKey]) -> String {
            keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case let e as ClipError: return e.prefixed(file)
        case DecodingError.keyNotFound(let key, let ctx): return ClipError(valueKind, "\(file): \(path(ctx.codingPath + [key])) missing")
        case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx):
            return ClipError(valueKind, "\(file): \(path(ctx.codingPath)) has the wrong type")
        case DecodingError.dataCorrupted(let ctx):
            if let e = ctx.underlyingError as? ClipError { return e.prefixed(file) }
            return ctx.codingPath.isEmpty ? ClipError.format("\(file): not valid \(syntax)")
                : ClipError(valueKind, "\(file): \(path(ctx.codingPath)): \(ctx.debugDescription)")
        default: return ClipError.format("\(file): not valid \(syntax) (\(error))")
        }
    }
}
