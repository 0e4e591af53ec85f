// Progress output: one rewritten line with rate and ETA on a terminal,
// plain lines otherwise (logs, pipes, CI).

import Foundation
import Tensor

final class ProgressLine {
    let total: Int
    let unit: String
    private let start = Date()
    private let first: Int
    private(set) var done: Int
    private let terminal = isatty(STDOUT_FILENO) == 1
    private var lastPrint = Date.distantPast
    /// Plain-line mode prints at most every `interval` seconds (and the last item).
    var interval: TimeInterval = 2

    init(total: Int, unit: String, done: Int = 0) {
        self.total = total
        self.unit = unit
        self.first = done
        self.done = done
    }

    /// Advances by `count` items (a batch of images at once, say).
    func tick(_ text: String = "", count: Int = 1) {
        done += count
        let now = Date()
        let elapsed = now.timeIntervalSince(start)
        let rate = Double(done - first) / max(elapsed, 1e-9)
        let eta = rate > 0 ? Double(max(total - done, 0)) / rate : 0
        let line = total > 0
            ? String(format: "%@ %d/%d  %.2f %@/s  ETA %.0f s  %@", unit, done, total, rate, unit, eta, text)
            : String(format: "%@ %d  %.2f %@/s  %@", unit, done, rate, unit, text)      // total unknown
        if terminal {
            print("\r\u{1B}[K" + line, terminator: total > 0 && done >= total ? "\n" : "")
            fflush(stdout)
        } else if done >= total || now.timeIntervalSince(lastPrint) >= interval {
            print(line)
            lastPrint = now
        }
    }

    /// Ends a terminal line early (before printing anything else).
    func finish() {
        if terminal && (done < total || total <= 0) { print("") }
    }
}

/// Opens a JSONL log for appending, creating it when missing.
func openLog(_ path: String) throws -> FileHandle {
    try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
    guard let log = FileHandle(forWritingAtPath: path) else { throw ClipError.io("\(path): cannot open the log") }
    _ = try? log.seekToEnd()
    return log
}

extension FileHandle {
    func writeLine(_ line: String) { write(Data((line + "\n").utf8)) }
}
