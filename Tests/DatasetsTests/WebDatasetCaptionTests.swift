// webdataset samples whose captions are a list in `{key}.json` (Tools/hf_to_webdataset.py, img2dataset
// metadata), and shards written by `TarWriter` read back.

import Testing
import Foundation
import Tensor
import Datasets

@Suite struct WebDatasetCaptionTests {
    typealias F = DatasetFixtures
    static let pattern = F.path("wds-json/shard-{00000..00001}.tar")

    @Test func everyCaptionOfTheJSONList() throws {
        let captions = F.expected.captions
        let (records, errors, _) = try drain(try ImageTextSourceFactory.open(Self.pattern))
        // The list wins over {key}.txt (its first caption); a json alone is enough.
        #expect(records.map(\.captions) == [captions["a.jpg"]!, captions["b.png"]! + ["a green tile"]])
        #expect(try pixelsMatch(records[0].image, "a.jpg") && pixelsMatch(records[1].image, "b.png"))
        // A list under another key is read only when the text column names it.
        #expect(errors.count == 1 && errors.first?.kind == .format && errors.first!.message.contains("shard-00001.tar@0"))
        let named = try ImageTextSourceFactory.open(Self.pattern, options: .init(textColumn: "sentences"))
        #expect(named.description.contains("'sentences'|'captions'"), "\(named.description)")
        let all = try drain(named)
        #expect(all.errors.isEmpty && all.records.map(\.captions).last == ["a blue square", "a cobalt tile"])
        #expect(all.records.prefix(2).map(\.captions) == records.map(\.captions))
        let skipping = try drain(try ImageTextSourceFactory.open(Self.pattern, options: .init(skipBad: true)))
        #expect(skipping.records.count == 2 && skipping.skipped == ["missing caption": 1])
    }

    @Test func tarWriterShardsReadBack() throws {
        let file = NSTemporaryDirectory() + "clipcore-writer-\(UUID().uuidString).tar"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let jpeg = [UInt8](try #require(FileManager.default.contents(atPath: F.path("images/a.jpg"))))
        let long = "sub/" + String(repeating: "k", count: 120)            // over ustar's 100 bytes: a GNU long name
        var tar = TarWriter()
        for key in ["000000000", long] {
            tar.add(key + ".jpg", jpeg)
            tar.add(key + ".txt", Array("caption of \(key.suffix(3))".utf8))
        }
        try tar.write(to: file)
        #expect(tar.finished.count % 512 == 0)
        let (records, errors, _) = try drain(try ImageTextSourceFactory.open(file))
        #expect(errors.isEmpty && records.map(\.captions) == [["caption of 000"], ["caption of kkk"]])
        #expect(records.map(\.key) == [file + ":000000000", file + ":" + long])
        #expect(try records.allSatisfy { try $0.image.encodedBytes() == jpeg })
    }
}
