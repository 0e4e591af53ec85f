// The reference values of a fixture: Tests/Fixtures/capi/<kind>/expected.txt, the file the C test
// reads too ("key value" lines, written by Tools/gen_fixtures.py from transformers' outputs).

import Foundation
import ClipCore

struct Expected {
    /// The model folder, relative to the fixtures folder ("clip/gelu_vocab").
    var model = ""
    var dim = 0
    var texts: [String] = []
    /// Image files, relative to the model folder.
    var images: [String] = []
    /// The query that `rerankScores` re-rank the images for.
    var query = ""
    /// `[texts, dim]` and `[images, dim]`, L2-normalised.
    var textEmbeds: [Float] = []
    var imageEmbeds: [Float] = []
    /// ELIP's guided score of each image for `query`.
    var rerankScores: [Float] = []

    init(path: String) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ClipError(.io, "\(path): cannot read")
        }
        for line in text.split(separator: "\n") {
            guard let space = line.firstIndex(of: " ") else { continue }
            let key = line[..<space], value = String(line[line.index(after: space)...])
            func floats() throws -> [Float] {
                try value.split(separator: " ").map {
                    guard let f = Float($0) else { throw ClipError(.format, "\(path): \(key): '\($0)' is not a number") }
                    return f
                }
            }
            switch key {
            case "model": model = value
            case "dim": dim = Int(value) ?? 0
            case "text": texts.append(value)
            case "image": images.append(value)
            case "query": query = value
            case "text_embeds": textEmbeds = try floats()
            case "image_embeds": imageEmbeds = try floats()
            case "rerank_scores": rerankScores = try floats()
            default: continue   // n_texts, n_images: implied by the lists
            }
        }
        guard dim > 0, !model.isEmpty, !texts.isEmpty, !images.isEmpty, !query.isEmpty,
              textEmbeds.count == texts.count * dim, imageEmbeds.count == images.count * dim,
              rerankScores.count == images.count else {
            throw ClipError(.format, "\(path): incomplete (model, dim, texts, images, query, embeddings and scores are needed)")
        }
    }
}
