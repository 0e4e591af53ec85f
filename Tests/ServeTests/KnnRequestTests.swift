// Parsing and checking of /knn-service bodies.

import Foundation
import Testing
import Serve

@Suite struct KnnRequestTests {
    let limits = ServeLimits()

    func parse(_ json: String) throws -> KnnRequest { try KnnRequest(json: Array(json.utf8), limits: limits) }

    func status(_ json: String) -> Int? {
        do { _ = try parse(json); return nil } catch let e as APIError { return e.status } catch { return -1 }
    }

    @Test func clipClientBody() throws {
        // The body ClipClient.query(text=…) posts, with its defaults.
        let r = try parse("""
            {"text": "a red circle", "image": null, "image_url": null, "embedding_input": null, "deduplicate": true,
             "use_safety_model": true, "use_violence_detector": true, "indice_name": "synth", "use_mclip": false,
             "aesthetic_score": 9, "aesthetic_weight": 0.5, "modality": "image", "num_images": 40, "num_result_ids": 40}
            """)
        #expect(r.query == .text("a red circle"))
        #expect(r.modality == .image)
        #expect(r.numImages == 40 && r.numResultIds == 40)
        #expect(r.indiceName == "synth")
        #expect(r.deduplicate)
        #expect(r.rerankK == nil)
        #expect(r.ignored == ["use_safety_model", "use_violence_detector", "aesthetic_score", "aesthetic_weight"])
    }

    @Test func longTextIsRefused() throws {
        // A long word without spaces costs BPE time on the single model worker: past the limit, a 400.
        #expect(try parse("{\"text\": \"\(String(repeating: "a", count: 4096))\"}").query == .text(String(repeating: "a", count: 4096)))
        #expect(status("{\"text\": \"\(String(repeating: "a", count: 4097))\"}") == 400)
        var tight = ServeLimits()
        tight.maxTextChars = 10
        #expect(throws: APIError.self) { try KnnRequest(json: Array("{\"text\": \"abcdefghijk\"}".utf8), limits: tight) }
    }

    @Test func embeddingLongerThanTheIndexIsRefusedBeforeReading() throws {
        #expect(throws: APIError.self) { try KnnRequest(json: Array("{\"embedding_input\": [1, 2, 3, 4]}".utf8), limits: limits, dimension: 3) }
        // Counted before the numbers are read: a non-number past the dimension still gives the length error.
        do {
            _ = try KnnRequest(json: Array("{\"embedding_input\": [1, 2, 3, \"x\"]}".utf8), limits: limits, dimension: 3)
            Issue.record("accepted")
        } catch let e as APIError { #expect(e.status == 400 && e.message.contains("dimension 3")) }
        #expect(try KnnRequest(json: Array("{\"embedding_input\": [1, 2, 3]}".utf8), limits: limits, dimension: 3).query == .embedding([1, 2, 3]))
    }

    @Test func imageAndEmbeddingQueries() throws {
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]
        let b64 = Data(png).base64EncodedString()
        #expect(try parse("{\"image\": \"\(b64)\", \"num_images\": 3}").query == .image(png))
        #expect(try parse("{\"image\": \"data:image/png;base64,\(b64)\"}").query == .image(png))
        let e = try parse("{\"embedding_input\": [0.5, -1, 2], \"modality\": \"text\"}")
        #expect(e.query == .embedding([0.5, -1, 2]))
        #expect(e.modality == .text)
        #expect(e.numImages == 40 && e.ignored.isEmpty)
    }

    @Test func refusals() {
        #expect(status("not json") == 400)
        #expect(status("[1, 2]") == 400)
        #expect(status("{}") == 400)   // no query
        #expect(status("{\"text\": \"a\", \"embedding_input\": [1]}") == 400)   // two queries
        #expect(status("{\"image_url\": \"http://example.com/x.jpg\"}") == 400)   // no outbound fetch
        #expect(status("{\"text\": \"a\", \"num_images\": 10001}") == 400)
        #expect(status("{\"text\": \"a\", \"num_images\": 0}") == 400)
        #expect(status("{\"text\": \"a\", \"num_images\": 2.5}") == 400)
        #expect(status("{\"text\": \"a\", \"num_images\": true}") == 400)
        #expect(status("{\"text\": \"a\", \"num_result_ids\": 20000}") == 400)
        #expect(status("{\"text\": \"a\", \"modality\": \"audio\"}") == 400)
        #expect(status("{\"text\": 3}") == 400)
        #expect(status("{\"embedding_input\": [1, \"x\"]}") == 400)
        #expect(status("{\"image\": \"!!!\"}") == 400)
        #expect(status("{\"text\": \"a\", \"rerank_k\": 0}") == 400)
        #expect(status("{\"text\": \"a\", \"rerank_k\": 101}") == 400)
        #expect(status("{\"embedding_input\": [1], \"rerank_k\": 5}") == 400)   // re-ranking needs a text query
        #expect(status("{\"text\": \"a\", \"num_images\": 10000, \"rerank_k\": 100}") == nil)
    }

    @Test func imageURLErrorSaysWhy() throws {
        do {
            _ = try parse("{\"image_url\": \"https://example.com/a.png\"}")
            Issue.record("image_url was accepted")
        } catch let e as APIError {
            #expect(e.message.contains("fetches nothing"))
        }
    }

    @Test func resultIdsAtLeastImages() throws {
        let r = try parse("{\"text\": \"a\", \"num_images\": 20, \"num_result_ids\": 5}")
        #expect(r.numResultIds == 20)
    }
}
