import Dispatch
import Testing
import Tensor
import CKernels

@Suite struct ParallelForTests {
    @Test func everyIndexRunsExactlyOnce() {
        for n in [1, 7, 1000, 100_003] {
            var hits = [Int32](repeating: 0, count: n)
            hits.withUnsafeMutableBufferPointer { h in
                let p = h.baseAddress!
                parallelFor(n, costPerItem: 100_000) { r in for i in r { p[i] += 1 } }
            }
            #expect(hits.allSatisfy { $0 == 1 }, "n = \(n)")
        }
    }

    /// The pool itself with more threads than this machine has cores, counts
    /// below and above the thread count, and many jobs in a row.
    @Test func poolRunsEveryIndexOnceWithManyThreads() {
        for count in [2, 3, 5, 8, 9, 100] {
            let hits = UnsafeMutablePointer<Int64>.allocate(capacity: count)
            defer { hits.deallocate() }
            hits.initialize(repeating: 0, count: count)
            for _ in 0..<200 {
                ck_parallel_run(Int64(count), 8, { ctx, i in
                    let p = ctx!.assumingMemoryBound(to: Int64.self)
                    p[Int(i)] += 1
                }, hits)
            }
            #expect((0..<count).allSatisfy { hits[$0] == 200 }, "count \(count)")
        }
    }

    @Test func nestedLoopsRunInline() {
        let outer = 8, inner = 1000
        var total = [Int](repeating: 0, count: outer)
        total.withUnsafeMutableBufferPointer { t in
            let p = t.baseAddress!
            parallelFor(outer, costPerItem: 1_000_000) { r in
                for o in r {
                    var s = 0
                    // A nested loop must not wait on the pool it runs in.
                    parallelFor(inner, costPerItem: 1_000_000) { rr in for i in rr { s += i } }
                    p[o] = s
                }
            }
        }
        #expect(total.allSatisfy { $0 == inner * (inner - 1) / 2 })
    }

    @Test func concurrentCallersGetCorrectResults() {
        // Several threads use kernels at once: one holds the pool, the others run inline.
        var rng = RandomGenerator(seed: 3)
        let x = Tensor.randn([64, 1000], generator: &rng)
        let expected = x.softmax().toArray()
        let results = UnsafeMutableBufferPointer<Bool>.allocate(capacity: 4)
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            var ok = true
            for _ in 0..<20 { ok = ok && x.softmax().toArray() == expected }
            results[t] = ok
        }
        #expect(results.allSatisfy { $0 })
    }
}

@Suite struct BufferPoolTests {
    @Test func largeBuffersAreReusedBySize() {
        let pool = BufferPool(limitBytes: 1 << 24)
        let a = pool.allocate(bytes: 1_000_000)
        pool.release(a, bytes: 1_000_000)
        #expect(pool.cachedBytes == 1_048_576)           // eight classes per octave: 16 × 64 KiB
        #expect(pool.allocate(bytes: 1_040_000) == a)     // same size class
        #expect(pool.cachedBytes == 0)
        let b = pool.allocate(bytes: 2_000_000)           // another class: fresh memory
        #expect(b != a)
        pool.release(a, bytes: 1_000_000)
        pool.release(b, bytes: 2_000_000)
        // Small blocks are never kept.
        let small = pool.allocate(bytes: 1000)
        pool.release(small, bytes: 1000)
        #expect(pool.cachedBytes == 1_048_576 + 2_097_152)
        pool.drain()
        #expect(pool.cachedBytes == 0)
    }

    @Test func limitIsHonoured() {
        let pool = BufferPool(limitBytes: 3_000_000)
        let a = pool.allocate(bytes: 2_000_000), b = pool.allocate(bytes: 2_000_000)
        pool.release(a, bytes: 2_000_000)
        pool.release(b, bytes: 2_000_000)                 // over the limit: freed
        #expect(pool.cachedBytes == 2_097_152)
        pool.limitBytes = 0                               // lowering the limit drains
        #expect(pool.cachedBytes == 0)
        let c = pool.allocate(bytes: 2_000_000)
        pool.release(c, bytes: 2_000_000)
        #expect(pool.cachedBytes == 0)
    }

    @Test func sizeClassesAreEighthsOfAnOctaveInWholePages() {
        #expect(BufferPool.roundedBytes(1000) == 1000)                      // below the pool: as asked
        #expect(BufferPool.roundedBytes(65_536) == 65_536)
        #expect(BufferPool.roundedBytes(65_537) == 73_728)                  // 64 KiB × 9/8
        #expect(BufferPool.roundedBytes(1_000_000) == 1_048_576)
        for bytes in [70_000, 123_457, 999_999, 5_000_001, 123_456_789] {
            let r = BufferPool.roundedBytes(bytes)
            #expect(r >= bytes && Double(r) <= Double(bytes) * 1.125 + 4096 && r % 4096 == 0, "\(bytes) → \(r)")
        }
    }

    @Test func tensorStorageGoesThroughTheSharedPool() {
        // An odd size no other test uses, so the freed block comes straight back.
        var first: UnsafeMutablePointer<Float>?
        do { first = Tensor(uninitializedShape: [1237, 1009]).data }
        #expect(Tensor(uninitializedShape: [1009, 1237]).data == first)
    }
}
