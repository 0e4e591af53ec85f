// Datetimes in an Optuna SQLite file.

import Foundation

/// Datetimes as SQLAlchemy stores them in SQLite: naive UTC with microseconds.
enum OptunaTime {
    static func string(_ date: Date) -> String {
        let t = date.timeIntervalSince1970
        var seconds = time_t(t.rounded(.down))
        var micro = Int(((t - Double(seconds)) * 1_000_000).rounded())
        if micro >= 1_000_000 { seconds += 1; micro -= 1_000_000 }
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ v: Int, _ n: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, n - s.count)) + s }
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2)) "
            + "\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2)).\(pad(micro, 6))"
    }

    /// Reads `YYYY-MM-DD HH:MM:SS[.ffffff]` (naive UTC).
    static func date(_ text: String) -> Date? {
        let fields = text.split(whereSeparator: { " -:T".contains($0) })
        guard fields.count == 6, let y = Int(fields[0]), let mo = Int(fields[1]), let d = Int(fields[2]),
              let h = Int(fields[3]), let mi = Int(fields[4]), let s = Double(fields[5]) else { return nil }
        var parts = tm()
        parts.tm_year = Int32(y - 1900); parts.tm_mon = Int32(mo - 1); parts.tm_mday = Int32(d)
        parts.tm_hour = Int32(h); parts.tm_min = Int32(mi); parts.tm_sec = 0
        let base = timegm(&parts)
        return Date(timeIntervalSince1970: Double(base) + s)
    }
}
