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

/// A JSONL log opened for appending (created when missing). A line that cannot be written (a full disk,
/// a file-size limit) is an error naming the file and the system's reason, not a trap.
final class LineLog {
    let path: String
    private let fd: Int32

    init(_ path: String) throws {
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ClipError.io("\(path): cannot open the log (\(String(cString: strerror(errno))))") }
        self.path = path
    }

    deinit { close(fd) }

    /// Appends `line` and a newline.
    /// - Throws: `ClipError` (.io) naming the log and the reason.
    func writeLine(_ line: String) throws {
        let bytes = Array((line + "\n").utf8)
        var done = 0
        while done < bytes.count {
            let w = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if w < 0 && errno == EINTR { continue }
            guard w > 0 else { throw ClipError.io("\(path): cannot write the log (\(String(cString: strerror(errno))))") }
            done += w
        }
    }
}
