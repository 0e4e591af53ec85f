// Reading run configurations from YAML, shared by every config type: defaults
// stated once at their declarations, unknown keys refused by name, every decoding
// failure a ClipError that names the file and the key.

import Foundation
import Tensor
import Yams

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

private func path(_ keys: [CodingKey]) -> String { keys.map(\.stringValue).joined(separator: ".") }

extension KeyedDecodingContainer {
    /// Replaces `value` (the property's default, stated once at its declaration) when `key` is present.
    func decodeIfPresent<T: Decodable>(into value: inout T, forKey key: Key) throws {
        if let v = try decodeIfPresent(T.self, forKey: key) { value = v }
    }

    /// Throws for the first of `values` that is not positive, naming its key.
    func requirePositive(_ values: [(Key, Int)]) throws {
        for (key, v) in values where v <= 0 {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "must be positive, got \(v)")
        }
    }
}

/// Fails on keys the type does not know, naming the first one (with its full path).
func rejectUnknownKeys(_ decoder: Decoder, _ known: [String]) throws {
    let c = try decoder.container(keyedBy: AnyKey.self)
    let unknown = c.allKeys.map(\.stringValue).filter { !known.contains($0) }.sorted()
    if let first = unknown.first {
        let where_ = path(decoder.codingPath)
        throw ClipError.invalidArgument("unknown key '\(where_.isEmpty ? first : where_ + "." + first)' (known: \(known.sorted().joined(separator: ", ")))")
    }
}

/// Decodes YAML text into a config type; every failure becomes a `ClipError` naming the file and key.
func decodeConfig<T: Decodable>(_ type: T.Type, _ yaml: String, name: String) throws -> T {
    do {
        return try YAMLDecoder().decode(T.self, from: yaml)
    } catch let e as ClipError {
        throw e.prefixed(name)
    } catch DecodingError.keyNotFound(let key, let ctx) {
        throw ClipError.invalidArgument("\(name): \(path(ctx.codingPath + [key])) missing")
    } catch DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx) {
        throw ClipError.invalidArgument("\(name): \(path(ctx.codingPath)) has the wrong type")
    } catch DecodingError.dataCorrupted(let ctx) {
        if let e = ctx.underlyingError as? ClipError { throw e.prefixed(name) }
        if ctx.codingPath.isEmpty { throw ClipError.format("\(name): not valid YAML") }
        throw ClipError.invalidArgument("\(name): \(path(ctx.codingPath)): \(ctx.debugDescription)")
    } catch {
        throw ClipError.format("\(name): not valid YAML (\(error))")
    }
}

/// A config file's text.
func readConfigText(_ path: String) throws -> String {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        throw ClipError.io("\(path): cannot read the file")
    }
    return text
}
