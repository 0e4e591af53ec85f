// The check run: every verb of the Swift API on a fixture model, each result compared with
// transformers' reference values (Expected) or with a direct computation in Float64.
//
//   encode   ImageTextPipeline: texts and image files → L2-normalised embeddings
//   loss     clipContrastiveLoss / sigmoidLoss with their gradients (autograd)
//   search   ExactSearch (GEMM tiles) and a FAISS VectorIndex: the same ranking
//   mine     HardNegativeMiner over the exact gallery and over the index
//   rerank   ELIPMapper + ELIPObjective.guidedScores (one query), ELIPReranker.evaluate (a dataset)

import Foundation
import ClipCore

/// Embeddings are compared with transformers' within this (docs: fp32 embeddings max |diff| ≤ 1e-4).
let tolerance: Float = 1e-4

func checkFixture(expectedPath: String, fixtures: String, checks c: inout Checks) throws {
    let e = try Expected(path: expectedPath)
    let folder = fixtures + "/" + e.model
    let mapperPath = URL(fileURLWithPath: expectedPath).deletingLastPathComponent().appendingPathComponent("mapper.safetensors").path
    print("== \(e.model) (\(expectedPath))")

    // MARK: encode
    let pipeline = try ImageTextPipeline(directory: folder)
    let d = pipeline.model.embeddingDim
    c.expect(d == e.dim, "\(pipeline.family.name) model loaded, embedding dim \(d)", detail: "expected \(e.dim)")
    let texts = try pipeline.encode(texts: e.texts)                           // [texts, d]
    let imageFiles = e.images.map { folder + "/" + $0 }
    let decoded = try imageFiles.map { try RGBImage(contentsOfFile: $0) }
    let images = try pipeline.encode(images: decoded)                         // [images, d]
    c.expect(texts.shape == [e.texts.count, d] && images.shape == [e.images.count, d],
             "embedding shapes \(texts.shape) and \(images.shape)")
    let t = texts.toArray(), im = images.toArray()
    c.expectClose(t, e.textEmbeds, tolerance: tolerance, "text embeddings match transformers")
    c.expectClose(im, e.imageEmbeds, tolerance: tolerance, "image embeddings match transformers")
    let norms = (0..<e.texts.count).map { Float(dot(row(t, $0, d), row(t, $0, d)).squareRoot()) }
    c.expectClose(norms, [Float](repeating: 1, count: norms.count), tolerance: 1e-5, "text embeddings are unit vectors")

    // MARK: loss
    try checkLosses(texts: texts, images: images, checks: &c)

    // MARK: search
    let nt = e.texts.count, ni = e.images.count
    let exact = ExactSearch.topK(queries: texts, gallery: images, k: ni)
    let index = try VectorIndex.flat(dimension: d)                            // inner product
    try index.add(images)
    let viaIndex = try index.search(texts, k: ni)
    c.expect(index.count == ni && viaIndex.count == nt && exact.count == nt, "a flat index holds \(index.count) images, \(nt) queries answered")
    func rankingHolds(_ r: SearchResult) -> Bool {
        (0..<nt).allSatisfy { q in
            let ids = r.ids(of: q).map(Int.init)
            guard Set(ids) == Set(0..<ni) else { return false }
            let direct = ids.map { dot(row(t, q, d), row(im, $0, d)) }
            let reported = (0..<ni).map { Double(r.scores[q, $0]) }
            return zip(direct, reported).allSatisfy { abs($0 - $1) <= Double(tolerance) }
                && zip(direct, direct.dropFirst()).allSatisfy { $0 >= $1 - 1e-6 }
        }
    }
    c.expect(rankingHolds(exact), "ExactSearch: every image once per query, best first, scores are inner products")
    c.expect(rankingHolds(viaIndex), "VectorIndex.flat: every image once per query, best first, scores are inner products")
    // The same ranking from both, up to ties: the image at each rank scores the same.
    let agree = (0..<nt).allSatisfy { q in
        zip(exact.ids(of: q), viaIndex.ids(of: q)).allSatisfy {
            abs(dot(row(t, q, d), row(im, Int($0), d)) - dot(row(t, q, d), row(im, Int($1), d))) <= 1e-5
        }
    }
    c.expect(agree, "ExactSearch and the FAISS index rank alike")

    // MARK: mine
    let imageOfText = (0..<nt).map { $0 % ni }                                // caption t shows image t mod n
    let miner = try HardNegativeMiner(imageOfText: imageOfText, imageCount: ni)
    let k = ni - 1
    let minedExact = try miner.mine(texts: texts, over: .exact(images), k: k)
    let minedIndex = try miner.mine(texts: texts, over: .index(index, batchSize: 2), k: k)
    let minedOK = (0..<nt).allSatisfy { q in
        let ids = minedExact.of(q).map(Int.init)
        let scores = ids.map { dot(row(t, q, d), row(im, $0, d)) }
        return Set(ids) == Set(0..<ni).subtracting([imageOfText[q]])
            && zip(scores, scores.dropFirst()).allSatisfy { $0 >= $1 - 1e-6 }
            && zip(ids, minedIndex.of(q)).allSatisfy { abs(dot(row(t, q, d), row(im, $0, d)) - dot(row(t, q, d), row(im, Int($1), d))) <= 1e-5 }
    }
    c.expect(minedOK, "HardNegativeMiner: each caption's \(k) hardest images, its own left out, the same from the index")

    // MARK: rerank, one query
    let mapper = try ELIPMapper.load(path: mapperPath)
    guard mapper.textDim == d, mapper.visionDim == pipeline.model.visionWidth else {
        throw ClipError(.shape, "\(mapperPath): mapper maps \(mapper.textDim) → \(mapper.promptTokens) × \(mapper.visionDim), "
                        + "the model needs \(d) → m × \(pipeline.model.visionWidth)")
    }
    let query = try pipeline.encode(texts: [e.query])                         // [1, d]
    let scores = try ELIPObjective.guidedScores(model: pipeline.model, mapper: mapper, query: query,
                                                candidates: try pipeline.processor.batch(decoded))
    c.expectClose(scores, e.rerankScores, tolerance: tolerance, "ELIP guided scores of \"\(e.query)\" match transformers")
    let order = rerankOrder(scores)
    c.expect(Set(order) == Set(0..<ni) && zip(order, order.dropFirst()).allSatisfy { scores[$0] >= scores[$1] },
             "rerankOrder sorts the candidates best first: \(order)")

    // MARK: rerank, a dataset
    // The fixture's mapper (3 prompt tokens) barely moves these images. A mapper with many prompt
    // tokens, seeded, weighs the query's prompts more than the image's patches and re-orders some
    // images, so the evaluation below can tell re-ranked ranks from base ranks.
    let strong = ParameterInitialization.seeded(7) {
        ELIPMapper(textDim: d, hidden: 64, promptTokens: 64, visionDim: pipeline.model.visionWidth)
    }
    try checkRerankEvaluation(pipeline: pipeline, mapper: strong, captions: e.texts + [e.query],
                              imageFiles: imageFiles, checks: &c)
}

/// InfoNCE and the sigmoid loss on `[n, n]` logits of the first n pairs, values and gradients with
/// respect to both embeddings, against the formulas evaluated in Float64.
private func checkLosses(texts: Tensor, images: Tensor, checks c: inout Checks) throws {
    let n = min(texts.shape[0], images.shape[0]), d = texts.shape[1]
    let tRows = texts.narrowed(0, start: 0, length: n).contiguous(), iRows = images.narrowed(0, start: 0, length: n).contiguous()
    let t = tRows.toArray(), im = iRows.toArray()
    let scale: Float = 10, bias: Float = -2
    var logits = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
    for a in 0..<n { for b in 0..<n { logits[a][b] = Double(scale) * dot(row(t, a, d), row(im, b, d)) } }

    for kind in ["InfoNCE", "sigmoid"] {
        let tv = Variable(tRows, requiresGrad: true), iv = Variable(iRows, requiresGrad: true)
        let z = tv.matmul(iv.transposed()) * scale                           // [n texts, n images]
        let loss = kind == "InfoNCE" ? clipContrastiveLoss(z) : sigmoidLoss(z + bias)
        loss.backward()
        // dL/dlogits, then the chain rule through logits = scale · t · iᵀ.
        var value = 0.0
        var g = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        if kind == "InfoNCE" {
            for a in 0..<n {       // rows: text → image; columns: image → text
                let rowMax = logits[a].max()!, colMax = (0..<n).map { logits[$0][a] }.max()!
                let rowSum = logits[a].reduce(0) { $0 + exp($1 - rowMax) }
                let colSum = (0..<n).reduce(0) { $0 + exp(logits[$1][a] - colMax) }
                value += (rowMax + log(rowSum) - logits[a][a] + colMax + log(colSum) - logits[a][a]) / Double(2 * n)
                for b in 0..<n {
                    g[a][b] += (exp(logits[a][b] - rowMax) / rowSum - (a == b ? 1 : 0)) / Double(2 * n)
                    g[b][a] += (exp(logits[b][a] - colMax) / colSum - (a == b ? 1 : 0)) / Double(2 * n)
                }
            }
        } else {
            for a in 0..<n {
                for b in 0..<n {
                    let sign: Double = a == b ? 1 : -1, x = sign * (logits[a][b] + Double(bias))
                    value += -(min(x, 0) - log1p(exp(-abs(x)))) / Double(n)       // −log σ(x) / n
                    g[a][b] = -sign / (1 + exp(x)) / Double(n)
                }
            }
        }
        var gradT = [Float](repeating: 0, count: n * d), gradI = [Float](repeating: 0, count: n * d)
        for a in 0..<n {
            for b in 0..<n {
                for j in 0..<d {
                    gradT[a * d + j] += Float(Double(scale) * g[a][b] * Double(im[b * d + j]))
                    gradI[b * d + j] += Float(Double(scale) * g[a][b] * Double(t[a * d + j]))
                }
            }
        }
        c.expect(abs(Double(loss.value.item) - value) <= 1e-4 * max(1, abs(value)),
                 String(format: "%@ loss over %d pairs: %.6f, direct %.6f", kind, n, loss.value.item, value))
        c.expectClose(tv.grad?.toArray() ?? [], gradT, tolerance: 1e-4, "\(kind) gradient with respect to the text embeddings")
        c.expectClose(iv.grad?.toArray() ?? [], gradI, tolerance: 1e-4, "\(kind) gradient with respect to the image embeddings")
    }
}

/// Two-stage retrieval over a dataset (a JSONL manifest of the fixture's images, their mirror images
/// and the captions): `ELIPReranker.evaluate` against ranks computed here from the base embeddings and
/// from guided scores. Each caption's own image is the one whose base and guided ranks differ most, so
/// that a re-ranking that changed nothing would not pass.
private func checkRerankEvaluation(pipeline: ImageTextPipeline, mapper: ELIPMapper, captions: [String],
                                   imageFiles: [String], checks c: inout Checks) throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clipcore-swift-example-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    var files = imageFiles.map { URL(fileURLWithPath: $0).standardizedFileURL.path }   // the manifest lives elsewhere
    for (i, path) in imageFiles.enumerated() {
        let image = try RGBImage(contentsOfFile: path)
        let (w, h) = (image.width, image.height)
        var mirrored = [UInt8](repeating: 0, count: image.pixels.count)
        for y in 0..<h { for x in 0..<w { for ch in 0..<3 { mirrored[(y * w + x) * 3 + ch] = image.pixels[(y * w + w - 1 - x) * 3 + ch] } } }
        let file = dir.appendingPathComponent("mirror\(i).png").path
        try RGBImage(width: w, height: h, pixels: mirrored).writePNG(to: file)
        files.append(file)
    }
    let n = files.count
    let decoded = try files.map { try RGBImage(contentsOfFile: $0) }
    let pixels = try pipeline.processor.batch(decoded)                                                    // [n, 3, S, S]
    let images = try pipeline.encode(images: decoded)                                                     // [n, d]
    /// 1 + the number of images scoring above image i.
    func rank(_ i: Int, _ scores: [Float]) -> Int { 1 + scores.filter { $0 > scores[i] }.count }
    func ranks(_ texts: Tensor) throws -> (base: [[Int]], guided: [[Int]]) {
        let base = texts.matmul(images.transposed())                                                      // [texts, n]
        var b: [[Int]] = [], g: [[Int]] = []
        for q in 0..<texts.shape[0] {
            let s = (0..<n).map { base[q, $0] }
            let guided = try ELIPObjective.guidedScores(model: pipeline.model, mapper: mapper,
                                                        query: texts.narrowed(0, start: q, length: 1), candidates: pixels)
            b.append((0..<n).map { rank($0, s) })
            g.append((0..<n).map { rank($0, guided) })
        }
        return (b, g)
    }
    let chosen = try ranks(try pipeline.encode(texts: captions))
    let own = captions.indices.map { q in
        let moved = (0..<n).map { abs(chosen.base[q][$0] - chosen.guided[q][$0]) }
        return moved.firstIndex(of: moved.max()!)!
    }

    let manifest = dir.appendingPathComponent("pairs.jsonl").path
    let lines = try (0..<n).map { i -> String in
        let mine = captions.indices.filter { own[$0] == i }.map { captions[$0] }
        let record: [String: Any] = ["image": files[i], "captions": mine.isEmpty ? [captions[0]] : mine]   // none may be empty
        return String(decoding: try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]), as: UTF8.self)
    }
    try (lines.joined(separator: "\n") + "\n").write(toFile: manifest, atomically: true, encoding: .utf8)
    let dataset = try ImageTextDataset(path: manifest)
    let pairs = dataset.pairs
    let report = try ELIPReranker.evaluate(pipeline: pipeline, mapper: mapper, dataset: dataset, k: n, ks: [1])

    // k = n: every image is a candidate, so the re-ranked rank is the rank by guided score.
    let r = try ranks(try pipeline.encode(texts: pairs.map(\.caption)))
    let baseRanks = pairs.indices.map { r.base[$0][pairs[$0].image] }
    let guidedRanks = pairs.indices.map { r.guided[$0][pairs[$0].image] }
    func mrr(_ ranks: [Int]) -> Double { ranks.reduce(0) { $0 + 1 / Double($1) } / Double(ranks.count) }
    func r1(_ ranks: [Int]) -> Double { 100 * Double(ranks.filter { $0 == 1 }.count) / Double(ranks.count) }
    c.expect(report.k == n && report.base.count == pairs.count && report.rerank.count == pairs.count,
             "ELIPReranker.evaluate: \(pairs.count) captions, depth \(report.k)")
    c.expect(baseRanks != guidedRanks, "the dataset has captions whose image re-ranking moves: base ranks \(baseRanks), guided \(guidedRanks)")
    c.expect(abs(report.base.mrr - mrr(baseRanks)) < 1e-9 && report.base.recall[1] == r1(baseRanks),
             String(format: "base MRR %.4f and R@1 %.2f as ranked here", report.base.mrr, report.base.recall[1] ?? -1),
             detail: "ranks \(baseRanks)")
    c.expect(abs(report.rerank.mrr - mrr(guidedRanks)) < 1e-9 && report.rerank.recall[1] == r1(guidedRanks),
             String(format: "re-ranked MRR %.4f and R@1 %.2f as ranked here by guided scores", report.rerank.mrr, report.rerank.recall[1] ?? -1),
             detail: "ranks \(guidedRanks)")
    print(report.table)
}
