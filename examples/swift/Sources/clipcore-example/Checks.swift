// A small check harness: every check prints "ok" or "FAIL" and what it checked; the run ends with
// "N passed, M failed" and exits non-zero when anything failed.

import Foundation
import ClipCore

struct Checks {
    private(set) var passed = 0, failed = 0

    mutating func expect(_ ok: Bool, _ what: String, detail: @autoclosure () -> String = "") {
        if ok {
            passed += 1
            print("ok    \(what)")
        } else {
            failed += 1
            let d = detail()
            print("FAIL  \(what)" + (d.isEmpty ? "" : " (\(d))"))
        }
    }

    /// `max |a − b|` over equal-length arrays within `tolerance` (NaN fails).
    mutating func expectClose(_ a: [Float], _ b: [Float], tolerance: Float, _ what: String) {
        let diff = maxAbsDiff(a, b)
        expect(diff <= tolerance, what + String(format: " (max |diff| %.2g, tolerance %.0e)", diff, tolerance),
               detail: a.count == b.count ? "" : "\(a.count) values, expected \(b.count)")
    }
}

/// The largest absolute difference; infinity for a length mismatch, NaN wins.
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    var m: Float = 0
    for (x, y) in zip(a, b) {
        let d = abs(x - y)
        if !(d <= m) { m = d }
    }
    return m
}

/// Row `r` of a row-major `[rows, d]` array.
func row(_ values: [Float], _ r: Int, _ d: Int) -> ArraySlice<Float> { values[(r * d)..<((r + 1) * d)] }

func dot(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Double {
    zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) }
}
