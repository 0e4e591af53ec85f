// Reading run configurations from YAML, shared by every config type: defaults
// stated once at their declarations, unknown keys refused by name, every decoding
// failure a ClipError that names the file and the key.

import Foundation
import Tensor
import Studies
import Yams

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

private func path(_ keys: [CodingKey]) -> String { keys.map(\.stringValue).joined(separator: ".") }

/// Fails on keys the type does not know, naming the first one (with its full path).
func rejectUnknownKeys(_ decoder: Decoder, _ known: [String]) throws {
    let c = try decoder.container(keyedBy: AnyKey.self)
    let unknown = c.allKeys.map(\.stringValue).filter { !known.contains($0) }.sorted()
    if let first = unknown.first {
        let where_ = path(decoder.codingPath)
        throw ClipError.invalidArgument("unknown key '\(where_.isEmpty ? first : where_ + "." + first)' (known: \(known.sorted().joined(separator: ", ")))")
    }
}

/// Decodes YAML text into a config type; every failure becomes a `ClipError` naming the file and key
/// (`.invalidArgument` for a bad value, `.format` for text that is not YAML, `.unsupported` for a
/// document beyond the YAML limits of `YAMLGuard`, checked first).
func decodeConfig<T: Decodable>(_ type: T.Type, _ yaml: String, name: String) throws -> T {
    _ = try YAMLGuard.compose(yaml, name: name)
    do {
        return try YAMLDecoder().decode(T.self, from: yaml)
    } catch {
        throw ClipError.decoding(error, file: name, syntax: "YAML", valueKind: .invalidArgument)
    }
}

/// A config file's text.
func readConfigText(_ path: String) throws -> String {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        throw ClipError.io("\(path): cannot read the file")
    }
    return text
}
