// The scikit-learn reference of Tests/Fixtures/tsne (Tools/gen_fixtures.py tsne): two point sets,
// scikit-learn's t-SNE maps of them with their trustworthiness, and PCA of a tall and a wide matrix.

import Foundation
import Tensor
import TestSupport

struct EmbeddingFixture {
    let tensors: [String: Tensor]
    /// The summary JSON: "scores" (per map: trustworthiness, trustworthiness_10), "pca", "sklearn_seconds".
    let summary: [String: Any]

    static let shared: Result<EmbeddingFixture, Error> = Result { try EmbeddingFixture() }

    private init() throws {
        let file = try Fixtures.expected("tsne")
        tensors = try file.tensors()
        let json = file.metadata["summary"] ?? "{}"
        summary = (try JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] ?? [:]
    }

    static func load() throws -> EmbeddingFixture { try shared.get() }

    func tensor(_ name: String) throws -> Tensor {
        guard let t = tensors[name] else { throw FixtureMissing(name: name) }
        return t
    }

    /// scikit-learn's trustworthiness of its map `name` ("small_exact", "small_bh", "large_bh").
    func score(_ name: String, _ key: String = "trustworthiness") -> Double? {
        ((summary["scores"] as? [String: Any])?[name] as? [String: Any])?[key] as? Double
    }

    func pca(_ name: String, _ key: String) -> [Double] {
        ((summary["pca"] as? [String: Any])?[name] as? [String: Any])?[key] as? [Double] ?? []
    }
}

struct FixtureMissing: Error { let name: String }
