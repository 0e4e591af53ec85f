// Helpers of the resource-bomb tests: the error a bomb must give, and the memory it may cost.

import Foundation
import Testing
import Tensor

/// Runs `body`, which must throw a `ClipError` of `kind` whose message holds every one of `words`,
/// and returns how much the process's peak resident memory grew meanwhile (bytes; 0 when it did not).
/// The peak is process-wide, so the growth is an upper bound only when nothing else allocates more at
/// the same time; the bombs these tests build would need gigabytes, far beyond the caps checked.
@discardableResult
public func expectRefusal(_ kind: ClipError.Kind = .unsupported, mentioning words: [String],
                          sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> Int {
    let before = peakResidentBytes()
    do {
        try body()
        Issue.record("no error; expected one mentioning \(words)", sourceLocation: sourceLocation)
    } catch let e as ClipError {
        #expect(e.kind == kind, "\(e.kind): \(e.message)", sourceLocation: sourceLocation)
        for w in words { #expect(e.message.contains(w), "'\(w)' missing from: \(e.message)", sourceLocation: sourceLocation) }
    } catch {
        Issue.record("not a ClipError: \(error)", sourceLocation: sourceLocation)
    }
    return max(0, peakResidentBytes() - before)
}

/// The process's peak resident memory so far (`ru_maxrss`), in bytes.
public func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}
