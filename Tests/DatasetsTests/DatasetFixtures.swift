// The committed dataset fixtures (Tests/Fixtures/datasets, `Tools/gen_fixtures.py datasets`) and helpers.

import Foundation
import Tensor
import Datasets

enum DatasetFixtures {
    /// Tests/Fixtures/datasets, found from this source file's location.
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        url.deleteLastPathComponent()          // DatasetsTests
        url.deleteLastPathComponent()          // Tests
        return url.appendingPathComponent("Fixtures/datasets").path
    }()

    static func path(_ relative: String) -> String { root + "/" + relative }

    struct Expected: Decodable {
        struct Pixels: Decodable { var size: [Int]; var center: [UInt8] }
        var captions: [String: [String]]
        var pixels: [String: Pixels]
        var long_caption: String
    }

    static let expected: Expected = {
        let data = FileManager.default.contents(atPath: path("expected.json")) ?? Data()
        return (try? JSONDecoder().decode(Expected.self, from: data))
            ?? Expected(captions: [:], pixels: [:], long_caption: "")
    }()

    /// The fixture image names in order.
    static let names = ["a.jpg", "b.png", "c.jpg", "d.png"]
}

/// Every record of a source, and every error its reader threw on the way (a reader continues after one).
func drain(_ source: any ImageTextSource) throws -> (records: [ImageTextRecord], errors: [ClipError], skipped: [String: Int]) {
    var reader = try source.makeReader()
    var records: [ImageTextRecord] = [], errors: [ClipError] = []
    for _ in 0..<1000 {
        do {
            guard let r = try reader.next() else { break }
            records.append(r)
        } catch let e as ClipError {
            errors.append(e)
        }
    }
    return (records, errors, reader.skipped)
}

/// Checks an image's size and centre pixel against PIL's (the fixture's `pixels`).
func pixelsMatch(_ ref: ImageRef, _ name: String) throws -> Bool {
    let img = try ref.decode()
    guard let want = DatasetFixtures.expected.pixels[name] else { return false }
    let (x, y) = (img.width / 2, img.height / 2)
    let at = (y * img.width + x) * 3
    return [img.width, img.height] == want.size && Array(img.pixels[at..<at + 3]) == want.center
}
