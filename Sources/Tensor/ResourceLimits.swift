// Limits on what one input file may make clipcore allocate or recurse into (decompression bombs,
// alias bombs, deep nesting, huge declared sizes), checked before the allocation. Each limit has a
// documented default, an environment variable (CLIPCORE_MAX_...) and a Swift setter;
// docs/RELIABILITY.md ("Resource limits") lists them.

import Foundation
import Synchronization

/// One limit on the resources a single input may claim. The value in force is the one given to
/// `withValue(_:_:)` in the running task, else the one set with `set(_:)`, else the environment
/// variable `variable` (a positive integer, read once), else `defaultValue`. Exceeding a limit throws `ClipError(.unsupported)` naming the input, the size it
/// claims, the limit and how to raise it.
public struct ResourceLimit: Hashable, Sendable, CustomStringConvertible {
    /// The environment variable that sets the limit.
    public let variable: String
    /// What is counted ("pixels in one image").
    public let what: String
    /// The limit when neither `set(_:)` nor the environment variable says otherwise.
    public let defaultValue: Int

    private init(_ variable: String, _ what: String, _ defaultValue: Int) {
        self.variable = variable
        self.what = what
        self.defaultValue = defaultValue
    }

    // MARK: - The limits

    /// Pixels in one decoded PNG or JPEG: 178,956,970, twice Pillow's `MAX_IMAGE_PIXELS`
    /// (89,478,485), where Pillow raises `DecompressionBombError`.
    public static let imagePixels = ResourceLimit("CLIPCORE_MAX_IMAGE_PIXELS", "pixels in one image", 178_956_970)
    /// Nesting depth of a JSON document (arrays and objects): 512, as Foundation's parser.
    public static let jsonDepth = ResourceLimit("CLIPCORE_MAX_JSON_DEPTH", "nesting depth of a JSON document", 512)
    /// Bytes of a YAML configuration file: 16 MiB.
    public static let yamlBytes = ResourceLimit("CLIPCORE_MAX_YAML_BYTES", "bytes in a YAML document", 16 << 20)
    /// Nodes of a YAML document once its aliases are expanded (a "billion laughs" document has 10⁹): 1,000,000.
    public static let yamlNodes = ResourceLimit("CLIPCORE_MAX_YAML_NODES", "nodes of a YAML document with its aliases expanded", 1_000_000)
    /// Nesting depth of a YAML document (an upper bound read from its text, then the depth with aliases expanded): 256.
    public static let yamlDepth = ResourceLimit("CLIPCORE_MAX_YAML_DEPTH", "nesting depth of a YAML document", 256)
    /// Bytes of a safetensors header (the JSON before the data): 100,000,000, as the safetensors library.
    public static let safetensorsHeaderBytes = ResourceLimit("CLIPCORE_MAX_SAFETENSORS_HEADER_BYTES",
                                                             "bytes in a safetensors header", 100_000_000)
    /// Entries of a tokenizer's vocabulary or merge list (and the largest token id + 1): 1,000,000
    /// (CLIP has 49,408 tokens, SigLIP 32,000, the largest public vocabularies about 260,000).
    public static let tokenizerEntries = ResourceLimit("CLIPCORE_MAX_TOKENIZER_ENTRIES",
                                                       "vocabulary or merge entries of a tokenizer", 1_000_000)
    /// Bytes of one tokenizer file (`tokenizer.json`, `vocab.json`, `merges.txt`, `vocab.txt`, `spiece.model`): 256 MiB.
    public static let tokenizerFileBytes = ResourceLimit("CLIPCORE_MAX_TOKENIZER_FILE_BYTES", "bytes in a tokenizer file", 256 << 20)
    /// Bytes of one tar member read into memory (an image or a caption of a webdataset shard): 256 MiB.
    public static let tarMemberBytes = ResourceLimit("CLIPCORE_MAX_TAR_MEMBER_BYTES", "bytes in one tar member", 256 << 20)
    /// Bytes of one record of a manifest read line by line (a JSONL line, a CSV or TSV row): 64 MiB. A longer
    /// record is read to its end without being kept, so a file with no line break holds no more memory.
    public static let recordBytes = ResourceLimit("CLIPCORE_MAX_RECORD_BYTES", "bytes in one record (a JSONL line, a CSV row)", 64 << 20)

    /// Every limit, in the order docs/RELIABILITY.md lists them.
    public static let all: [ResourceLimit] = [.imagePixels, .jsonDepth, .yamlBytes, .yamlNodes, .yamlDepth,
                                              .safetensorsHeaderBytes, .tokenizerEntries, .tokenizerFileBytes, .tarMemberBytes,
                                              .recordBytes]

    // MARK: - Values

    private static let overrides = Mutex<[String: Int]>([:])
    @TaskLocal private static var scoped: [String: Int] = [:]

    /// The environment's values, read once (a positive integer, `_` separators allowed; anything else is ignored).
    private static let environment: [String: Int] = {
        let env = ProcessInfo.processInfo.environment
        var out: [String: Int] = [:]
        for name in all.map(\.variable) {
            if let s = env[name], let v = Int(s.replacingOccurrences(of: "_", with: "")), v > 0 { out[name] = v }
        }
        return out
    }()

    /// The limit in force.
    public var value: Int {
        Self.scoped[variable] ?? Self.overrides.withLock { $0[variable] } ?? Self.environment[variable] ?? defaultValue
    }

    /// Runs `body` with the limit at `value` in this task (and the tasks it starts), leaving other
    /// tasks and threads at the value in force.
    /// - Throws: `ClipError(.invalidArgument)` when `value` is not positive; what `body` throws.
    public func withValue<R>(_ value: Int, _ body: () throws -> R) throws -> R {
        try ClipError.requirePositive([(variable, value)])
        var scoped = Self.scoped
        scoped[variable] = value
        return try Self.$scoped.withValue(scoped) { try body() }
    }

    /// Sets the limit for the whole process (it wins over the environment variable); nil goes back to
    /// the environment variable or the default.
    /// - Throws: `ClipError(.invalidArgument)` when `value` is not positive.
    public func set(_ value: Int?) throws {
        if let value { try ClipError.requirePositive([(variable, value)]) }
        Self.overrides.withLock { $0[variable] = value }
    }

    public var description: String { "\(variable) = \(value)" }

    // MARK: - Checks

    /// The error for `input` claiming `amount` of what the limit counts.
    public func exceeded(_ amount: some BinaryInteger, in input: String) -> ClipError {
        ClipError.unsupported("\(input): \(what): \(amount) exceeds the limit of \(value) "
                              + "(raise it with the environment variable \(variable) or ResourceLimit.set)")
    }

    /// Throws unless `amount` is within the limit.
    /// - Throws: `ClipError(.unsupported)` naming `input`, the amount, the limit and `variable`.
    public func check(_ amount: some BinaryInteger, in input: String) throws {
        guard amount <= value else { throw exceeded(amount, in: input) }
    }

    /// The bytes of the file at `path`, refused before reading when the file is larger than the limit.
    /// - Throws: `ClipError.io` when it cannot be read, `.unsupported` when it is too large.
    public func readFile(_ path: String) throws -> Data {
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
        if let size { try check(size, in: path) }
        guard let data = FileContents.read(atPath: path) else { throw ClipError.io("\(path): cannot read the file") }
        try check(data.count, in: path)
        return data
    }
}

// MARK: - JSON nesting

extension JSONText {
    /// The deepest nesting of arrays and objects in JSON text (brackets inside strings not counted),
    /// found by one scan that allocates nothing; it stops once `limit` is passed.
    package static func depth<C: Collection>(of bytes: C, stoppingAfter limit: Int = .max) -> Int where C.Element == UInt8 {
        var depth = 0, deepest = 0, inString = false, escaped = false
        for b in bytes {
            if inString {
                if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 { inString = false }
                continue
            }
            switch b {
            case 0x22: inString = true
            case 0x5B, 0x7B:
                depth += 1
                if depth > deepest { deepest = depth; if deepest > limit { return deepest } }
            case 0x5D, 0x7D: depth -= 1
            default: break
            }
        }
        return deepest
    }

    /// Refuses JSON text nested deeper than `ResourceLimit.jsonDepth` before any parser recurses into it.
    /// - Throws: `ClipError(.unsupported)` naming `file`.
    package static func checkDepth<C: Collection>(_ bytes: C, file: String) throws where C.Element == UInt8 {
        let limit = ResourceLimit.jsonDepth.value
        let d = depth(of: bytes, stoppingAfter: limit)
        if d > limit { throw ResourceLimit.jsonDepth.exceeded(d, in: file) }
    }

    /// The top-level JSON object in `data`, read from `file`, after the nesting check.
    /// - Throws: `ClipError(.unsupported)` when nested too deep, `.format` naming `file` when the text is not a
    ///   JSON object (`what` says what it is not: "not a JSON object" by default).
    package static func object(_ data: Data, file: String, what: String = "not a JSON object") throws -> [String: Any] {
        try checkDepth(data, file: file)
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ClipError.format("\(file): \(what)")
        }
        return root
    }
}
