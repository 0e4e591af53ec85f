// A bound on image decodes running at once: each query image is decoded to full size on its request's task, so
// without one, max-in-flight large images would each hold their decoded pixels at the same time.

import Foundation

/// At most `slots` holders at once; up to `maxWaiting` more wait in line (first come, first served), and one past
/// that is refused at once.
public final class DecodeSlots: @unchecked Sendable {
    public let slots: Int
    public let maxWaiting: Int
    private let lock = NSLock()
    private var held = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// - Parameters: slots ≥ 1, maxWaiting ≥ 0.
    public init(slots: Int, maxWaiting: Int) {
        self.slots = max(slots, 1)
        self.maxWaiting = max(maxWaiting, 0)
    }

    /// Holders now, and callers waiting (for tests and metrics).
    public var state: (held: Int, waiting: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (held, waiting.count)
    }

    /// Runs `body` holding a slot.
    /// - Throws: `APIError` 503 when `maxWaiting` callers already wait; what `body` throws.
    public func run<R>(_ body: () async throws -> R) async throws -> R {
        try await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async throws {
        lock.lock()
        if held < slots {
            held += 1
            lock.unlock()
            return
        }
        guard waiting.count < maxWaiting else {
            let n = waiting.count
            lock.unlock()
            throw APIError(503, "the server is busy: \(n) query images are waiting to be decoded; retry later", retryAfter: 1)
        }
        // The slot is handed over by `release` (held stays counted), so no newcomer can take it first.
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            waiting.append(c)
            lock.unlock()
        }
    }

    private func release() {
        lock.lock()
        if waiting.isEmpty {
            held -= 1
            lock.unlock()
        } else {
            let next = waiting.removeFirst()
            lock.unlock()
            next.resume()
        }
    }
}
