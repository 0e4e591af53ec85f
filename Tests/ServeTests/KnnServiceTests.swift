// The service behind the routes, without HTTP: a hand-made shard folder, the tiny CLIP fixture, and
// /knn-service, /metadata and /indices-list bodies in and JSON out.

import Foundation
import Testing
import Models
import Pipelines
import Serve
import Tensor
import TestSupport

@Suite struct KnnServiceTests {
    /// Six unit rows in dimension 24 (the fixture's), rows 0 and 1 identical, captions "caption i", ids 100 + i;
    /// images are the fixture's two PNGs.
    func service(limits: ServeLimits = ServeLimits(), elip: Bool = false, textRows: Int? = nil) throws -> (KnnService, [[Float]]) {
        let folder = NSTemporaryDirectory() + "knn-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let d = 24
        var rows: [[Float]] = []
        for i in 0..<6 {
            var v = [Float](repeating: 0, count: d)
            v[i] = 1
            v[(i + 7) % d] = 0.5
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            rows.append(v.map { $0 / n })
        }
        rows[1] = rows[0]
        try NPY.write(Tensor(rows.flatMap { $0 }, shape: [6, d]), dtype: .float32, to: EmbeddingShards.embeddingsPath(folder, shard: 0, .image))
        let images = [Fixtures.path("clip/gelu_vocab/image0.png"), Fixtures.path("clip/gelu_vocab/image1.png")]
        let lines = (0..<6).map { EmbeddingShards.Record(id: Int64(100 + $0), key: "k\($0)", image: images[$0 % 2], captions: ["caption \($0)"]).jsonLine }
        try (lines.joined(separator: "\n") + "\n").write(toFile: EmbeddingShards.metadataPath(folder, shard: 0), atomically: true, encoding: .utf8)
        if let textRows {   // caption embeddings (one caption a record: 6 rows match)
            try NPY.write(Tensor(rows.prefix(textRows).flatMap { $0 }, shape: [textRows, d]), dtype: .float32,
                          to: EmbeddingShards.embeddingsPath(folder, shard: 0, .text))
        }
        let index = try ServedIndex(name: "tiny", folder: folder)
        let pipeline = try ImageTextPipeline(directory: Fixtures.path("clip/gelu_vocab"))
        let mapper = elip ? try ELIPMapper.load(path: Fixtures.path("capi/clip/mapper.safetensors")) : nil
        let engine = try QueryEngine(pipeline: pipeline, mapper: mapper)
        return (KnnService(indices: [index], engine: engine, limits: limits), rows)
    }

    func results(_ answer: KnnService.Answer) throws -> [[String: Any]] {
        try #require(JSONSerialization.jsonObject(with: Data(answer.json.utf8)) as? [[String: Any]])
    }

    func body(_ object: [String: Any]) throws -> [UInt8] { Array(try JSONSerialization.data(withJSONObject: object)) }

    @Test func embeddingQueryRanksByInnerProduct() async throws {
        let (s, rows) = try service()
        defer { s.batcher.stop() }
        let r = try results(try await s.knn(body: try body(["embedding_input": rows[3], "num_images": 6])))
        #expect(r.count == 6)
        #expect(r.first?["id"] as? Int == 103)
        #expect(abs((r.first?["similarity"] as? Double ?? 0) - 1) < 1e-5)
        #expect(r.first?["caption"] as? String == "caption 3")
        let sims = r.compactMap { $0["similarity"] as? Double }
        #expect(sims == sims.sorted(by: >))
        #expect(s.indicesListJSON == "[\"tiny\"]")
    }

    @Test func deduplicateDropsTheIdenticalRow() async throws {
        let (s, rows) = try service()
        defer { s.batcher.stop() }
        let all = try results(try await s.knn(body: try body(["embedding_input": rows[0], "num_images": 6])))
        let dedup = try results(try await s.knn(body: try body(["embedding_input": rows[0], "num_images": 6, "deduplicate": true])))
        let ids = Set(all.prefix(2).compactMap { $0["id"] as? Int })
        #expect(ids == [100, 101])
        #expect(dedup.count == 5)
        #expect(Set(dedup.compactMap { $0["id"] as? Int }).intersection([100, 101]).count == 1)
    }

    @Test func textAndImageQueriesGoThroughTheModel() async throws {
        let (s, _) = try service()
        defer { s.batcher.stop() }
        let t = try results(try await s.knn(body: try body(["text": "a photo", "num_images": 3])))
        #expect(t.count == 3)
        let png = try #require(FileManager.default.contents(atPath: Fixtures.path("clip/gelu_vocab/image0.png")))
        let i = try results(try await s.knn(body: try body(["image": png.base64EncodedString(), "num_images": 2])))
        #expect(i.count == 2)
    }

    @Test func refusals() async throws {
        let (s, rows) = try service()
        defer { s.batcher.stop() }
        func status(_ object: [String: Any]) async -> Int? {
            do { _ = try await s.knn(body: try body(object)); return nil } catch let e as APIError { return e.status } catch { return -1 }
        }
        #expect(await status(["embedding_input": rows[0], "modality": "text"]) == 400)   // no caption embeddings
        #expect(await status(["embedding_input": [1, 2, 3]]) == 400)   // wrong dimension
        #expect(await status(["text": "a", "indice_name": "other"]) == 400)
        #expect(await status(["text": "a", "rerank_k": 3]) == 400)   // no mapper
        #expect(await status(["image": Data("not an image".utf8).base64EncodedString()]) == 400)
    }

    @Test func queryImagePixelCap() async throws {
        var limits = ServeLimits()
        limits.maxImagePixels = 100   // the fixture's PNGs are larger
        let (s, _) = try service(limits: limits)
        defer { s.batcher.stop() }
        let png = try #require(FileManager.default.contents(atPath: Fixtures.path("clip/gelu_vocab/image0.png")))
        do {
            _ = try await s.knn(body: try body(["image": png.base64EncodedString(), "num_images": 2]))
            Issue.record("a query image past --max-image-pixels was accepted")
        } catch let e as APIError {
            #expect(e.status == 400 && e.message.contains("at most 100 pixels"), "\(e)")
        }
        #expect(s.decodes.state.held == 0)
    }

    @Test func decodeSlotsBoundConcurrentDecodes() async throws {
        final class Flag: @unchecked Sendable {
            let lock = NSLock()
            var raised = false
            var isRaised: Bool { lock.lock(); defer { lock.unlock() }; return raised }
            func raise() { lock.lock(); raised = true; lock.unlock() }
        }
        let slots = DecodeSlots(slots: 1, maxWaiting: 1)
        let release = Flag()
        let first = Task { try await slots.run { while !release.isRaised { try await Task.sleep(nanoseconds: 1_000_000) } } }
        while slots.state.held < 1 { try await Task.sleep(nanoseconds: 1_000_000) }
        let second = Task { try await slots.run { 2 } }
        while slots.state.waiting < 1 { try await Task.sleep(nanoseconds: 1_000_000) }
        do {
            _ = try await slots.run { 3 }
            Issue.record("a third decode past the waiting line was accepted")
        } catch let e as APIError { #expect(e.status == 503 && e.retryAfter == 1) }
        release.raise()
        try await first.value
        #expect(try await second.value == 2)
        #expect(slots.state.held == 0 && slots.state.waiting == 0)
    }

    @Test func rerankDeeperThanNumImages() async throws {
        let (s, _) = try service(elip: true)
        defer { s.batcher.stop() }
        let five = try await s.knn(body: try body(["text": "a photo", "num_images": 5, "rerank_k": 5]))
        let two = try await s.knn(body: try body(["text": "a photo", "num_images": 2, "rerank_k": 5]))
        // The top 5 are re-ranked, then 2 returned: the first 2 of the 5-result answer.
        #expect(two.headers.first { $0.0 == "X-Clipcore-Rerank" }?.1 == "elip k=5")
        let r5 = try results(five), r2 = try results(two)
        #expect(r2.count == 2)
        #expect(r2.compactMap { $0["id"] as? Int } == r5.prefix(2).compactMap { $0["id"] as? Int })
        #expect(r2.allSatisfy { $0["reranked"] as? String == "elip" })
    }

    @Test func metadata() throws {
        let (s, _) = try service()
        defer { s.batcher.stop() }
        let answer = try s.metadata(body: try body(["ids": [104, 7], "indice_name": "tiny"]))
        let list = try #require(JSONSerialization.jsonObject(with: Data(answer.json.utf8)) as? [[String: Any]])
        #expect(list.count == 2)
        #expect((list[0]["metadata"] as? [String: Any])?["caption"] as? String == "caption 4")
        #expect((list[1]["metadata"] as? [String: Any])?.isEmpty == true)
        #expect(throws: APIError.self) { try s.metadata(body: Array("{\"ids\": \"x\"}".utf8)) }
        for bad in ["{\"ids\": [true]}", "{\"ids\": [1.0]}", "{\"ids\": [104, 1.5]}", "{\"ids\": [104], \"indice_name\": 5}",
                    "{\"ids\": [104], \"indice_name\": [\"tiny\"]}"] {
            do {
                _ = try s.metadata(body: Array(bad.utf8))
                Issue.record("accepted \(bad)")
            } catch let e as APIError { #expect(e.status == 400, "\(bad)") }
        }
        #expect(try s.metadata(body: Array("{\"ids\": [104], \"indice_name\": null}".utf8)).json.contains("caption 4"))
    }

    @Test func knnIndiceNameMustBeAString() async throws {
        let (s, rows) = try service()
        defer { s.batcher.stop() }
        await #expect(throws: APIError.self) { _ = try await s.knn(body: try body(["embedding_input": rows[0], "indice_name": 5])) }
    }

    @Test func urlsAreAbsoluteWithAHost() async throws {
        let (s, rows) = try service()
        defer { s.batcher.stop() }
        let abs = try results(try await s.knn(body: try body(["embedding_input": rows[0], "num_images": 1]), host: "example.org:8080"))
        #expect((abs.first?["url"] as? String)?.hasPrefix("http://example.org:8080/image?index=tiny&path=") == true, "\(abs)")
        let rel = try results(try await s.knn(body: try body(["embedding_input": rows[0], "num_images": 1])))
        #expect((rel.first?["url"] as? String)?.hasPrefix("/image?index=tiny&path=") == true)
        let meta = try s.metadata(body: Array("{\"ids\": [104]}".utf8), host: "h:1").json
        #expect(meta.contains("\"url\": \"http://h:1/image?index=tiny"))
    }

    @Test func captionEmbeddingCountMustMatch() throws {
        let (s, _) = try service(textRows: 6)
        s.batcher.stop()
        do {
            let (t, _) = try service(textRows: 5)
            t.batcher.stop()
            Issue.record("5 caption embeddings for 6 captions were loaded")
        } catch let e as ClipError { #expect(e.message.contains("5") && e.message.contains("6 captions"), "\(e)") }
    }
}
