// Vector indexes through the FAISS shim: flat, HNSW, IVF-Flat, IVF-PQ or any
// index_factory description; add, train, batched search, reconstruct, files.

import Foundation
import Tensor
import CFaiss

/// How an index compares vectors.
public enum IndexMetric: String, Codable, Sendable {
    /// Larger is closer (cosine for normalised vectors).
    case innerProduct = "ip"
    /// Squared Euclidean distance; smaller is closer.
    case l2
}

/// A FAISS index owned by Swift. Not safe for concurrent mutation; concurrent searches are fine.
public final class VectorIndex: @unchecked Sendable {
    let handle: OpaquePointer
    public let dimension: Int
    /// The index_factory description it was built from ("read from file" for loaded ones).
    public let description: String

    private init(handle: OpaquePointer, description: String) {
        self.handle = handle
        dimension = Int(cfaiss_index_dim(handle))
        self.description = description
    }

    deinit { cfaiss_index_free(handle) }

    /// Throws for a failed shim call: its invalid-argument and out-of-memory statuses keep their
    /// kinds; a faiss exception (or anything else) becomes `kind`.
    static func check(_ status: Int32, _ kind: ClipError.Kind = .internal) throws {
        guard status == 0 else {
            let message = String(cString: cfaiss_last_error())
            let k: ClipError.Kind
            switch status {
            case Int32(CFAISS_ERR_INVALID_ARGUMENT): k = .invalidArgument
            case Int32(CFAISS_ERR_OUT_OF_MEMORY): k = .outOfMemory
            default: k = kind
            }
            throw ClipError(k, message.isEmpty ? "faiss status \(status)" : message)
        }
    }

    /// An index built by faiss's `index_factory` ("Flat", "HNSW32", "IVF1024,Flat", "IVF1024,PQ64", …).
    public init(dimension: Int, factory: String = "Flat", metric: IndexMetric = .innerProduct) throws {
        var h: OpaquePointer?
        try VectorIndex.check(cfaiss_index_factory(Int64(dimension), factory,
                                                   metric == .l2 ? Int32(CFAISS_METRIC_L2) : Int32(CFAISS_METRIC_INNER_PRODUCT), &h),
                              .invalidArgument)   // faiss refuses a description it cannot parse
        handle = h!
        self.dimension = dimension
        description = factory
    }

    /// Exact search.
    public static func flat(dimension: Int, metric: IndexMetric = .innerProduct) throws -> VectorIndex {
        try VectorIndex(dimension: dimension, factory: "Flat", metric: metric)
    }

    /// HNSW graph over full vectors: `m` links per node, build beam `efConstruction`, search beam `efSearch`.
    public static func hnsw(dimension: Int, m: Int = 32, efConstruction: Int = 200, efSearch: Int = 128,
                            metric: IndexMetric = .innerProduct) throws -> VectorIndex {
        let index = try VectorIndex(dimension: dimension, factory: "HNSW\(m)", metric: metric)
        try index.setParameter("efConstruction", efConstruction)
        try index.setParameter("efSearch", efSearch)
        return index
    }

    /// Inverted file with `lists` k-means cells, searching `probes` of them; vectors stored in full.
    public static func ivfFlat(dimension: Int, lists: Int, probes: Int, metric: IndexMetric = .innerProduct) throws -> VectorIndex {
        let index = try VectorIndex(dimension: dimension, factory: "IVF\(lists),Flat", metric: metric)
        try index.setParameter("nprobe", probes)
        return index
    }

    /// Inverted file with product-quantized vectors: `subquantizers` codes of `bits` bits each.
    public static func ivfPQ(dimension: Int, lists: Int, subquantizers: Int, bits: Int = 8, probes: Int,
                             metric: IndexMetric = .innerProduct) throws -> VectorIndex {
        let index = try VectorIndex(dimension: dimension, factory: "IVF\(lists),PQ\(subquantizers)x\(bits)", metric: metric)
        try index.setParameter("nprobe", probes)
        return index
    }

    public var count: Int { Int(cfaiss_index_count(handle)) }
    public var isTrained: Bool { cfaiss_index_is_trained(handle) == 1 }
    public var metric: IndexMetric { cfaiss_index_metric(handle) == Int32(CFAISS_METRIC_L2) ? .l2 : .innerProduct }

    /// Sets "nprobe" (IVF), "efSearch" or "efConstruction" (HNSW).
    public func setParameter(_ name: String, _ value: Int) throws {
        try VectorIndex.check(cfaiss_index_set_parameter(handle, name, Double(value)))
    }

    private func matrix(_ x: Tensor, _ what: String) throws -> Tensor {
        guard x.rank == 2, x.shape[1] == dimension else {
            throw ClipError(.shape, "\(what): vectors must be [n, \(dimension)], got \(x.shape)")
        }
        return x.contiguous()
    }

    /// Trains the quantizers (IVF, PQ) on `vectors` `[n, dim]`; flat and HNSW need none.
    public func train(_ vectors: Tensor) throws {
        let x = try matrix(vectors, "train")
        guard x.shape[0] > 0 else { throw ClipError(.invalidArgument, "train: no vectors") }
        try VectorIndex.check(cfaiss_index_train(handle, Int64(x.shape[0]), x.data))
    }

    /// Adds `vectors` `[n, dim]`; their ids continue from `count`.
    public func add(_ vectors: Tensor) throws {
        let x = try matrix(vectors, "add")
        guard isTrained else { throw ClipError(.invalidArgument, "add: the index (\(description)) must be trained first") }
        try VectorIndex.check(cfaiss_index_add(handle, Int64(x.shape[0]), x.data))
    }

    /// The `k` best matches of every row of `queries` `[n, dim]`, searched `batchSize` rows at a time.
    public func search(_ queries: Tensor, k: Int, batchSize: Int = 8192) throws -> SearchResult {
        let q = try matrix(queries, "search")
        let n = q.shape[0]
        try SearchResult.checkSize(queries: n, k: k, "search")
        guard isTrained else { throw ClipError(.invalidArgument, "search: the index (\(description)) is not trained") }
        let scores = Tensor(uninitializedShape: [n, k])
        var ids = [Int64](repeating: -1, count: n * k)
        let step = max(1, batchSize)
        for start in stride(from: 0, to: n, by: step) {
            let rows = min(step, n - start)
            try ids.withUnsafeMutableBufferPointer { l in
                try VectorIndex.check(cfaiss_index_search(handle, Int64(rows), q.data + start * dimension, Int64(k),
                                                          scores.data + start * k, l.baseAddress! + start * k))
            }
        }
        return SearchResult(k: k, scores: scores, ids: ids)
    }

    /// The stored vector `id` (PQ indexes return the decoded approximation).
    public func reconstruct(_ id: Int) throws -> [Float] {
        var out = [Float](repeating: 0, count: dimension)
        try out.withUnsafeMutableBufferPointer { try VectorIndex.check(cfaiss_index_reconstruct(handle, Int64(id), $0.baseAddress)) }
        return out
    }

    /// Writes the index to `path` through a temporary file and a rename (`AtomicFile`), so an
    /// existing file is replaced only by a complete one; the file ends with `IndexFile`'s trailer.
    public func write(to path: String) throws {
        try AtomicFile.write(Data(try sealed()), to: path)
    }

    /// The index as file bytes: faiss's serialisation sealed with `IndexFile`'s trailer.
    public func sealed() throws -> [UInt8] {
        var data: UnsafeMutablePointer<UInt8>?
        var size = 0
        try VectorIndex.check(cfaiss_index_serialize(handle, &data, &size), .io)
        defer { cfaiss_bytes_free(data) }
        return IndexFile.seal(UnsafeRawBufferPointer(start: data, count: size))
    }

    /// Reads an index written by `write(to:)`.
    /// - Throws: `ClipError` (.io for a missing file, .format for a truncated, corrupt or foreign one,
    ///   including faiss files without clipcore's trailer).
    public static func read(from path: String) throws -> VectorIndex {
        guard FileManager.default.isReadableFile(atPath: path), let data = FileManager.default.contents(atPath: path) else {
            throw ClipError(.io, "\(path): no such readable file")
        }
        return try read(bytes: [UInt8](data), name: path)
    }

    /// Reads an index from a file's bytes (`sealed()`); `name` is the file for messages.
    /// - Throws: `ClipError.format` for bytes without a valid `IndexFile` trailer or that faiss refuses.
    public static func read(bytes: [UInt8], name: String = "index data") throws -> VectorIndex {
        try bytes.withUnsafeBytes { file in
            let payload = try IndexFile.payload(of: file, name: name)
            var h: OpaquePointer?
            do {
                try check(cfaiss_index_deserialize(payload.baseAddress?.assumingMemoryBound(to: UInt8.self), payload.count, &h),
                          .format)
            } catch let e as ClipError {
                throw ClipError(e.kind == .outOfMemory ? .outOfMemory : .format, "\(name): not a readable index (\(e.message))")
            }
            return VectorIndex(handle: h!, description: "read from \(name)")
        }
    }
}
