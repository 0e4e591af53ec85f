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
/// MedR, MeanR, `avg_best_cosine`, `n_images`, `n_texts`) plus MRR and nDCG@10.
/// Recalls are percentages (0–100).
public struct RetrievalMetrics: Codable, Equatable, Sendable {
    public var ks: [Int]
    public var i2tRecall: [Int: Double]
    public var t2iRecall: [Int: Double]
    public var i2tMedianRank: Double
    public var t2iMedianRank: Double
    public var i2tMeanRank: Double
    public var t2iMeanRank: Double
    public var i2tMRR: Double
    public var t2iMRR: Double
    public var i2tNDCG10: Double
    public var t2iNDCG10: Double
    public var avgBestCosine: Double
    public var nImages: Int
    public var nTexts: Int

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        for k in ks {
            try c.encode(i2tRecall[k] ?? 0, forKey: Key("i2t_R@\(k)"))
        }
        for k in ks {
            try c.encode(t2iRecall[k] ?? 0, forKey: Key("t2i_R@\(k)"))
        }
        try c.encode(i2tMedianRank, forKey: Key("i2t_MedR"))
        try c.encode(t2iMedianRank, forKey: Key("t2i_MedR"))
        try c.encode(i2tMeanRank, forKey: Key("i2t_MeanR"))
        try c.encode(t2iMeanRank, forKey: Key("t2i_MeanR"))
        try c.encode(i2tMRR, forKey: Key("i2t_MRR"))
        try c.encode(t2iMRR, forKey: Key("t2i_MRR"))
        try c.encode(i2tNDCG10, forKey: Key("i2t_nDCG@10"))
        try c.encode(t2iNDCG10, forKey: Key("t2i_nDCG@10"))
        try c.encode(avgBestCosine, forKey: Key("avg_best_cosine"))
        try c.encode(nImages, forKey: Key("n_images"))
        try c.encode(nTexts, forKey: Key("n_texts"))
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        var ks: [Int] = [], i2t: [Int: Double] = [:], t2i: [Int: Double] = [:]
        for key in c.allKeys {
            if key.stringValue.hasPrefix("i2t_R@"), let k = Int(key.stringValue.dropFirst(6)) {
                ks.append(k); i2t[k] = try c.decode(Double.self, forKey: key)
            } else if key.stringValue.hasPrefix("t2i_R@"), let k = Int(key.stringValue.dropFirst(6)) {
                t2i[k] = try c.decode(Double.self, forKey: key)
            }
        }
        self.ks = ks.sorted()
        i2tRecall = i2t
        t2iRecall = t2i
        i2tMedianRank = try c.decode(Double.self, forKey: Key("i2t_MedR"))
        t2iMedianRank = try c.decode(Double.self, forKey: Key("t2i_MedR"))
        i2tMeanRank = try c.decode(Double.self, forKey: Key("i2t_MeanR"))
        t2iMeanRank = try c.decode(Double.self, forKey: Key("t2i_MeanR"))
        i2tMRR = try c.decode(Double.self, forKey: Key("i2t_MRR"))
        t2iMRR = try c.decode(Double.self, forKey: Key("t2i_MRR"))
        i2tNDCG10 = try c.decode(Double.self, forKey: Key("i2t_nDCG@10"))
        t2iNDCG10 = try c.decode(Double.self, forKey: Key("t2i_nDCG@10"))
        avgBestCosine = try c.decode(Double.self, forKey: Key("avg_best_cosine"))
        nImages = try c.decode(Int.self, forKey: Key("n_images"))
        nTexts = try c.decode(Int.self, forKey: Key("n_texts"))
    }

    init(ranks: RetrievalRanks, ks: [Int]) {
        self.ks = ks
        func recall(_ r: [Int]) -> [Int: Double] {
            Dictionary(uniqueKeysWithValues: ks.map { k in (k, r.isEmpty ? 0 : 100 * Double(r.filter { $0 <= k }.count) / Double(r.count)) })
        }
        func median(_ r: [Int]) -> Double {
            guard !r.isEmpty else { return 0 }
            let s = r.sorted()
            return s.count % 2 == 1 ? Double(s[s.count / 2]) : Double(s[s.count / 2 - 1] + s[s.count / 2]) / 2
        }
        func mean(_ xs: [Double]) -> Double { xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count) }
        i2tRecall = recall(ranks.imageToText)
        t2iRecall = recall(ranks.textToImage)
        i2tMedianRank = median(ranks.imageToText)
        t2iMedianRank = median(ranks.textToImage)
        i2tMeanRank = mean(ranks.imageToText.map(Double.init))
        t2iMeanRank = mean(ranks.textToImage.map(Double.init))
        i2tMRR = mean(ranks.imageToText.map { 1 / Double($0) })
        t2iMRR = mean(ranks.textToImage.map { 1 / Double($0) })
        t2iNDCG10 = mean(ranks.textToImage.map { $0 <= 10 ? 1 / log2(1 + Double($0)) : 0 })
        i2tNDCG10 = mean(ranks.imageCaptionPositions.map { positions in
            guard !positions.isEmpty else { return 0 }
            let dcg = positions.filter { $0 <= 10 }.reduce(0.0) { $0 + 1 / log2(1 + Double($1)) }
            let ideal = (1...min(positions.count, 10)).reduce(0.0) { $0 + 1 / log2(1 + Double($1)) }
            return dcg / ideal
        })
        avgBestCosine = mean(ranks.bestCosine.map(Double.init))
        nImages = ranks.imageToText.count
        nTexts = ranks.textToImage.count
    }

    /// JSON text (sorted keys, pretty-printed).
    public func json() throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try enc.encode(self), as: UTF8.self)
    }
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

/// One direction's ranking metrics (recalls in percent), for re-ranking reports.
public struct RankingMetrics: Codable, Equatable, Sendable {
    public var recall: [String: Double]
    public var mrr: Double
    public var ndcg10: Double
    public var medianRank: Double
    public var meanRank: Double
    public var count: Int

    enum CodingKeys: String, CodingKey {
        case recall, mrr = "MRR", ndcg10 = "nDCG@10", medianRank = "MedR", meanRank = "MeanR", count = "n"
    }

    /// Metrics of 1-based ranks (one relevant item per query).
    public init(ranks: [Int], ks: [Int] = RetrievalEvaluator.defaultKs) {
        let n = Double(max(ranks.count, 1))
        recall = Dictionary(uniqueKeysWithValues: ks.map { k in ("R@\(k)", 100 * Double(ranks.filter { $0 <= k }.count) / n) })
        mrr = ranks.reduce(0.0) { $0 + 1 / Double($1) } / n
        ndcg10 = ranks.reduce(0.0) { $0 + ($1 <= 10 ? 1 / log2(1 + Double($1)) : 0) } / n
        let s = ranks.sorted()
        medianRank = s.isEmpty ? 0 : s.count % 2 == 1 ? Double(s[s.count / 2]) : Double(s[s.count / 2 - 1] + s[s.count / 2]) / 2
        meanRank = ranks.reduce(0.0) { $0 + Double($1) } / n
        count = ranks.count
    }
}
