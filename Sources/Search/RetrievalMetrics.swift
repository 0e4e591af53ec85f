// Retrieval metrics for image–text matching, COCO-aware (several captions per image).
//
// Ranks (1 = best) use optimistic ties: an item's rank is 1 + the number of
// non-relevant items scoring strictly higher.
// - text→image: each caption against every image; relevant: its own image.
// - image→text: each image against every caption; relevant: all of its
//   captions; the rank is that of its best-scoring caption.
// Recall@K is the share of queries with rank ≤ K; MRR the mean of 1/rank;
// MedR the median rank (the mean of the two middle ranks for an even count);
// MeanR the mean rank. nDCG@10 uses binary relevance: text→image
// 1/log2(1 + rank) when rank ≤ 10; image→text sums 1/log2(1 + position) over
// the image's captions in the top 10 (position = 1 + captions scoring higher,
// relevant or not) divided by the ideal sum for min(captions, 10).
// avg_best_cosine is the mean over images of the highest similarity to any caption.

import Foundation
import Tensor

/// Retrieval metrics in the JSON layout of `test_metric.json` (`i2t_R@K`, `t2i_R@K`,
/// MedR, MeanR, `avg_best_cosine`, `n_images`, `n_texts`) plus MRR and nDCG@10: one
/// `RankingMetrics` per direction. Recalls are percentages (0–100).
public struct RetrievalMetrics: Codable, Equatable, Sendable {
    /// Each image's best caption (nDCG@10 counts all of its captions); `count` is the number of images.
    public var imageToText: RankingMetrics
    /// Each caption's image; `count` is the number of captions.
    public var textToImage: RankingMetrics
    public var avgBestCosine: Double

    /// The recall cut-offs, ascending.
    public var ks: [Int] { imageToText.ks }
    public var nImages: Int { imageToText.count }
    public var nTexts: Int { textToImage.count }

    public init(imageToText: RankingMetrics, textToImage: RankingMetrics, avgBestCosine: Double) {
        self.imageToText = imageToText
        self.textToImage = textToImage
        self.avgBestCosine = avgBestCosine
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: MetricKey.self)
        let directions = [("i2t", imageToText), ("t2i", textToImage)]
        for (prefix, m) in directions {
            for k in m.ks { try c.encode(m.recall[k]!, forKey: MetricKey(prefix + "_" + RankingMetrics.recallKey(k))) }
        }
        let fields: [(String, KeyPath<RankingMetrics, Double>)] = [("MedR", \.medianRank), ("MeanR", \.meanRank),
                                                                   ("MRR", \.mrr), ("nDCG@10", \.ndcg10)]
        for (name, value) in fields {
            for (prefix, m) in directions { try c.encode(m[keyPath: value], forKey: MetricKey(prefix + "_" + name)) }
        }
        try c.encode(avgBestCosine, forKey: MetricKey("avg_best_cosine"))
        try c.encode(nImages, forKey: MetricKey("n_images"))
        try c.encode(nTexts, forKey: MetricKey("n_texts"))
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: MetricKey.self)
        func direction(_ prefix: String, count: String) throws -> RankingMetrics {
            var recall: [Int: Double] = [:]
            for key in c.allKeys {
                if let k = RankingMetrics.recallK(key.stringValue, prefix: prefix + "_") {
                    recall[k] = try c.decode(Double.self, forKey: key)
                }
            }
            func value(_ name: String) throws -> Double { try c.decode(Double.self, forKey: MetricKey(prefix + "_" + name)) }
            return RankingMetrics(recall: recall, mrr: try value("MRR"), ndcg10: try value("nDCG@10"),
                                  medianRank: try value("MedR"), meanRank: try value("MeanR"),
                                  count: try c.decode(Int.self, forKey: MetricKey(count)))
        }
        imageToText = try direction("i2t", count: "n_images")
        textToImage = try direction("t2i", count: "n_texts")
        avgBestCosine = try c.decode(Double.self, forKey: MetricKey("avg_best_cosine"))
    }

    init(ranks: RetrievalRanks, ks: [Int]) {
        textToImage = RankingMetrics(ranks: ranks.textToImage, ks: ks)
        imageToText = RankingMetrics(ranks: ranks.imageToText, ks: ks)
        imageToText.ndcg10 = RankingMetrics.mean(ranks.imageCaptionPositions.map { positions in
            guard !positions.isEmpty else { return 0 }
            let dcg = positions.filter { $0 <= 10 }.reduce(0.0) { $0 + 1 / log2(1 + Double($1)) }
            let ideal = (1...min(positions.count, 10)).reduce(0.0) { $0 + 1 / log2(1 + Double($1)) }
            return dcg / ideal
        })
        avgBestCosine = RankingMetrics.mean(ranks.bestCosine.map(Double.init))
    }

    /// JSON text (sorted keys, pretty-printed).
    public func json() throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try enc.encode(self), as: UTF8.self)
    }
}

/// A JSON key spelled at run time ("t2i_R@5").
struct MetricKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Per-query ranks, the raw material of `RetrievalMetrics`.
public struct RetrievalRanks: Sendable {
    /// For each caption, the rank of its image.
    public var textToImage: [Int]
    /// For each image with captions, the rank of its best caption (images without captions are left out).
    public var imageToText: [Int]
    /// For each image with captions, the positions of all its captions in its ranking of texts.
    public var imageCaptionPositions: [[Int]]
    /// For each image with captions, its highest similarity to any caption.
    public var bestCosine: [Float]
}

/// Computes ranks and metrics from a similarity matrix or from embeddings, in bounded blocks.
public enum RetrievalEvaluator {
    public static let defaultKs = [1, 5, 10, 50]

    /// Metrics from `similarity` `[texts, images]`; caption `t` belongs to image `imageOfText[t]`.
    public static func metrics(similarity: Tensor, imageOfText: [Int], ks: [Int] = defaultKs) throws -> RetrievalMetrics {
        RetrievalMetrics(ranks: try ranks(similarity: similarity, imageOfText: imageOfText), ks: ks)
    }

    /// Metrics from embeddings `[texts, d]` and `[images, d]` (cosine when normalised), computed tile by
    /// tile (`block × block` similarities at a time), never holding the full matrix.
    public static func metrics(texts: Tensor, images: Tensor, imageOfText: [Int], ks: [Int] = defaultKs,
                               block: Int = 2048) throws -> RetrievalMetrics {
        RetrievalMetrics(ranks: try ranks(texts: texts, images: images, imageOfText: imageOfText, block: block), ks: ks)
    }

    public static func ranks(similarity s: Tensor, imageOfText: [Int]) throws -> RetrievalRanks {
        guard s.rank == 2 else { throw ClipError(.shape, "metrics: similarity must be [texts, images], got \(s.shape)") }
        let positives = try positiveScores(imageOfText, texts: s.shape[0], images: s.shape[1]) { t, i in s[t, i] }
        var acc = Accumulator(imageOfText: imageOfText, images: s.shape[1], positives: positives)
        acc.add(tile: s.contiguous(), textStart: 0, imageStart: 0)
        return acc.finish()
    }

    public static func ranks(texts: Tensor, images: Tensor, imageOfText: [Int], block: Int = 2048) throws -> RetrievalRanks {
        guard texts.rank == 2, images.rank == 2, texts.shape[1] == images.shape[1] else {
            throw ClipError(.shape, "metrics: embeddings must be [texts, d] and [images, d], got \(texts.shape) and \(images.shape)")
        }
        let t = texts.contiguous(), im = images.contiguous()
        let d = t.shape[1]
        let positives = try positiveScores(imageOfText, texts: t.shape[0], images: im.shape[0]) { a, b in
            var s: Float = 0
            for j in 0..<d { s += t.data[a * d + j] * im.data[b * d + j] }
            return s
        }
        var acc = Accumulator(imageOfText: imageOfText, images: im.shape[0], positives: positives)
        let b = max(block, 1)
        for ts in stride(from: 0, to: t.shape[0], by: b) {
            let tb = t.narrowed(0, start: ts, length: min(b, t.shape[0] - ts))
            for ist in stride(from: 0, to: im.shape[0], by: b) {
                let ib = im.narrowed(0, start: ist, length: min(b, im.shape[0] - ist))
                acc.add(tile: tb.matmul(ib.transposed()), textStart: ts, imageStart: ist)
            }
        }
        return acc.finish()
    }

    private static func positiveScores(_ imageOfText: [Int], texts: Int, images: Int,
                                       _ score: (Int, Int) -> Float) throws -> [Float] {
        guard imageOfText.count == texts else {
            throw ClipError(.shape, "metrics: \(imageOfText.count) caption→image entries for \(texts) texts")
        }
        if let bad = imageOfText.first(where: { $0 < 0 || $0 >= images }) {
            throw ClipError(.invalidArgument, "metrics: caption→image entry \(bad) is outside 0..<\(images)")
        }
        return imageOfText.enumerated().map { score($0.offset, $0.element) }
    }

    /// Counts, tile by tile, how many items outscore each relevant one.
    struct Accumulator {
        let imageOfText: [Int]
        let positives: [Float]
        let captions: [[Int]]           // captions of each image
        let bestOwn: [Float]            // best own-caption score of each image
        var textAbove: [Int32]          // per caption: images above its own image
        var imageAbove: [Int32]         // per image: non-relevant captions above its best caption
        var captionAbove: [[Int32]]     // per image, per caption: captions above it
        var best: [Float]

        init(imageOfText: [Int], images: Int, positives: [Float]) {
            self.imageOfText = imageOfText
            self.positives = positives
            var caps = [[Int]](repeating: [], count: images)
            for (t, i) in imageOfText.enumerated() { caps[i].append(t) }
            captions = caps
            bestOwn = caps.map { $0.map { positives[$0] }.max() ?? .infinity }
            textAbove = [Int32](repeating: 0, count: imageOfText.count)
            imageAbove = [Int32](repeating: 0, count: images)
            captionAbove = caps.map { [Int32](repeating: 0, count: $0.count) }
            best = [Float](repeating: -.infinity, count: images)
        }

        /// `tile[r, c]` is the similarity of caption `textStart + r` and image `imageStart + c`.
        mutating func add(tile: Tensor, textStart: Int, imageStart: Int) {
            let (rows, cols) = (tile.shape[0], tile.shape[1])
            let p = tile.data
            let ownImage = imageOfText, pos = positives
            textAbove.withUnsafeMutableBufferPointer { above in
                let a = above.baseAddress!
                parallelFor(rows, costPerItem: cols) { range in
                    for r in range {
                        let t = textStart + r, own = ownImage[t] - imageStart, sp = pos[t]
                        var n: Int32 = 0
                        let row = p + r * cols
                        for c in 0..<cols where c != own && row[c] > sp { n += 1 }
                        a[t] += n
                    }
                }
            }
            let caps = captions, bestOwnScore = bestOwn
            imageAbove.withUnsafeMutableBufferPointer { imgAbove in
                best.withUnsafeMutableBufferPointer { bestBuf in
                    captionAbove.withUnsafeMutableBufferPointer { capAbove in
                        let ia = imgAbove.baseAddress!, bb = bestBuf.baseAddress!, ca = capAbove.baseAddress!
                        // Columns in chunks of 64, rows streamed in order, so the tile is read row-major.
                        let chunks = (cols + 63) / 64
                        parallelFor(chunks, costPerItem: rows * 128) { chunkRange in
                            for chunk in chunkRange {
                                let c0 = chunk * 64, c1 = min(c0 + 64, cols)
                                var n = [Int32](repeating: 0, count: c1 - c0)
                                var mx = (c0..<c1).map { bb[imageStart + $0] }
                                var perCaption = (c0..<c1).map { ca[imageStart + $0] }
                                for r in 0..<rows {
                                    let t = textStart + r, tImage = ownImage[t]
                                    let row = p + r * cols
                                    for c in c0..<c1 {
                                        let v = row[c], i = imageStart + c, k = c - c0
                                        if v > mx[k] { mx[k] = v }
                                        if v > bestOwnScore[i] && tImage != i { n[k] += 1 }
                                        let own = caps[i]
                                        for j in 0..<own.count where v > pos[own[j]] && own[j] != t { perCaption[k][j] += 1 }
                                    }
                                }
                                for c in c0..<c1 {
                                    let i = imageStart + c, k = c - c0
                                    ia[i] += n[k]
                                    bb[i] = mx[k]
                                    ca[i] = perCaption[k]
                                }
                            }
                        }
                    }
                }
            }
        }

        func finish() -> RetrievalRanks {
            let ranked = captions.indices.filter { !captions[$0].isEmpty }    // images without captions are not queries
            return RetrievalRanks(
                textToImage: textAbove.map { Int($0) + 1 },
                imageToText: ranked.map { Int(imageAbove[$0]) + 1 },
                imageCaptionPositions: ranked.map { captionAbove[$0].map { Int($0) + 1 } },
                bestCosine: ranked.map { best[$0] })
        }
    }
}

/// One direction's ranking metrics of 1-based ranks, one relevant item per query (recalls in percent).
/// JSON: `{"recall": {"R@1": …}, "MRR", "nDCG@10", "MedR", "MeanR", "n"}`.
public struct RankingMetrics: Codable, Equatable, Sendable {
    /// Recall@k by k.
    public var recall: [Int: Double]
    public var mrr: Double
    public var ndcg10: Double
    public var medianRank: Double
    public var meanRank: Double
    /// The number of queries.
    public var count: Int

    /// The recall cut-offs, ascending.
    public var ks: [Int] { recall.keys.sorted() }

    enum CodingKeys: String, CodingKey {
        case recall, mrr = "MRR", ndcg10 = "nDCG@10", medianRank = "MedR", meanRank = "MeanR", count = "n"
    }

    public init(recall: [Int: Double], mrr: Double, ndcg10: Double, medianRank: Double, meanRank: Double, count: Int) {
        (self.recall, self.mrr, self.ndcg10, self.medianRank, self.meanRank, self.count) = (recall, mrr, ndcg10, medianRank, meanRank, count)
    }

    /// Metrics of 1-based ranks (nDCG@10 with the one relevant item at its rank).
    public init(ranks: [Int], ks: [Int] = RetrievalEvaluator.defaultKs) {
        let n = Double(max(ranks.count, 1))
        recall = Dictionary(uniqueKeysWithValues: ks.map { k in (k, 100 * Double(ranks.filter { $0 <= k }.count) / n) })
        mrr = Self.mean(ranks.map { 1 / Double($0) })
        ndcg10 = Self.mean(ranks.map { $0 <= 10 ? 1 / log2(1 + Double($0)) : 0 })
        let s = ranks.sorted()
        medianRank = s.isEmpty ? 0 : s.count % 2 == 1 ? Double(s[s.count / 2]) : Double(s[s.count / 2 - 1] + s[s.count / 2]) / 2
        meanRank = Self.mean(ranks.map(Double.init))
        count = ranks.count
    }

    static func mean(_ xs: [Double]) -> Double { xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count) }

    /// "R@k", the JSON name of a recall.
    package static func recallKey(_ k: Int) -> String { "R@\(k)" }

    /// k of a key `prefix + "R@k"`, nil for any other key.
    static func recallK(_ key: String, prefix: String = "") -> Int? {
        let head = prefix + "R@"
        return key.hasPrefix(head) ? Int(key.dropFirst(head.count)) : nil
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        var r = c.nestedContainer(keyedBy: MetricKey.self, forKey: .recall)
        for k in ks { try r.encode(recall[k]!, forKey: MetricKey(Self.recallKey(k))) }
        try c.encode(mrr, forKey: .mrr)
        try c.encode(ndcg10, forKey: .ndcg10)
        try c.encode(medianRank, forKey: .medianRank)
        try c.encode(meanRank, forKey: .meanRank)
        try c.encode(count, forKey: .count)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let r = try c.nestedContainer(keyedBy: MetricKey.self, forKey: .recall)
        var recall: [Int: Double] = [:]
        for key in r.allKeys {
            guard let k = Self.recallK(key.stringValue) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: r, debugDescription: "not a recall key (R@k)")
            }
            recall[k] = try r.decode(Double.self, forKey: key)
        }
        self.init(recall: recall, mrr: try c.decode(Double.self, forKey: .mrr), ndcg10: try c.decode(Double.self, forKey: .ndcg10),
                  medianRank: try c.decode(Double.self, forKey: .medianRank), meanRank: try c.decode(Double.self, forKey: .meanRank),
                  count: try c.decode(Int.self, forKey: .count))
    }
}
