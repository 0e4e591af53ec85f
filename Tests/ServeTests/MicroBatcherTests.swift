// The micro-batcher: batching across concurrent submissions, the wait bound, the queue bound, per-job errors.

import Foundation
import Testing
import Serve

struct Odd: Error {}

@Suite struct MicroBatcherTests {
    /// Doubles each job; fails odd jobs when asked; records batch sizes.
    final class Recorder: @unchecked Sendable {
        let lock = NSLock()
        var sizes: [Int] = []
        var delay: useconds_t = 0
        func process(_ jobs: [Int]) -> [Result<Int, any Error>] {
            lock.lock(); sizes.append(jobs.count); lock.unlock()
            if delay > 0 { usleep(delay) }
            return jobs.map { $0 < 0 ? .failure(Odd()) : .success($0 * 2) }
        }
    }

    @Test func concurrentJobsShareBatches() async throws {
        let rec = Recorder()
        rec.delay = 2_000
        let b = MicroBatcher<Int, Int>(maxBatch: 64, maxWait: 0.05, maxQueue: 1000) { rec.process($0) }
        let outputs = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for i in 0..<40 { group.addTask { (i, try await b.submit(i)) } }
            var all: [Int: Int] = [:]
            for try await (i, o) in group { all[i] = o }
            return all
        }
        #expect(outputs.count == 40)
        #expect(outputs.allSatisfy { $0.value == 2 * $0.key })
        #expect(rec.sizes.reduce(0, +) == 40)
        #expect(rec.sizes.count < 40, "40 concurrent jobs should share batches, got sizes \(rec.sizes)")
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
        rec.delay = 20_000
        let b = MicroBatcher<Int, Int>(maxBatch: 4, maxWait: 0.02, maxQueue: 1000) { rec.process($0) }
        try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<30 { group.addTask { try await b.submit(i) } }
            for try await _ in group {}
        }
        #expect(rec.sizes.allSatisfy { $0 <= 4 })
        #expect(rec.sizes.reduce(0, +) == 30)
        b.stop()
    }

    @Test func aLoneJobDoesNotWait() async throws {
        let rec = Recorder()
        let b = MicroBatcher<Int, Int>(maxBatch: 32, maxWait: 2, maxQueue: 10) { rec.process($0) }
        let t0 = Date()
        for i in 0..<3 { #expect(try await b.submit(i) == 2 * i) }
        #expect(Date().timeIntervalSince(t0) < 1, "one client's jobs one after another must not wait maxWait (2 s)")
        #expect(rec.sizes == [1, 1, 1])
        b.stop()
    }

    @Test func underLoadTheWaitIsBounded() async throws {
        let rec = Recorder()
        rec.delay = 50_000
        let b = MicroBatcher<Int, Int>(maxBatch: 32, maxWait: 0.2, maxQueue: 100) { rec.process($0) }
        // Eight at once: they share batches (those queued while one runs form the next).
        try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<8 { group.addTask { try await b.submit(i) } }
            for try await _ in group {}
        }
        #expect(rec.sizes.reduce(0, +) == 8 && (rec.sizes.last ?? 0) > 1, "sizes \(rec.sizes)")
        // The last batch held several, so a lone job now waits for company, but at most maxWait.
        let t0 = Date()
        #expect(try await b.submit(99) == 198)
        let waited = Date().timeIntervalSince(t0)
        #expect(waited >= 0.15 && waited < 1.5, "waited \(waited) s with maxWait 0.2 s")
        b.stop()
    }

    @Test func fullQueueRefusesAtOnce() async throws {
        let rec = Recorder()
        rec.delay = 200_000   // the first batch holds the worker for 0.2 s
        let b = MicroBatcher<Int, Int>(maxBatch: 1, maxWait: 0, maxQueue: 2) { rec.process($0) }
        let results = await withTaskGroup(of: Result<Int, MicroBatcherError>?.self) { group in
            for i in 0..<10 {
                group.addTask {
                    do { return .success(try await b.submit(i)) } catch let e as MicroBatcherError { return .failure(e) } catch { return nil }
                }
            }
            var all: [Result<Int, MicroBatcherError>?] = []
            for await r in group { all.append(r) }
            return all
        }
        let refused = results.filter { if case .failure(.queueFull) = $0 { return true } else { return false } }.count
        let done = results.filter { if case .success = $0 { return true } else { return false } }.count
        #expect(refused > 0, "ten jobs into a queue of 2 behind a 0.2 s batch: some must be refused")
        #expect(done + refused == 10)
        #expect(done >= 1)
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
