// One searchable collection: an embedding shard folder (`clip encode-dataset`), its FAISS index (a prebuilt
// `image.index` / `text.index` from `clip index build`, or an exact one built at load) and its metadata.

import Foundation
import Tensor
import Search
import Pipelines

/// An embedding shard folder loaded for serving. Image rows are the folder's records in order; text rows (when the
/// folder has `text_emb_*` shards) are the captions, each pointing at its image's row.
public final class ServedIndex: @unchecked Sendable {
    public let name: String
    public let folder: String
    public let records: [EmbeddingShards.Record]
    public let dimension: Int
    /// Where result images are served from (`GET /image`); nil: no image is served.
    public let images: PathGuard?
    let imageIndex: VectorIndex
    let imageVectors: [Float]
    let textIndex: VectorIndex?
    let textVectors: [Float]
    /// Text row → image row, and the caption of each text row.
    let textImageRow: [Int]
    let textCaption: [String]
    private let rowOfId: [Int64: Int]

    /// Loads `folder`. `imageRoot`: the folder result images are served from (default: the deepest folder holding
    /// every record's image file, unless that is `/`: then none). Only the records' own image files are served.
    /// - Throws: `ClipError` for a folder that is not a complete shard folder, or an index file that disagrees with it.
    public init(name: String, folder: String, imageRoot: String? = nil) throws {
        self.name = name
        self.folder = folder
        let store = try EmbeddingStore.load(path: folder, modality: .image)
        var records: [EmbeddingShards.Record] = []
        for s in 0..<EmbeddingShards.completeShards(in: folder) { records += try EmbeddingShards.records(folder, shard: s) }
        guard records.count == store.count, store.count > 0 else {
            throw ClipError(.format, "\(folder): \(store.count) image embeddings for \(records.count) metadata lines (an empty or image-less folder cannot be served)")
        }
        self.records = records
        dimension = store.dimension
        imageVectors = store.embeddings.contiguous().toArray()
        imageIndex = try Self.index(folder + "/image.index", vectors: store.embeddings, count: store.count)
        var rowOfId: [Int64: Int] = [:]
        for (r, rec) in records.enumerated() where rowOfId[rec.id] == nil { rowOfId[rec.id] = r }
        self.rowOfId = rowOfId
        if FileManager.default.fileExists(atPath: EmbeddingShards.embeddingsPath(folder, shard: 0, .text)) {
            let texts = try EmbeddingStore.load(path: folder, modality: .text)
            textIndex = try Self.index(folder + "/text.index", vectors: texts.embeddings, count: texts.count)
            textVectors = texts.embeddings.contiguous().toArray()
            var rows: [Int] = [], captions: [String] = []
            for (r, rec) in records.enumerated() {
                rows += [Int](repeating: r, count: rec.captions.count)
                captions += rec.captions
            }
            guard texts.count == captions.count else {
                throw ClipError(.format, "\(folder): \(texts.count) text embeddings for \(captions.count) captions in its metadata; encode it again with --texts")
            }
            guard texts.dimension == store.dimension else {
                throw ClipError(.format, "\(folder): text embeddings of dimension \(texts.dimension) but image embeddings of \(store.dimension)")
            }
            textImageRow = rows
            textCaption = captions
        } else {
            textIndex = nil
            textVectors = []
            textImageRow = []
            textCaption = []
        }
        let root = imageRoot ?? Self.defaultImageRoot(records.map(\.image))
        images = root.flatMap { PathGuard(root: $0, files: records.map(\.image)) }
    }

    /// The row of a record id (clip-retrieval's result ids are these).
    public func row(ofId id: Int64) -> Int? { rowOfId[id] }

    /// The index of `modality`'s rows.
    func index(_ modality: KnnRequest.Modality) -> VectorIndex? { modality == .image ? imageIndex : textIndex }

    /// A prebuilt index file when it exists (checked against the folder's row count), else an exact one.
    private static func index(_ path: String, vectors: Tensor, count: Int) throws -> VectorIndex {
        if FileManager.default.fileExists(atPath: path) {
            let ix = try VectorIndex.read(from: path)
            guard ix.count == count else {
                throw ClipError(.format, "\(path): \(ix.count) vectors but the folder has \(count) rows; rebuild it with `clip index build`")
            }
            return ix
        }
        let ix = try VectorIndex.flat(dimension: vectors.shape[1])
        try ix.add(vectors)
        return ix
    }

    /// The folder images are served from when none is given: `commonFolder`, but never `/` (images in unrelated
    /// folders would open the whole filesystem's tree; `--image-root /` must be asked for explicitly).
    public static func defaultImageRoot(_ paths: [String]) -> String? {
        guard let c = commonFolder(paths), c != "/" else { return nil }
        return c
    }

    /// The deepest folder holding every path (relative paths taken from the working directory); nil for none,
    /// or for paths that are tar members.
    static func commonFolder(_ paths: [String]) -> String? {
        let cwd = FileManager.default.currentDirectoryPath
        var common: [Substring]?
        for p in paths.prefix(100_000) {
            guard !p.contains(".tar:") else { return nil }
            let absolute = p.hasPrefix("/") ? p : cwd + "/" + p
            let parts = absolute.split(separator: "/").dropLast()
            if let c = common {
                common = Array(zip(c, parts).prefix { $0 == $1 }.map(\.0))
            } else {
                common = Array(parts)
            }
        }
        guard let c = common else { return nil }
        return "/" + c.joined(separator: "/")
    }
}
