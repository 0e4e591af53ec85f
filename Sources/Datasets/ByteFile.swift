// Sequential, buffered reads of a file (lines, byte runs), so readers hold one record at a time.

import Foundation
import Tensor

/// A file read front to back through a 64 KiB buffer; `offset` counts the bytes consumed.
final class ByteFile {
    let path: String
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var position = 0
    /// Bytes consumed so far (the offset of the next byte).
    private(set) var offset = 0

    /// - Throws: `ClipError.io` naming the file when it cannot be opened.
    init(path: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue,
              let handle = FileHandle(forReadingAtPath: path) else {
            throw ClipError.io("\(path): cannot open the file")
        }
        self.path = path
        self.handle = handle
    }

    deinit { try? handle.close() }

    /// The file's length in bytes when it was opened (nil when it cannot be told, as for a pipe).
    private(set) lazy var size: Int? = {
        var st = stat()
        guard fstat(handle.fileDescriptor, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(st.st_size)
    }()

    private func fill() throws -> Bool {
        let data: Data
        do {
            data = try handle.read(upToCount: 1 << 16) ?? Data()
        } catch {
            throw ClipError.io("\(path): read failed at byte \(offset): \(error.localizedDescription)")
        }
        buffer = [UInt8](data)
        position = 0
        return !buffer.isEmpty
    }

    /// The next byte, or nil at the end of the file.
    func byte() throws -> UInt8? {
        if position == buffer.count, try !fill() { return nil }
        defer { position += 1; offset += 1 }
        return buffer[position]
    }

    /// The next byte without consuming it.
    func peek() throws -> UInt8? {
        if position == buffer.count, try !fill() { return nil }
        return buffer[position]
    }

    /// The next line without its `\n` (and a `\r` before it); nil at the end of the file.
    /// - Parameter location: names the line in the error (`file:line`).
    /// - Throws: `ClipError(.unsupported)` naming `location` when the line holds more bytes than
    ///   `ResourceLimit.recordBytes`: it is read to its end without being kept, and the next call reads the
    ///   line after it. `ClipError.io` when the file cannot be read.
    func line(at location: @autoclosure () -> String) throws -> [UInt8]? {
        let limit = ResourceLimit.recordBytes.value
        var out: [UInt8] = []
        var length = 0            // the line's bytes so far, kept or not
        var sawAny = false, ended = false
        while !ended {
            if position == buffer.count, try !fill() { break }
            sawAny = true
            let newline = buffer[position...].firstIndex(of: UInt8(ascii: "\n"))
            let end = newline ?? buffer.count
            length += end - position
            if length <= limit {
                out += buffer[position..<end]
            } else if !out.isEmpty {
                out = []
            }
            ended = newline != nil
            let consumed = end - position + (ended ? 1 : 0)
            offset += consumed
            position += consumed
        }
        guard sawAny else { return nil }
        if out.last == UInt8(ascii: "\r") { out.removeLast() }
        guard length <= limit else { throw ResourceLimit.recordBytes.exceeded(length, in: location()) }
        return out
    }

    /// Up to `count` bytes (fewer only at the end of the file).
    func read(_ count: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(min(count, 1 << 26))
        while out.count < count {
            if position == buffer.count, try !fill() { break }
            let n = min(count - out.count, buffer.count - position)
            out += buffer[position..<position + n]
            position += n
            offset += n
        }
        return out
    }

    /// Skips up to `count` bytes; returns how many were skipped.
    @discardableResult
    func skip(_ count: Int) throws -> Int {
        var done = 0
        while done < count {
            if position == buffer.count, try !fill() { break }
            let n = min(count - done, buffer.count - position)
            position += n
            offset += n
            done += n
        }
        return done
    }
}

// MARK: - Bad input

/// What a reader does with a bad record: throw its error, or (with `skipBad`) count it by reason.
struct BadInputPolicy {
    let skipBad: Bool
    private(set) var counts: [String: Int] = [:]

    init(skipBad: Bool) { self.skipBad = skipBad }

    /// Throws `error`, or counts it under `reason` when skipping bad input.
    mutating func reject(_ reason: BadInput, _ error: ClipError) throws {
        guard skipBad else { throw error }
        counts[reason.rawValue, default: 0] += 1
    }
}

/// Why a record was skipped (the keys of `ImageTextReader.skipped`).
public enum BadInput: String, Sendable, CaseIterable {
    case missingImage = "missing image"
    case missingCaption = "missing caption"
    case emptyCaption = "empty caption"
    case invalidUTF8 = "invalid UTF-8"
    case malformedRow = "malformed row"
    case truncatedTar = "truncated tar"
    case missingShard = "missing shard"
    /// An image whose bytes are there but do not decode (counted by `clip encode-dataset`, which decodes).
    case undecodableImage = "undecodable image"
}

extension BadInput {
    /// "skipped 2 bad records (1 empty caption, 1 missing image)" for counts keyed by reason, or nil
    /// when nothing was skipped.
    public static func summary(_ counts: [String: Int]) -> String? {
        let total = counts.values.reduce(0, +)
        guard total > 0 else { return nil }
        return "skipped \(total) bad record\(total == 1 ? "" : "s") ("
            + counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ") + ")"
    }
}

/// Checks of the fields every layout shares.
enum RecordCheck {
    /// The text of `bytes`, or nil when they are not valid UTF-8.
    static func utf8(_ bytes: some Collection<UInt8>) -> String? {
        String(validating: bytes, as: UTF8.self)
    }

    /// The byte offset of the first invalid UTF-8 sequence in `bytes`, if any.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var parser = Unicode.UTF8.ForwardParser()
        var input = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &input) {
            case .valid(let scalar): offset += scalar.count
            case .error: return offset
            case .emptyInput: return nil
            }
        }
    }

    /// True when a caption has no visible text.
    static func isEmpty(_ caption: String) -> Bool {
        caption.allSatisfy { $0.isWhitespace }
    }

    /// Whether an image file exists (and is not a folder).
    static func imageExists(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue
    }

    /// `path` resolved against `base` unless absolute.
    static func resolve(_ path: String, against base: String) -> String {
        path.hasPrefix("/") || base.isEmpty ? path : base + "/" + path
    }
}

extension BadInputPolicy {
    /// False (after counting it) when a record without captions, or with an empty one, is skipped.
    /// - Throws: `ClipError.format` naming `location` unless skipping bad input.
    mutating func accept(captions: [String], at location: String) throws -> Bool {
        if captions.isEmpty {
            try reject(.missingCaption, .format("\(location): no caption"))
            return false
        }
        if let i = captions.firstIndex(where: RecordCheck.isEmpty) {
            try reject(.emptyCaption, .format("\(location): caption \(i + 1) is empty"))
            return false
        }
        return true
    }

    /// False (after counting it) when a record whose image file is missing is skipped.
    /// - Throws: `ClipError.io` naming `location` and the image unless skipping bad input.
    mutating func accept(imageFile path: String, check: Bool, at location: String) throws -> Bool {
        guard check, !RecordCheck.imageExists(path) else { return true }
        try reject(.missingImage, .io("\(location): image \(path) does not exist"))
        return false
    }
}
