// The body of POST /knn-service as clip-retrieval's ClipClient sends it, parsed and checked.

import Foundation

/// A k-NN query: clip-retrieval's fields (`text`, `image`, `image_url`, `embedding_input`, `modality`,
/// `num_images`, `num_result_ids`, `indice_name`, `deduplicate`) plus clipcore's `rerank_k` (ELIP).
public struct KnnRequest: Equatable, Sendable {
    /// What the query is.
    public enum Query: Equatable, Sendable {
        case text(String)
        /// The image file's bytes (decoded from the base64 `image` field).
        case image([UInt8])
        case embedding([Float])
    }

    /// Which of an index's embeddings are searched: its images (the default) or its captions.
    public enum Modality: String, Sendable { case image, text }

    public var query: Query
    public var modality: Modality = .image
    public var numImages: Int
    public var numResultIds: Int
    /// nil: the first index served.
    public var indiceName: String?
    public var deduplicate: Bool
    /// ELIP re-ranking depth of a text query (nil: none).
    public var rerankK: Int?
    /// clip-retrieval's options this server accepts but does not apply (safety model, violence detector,
    /// aesthetic scoring, mclip), as sent with a value that would have changed the answer.
    public var ignored: [String] = []

    /// clip-retrieval's flags that change nothing here.
    static let ignorableKeys = ["use_safety_model", "use_violence_detector", "aesthetic_score", "aesthetic_weight", "use_mclip"]

    /// Parses a request body.
    /// - Throws: `APIError` 400 naming the field: not a JSON object, no query or more than one, an
    ///   `image_url` (this server fetches nothing), a field of the wrong type, or counts outside 1…`limits.maxResults`.
    /// - Parameter dimension: when given, an `embedding_input` longer than it is refused before its numbers are read.
    public init(json body: [UInt8], limits: ServeLimits, dimension: Int? = nil) throws {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)), let fields = object as? [String: Any] else {
            throw APIError.badRequest("the body must be a JSON object (clip-retrieval's knn-service request)")
        }
        func present(_ key: String) -> Any? {
            guard let v = fields[key], !(v is NSNull) else { return nil }
            return v
        }
        func string(_ key: String) throws -> String? {
            guard let v = present(key) else { return nil }
            guard let s = v as? String else { throw APIError.badRequest("\(key) must be a string") }
            return s
        }
        func integer(_ key: String) throws -> Int? {
            guard let v = present(key) else { return nil }
            guard let n = v as? NSNumber, !Self.isBool(n), let d = Double(exactly: n.doubleValue), d == d.rounded(),
                  abs(d) < 1e15 else {
                throw APIError.badRequest("\(key) must be an integer")
            }
            return Int(d)
        }
        func bool(_ key: String) throws -> Bool? {
            guard let v = present(key) else { return nil }
            guard let n = v as? NSNumber else { throw APIError.badRequest("\(key) must be true or false") }
            return n.boolValue
        }

        if present("image_url") != nil {
            throw APIError.badRequest("image_url is not supported: this server fetches nothing from the network; send the image itself as base64 in 'image'")
        }
        var queries: [Query] = []
        if let text = try string("text"), !text.isEmpty {
            guard text.count <= limits.maxTextChars else {
                throw APIError.badRequest("text is \(text.count) characters; at most \(limits.maxTextChars) are accepted (the model reads only the first few dozen tokens)")
            }
            queries.append(.text(text))
        }
        if let image = try string("image"), !image.isEmpty {
            guard let data = Data(base64Encoded: Self.stripDataURL(image), options: .ignoreUnknownCharacters), !data.isEmpty else {
                throw APIError.badRequest("image must be a base64-encoded image file")
            }
            queries.append(.image([UInt8](data)))
        }
        if let e = present("embedding_input") {
            guard let list = e as? [Any], !list.isEmpty else { throw APIError.badRequest("embedding_input must be a non-empty list of numbers") }
            if let dimension, list.count > dimension {
                throw APIError.badRequest("embedding_input has \(list.count) numbers but the indices have dimension \(dimension)")
            }
            let values = try list.map { v -> Float in
                guard let n = v as? NSNumber, !Self.isBool(n), n.doubleValue.isFinite else {
                    throw APIError.badRequest("embedding_input must be a list of finite numbers")
                }
                return n.floatValue
            }
            queries.append(.embedding(values))
        }
        guard queries.count == 1, let query = queries.first else {
            throw APIError.badRequest(queries.isEmpty ? "no query: send one of text, image (base64) or embedding_input"
                                                      : "send only one of text, image and embedding_input")
        }
        self.query = query
        if let m = try string("modality") {
            guard let modality = Modality(rawValue: m) else { throw APIError.badRequest("modality must be image or text, got \(m)") }
            self.modality = modality
        }
        let numImages = try integer("num_images") ?? 40
        guard (1...limits.maxResults).contains(numImages) else {
            throw APIError.badRequest("num_images must be between 1 and \(limits.maxResults), got \(numImages)")
        }
        let numResultIds = try integer("num_result_ids") ?? numImages
        guard (1...limits.maxResults).contains(numResultIds) else {
            throw APIError.badRequest("num_result_ids must be between 1 and \(limits.maxResults), got \(numResultIds)")
        }
        self.numImages = numImages
        self.numResultIds = max(numResultIds, numImages)
        indiceName = try string("indice_name")
        deduplicate = try bool("deduplicate") ?? false
        if let k = try integer("rerank_k") {
            guard (1...limits.maxRerankK).contains(k) else {
                throw APIError.badRequest("rerank_k must be between 1 and \(limits.maxRerankK), got \(k)")
            }
            guard case .text = query else { throw APIError.badRequest("rerank_k re-ranks a text query; this query is not text") }
            rerankK = k
        }
        ignored = Self.ignorableKeys.filter { key in
            guard let v = present(key) else { return false }
            if let s = v as? String { return !s.isEmpty }
            if let n = v as? NSNumber { return Self.isBool(n) ? n.boolValue : true }
            return true
        }
    }

    /// `data:image/png;base64,…` → the base64 part (the search page sends data URLs).
    static func stripDataURL(_ s: String) -> String {
        guard s.hasPrefix("data:"), let comma = s.firstIndex(of: ",") else { return s }
        return String(s[s.index(after: comma)...])
    }

    /// JSONSerialization gives booleans as NSNumber too; true and 1 must not be taken for each other.
    static func isBool(_ n: NSNumber) -> Bool {
        #if canImport(Darwin)
        return CFGetTypeID(n) == CFBooleanGetTypeID()
        #else
        return String(cString: n.objCType) == "c" || type(of: n) == type(of: NSNumber(value: true))
        #endif
    }
}
