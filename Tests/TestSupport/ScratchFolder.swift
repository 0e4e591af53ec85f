// Scratch folders for tests that write files.

import Foundation

/// A scratch folder removed at the end of a test.
public struct ScratchFolder {
    public let path: String
    public init(_ tag: String) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("clipcore-\(tag)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}
