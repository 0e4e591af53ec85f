// clip-retrieval's back end on clipcore: /knn-service, /metadata and /indices-list answered from served indices
// through the micro-batched query engine.

import Foundation
import Tensor
import Images
import Models
import Pipelines
import Search

/// Answers the API's requests (bodies in, JSON out); the HTTP layer (`ServeServer`) only routes and counts.
public final class KnnService: @unchecked Sendable {
    /// An answer: its JSON and the extra response headers (ignored options, re-ranking).
    public struct Answer: Sendable {
        public var json: String
        public var headers: [(String, String)] = []
    }

    public let indices: [ServedIndex]
    public let engine: QueryEngine
    public let batcher: MicroBatcher<EngineJob, EngineOutput>
    public let limits: ServeLimits
    /// The server's metrics (the batcher counts its batches here).
    public let metrics: ServeMetrics
    /// Query images being decoded at once.
    public let decodes: DecodeSlots
    /// Cosine above which two results are duplicates (clip-retrieval's threshold).
    public static let duplicateCosine: Float = 0.94

    public init(indices: [ServedIndex], engine: QueryEngine, limits: ServeLimits, metrics: ServeMetrics = ServeMetrics()) {
        self.indices = indices
        self.metrics = metrics
        self.engine = engine
        self.limits = limits
        decodes = DecodeSlots(slots: limits.imageDecodes, maxWaiting: limits.maxQueueDepth)
        batcher = MicroBatcher(maxBatch: limits.batching ? limits.maxBatch : 1, maxWait: limits.batching ? limits.maxWait : 0,
                               maxQueue: limits.maxQueueDepth, onBatch: { [metrics] n in metrics.batch(n) },
                               process: { [engine] jobs in engine.run(jobs) })
    }

    public var hasMapper: Bool { engine.mapper != nil }

    /// `GET /indices-list`: the names, as a JSON list.
    public var indicesListJSON: String { "[" + indices.map { JSONText.quoted($0.name) }.joined(separator: ", ") + "]" }

    func index(named name: String?) throws -> ServedIndex {
        guard let name else { return indices[0] }
        guard let ix = indices.first(where: { $0.name == name }) else {
            throw APIError.badRequest("unknown indice_name \(name); served: " + indices.map(\.name).joined(separator: ", "))
        }
        return ix
    }

    // MARK: - /knn-service

    /// `POST /knn-service`.
    /// - Throws: `APIError` (400 for a bad request, 503 when the queue is full).
    /// - Parameter host: the request's Host: result URLs are `http://HOST/image?…` (relative without one).
    public func knn(body: [UInt8], host: String? = nil) async throws -> Answer {
        let request = try KnnRequest(json: body, limits: limits, dimension: indices.map(\.dimension).max())
        let ix = try index(named: request.indiceName)
        let input: QueryInput
        switch request.query {
        case .text(let t): input = .text(t)
        case .embedding(let e): input = .embedding(e)
        case .image(let bytes): input = .pixels(try await decodeQuery(bytes))
        }
        // A re-ranking looks at its top rerank_k results even when fewer are returned: searched and kept until
        // re-ranked, then trimmed to num_images.
        let depth = max(request.numImages, request.rerankK ?? 0)
        let (rows, scores, query) = try await search(input, ix, request.modality, k: max(request.numResultIds, depth))
        var hits = hits(rows: rows, scores: scores, index: ix, modality: request.modality)
        if request.deduplicate { hits = deduplicate(hits, index: ix, keep: depth) }
        hits = Array(hits.prefix(depth))
        var answer = Answer(json: "")
        if !request.ignored.isEmpty {
            answer.headers.append(("X-Clipcore-Ignored", request.ignored.joined(separator: ", ") + "; not supported by this server, no filtering or re-weighting applied"))
        }
        if let k = request.rerankK {
            answer.headers.append(("X-Clipcore-Rerank", "elip k=\(min(k, hits.count))"))
            hits = try await rerank(hits, query: query, index: ix, k: k)
        }
        hits = Array(hits.prefix(request.numImages))
        answer.json = "[" + hits.map { json($0, index: ix, host: host) }.joined(separator: ",\n") + "]"
        return answer
    }

    /// Decodes and preprocesses a query image, holding one of `decodes`' slots, refused past `limits.maxImagePixels`.
    /// - Throws: `APIError` 400 for an undecodable or too large image, 503 when too many wait to be decoded.
    func decodeQuery(_ bytes: [UInt8]) async throws -> Tensor {
        let pipeline = engine.pipeline, cap = min(limits.maxImagePixels, ResourceLimit.imagePixels.value)
        do {
            try pipeline.requireImageTower()
            return try await decodes.run {
                try ResourceLimit.imagePixels.withValue(cap) {
                    try pipeline.processor(try RGBImage(encoded: bytes, name: "the query image"))
                }
            }
        } catch let e as ClipError where e.kind == .unsupported && e.message.contains(ResourceLimit.imagePixels.what) {
            throw APIError.badRequest("the query image is too large: at most \(cap) pixels are accepted (the server's --max-image-pixels); \(e.message)")
        } catch { throw APIError.from(error) }
    }

    /// One result row before formatting.
    struct Hit {
        var row: Int
        var similarity: Float
        var caption: String?
        var baseRank: Int?
        var baseSimilarity: Float?
    }

    func search(_ input: QueryInput, _ ix: ServedIndex, _ modality: KnnRequest.Modality, k: Int) async throws -> ([Int64], [Float], [Float]) {
        do {
            switch try await batcher.submit(.search(input, ix, modality, k: k)) {
            case .hits(let rows, let scores, let query): return (rows, scores, query)
            case .scores: throw APIError(500, "internal error: search answered with scores")
            }
        } catch let e as MicroBatcherError {
            throw Self.overloaded(e)
        } catch { throw APIError.from(error) }
    }

    static func overloaded(_ e: MicroBatcherError) -> APIError {
        switch e {
        case .queueFull(let n): return APIError(503, "the server is busy: \(n) queries are waiting; retry later", retryAfter: 1)
        case .stopped: return APIError(503, "the server is shutting down", retryAfter: 1)
        }
    }

    func hits(rows: [Int64], scores: [Float], index ix: ServedIndex, modality: KnnRequest.Modality) -> [Hit] {
        var out: [Hit] = []
        for (r, s) in zip(rows, scores) where r >= 0 && s.isFinite {
            let row = Int(r)
            switch modality {
            case .image:
                guard row < ix.records.count else { continue }
                out.append(Hit(row: row, similarity: s, caption: ix.records[row].captions.first))
            case .text:
                guard row < ix.textImageRow.count else { continue }
                out.append(Hit(row: ix.textImageRow[row], similarity: s, caption: ix.textCaption[row]))
            }
        }
        // Several captions of one image: the image once, at its best caption.
        if modality == .text {
            var seen = Set<Int>()
            out = out.filter { seen.insert($0.row).inserted }
        }
        return out
    }

    /// Results compared with each candidate when deduplicating: the ones kept just above it (near duplicates rank
    /// together), so a 10,000-result query costs at most 10,000 × 64 dot products.
    public static let duplicateWindow = 64

    /// Drops results whose image embedding has cosine above `duplicateCosine` with one of the `duplicateWindow`
    /// results kept just above it (greedy, best first), until `keep` are kept.
    func deduplicate(_ hits: [Hit], index ix: ServedIndex, keep: Int) -> [Hit] {
        let d = ix.dimension
        var kept: [Hit] = []
        let vectors = ix.imageVectors
        for h in hits {
            guard kept.count < keep else { break }
            let a = h.row * d
            let duplicate = kept.suffix(Self.duplicateWindow).contains { k in
                let b = k.row * d
                var dot: Float = 0
                for j in 0..<d { dot += vectors[a + j] * vectors[b + j] }
                return dot > Self.duplicateCosine
            }
            if !duplicate { kept.append(h) }
        }
        return kept
    }

    // MARK: - ELIP re-ranking

    func rerank(_ hits: [Hit], query: [Float], index ix: ServedIndex, k: Int) async throws -> [Hit] {
        guard engine.mapper != nil else {
            throw APIError.badRequest("rerank_k needs an ELIP mapper: start the server with --elip MAPPER")
        }
        let depth = min(k, hits.count)
        guard depth > 0 else { return hits }
        let pixels: [Tensor]
        do {
            pixels = try hits.prefix(depth).map { h in
                try engine.pipeline.processor(try RGBImage(contentsOfFile: ix.records[h.row].image))
            }
        } catch { throw APIError(500, "re-ranking: \(APIError.from(error).message)") }
        let scores: [Float]
        do {
            switch try await batcher.submit(.rerank(query: query, candidates: Tensor.stack(pixels, axis: 0))) {
            case .scores(let s): scores = s
            case .hits: throw APIError(500, "internal error: re-ranking answered with hits")
            }
        } catch let e as MicroBatcherError { throw Self.overloaded(e) } catch { throw APIError.from(error) }
        var top = Array(hits.prefix(depth))
        for i in top.indices {
            top[i].baseRank = i + 1
            top[i].baseSimilarity = top[i].similarity
            top[i].similarity = scores[i]
        }
        let order = rerankOrder(scores)
        return order.map { top[$0] } + hits.dropFirst(depth)
    }

    // MARK: - /metadata

    /// `POST /metadata` `{"ids": [...], "indice_name": …}`: `[{"id": id, "metadata": {...}}]`, unknown ids with
    /// empty metadata.
    public func metadata(body: [UInt8], host: String? = nil) throws -> Answer {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw APIError.badRequest("the body must be a JSON object with ids and indice_name")
        }
        guard let list = object["ids"] as? [Any] else { throw APIError.badRequest("ids must be a list of integers") }
        guard list.count <= limits.maxResults else {
            throw APIError.badRequest("at most \(limits.maxResults) ids per request, got \(list.count)")
        }
        let ids = try list.map { v -> Int64 in
            guard let n = v as? NSNumber, Self.isInteger(n), let i = Int64(exactly: n.doubleValue) else {
                throw APIError.badRequest("ids must be a list of integers, got \(v)")
            }
            return i
        }
        var name: String?
        if let raw = object["indice_name"], !(raw is NSNull) {
            guard let s = raw as? String else { throw APIError.badRequest("indice_name must be a string") }
            name = s
        }
        let ix = try index(named: name)
        let items = ids.map { id -> String in
            guard let row = ix.row(ofId: id) else { return "{\"id\": \(id), \"metadata\": {}}" }
            return "{\"id\": \(id), \"metadata\": {" + fields(row: row, caption: ix.records[row].captions.first, index: ix, host: host) + "}}"
        }
        return Answer(json: "[" + items.joined(separator: ",\n") + "]")
    }

    // MARK: - JSON

    /// A JSON integer (not a boolean, not a number written with a fraction or exponent such as `1.0`).
    static func isInteger(_ n: NSNumber) -> Bool {
        guard !KnnRequest.isBool(n) else { return false }
        let type = String(cString: n.objCType)
        return type != "d" && type != "f"
    }

    func fields(row: Int, caption: String?, index ix: ServedIndex, host: String?) -> String {
        let r = ix.records[row]
        var f: [String] = []
        if let rel = ix.images?.relative(r.image) {
            let path = "/image?index=\(Self.queryEscape(ix.name))&path=\(Self.queryEscape(rel))"
            f.append("\"url\": " + JSONText.quoted(host.map { "http://\($0)" + path } ?? path))
        }
        f.append("\"image_path\": " + JSONText.quoted(r.image))
        f.append("\"caption\": " + JSONText.quoted(caption ?? ""))
        f.append("\"key\": " + JSONText.quoted(r.key))
        return f.joined(separator: ", ")
    }

    func json(_ h: Hit, index ix: ServedIndex, host: String?) -> String {
        var s = "{\"id\": \(ix.records[h.row].id), \"similarity\": \(Self.number(h.similarity)), " + fields(row: h.row, caption: h.caption, index: ix, host: host)
        if let rank = h.baseRank, let base = h.baseSimilarity {
            s += ", \"reranked\": \"elip\", \"base_rank\": \(rank), \"base_similarity\": \(Self.number(base))"
        }
        return s + "}"
    }

    static func number(_ x: Float) -> String { x.isFinite ? "\(x)" : "0" }

    static func queryEscape(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~/")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
}
