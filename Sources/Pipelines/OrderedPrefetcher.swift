// A bounded producer queue: items read one at a time from a sequential source are transformed
// (image decoding and preprocessing) on worker threads and handed back in source order, while the
// consumer (the encoder) works on earlier ones.

import Foundation
import Dispatch

/// Reads inputs with `source` (called under a lock, so it need not be thread-safe), runs `transform`
/// on `threads` worker threads, and yields the results in input order. At most `capacity` items are
/// read ahead of the consumer, so memory stays bounded.
///
/// A transform error is returned for its item (the consumer decides whether to skip it); a source
/// error ends the stream and is thrown by `next()` at its position.
package final class OrderedPrefetcher<Input, Output>: @unchecked Sendable {
    private let condition = NSCondition()
    private let source: () throws -> Input?
    private let transform: (Input) throws -> Output
    private let capacity: Int
    private var issued = 0, delivered = 0
    private var results: [Int: Result<Output, Error>] = [:]
    private var sourceDone = false, stopped = false
    private var sourceError: Error?
    private let workers = DispatchGroup()
    /// Seconds the consumer spent in `next()` waiting for a result not yet ready.
    package private(set) var waitSeconds: Double = 0
    private var busy: Double = 0

    /// Starts the workers. `threads` ≥ 1, `capacity` ≥ `threads`.
    package init(threads: Int, capacity: Int, source: @escaping () throws -> Input?, transform: @escaping (Input) throws -> Output) {
        self.source = source
        self.transform = transform
        self.capacity = max(capacity, threads, 1)
        for _ in 0..<max(threads, 1) {
            workers.enter()
            let thread = Thread { [self] in
                work()
                workers.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    deinit { stop() }

    /// Seconds the workers spent in `transform`, summed over the workers.
    package var transformSeconds: Double {
        condition.lock()
        defer { condition.unlock() }
        return busy
    }

    private func work() {
        condition.lock()
        defer { condition.unlock() }
        while true {
            while !stopped && !sourceDone && issued - delivered >= capacity { condition.wait() }
            if stopped || sourceDone { return }
            let input: Input?
            do { input = try source() } catch {
                sourceError = error
                sourceDone = true
                condition.broadcast()
                return
            }
            guard let input else {
                sourceDone = true
                condition.broadcast()
                return
            }
            let seq = issued
            issued += 1
            condition.unlock()
            let t0 = DispatchTime.now().uptimeNanoseconds
            let result = Result { try transform(input) }
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            condition.lock()
            busy += dt
            results[seq] = result
            condition.broadcast()
        }
    }

    /// The next result in input order, or nil at the end of the source.
    /// - Throws: the source's error, at the position where it occurred.
    package func next() throws -> Result<Output, Error>? {
        condition.lock()
        defer { condition.unlock() }
        if results[delivered] == nil && !(sourceDone && delivered >= issued) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            while results[delivered] == nil && !(sourceDone && delivered >= issued) { condition.wait() }
            waitSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        }
        if let r = results.removeValue(forKey: delivered) {
            delivered += 1
            condition.broadcast()
            return r
        }
        if let e = sourceError { throw e }
        return nil
    }

    /// Stops reading ahead and waits for the workers to finish their current item.
    package func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
        workers.wait()
    }
}
