// The plain run: your model folder, your mapper, your images. Encode the images, index them,
// search with the query, re-rank the top k with ELIP, and print both rankings.

import Foundation
import ClipCore

func rerank(model: String, mapperPath: String, query text: String, imageFiles: [String], k: Int) throws {
    let pipeline = try ImageTextPipeline(directory: model)
    let mapper = try ELIPMapper.load(path: mapperPath)
    guard mapper.textDim == pipeline.model.embeddingDim, mapper.visionDim == pipeline.model.visionWidth else {
        throw ClipError(.shape, "\(mapperPath): mapper maps \(mapper.textDim) → \(mapper.promptTokens) × \(mapper.visionDim), "
                        + "the model needs \(pipeline.model.embeddingDim) → m × \(pipeline.model.visionWidth)")
    }
    let images = try imageFiles.map { try RGBImage(contentsOfFile: $0) }
    let gallery = try pipeline.encode(images: images)                     // [images, d], L2-normalised
    let index = try VectorIndex.flat(dimension: gallery.shape[1])          // inner product = cosine
    try index.add(gallery)

    let query = try pipeline.encode(texts: [text])                         // [1, d]
    let top = try index.search(query, k: min(k, images.count))
    let candidates = top.ids(of: 0).map(Int.init).filter { $0 >= 0 }
    let guided = try ELIPObjective.guidedScores(model: pipeline.model, mapper: mapper, query: query,
                                                candidates: try pipeline.processor.batch(candidates.map { images[$0] }))
    print("\(pipeline.family.name) model \(model), \(images.count) images, query \"\(text)\"")
    print("rank  base   cosine  ELIP score  image")
    for (rank, j) in rerankOrder(guided).enumerated() {
        print(String(format: "%4d  %4d  %7.4f  %10.4f  %@", rank + 1, j + 1, top.scores[0, j], guided[j], imageFiles[candidates[j]]))
    }
}
