// Whole-file reads: one open, one fstat and reads into one buffer of the file's size. It replaces
// FileManager.contents(atPath:), which loses the page it allocates for an empty file (4 KiB per
// call; a long-running host reading empty uploads would grow without bound).

import Foundation
#if canImport(Glibc)
import Glibc
#endif

package enum FileContents {
    /// The bytes of the regular file (or readable special file) at `path`; nil when it cannot be
    /// opened or read, or is a folder. Files that report no size (/proc, pipes) are read to their end.
    package static func read(atPath path: String) -> Data? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) != S_IFDIR else { return nil }
        // The size fstat reports first, into one buffer, then whatever lies past it (files that report
        // no size, or grew meanwhile).
        var data = Data(count: max(Int(st.st_size), 0))
        var filled = 0
        while filled < data.count {
            let n = data.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return nil }
            if n == 0 { break }
            filled += n
        }
        data.count = filled
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return nil }
            if n == 0 { break }
            data.append(contentsOf: chunk[0..<n])
        }
        return data
    }
}
