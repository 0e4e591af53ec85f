// The model and index work of the service, run in batches on the micro-batcher's worker thread: queries of one
// batch are encoded in one call per kind (texts, images) and searched in one call per index.

import Foundation
import Tensor
import Images
import Models
import Search

/// A query ready for the worker.
public enum QueryInput: Sendable {
    case text(String)
    /// A preprocessed image `[3, H, W]`.
    case pixels(Tensor)
    case embedding([Float])
}

/// One unit of worker work.
public enum EngineJob: @unchecked Sendable {
    /// Encode (unless an embedding) and search `index`'s `modality` rows for the top `k`.
    case search(QueryInput, ServedIndex, KnnRequest.Modality, k: Int)
    /// ELIP scores of candidate images `[n, 3, H, W]` for a normalised text embedding.
    case rerank(query: [Float], candidates: Tensor)
}

/// What a job gives back.
public enum EngineOutput: Sendable {
    /// Rows (−1 padded) and scores, best first, and the query's embedding.
    case hits(rows: [Int64], scores: [Float], query: [Float])
    case scores([Float])
}

/// Runs batches of `EngineJob`s against one model (and an optional ELIP mapper). Only the batcher's worker calls
/// `run`, so the model is used from one thread at a time.
public final class QueryEngine: @unchecked Sendable {
    public let pipeline: ImageTextPipeline
    public let mapper: ELIPMapper?
    /// Model calls made (for metrics).
    public private(set) var encodeCalls = 0
    /// A test hook: `CLIPCORE_SERVE_TEST_ENCODE_DELAY_MS`, milliseconds the worker sleeps before each batch (0: none),
    /// so that a test can hold a query in flight for a known time (scripts/test-serve.sh's SIGTERM check).
    public let testDelay: Double = {
        guard let s = ProcessInfo.processInfo.environment["CLIPCORE_SERVE_TEST_ENCODE_DELAY_MS"], let ms = Double(s),
              ms > 0, ms <= 60_000 else { return 0 }
        return ms / 1000
    }()

    public init(pipeline: ImageTextPipeline, mapper: ELIPMapper?) throws {
        self.pipeline = pipeline
        self.mapper = mapper
        if let mapper { try mapper.checkFits(model: pipeline.model, source: "--elip") }
    }

    /// One result per job, in order; a job's failure does not fail the others.
    public func run(_ jobs: [EngineJob]) -> [Result<EngineOutput, any Error>] {
        if testDelay > 0 { Thread.sleep(forTimeInterval: testDelay) }
        var results = [Result<EngineOutput, any Error>?](repeating: nil, count: jobs.count)
        var embeddings = [[Float]?](repeating: nil, count: jobs.count)
        var texts: [(Int, String)] = [], pixels: [(Int, Tensor)] = []
        for (i, job) in jobs.enumerated() {
            switch job {
            case .search(.text(let t), _, _, _): texts.append((i, t))
            case .search(.pixels(let p), _, _, _): pixels.append((i, p))
            case .search(.embedding(let e), _, _, _): embeddings[i] = e
            case .rerank(let query, let candidates):
                results[i] = Result { .scores(try rerank(query: query, candidates: candidates)) }
            }
        }
        // MARK: Encoding, one call per kind
        func fill(_ group: [Int], _ encode: () throws -> Tensor) {
            guard !group.isEmpty else { return }
            do {
                encodeCalls += 1
                let m = try encode()
                let d = m.shape[1], flat = m.contiguous().toArray()
                for (r, i) in group.enumerated() { embeddings[i] = Array(flat[(r * d)..<((r + 1) * d)]) }
            } catch {
                for i in group { results[i] = .failure(error) }
            }
        }
        fill(texts.map(\.0)) { try pipeline.encode(texts: texts.map(\.1), batchSize: max(texts.count, 1)) }
        fill(pixels.map(\.0)) { try pipeline.encode(pixels: pixels.map(\.1), batchSize: max(pixels.count, 1)) }

        // MARK: Search, one call per index and modality
        var groups: [ObjectIdentifier: [Int]] = [:], order: [ObjectIdentifier] = []
        for (i, job) in jobs.enumerated() {
            guard case .search(_, let ix, let modality, _) = job, results[i] == nil, let e = embeddings[i] else { continue }
            guard let index = ix.index(modality) else {
                results[i] = .failure(APIError.badRequest("index \(ix.name) has no text embeddings (encode it with --texts) for modality text"))
                continue
            }
            guard e.count == ix.dimension else {
                results[i] = .failure(APIError.badRequest("the query has dimension \(e.count) but index \(ix.name) has \(ix.dimension)"))
                continue
            }
            let key = ObjectIdentifier(index)
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(i)
        }
        for key in order {
            let members = groups[key]!
            guard case .search(_, let ix, let modality, _) = jobs[members[0]], let index = ix.index(modality) else { continue }
            let k = members.map { i -> Int in if case .search(_, _, _, let k) = jobs[i] { return k } else { return 1 } }.max() ?? 1
            do {
                let q = Tensor(members.flatMap { embeddings[$0]! }, shape: [members.count, ix.dimension])
                let r = try index.search(q, k: k)
                let scores = r.scores.contiguous().toArray()
                for (row, i) in members.enumerated() {
                    guard case .search(_, _, _, let ki) = jobs[i] else { continue }
                    let ids = Array(r.ids(of: row).prefix(ki))
                    let s = Array(scores[(row * k)..<(row * k + ki)])
                    results[i] = .success(.hits(rows: ids, scores: s, query: embeddings[i]!))
                }
            } catch {
                for i in members { results[i] = .failure(error) }
            }
        }
        return results.map { $0 ?? .failure(APIError(500, "internal error: a job was not run")) }
    }

    private func rerank(query: [Float], candidates: Tensor) throws -> [Float] {
        guard let mapper else { throw APIError.badRequest("rerank_k needs an ELIP mapper: start the server with --elip MAPPER") }
        return try ELIPObjective.guidedScores(model: pipeline.model, mapper: mapper,
                                              query: Tensor(query, shape: [1, query.count]), candidates: candidates)
    }
}
