// Embedding matrices with ids in safetensors files (or embedding shard folders), so that
// encoding, indexing, mining and evaluation can run as separate steps.

import Foundation
import Tensor
import NN

/// A saved matrix of embeddings. File layout (safetensors): `embeddings` F32 `[n, d]`,
/// `ids` I64 `[n]`, and for captions optionally `image_ids` I64 `[n]` (the id of the image each
/// caption describes); string metadata such as the model and the kind ("text" / "image").
public struct EmbeddingStore {
    public var embeddings: Tensor
    public var ids: [Int64]
    public var imageIds: [Int64]?
    public var metadata: [String: String]

    /// - Throws: `ClipError` when the sizes disagree.
    public init(embeddings: Tensor, ids: [Int64]? = nil, imageIds: [Int64]? = nil, metadata: [String: String] = [:]) throws {
        guard embeddings.rank == 2 else { throw ClipError(.shape, "store: embeddings must be [n, d], got \(embeddings.shape)") }
        let n = embeddings.shape[0]
        let ids = ids ?? (0..<n).map(Int64.init)
        guard ids.count == n, imageIds.map({ $0.count == n }) ?? true else {
            throw ClipError(.shape, "store: \(n) embeddings but \(ids.count) ids / \(imageIds?.count ?? n) image ids")
        }
        self.embeddings = embeddings
        self.ids = ids
        self.imageIds = imageIds
        self.metadata = metadata
    }

    public var count: Int { embeddings.shape[0] }
    public var dimension: Int { embeddings.shape[1] }

    /// Writes the store atomically.
    public func save(to path: String) throws {
        var payloads: [(name: String, payload: SafeTensors.Payload)] = [
            ("embeddings", .float32(embeddings)), ("ids", .int64(ids, shape: [ids.count])),
        ]
        if let imageIds { payloads.append(("image_ids", .int64(imageIds, shape: [imageIds.count]))) }
        try SafeTensors.write(payloads: payloads, metadata: metadata, to: path)
    }

    /// Reads a store (the embeddings are memory-mapped), or the `modality` embeddings of an embedding
    /// shard folder (`clip encode-dataset`'s output, see `EmbeddingShards.load`).
    /// - Throws: `ClipError` (.io for an unreadable file, .format for a file that is not a store).
    public static func load(path: String, modality: EmbeddingShards.Modality = .image) throws -> EmbeddingStore {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            return try EmbeddingShards.load(folder: path, modality: modality)
        }
        let f = try SafeTensorsFile(path: path)
        guard f.entries["embeddings"] != nil, f.entries["ids"] != nil else {
            throw ClipError(.format, "\(path): not an embedding store (needs 'embeddings' and 'ids')")
        }
        return try EmbeddingStore(embeddings: try f.tensor("embeddings"), ids: try f.int64("ids"),
                                  imageIds: f.entries["image_ids"] == nil ? nil : try f.int64("image_ids"),
                                  metadata: f.metadata)
    }

    /// Which image row each caption of `texts` belongs to: through `texts.imageIds` matched to
    /// `images.ids`, or row to row when the captions carry no image ids.
    /// `sameSpace: false` pairs stores of different models (seed 002's heads align such spaces), whose
    /// dimensions may differ.
    /// - Throws: `ClipError` for an unknown image id or, without image ids, different counts.
    public static func pairing(texts: EmbeddingStore, images: EmbeddingStore, sameSpace: Bool = true) throws -> [Int] {
        guard !sameSpace || texts.dimension == images.dimension else {
            throw ClipError(.shape, "stores: text dimension \(texts.dimension) differs from image dimension \(images.dimension)")
        }
        guard let imageIds = texts.imageIds else {
            guard texts.count == images.count else {
                throw ClipError(.shape, "stores: \(texts.count) captions and \(images.count) images, and the captions carry no image_ids")
            }
            return Array(0..<texts.count)
        }
        var row: [Int64: Int] = [:]
        for (r, id) in images.ids.enumerated() where row[id] == nil { row[id] = r }
        return try imageIds.map { id in
            guard let r = row[id] else { throw ClipError(.invalidArgument, "stores: caption refers to image id \(id), which the image store lacks") }
            return r
        }
    }
}
