// Embedding stores: safetensors files of embeddings with ids, and their caption–image pairing.

import Testing
import Foundation
import Tensor
import TestSupport
import Pipelines

/// `n` random L2-normalised rows of width `d`.
private func randomRows(_ n: Int, _ d: Int, seed: UInt64) -> Tensor {
    var g = RandomGenerator(seed: seed)
    return Tensor.randn([n, d], generator: &g).l2Normalized()
}

@Suite struct StoreTests {
    @Test func storesRoundTripAndPair() throws {
        let emb = randomRows(6, 8, seed: 1)
        let texts = try EmbeddingStore(embeddings: emb, ids: [10, 11, 12, 13, 14, 15], imageIds: [7, 7, 9, 9, 8, 8],
                                       metadata: ["kind": "text"])
        let scratch = try ScratchFolder("store")
        defer { scratch.remove() }
        let path = scratch.path + "/texts.safetensors"
        try texts.save(to: path)
        let back = try EmbeddingStore.load(path: path)
        #expect(back.ids == texts.ids && back.imageIds! == texts.imageIds! && back.metadata["kind"] == "text")
        #expect(back.embeddings.toArray() == emb.toArray())
        let images = try EmbeddingStore(embeddings: randomRows(3, 8, seed: 2), ids: [7, 8, 9])
        #expect(try EmbeddingStore.pairing(texts: back, images: images) == [0, 0, 2, 2, 1, 1])
        let orphan = try EmbeddingStore(embeddings: emb, imageIds: [1, 2, 3, 4, 5, 6])
        #expect(ClipError.kind { try EmbeddingStore.pairing(texts: orphan, images: images) } == .invalidArgument)
        #expect(ClipError.kind { try EmbeddingStore(embeddings: emb, ids: [1]) } == .shape)
        #expect(ClipError.kind { try EmbeddingStore.load(path: "/nonexistent.safetensors") } == .io)
    }
}
