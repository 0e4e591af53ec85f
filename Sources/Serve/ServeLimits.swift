// The bounds of `clip serve`: request body size, results per query, queue depth, micro-batching.

import Foundation

/// What one server accepts and how it batches encode calls. Every bound answers a request past it with an
/// HTTP error (400/413/429/503), never a crash or unbounded memory.
public struct ServeLimits: Sendable, Equatable {
    /// Largest request body, bytes (a base64 image query is about 4/3 of the image file). Past it: 413.
    public var maxBodyBytes = 8 << 20
    /// Largest `num_images` / `num_result_ids` (clip-retrieval's own ceiling is 10,000). Past it: 400.
    public var maxResults = 10_000
    /// Longest `text` query, characters (its tokenization runs on the single model worker). Past it: 400.
    public var maxTextChars = 4096
    /// Largest `rerank_k` of an ELIP re-ranking (each candidate is re-encoded). Past it: 400.
    public var maxRerankK = 100
    /// Queries waiting for the model worker. Past it: 503 with Retry-After.
    public var maxQueueDepth = 256
    /// Requests being handled at once (all routes but /health and /metrics). Past it: 429 with Retry-After. With
    /// `maxBodyBytes` it bounds the memory held by request bodies (128 × 8 MiB); decoded query images are bounded
    /// separately, by `maxImagePixels` × `imageDecodes`.
    public var maxInFlight = 128
    /// Most pixels of a query image (its header is checked before any pixel is decoded). Past it: 400.
    public var maxImagePixels = 4096 * 4096
    /// Query images decoded at once (about 3 bytes a pixel each, 48 MiB at `maxImagePixels`); more wait, up to
    /// `maxQueueDepth`, then 503.
    public var imageDecodes = 2
    /// Queries encoded together in one model call.
    public var maxBatch = 32
    /// How long the first query of a batch waits for others, seconds; 0 turns batching off (one query per call).
    public var maxWait = 0.004

    public init() {}

    /// Whether encode calls are batched across requests.
    public var batching: Bool { maxWait > 0 && maxBatch > 1 }
}
