// webdataset tar shards as img2dataset writes them: `{key}.jpg` + `{key}.txt` (+ `{key}.json`).

import Foundation
import Tensor

/// Tar shards read one after the other, straight from the archives. Consecutive members sharing a key
/// (the member name up to the first dot of its last path component, as webdataset splits it) make one
/// sample: an image member (`jpg`, `jpeg`, `png`, `webp`) and its captions: every caption of a list in
/// `{key}.json` (under the text column, else `captions`, as img2dataset's and `Tools/hf_to_webdataset.py`'s
/// metadata holds them), else `{key}.txt`, else the json's `caption` string. Records are keyed
/// `shard.tar:key` and located `shard.tar@byteOffset`.
public struct WebDatasetSource: ImageTextSource {
    public static let imageExtensions = ["jpg", "jpeg", "png", "webp"]

    public let shards: [String]
    /// The image member extensions looked for, in order.
    public let imageExtensions: [String]
    /// The caption member extension (`txt`).
    public let textExtension: String
    /// The keys of `{key}.json` whose list of captions is read first: the text column, then `captions`.
    public let jsonCaptionKeys: [String]
    public var skipBad: Bool
    /// The shard list as given, for the description.
    var pattern: String

    /// - Parameters:
    ///   - pattern: a shard path with brace ranges or lists, `data/{00000..00099}.tar`, `{a,b}.tar`.
    ///   - imageColumn: an image member extension (others are inferred).
    ///   - textColumn: the caption member extension (default `txt`).
    ///   - skipBad: skip (and count) bad samples and truncated shards instead of stopping at the first.
    /// - Throws: `ClipError.invalidArgument` for an unbalanced brace.
    public init(pattern: String, imageColumn: String? = nil, textColumn: String? = nil, skipBad: Bool = false) throws {
        try self.init(shards: try BraceExpansion.expand(pattern), imageColumn: imageColumn, textColumn: textColumn, skipBad: skipBad)
        self.pattern = pattern
    }

    public init(shards: [String], imageColumn: String? = nil, textColumn: String? = nil, skipBad: Bool = false) throws {
        guard !shards.isEmpty else { throw ClipError.invalidArgument("webdataset: no shards") }
        self.shards = shards
        let requested = imageColumn?.lowercased()
        imageExtensions = requested.map { r in Self.imageExtensions.contains(r) ? [r] + Self.imageExtensions.filter { $0 != r } : Self.imageExtensions }
            ?? Self.imageExtensions
        textExtension = textColumn.map { $0.lowercased() }.flatMap { ColumnInference.textCandidates.contains($0) && $0 != "text" ? $0 : nil } ?? "txt"
        jsonCaptionKeys = (textColumn.map { [$0] } ?? []) + (textColumn == "captions" ? [] : ["captions"])
        self.skipBad = skipBad
        pattern = shards.count == 1 ? shards[0] : "\(shards[0]) … \(shards[shards.count - 1])"
    }

    public var description: String {
        "webdataset \(pattern) (\(shards.count) shard\(shards.count == 1 ? "" : "s"); image member "
            + imageExtensions.joined(separator: "|") + ", text member \(textExtension) or json "
            + jsonCaptionKeys.map { "'\($0)'" }.joined(separator: "|") + " list)"
    }

    public func makeReader() throws -> any ImageTextReader {
        Reader(source: self, policy: BadInputPolicy(skipBad: skipBad))
    }

    /// webdataset's split of a member name: key and extension (lowercased), at the first dot of the last
    /// path component.
    static func split(_ name: String) -> (key: String, ext: String)? {
        let slash = name.lastIndex(of: "/").map { name.index(after: $0) } ?? name.startIndex
        guard let dot = name[slash...].firstIndex(of: "."), dot > slash else { return nil }
        return (String(name[..<dot]), String(name[name.index(after: dot)...]).lowercased())
    }

    struct Reader: ImageTextReader {
        let source: WebDatasetSource
        var policy: BadInputPolicy
        var shardIndex = -1
        var members: TarMembers?
        /// A member read ahead: the first of the next sample.
        var pending: (key: String, ext: String, member: TarMembers.Member)?
        /// A shard's read failure, reported after the complete sample read before it.
        var failure: ClipError?
        var skipped: [String: Int] { policy.counts }

        init(source: WebDatasetSource, policy: BadInputPolicy) {
            self.source = source
            self.policy = policy
        }

        private func wanted(_ name: String) -> Bool {
            guard let (_, ext) = WebDatasetSource.split(name) else { return false }
            return source.imageExtensions.contains(ext) || ext == source.textExtension || ext == "txt" || ext == "json"
        }

        /// Opens the next shard; false after the last.
        private mutating func openNextShard() throws -> Bool {
            while shardIndex + 1 < source.shards.count {
                shardIndex += 1
                do {
                    members = TarMembers(file: try ByteFile(path: source.shards[shardIndex]))
                    return true
                } catch let e as ClipError {
                    try policy.reject(.missingShard, e)
                }
            }
            members = nil
            return false
        }

        mutating func next() throws -> ImageTextRecord? {
            while true {
                if let e = failure {
                    failure = nil
                    try policy.reject(.truncatedTar, e)
                }
                if members == nil, try !openNextShard() { return nil }
                let shard = source.shards[shardIndex]
                var group: [String: [UInt8]] = [:]
                var key: String?, start = 0
                if let p = pending {
                    (key, start, group[p.ext]) = (p.key, p.member.offset, p.member.data)
                    pending = nil
                }
                do {
                    while let m = try members!.next(wanted: wanted) {
                        guard let (k, ext) = WebDatasetSource.split(m.name) else { continue }
                        if key == nil { (key, start) = (k, m.offset) }
                        if k != key { pending = (k, ext, m); break }
                        group[ext] = m.data
                    }
                } catch let e as ClipError {
                    // The rest of this shard is lost; the sample before the broken member is whole
                    // unless that member was its own.
                    let broken = members?.current.flatMap(WebDatasetSource.split)?.key
                    members = nil
                    failure = e
                    guard let key, broken != key else { continue }
                    if let record = try sample(key, group, shard: shard, offset: start) { return record }
                    continue
                }
                if pending == nil { members = nil }                // the shard is done
                guard let key else { continue }
                if let record = try sample(key, group, shard: shard, offset: start) { return record }
            }
        }

        private mutating func sample(_ key: String, _ group: [String: [UInt8]], shard: String, offset: Int) throws -> ImageTextRecord? {
            let here = "\(shard)@\(offset)"
            guard let ext = source.imageExtensions.first(where: { group[$0] != nil }), let bytes = group[ext] else {
                try policy.reject(.missingImage, .io("\(here): sample '\(key)' has no image member (\(source.imageExtensions.joined(separator: ", ")))"))
                return nil
            }
            let captions: [String]
            let json = group["json"].flatMap { (try? JSONSerialization.jsonObject(with: Data($0))) as? [String: Any] }
            if let list = source.jsonCaptionKeys.lazy.compactMap({ json?[$0] as? [Any] }).first(where: { !$0.isEmpty }) {
                guard let texts = list as? [String] else {
                    try policy.reject(.malformedRow, .format("\(here): \(key).json: the caption list holds a non-string"))
                    return nil
                }
                captions = texts
            } else if let raw = group[source.textExtension] ?? group["txt"] {
                guard let text = RecordCheck.utf8(raw) else {
                    let bad = RecordCheck.firstInvalidUTF8(raw) ?? 0
                    try policy.reject(.invalidUTF8, .format("\(here): \(key).\(source.textExtension) is not valid UTF-8 (byte \(bad))"))
                    return nil
                }
                captions = [text.hasSuffix("\n") ? String(text.dropLast()) : text]
            } else if let text = (source.jsonCaptionKeys + ["caption"]).lazy.compactMap({ json?[$0] as? String }).first {
                captions = [text]
            } else {
                try policy.reject(.missingCaption, .format("\(here): sample '\(key)' has no caption (\(key).\(source.textExtension))"))
                return nil
            }
            guard try policy.accept(captions: captions, at: here) else { return nil }
            return ImageTextRecord(key: "\(shard):\(key)", image: .member(name: "\(shard):\(key).\(ext)", bytes: bytes),
                                   captions: captions, location: here)
        }
    }
}

/// Shard lists written with braces, as webdataset and `braceexpand` accept them.
package enum BraceExpansion {
    /// Expands every `{a..b}` (numbers, zero-padded when either end is) and `{x,y,z}` group, left to right.
    /// - Throws: `ClipError.invalidArgument` for an unclosed brace or a backwards range.
    package static func expand(_ pattern: String) throws -> [String] {
        guard let open = pattern.firstIndex(of: "{") else { return [pattern] }
        guard let close = pattern[open...].firstIndex(of: "}") else {
            throw ClipError.invalidArgument("\(pattern): '{' without a closing '}'")
        }
        let head = String(pattern[..<open]), body = String(pattern[pattern.index(after: open)..<close])
        let tails = try expand(String(pattern[pattern.index(after: close)...]))
        var choices: [String]
        let ends = body.components(separatedBy: "..")
        if ends.count == 2, let a = Int(ends[0]), let b = Int(ends[1]), !ends[0].isEmpty, !ends[1].isEmpty {
            guard a <= b else { throw ClipError.invalidArgument("\(pattern): the range {\(body)} runs backwards") }
            let pad = ends[0].hasPrefix("0") || ends[1].hasPrefix("0") ? max(ends[0].count, ends[1].count) : 0
            choices = (a...b).map { n in
                let s = String(n)
                return String(repeating: "0", count: max(0, pad - s.count)) + s
            }
        } else {
            choices = body.components(separatedBy: ",")
        }
        return choices.flatMap { c in tails.map { head + c + $0 } }
    }
}
