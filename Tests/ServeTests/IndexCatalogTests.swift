// --index values: folders, NAME=FOLDER and clip-retrieval's indices_paths JSON.

import Foundation
import Testing
import Serve

@Suite struct IndexCatalogTests {
    @Test func forms() throws {
        let dir = NSTemporaryDirectory() + "catalog-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let json = dir + "/indices_paths.json"
        try Data("{\"laion\": \"shards/a\", \"coco\": {\"path\": \"/data/coco\", \"images\": \"img\"}}".utf8).write(to: URL(fileURLWithPath: json))
        let c = try IndexCatalog(arguments: ["/x/emb/", "mine=/y/z", json])
        #expect(c.entries.map(\.name) == ["emb", "mine", "coco", "laion"])
        #expect(c.entries[0].folder == "/x/emb")
        #expect(c.entries[1].folder == "/y/z")
        #expect(c.entries[2].folder == "/data/coco" && c.entries[2].imageRoot == dir + "/img")
        #expect(c.entries[3].folder == dir + "/shards/a")
    }

    @Test func refusals() throws {
        #expect(throws: (any Error).self) { try IndexCatalog(arguments: []) }
        #expect(throws: (any Error).self) { try IndexCatalog(arguments: ["a=/x", "a=/y"]) }
        #expect(throws: (any Error).self) { try IndexCatalog(arguments: ["=/x"]) }
        #expect(throws: (any Error).self) { try IndexCatalog(arguments: ["/nonexistent/indices.json"]) }
    }
}
