// Embedding shard folders as `clip encode-dataset` writes them (clip-retrieval's "inference"
// output): per shard N, `img_emb_0000N.npy` `[images, d]`, with --texts `text_emb_0000N.npy`
// `[captions, d]`, and `metadata_0000N.jsonl`, one line per image. `encode.json` holds the settings.

import Foundation
import Tensor

/// The layout of an embedding shard folder, and reading it back as `EmbeddingStore`s.
///
/// Shard N holds the source's records `N·shardSize ..< (N+1)·shardSize` (fewer rows when undecodable
/// images were skipped). Each file is written atomically and the metadata last, so a shard whose
/// metadata exists is complete. Under mpirun, shard N is written by rank N mod ranks; the folder is
/// the same as one process writes. Metadata lines: `{"id": 12, "key": "…", "image": "…", "captions": ["…"]}`,
/// `id` being the record's index in the source; the text rows of a shard are the captions of its
/// lines in order.
public enum EmbeddingShards {
    /// Image or text rows: the `img_emb_*` or `text_emb_*` files of a shard.
    public enum Modality: String, Sendable, CaseIterable {
        case image, text
        var prefix: String { self == .image ? "img_emb" : "text_emb" }
    }

    static let settingsFile = "encode.json"

    public static func embeddingsPath(_ folder: String, shard: Int, _ modality: Modality) -> String {
        folder + "/" + modality.prefix + String(format: "_%05d.npy", shard)
    }

    public static func metadataPath(_ folder: String, shard: Int) -> String {
        folder + String(format: "/metadata_%05d.jsonl", shard)
    }

    /// The number of complete shards, counted from shard 0 up to the first one missing its metadata.
    public static func completeShards(in folder: String) -> Int {
        var n = 0
        while FileManager.default.fileExists(atPath: metadataPath(folder, shard: n)) { n += 1 }
        return n
    }

    /// The shards whose metadata and `modalities`' embeddings all exist, in any order (shards written
    /// by several ranks finish out of order). Each file is written atomically and the metadata last,
    /// so a shard listed here is complete; one an interrupted run left has no metadata and is not.
    public static func completeShardSet(in folder: String, modalities: [Modality]) -> Set<Int> {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
        var shards = Set<Int>()
        for name in names where name.hasPrefix("metadata_") && name.hasSuffix(".jsonl") {
            let digits = name.dropFirst("metadata_".count).dropLast(".jsonl".count)
            guard digits.count >= 5, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), let shard = Int(digits),
                  metadataPath(folder, shard: shard) == folder + "/" + name else { continue }
            if modalities.allSatisfy({ FileManager.default.fileExists(atPath: embeddingsPath(folder, shard: shard, $0)) }) {
                shards.insert(shard)
            }
        }
        return shards
    }

    /// One metadata line.
    public struct Record: Codable, Equatable, Sendable {
        public var id: Int64
        public var key: String
        public var image: String
        public var captions: [String]

        public init(id: Int64, key: String, image: String, captions: [String]) {
            self.id = id
            self.key = key
            self.image = image
            self.captions = captions
        }

        /// The JSON line (keys in a fixed order, so reruns write identical bytes).
        public var jsonLine: String {
            "{\"id\": \(id), \"key\": \(JSONText.quoted(key)), \"image\": \(JSONText.quoted(image)), \"captions\": ["
                + captions.map(JSONText.quoted).joined(separator: ", ") + "]}"
        }
    }

    /// The metadata of one shard.
    /// - Throws: `ClipError` (.io, or .format naming the file and line).
    public static func records(_ folder: String, shard: Int) throws -> [Record] {
        let path = metadataPath(folder, shard: shard)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ClipError(.io, "\(path): cannot read the file") }
        let decoder = JSONDecoder()
        return try text.split(separator: "\n").enumerated().map { n, line in
            do { return try decoder.decode(Record.self, from: Data(line.utf8)) } catch {
                throw ClipError(.format, "\(path):\(n + 1): not a metadata line (id, key, image, captions)")
            }
        }
    }

    /// Every complete shard's embeddings of one modality, in order, as a store (float32). Image rows
    /// have the records' ids; text rows are numbered from 0 over all captions and carry their image's
    /// id in `imageIds`. Metadata: `encode.json`'s settings and `modality`.
    /// - Throws: `ClipError` for a folder without shards, missing text embeddings, or rows that
    ///   disagree with the metadata.
    public static func load(folder: String, modality: Modality) throws -> EmbeddingStore {
        let shards = completeShards(in: folder)
        guard shards > 0 else { throw ClipError(.io, "\(folder): no embedding shards (metadata_00000.jsonl missing)") }
        var parts: [Tensor] = [], ids: [Int64] = [], imageIds: [Int64] = []
        for s in 0..<shards {
            let path = embeddingsPath(folder, shard: s, modality)
            guard FileManager.default.fileExists(atPath: path) else {
                throw ClipError(.io, "\(path) missing" + (modality == .text ? " (encode with --texts to have text embeddings)" : ""))
            }
            let matrix = try NPY.read(path: path).matrix
            let meta = try records(folder, shard: s)
            let expected = modality == .image ? meta.count : meta.reduce(0) { $0 + $1.captions.count }
            guard matrix.shape[0] == expected else {
                throw ClipError(.format, "\(path): \(matrix.shape[0]) rows but its metadata lists \(expected) \(modality == .image ? "images" : "captions")")
            }
            if let d = parts.first?.shape[1], d != matrix.shape[1] {
                throw ClipError(.shape, "\(path): dimension \(matrix.shape[1]) differs from the first shard's \(d)")
            }
            parts.append(matrix)
            switch modality {
            case .image: ids += meta.map(\.id)
            case .text:
                for r in meta { imageIds += [Int64](repeating: r.id, count: r.captions.count) }
            }
        }
        var metadata = (try? settings(folder)) ?? [:]
        metadata["modality"] = modality.rawValue
        let nonEmpty = parts.filter { $0.shape[0] > 0 }
        let embeddings = nonEmpty.isEmpty ? parts[0] : Tensor.concat(nonEmpty, axis: 0)
        return try EmbeddingStore(embeddings: embeddings, ids: modality == .image ? ids : nil,
                                  imageIds: modality == .text ? imageIds : nil, metadata: metadata)
    }

    /// `encode.json`: the settings a run was started with (strings).
    public static func settings(_ folder: String) throws -> [String: String] {
        let path = folder + "/" + settingsFile
        guard let data = FileContents.read(atPath: path),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: String] else {
            throw ClipError(.format, "\(path): missing or not a JSON object of strings")
        }
        return obj
    }

    /// Writes `encode.json` (sorted keys, so reruns write identical bytes).
    static func writeSettings(_ settings: [String: String], to folder: String) throws {
        let body = settings.keys.sorted().map { "  \(JSONText.quoted($0)): \(JSONText.quoted(settings[$0]!))" }.joined(separator: ",\n")
        try AtomicFile.write("{\n" + body + "\n}\n", to: folder + "/" + settingsFile)
    }
}
