// Files replaced as a whole: written under a temporary sibling name, then
// renamed into place, so a reader (or a crash) sees the old file or the new
// one, never a part of one. Model folders use the same names for their swap,
// which exchanges the two names in one step (renameat2) where Linux allows it.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes files atomically: into a temporary sibling, then renamed over the target, so readers see
/// the old file or the new one, never a part. Throws what the writer throws, or `ClipError` (.io).
package enum AtomicFile {
    /// A fresh temporary sibling of `path`: `.NAME.tmp-PID-RANDOM` in the same folder.
    package static func temporarySibling(of path: String) -> String {
        let dir = (path as NSString).deletingLastPathComponent
        return (dir.isEmpty ? "." : dir) + "/.\((path as NSString).lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Whether a folder entry is a temporary sibling (one a killed writer left behind).
    package static func isTemporary(_ name: String) -> Bool { name.hasPrefix(".") && name.contains(".tmp-") }

    /// Calls `body` with a temporary sibling of `path` to write, then renames it onto `path`. On any
    /// failure the temporary is removed and `path` is left as it was.
    /// - Throws: what `body` throws, or `ClipError` (.io) when the rename fails.
    package static func write(to path: String, _ body: (String) throws -> Void) throws {
        let tmp = temporarySibling(of: path)
        do { try body(tmp) } catch {
            unlink(tmp)
            throw error
        }
        guard rename(tmp, path) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(tmp)
            throw ClipError(.io, "\(path): cannot move the written file into place (\(why))")
        }
    }

    /// Writes the bytes `body` hands to its `put` function to a temporary sibling of `path` (created
    /// anew, written with `write(2)`, flushed with `fsync`), then renames it onto `path`. A failed
    /// write (a full disk, a file-size limit: `EFBIG` when SIGXFSZ is ignored) throws naming `path` and
    /// the system's reason, removes the temporary and leaves `path` as it was.
    /// - Throws: what `body` throws, or `ClipError` (.io).
    package static func write(to path: String, streaming body: (_ put: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        try write(to: path) { tmp in
            let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o644)
            guard fd >= 0 else {
                throw ClipError(.io, "\(path): cannot create a temporary file beside it (\(String(cString: strerror(errno))))")
            }
            var isOpen = true
            defer { if isOpen { close(fd) } }
            try body { bytes in
                guard var p = bytes.baseAddress else { return }
                var left = bytes.count
                while left > 0 {
                    let w = Foundation.write(fd, p, left)
                    if w < 0 && errno == EINTR { continue }
                    guard w > 0 else { throw ClipError(.io, "\(path): write failed (\(String(cString: strerror(errno))))") }
                    p += w
                    left -= w
                }
            }
            guard fsync(fd) == 0 else { throw ClipError(.io, "\(path): fsync failed (\(String(cString: strerror(errno))))") }
            isOpen = false
            guard close(fd) == 0 else { throw ClipError(.io, "\(path): close failed (\(String(cString: strerror(errno))))") }
        }
    }

    /// Writes `data` to `path` atomically.
    package static func write(_ data: Data, to path: String) throws {
        try write(to: path, streaming: { put in try data.withUnsafeBytes { try put($0) } })
    }

    /// Writes `text` (UTF-8) to `path` atomically.
    package static func write(_ text: String, to path: String) throws {
        try write(Data(text.utf8), to: path)
    }

    /// Swaps the names of two existing files or folders in one atomic step (Linux's `renameat2` with
    /// `RENAME_EXCHANGE`): at every moment each name is one of the two, whole. False, with nothing
    /// changed, where that is not available (another system, a C library or kernel without it, a file
    /// system that refuses it) or either name is missing.
    public static func exchange(_ a: String, _ b: String) -> Bool {
        #if os(Linux)
        guard let renameat2 = renameat2Function else { return false }
        let atCurrentDirectory: Int32 = -100, renameExchange: UInt32 = 1 << 1    // AT_FDCWD, RENAME_EXCHANGE
        return renameat2(atCurrentDirectory, a, atCurrentDirectory, b, renameExchange) == 0
        #else
        return false
        #endif
    }

    #if os(Linux)
    private typealias Renameat2 = @convention(c) (Int32, UnsafePointer<CChar>?, Int32, UnsafePointer<CChar>?, UInt32) -> Int32
    /// glibc's renameat2 (2.28 and later), looked up at run time so that an older C library still loads us.
    private static let renameat2Function: Renameat2? = dlsym(nil, "renameat2").map { unsafeBitCast($0, to: Renameat2.self) }
    #endif
}
