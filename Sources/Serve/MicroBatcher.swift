// Batches work from concurrent requests into one call on a dedicated worker thread: jobs queued while a batch runs
// form the next one (up to `maxBatch`); under load its first job waits at most `maxWait` for others; a bounded queue
// refuses work past `maxQueue`.

import Foundation
import Dispatch

/// Why a job was not run.
public enum MicroBatcherError: Error, Equatable, Sendable {
    /// `maxQueue` jobs are already waiting.
    case queueFull(Int)
    /// The batcher was stopped before the job ran.
    case stopped
}

/// Runs `process` on batches of submitted jobs, one batch at a time, on its own thread (so long model calls never
/// occupy Swift's cooperative threads). `process` returns one result per job, in order. The thread runs until
/// `stop()`.
public final class MicroBatcher<Job, Output>: @unchecked Sendable {
    public typealias Process = ([Job]) -> [Result<Output, any Error>]

    private struct Pending {
        var job: Job
        var enqueued: UInt64
        var continuation: CheckedContinuation<Output, any Error>
    }

    public let maxBatch: Int
    /// Seconds the first job of a batch waits for more when the last batch held several; 0: no waiting.
    public let maxWait: Double
    public let maxQueue: Int
    private let process: Process
    private let condition = NSCondition()
    private var queue: [Pending] = []
    private var running = true
    private var busy = false
    private var lastBatch = 0
    private var batchCount = 0
    private var waitedCount = 0
    private var lastWaitSeconds = 0.0
    private var jobCount = 0
    /// Batches run, and jobs in them (counted before the batch's jobs are resumed).
    public var batches: Int { locked { batchCount } }
    public var jobs: Int { locked { jobCount } }
    /// Batches gathered under load (the worker waited for company, up to `maxWait`), and how long the last
    /// such batch's first job had waited when the batch closed, in seconds (measured by the worker).
    public var batchesThatWaited: Int { locked { waitedCount } }
    public var lastWait: Double { locked { lastWaitSeconds } }
    /// Called on the worker with the batch size after each batch (metrics); set once, before the worker starts.
    public let onBatch: (@Sendable (Int) -> Void)?

    /// - Parameters: maxBatch ≥ 1 (1 turns batching off), maxWait seconds ≥ 0, maxQueue ≥ 1; onBatch: called with
    ///   each batch's size after it ran.
    public init(maxBatch: Int, maxWait: Double, maxQueue: Int, name: String = "clip-serve-batcher",
                onBatch: (@Sendable (Int) -> Void)? = nil, process: @escaping Process) {
        self.maxBatch = max(maxBatch, 1)
        self.maxWait = max(maxWait, 0)
        self.maxQueue = max(maxQueue, 1)
        self.onBatch = onBatch
        self.process = process
        // The worker holds the batcher until `stop()` ends it (a server's batcher lives as long as the process).
        // The batcher keeps no reference to the thread: once the loop returns, the thread and its closure go,
        // and with them the last reference to a stopped batcher (and to what `process` holds: the model).
        let t = Thread { [self] in self.loop() }
        t.name = name
        t.stackSize = 8 << 20
        t.start()
    }

    /// Jobs waiting (not yet taken into a batch).
    public var depth: Int { locked { queue.count } }

    private func locked<T>(_ body: () -> T) -> T {
        condition.lock()
        defer { condition.unlock() }
        return body()
    }

    /// Runs `job` in a batch and returns its output.
    /// - Throws: `MicroBatcherError.queueFull` at once when the queue is full, `.stopped` after `stop()`, or the
    ///   job's own error.
    public func submit(_ job: Job) async throws -> Output {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Output, any Error>) in
            condition.lock()
            guard running else {
                condition.unlock()
                continuation.resume(throwing: MicroBatcherError.stopped)
                return
            }
            guard queue.count < maxQueue else {
                let n = queue.count
                condition.unlock()
                continuation.resume(throwing: MicroBatcherError.queueFull(n))
                return
            }
            queue.append(Pending(job: job, enqueued: DispatchTime.now().uptimeNanoseconds, continuation: continuation))
            // Broadcast: `drain` waits on the same condition, and a signal could wake it instead of the worker.
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Finishes the jobs already queued, then ends the worker; later submissions throw `.stopped`.
    public func stop() {
        condition.lock()
        running = false
        condition.broadcast()
        condition.unlock()
    }

    /// Waits (up to `timeout` seconds) until no job is queued or running.
    @discardableResult
    public func drain(timeout: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while !queue.isEmpty || busy {
            if !condition.wait(until: deadline) { return queue.isEmpty && !busy }
        }
        return true
    }

    // MARK: - Worker

    private func loop() {
        while true {
            condition.lock()
            while queue.isEmpty && running { condition.wait() }
            if queue.isEmpty && !running {
                condition.unlock()
                return
            }
            // Under load (the last batch held several jobs), gather until the batch is as large as the last one
            // (or full), or the first job has waited `maxWait`. A lone client's job runs at once: waiting for
            // company that is not coming would only add latency, and jobs that arrive while a batch runs are
            // batched anyway.
            if maxWait > 0 && maxBatch > 1 && lastBatch > 1 {
                let waitNanos = UInt64(maxWait * 1e9)
                let deadlineNanos = queue[0].enqueued &+ waitNanos
                let target = min(maxBatch, lastBatch)
                while queue.count < target && running {
                    let now = DispatchTime.now().uptimeNanoseconds
                    guard now < deadlineNanos else { break }
                    _ = condition.wait(until: Date(timeIntervalSinceNow: Double(deadlineNanos - now) / 1e9))
                }
                waitedCount += 1
                lastWaitSeconds = Double(DispatchTime.now().uptimeNanoseconds &- queue[0].enqueued) / 1e9
            }
            let n = min(queue.count, maxBatch)
            let batch = Array(queue.prefix(n))
            queue.removeFirst(n)
            busy = true
            condition.unlock()

            let results = process(batch.map(\.job))
            condition.lock()
            lastBatch = n
            batchCount += 1
            jobCount += n
            condition.unlock()
            for (i, p) in batch.enumerated() {
                if i < results.count { p.continuation.resume(with: results[i]) } else {
                    p.continuation.resume(throwing: MicroBatcherError.stopped)
                }
            }
            onBatch?(n)
            condition.lock()
            busy = false
            condition.broadcast()
            condition.unlock()
        }
    }
}
