// The micro-batcher: batching across concurrent submissions, the wait bound, the queue bound, per-job errors.

import Foundation
import Testing
import Serve

struct Odd: Error {}

@Suite struct MicroBatcherTests {
    /// Doubles each job; fails odd jobs when asked; records batch sizes. With `holdFirst`, the first batch
    /// waits until `release()`: jobs submitted meanwhile queue up, whatever the machine's speed (the tests
    /// assert on what the batcher did, never on wall-clock time).
    final class Recorder: @unchecked Sendable {
        let lock = NSLock()
        var sizes: [Int] = []
        private let gate = DispatchSemaphore(value: 0)
        var holdFirst = false
        var delay: useconds_t = 0
        func process(_ jobs: [Int]) -> [Result<Int, any Error>] {
            lock.lock()
            sizes.append(jobs.count)
            let hold = holdFirst && sizes.count == 1
            lock.unlock()
            if hold { gate.wait() }
            if delay > 0 { usleep(delay) }
            return jobs.map { $0 < 0 ? .failure(Odd()) : .success($0 * 2) }
        }
        var batchesStarted: Int { lock.lock(); defer { lock.unlock() }; return sizes.count }
        func release() { gate.signal() }
    }

    /// Submits `first` and waits until its batch holds the worker (the recorder must hold its first batch).
    static func occupy<J, O>(_ b: MicroBatcher<J, O>, _ rec: Recorder, with first: J) async throws -> Task<O, any Error> {
        let task = Task { try await b.submit(first) }
        while rec.batchesStarted < 1 { try await Task.sleep(nanoseconds: 1_000_000) }
        return task
    }

    /// Waits until `n` jobs are queued.
    static func waitForDepth<J, O>(_ b: MicroBatcher<J, O>, _ n: Int) async throws {
        while b.depth < n { try await Task.sleep(nanoseconds: 1_000_000) }
    }

    @Test func concurrentJobsShareBatches() async throws {
        let rec = Recorder()
        rec.holdFirst = true
        let b = MicroBatcher<Int, Int>(maxBatch: 64, maxWait: 0.05, maxQueue: 1000) { rec.process($0) }
        let first = try await Self.occupy(b, rec, with: 0)
        let outputs = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for i in 1..<40 { group.addTask { (i, try await b.submit(i)) } }
            try await Self.waitForDepth(b, 39)
            rec.release()
            var all: [Int: Int] = [0: try await first.value]
            for try await (i, o) in group { all[i] = o }
            return all
        }
        #expect(outputs.count == 40)
        #expect(outputs.allSatisfy { $0.value == 2 * $0.key })
        #expect(rec.sizes == [1, 39], "the 39 jobs queued behind the first must form one batch, got sizes \(rec.sizes)")
        #expect(b.batches == rec.sizes.count)
        b.stop()
    }

    @Test func batchingOffRunsOneAtATime() async throws {
        let rec = Recorder()
        rec.delay = 2_000
        let b = MicroBatcher<Int, Int>(maxBatch: 1, maxWait: 0, maxQueue: 1000) { rec.process($0) }
        try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<20 { group.addTask { try await b.submit(i) } }
            for try await _ in group {}
        }
        #expect(rec.sizes == [Int](repeating: 1, count: 20))
        b.stop()
    }

    @Test func batchSizeIsBounded() async throws {
        let rec = Recorder()
        rec.holdFirst = true
        let b = MicroBatcher<Int, Int>(maxBatch: 4, maxWait: 0.02, maxQueue: 1000) { rec.process($0) }
        let first = try await Self.occupy(b, rec, with: 0)
        try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 1..<30 { group.addTask { try await b.submit(i) } }
            try await Self.waitForDepth(b, 29)
            rec.release()
            for try await _ in group {}
        }
        _ = try await first.value
        #expect(rec.sizes == [1] + [Int](repeating: 4, count: 7) + [1], "29 queued jobs in batches of at most 4: \(rec.sizes)")
        b.stop()
    }

    @Test func aLoneJobDoesNotWait() async throws {
        let rec = Recorder()
        let b = MicroBatcher<Int, Int>(maxBatch: 32, maxWait: 2, maxQueue: 10) { rec.process($0) }
        for i in 0..<3 { #expect(try await b.submit(i) == 2 * i) }
        #expect(b.batchesThatWaited == 0, "one client's jobs one after another must not wait for company")
        #expect(rec.sizes == [1, 1, 1])
        b.stop()
    }

    @Test func underLoadTheWaitIsBounded() async throws {
        let rec = Recorder()
        rec.holdFirst = true
        let b = MicroBatcher<Int, Int>(maxBatch: 32, maxWait: 0.2, maxQueue: 100) { rec.process($0) }
        // Seven queued behind a held batch form the next batch: the batcher is now under load.
        let first = try await Self.occupy(b, rec, with: 0)
        try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 1..<8 { group.addTask { try await b.submit(i) } }
            try await Self.waitForDepth(b, 7)
            rec.release()
            for try await _ in group {}
        }
        _ = try await first.value
        #expect(rec.sizes == [1, 7], "sizes \(rec.sizes)")
        #expect(b.batchesThatWaited == 0)
        // The last batch held several, so a lone job now waits for company, but only until maxWait has passed
        // since it arrived (measured by the worker; the upper bound only catches a wait that never ends).
        #expect(try await b.submit(99) == 198)
        #expect(b.batchesThatWaited == 1)
        #expect(b.lastWait >= 0.19 && b.lastWait < 10, "the worker waited \(b.lastWait) s with maxWait 0.2 s")
        #expect(rec.sizes == [1, 7, 1])
        b.stop()
    }

    @Test func fullQueueRefusesAtOnce() async throws {
        let rec = Recorder()
        rec.holdFirst = true   // the first batch holds the worker until the queue is full and the rest refused
        let b = MicroBatcher<Int, Int>(maxBatch: 1, maxWait: 0, maxQueue: 2) { rec.process($0) }
        let first = try await Self.occupy(b, rec, with: 0)
        let queued = [Task { try await b.submit(1) }, Task { try await b.submit(2) }]
        try await Self.waitForDepth(b, 2)
        let results = await withTaskGroup(of: Result<Int, MicroBatcherError>?.self) { group in
            for i in 3..<10 {
                group.addTask {
                    do { return .success(try await b.submit(i)) } catch let e as MicroBatcherError { return .failure(e) } catch { return nil }
                }
            }
            var all: [Result<Int, MicroBatcherError>?] = []
            for await r in group { all.append(r) }
            return all
        }
        let refused = results.filter { if case .failure(.queueFull) = $0 { return true } else { return false } }.count
        #expect(refused == 7, "seven jobs past a full queue of 2 must be refused at once: \(results)")
        rec.release()
        #expect(try await first.value == 0)
        for (i, t) in queued.enumerated() { #expect(try await t.value == 2 * (i + 1)) }
        b.stop()
    }

    @Test func jobErrorsStayWithTheirJob() async throws {
        let rec = Recorder()
        let b = MicroBatcher<Int, Int>(maxBatch: 8, maxWait: 0.02, maxQueue: 100) { rec.process($0) }
        let good = Task { try await b.submit(5) }
        let bad = Task { try await b.submit(-1) }
        #expect(try await good.value == 10)
        await #expect(throws: Odd.self) { _ = try await bad.value }
        b.stop()
    }

    @Test func onBatchGivenAtInitSeesEveryBatch() async throws {
        final class Sizes: @unchecked Sendable {
            let lock = NSLock()
            var list: [Int] = []
            func add(_ n: Int) { lock.lock(); list.append(n); lock.unlock() }
        }
        let seen = Sizes(), rec = Recorder()
        rec.delay = 1_000
        let b = MicroBatcher<Int, Int>(maxBatch: 8, maxWait: 0.01, maxQueue: 100, onBatch: { seen.add($0) }) { rec.process($0) }
        _ = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<20 { group.addTask { try await b.submit(i) } }
            return try await group.reduce(0, +)
        }
        #expect(b.drain(timeout: 10))   // drain returns once the last batch's callback ran
        #expect(seen.list == rec.sizes && seen.list.reduce(0, +) == 20)
        b.stop()
    }

    @Test func stoppedBatcherRefuses() async throws {
        let b = MicroBatcher<Int, Int>(maxBatch: 1, maxWait: 0, maxQueue: 10) { $0.map { .success($0) } }
        #expect(try await b.submit(1) == 1)
        b.stop()
        await #expect(throws: MicroBatcherError.stopped) { _ = try await b.submit(2) }
    }
}
