// The streaming data layer: every dataset layout is an `ImageTextSource` whose reader yields
// one record at a time, so memory stays bounded however large the set is.

import Foundation
import Tensor
import Images

/// Where one image's encoded bytes live: a file on disk, or bytes read from a container
/// (a tar shard member, a parquet cell).
public enum ImageRef: Sendable, Hashable {
    case file(String)
    case member(name: String, bytes: [UInt8])

    /// The file path, or the member's name (`shard.tar:key.jpg`), for messages and metadata.
    public var name: String {
        switch self {
        case .file(let path): return path
        case .member(let name, _): return name
        }
    }

    /// The encoded bytes (PNG or JPEG).
    /// - Throws: `ClipError.io` naming the file when it cannot be read.
    public func encodedBytes() throws -> [UInt8] {
        switch self {
        case .file(let path):
            guard let data = FileContents.read(atPath: path) else {
                throw ClipError.io("\(path): cannot read the file")
            }
            return [UInt8](data)
        case .member(_, let bytes): return bytes
        }
    }

    /// The decoded image, its format recognised by content.
    public func decode() throws -> RGBImage {
        switch self {
        case .file(let path): return try RGBImage(contentsOfFile: path)
        case .member(let name, let bytes): return try RGBImage(encoded: bytes, name: name)
        }
    }
}

/// One image with its captions, as a reader yields it.
public struct ImageTextRecord: Sendable {
    /// A stable identifier: the resolved image path, or `shard.tar:key` inside a shard.
    public var key: String
    public var image: ImageRef
    public var captions: [String]
    /// Where the record came from, for messages: `file:line` or `shard.tar@byteOffset`.
    public var location: String

    public init(key: String, image: ImageRef, captions: [String], location: String) {
        self.key = key
        self.image = image
        self.captions = captions
        self.location = location
    }
}

/// Yields a source's records in order.
public protocol ImageTextReader {
    /// The next record, or nil at the end.
    /// - Throws: `ClipError` naming the file and line or byte offset of malformed input
    ///   (unless the source skips bad input, counting it in `skipped`).
    mutating func next() throws -> ImageTextRecord?
    /// Bad records skipped so far, by reason (empty unless the source skips bad input).
    var skipped: [String: Int] { get }
}

/// A dataset layout that can be read, from the start, any number of times.
public protocol ImageTextSource: Sendable {
    /// What is read, for messages and logs (`JSONL data/train.jsonl`).
    var description: String { get }
    func makeReader() throws -> any ImageTextReader
}
