// Encoding from many threads at once gives the serial run's bits: pipelines on 8 threads, pipelines
// made, used and dropped while others encode, and precisions scoped per task (Precision.withLinear)
// while another thread changes the thread count. The C ABI's side
// (8 threads on one handle, handles freed under calls) is Tests/capi/concurrency.c; both run under
// TSan in `scripts/test.sh --sanitize thread`.

import Foundation
import Images
import Models
import Synchronization
import Tensor
import Testing
import TestSupport

@Suite("Concurrency")
struct ConcurrencyTests {
    static let folder = Fixtures.path("clip/gelu_vocab")
    static let texts = ["a photo of a cat", "two dogs running on the beach", "a red circle left of a blue square"]

    /// One round on a pipeline: the bits of its text and image embeddings.
    static func round(_ pipeline: ImageTextPipeline) throws -> [UInt32] {
        let images = try ["image0.png", "image1.png"].map { try RGBImage(contentsOfFile: folder + "/" + $0) }
        let text = try pipeline.encode(texts: texts).toArray()
        let image = try pipeline.encode(images: images).toArray()
        return (text + image).map(\.bitPattern)
    }

    /// `count` rounds on a pipeline: their bits when all agree, else [].
    static func rounds(_ count: Int, _ pipeline: ImageTextPipeline) throws -> [UInt32] {
        let all = try (0..<count).map { _ in try round(pipeline) }
        return all.allSatisfy { $0 == all[0] } ? all[0] : []
    }

    /// Runs `body(i)` for i in 0..<n, each on a thread of its own, and waits for all of them: what
    /// each returned, and the errors thrown.
    static func onThreads(_ n: Int, _ body: @escaping @Sendable (Int) throws -> [UInt32]) -> (results: [[UInt32]], errors: [String]) {
        final class Collected: Sendable {
            let results = Mutex<[[UInt32]]>([]), errors = Mutex<[String]>([])
        }
        let collected = Collected()
        let group = DispatchGroup()
        for i in 0..<n {
            group.enter()
            let thread = Thread {
                do {
                    let r = try body(i)
                    collected.results.withLock { $0.append(r) }
                } catch {
                    collected.errors.withLock { $0.append("\(error)") }
                }
                group.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        group.wait()
        return (collected.results.withLock { $0 }, collected.errors.withLock { $0 })
    }

    @Test("8 threads, 8 pipelines: every round bitwise equal to the serial run")
    func eightPipelines() throws {
        let serial = try Self.round(ImageTextPipeline(directory: Self.folder))
        let (results, errors) = Self.onThreads(8) { _ in try Self.rounds(3, ImageTextPipeline(directory: Self.folder)) }
        #expect(errors == [])
        #expect(results.count == 8 && results.allSatisfy { $0 == serial })
    }

    @Test("pipelines made, used and dropped on one thread while 6 threads encode on theirs: results unchanged")
    func pipelinesDroppedWhileOthersEncode() throws {
        let serial = try Self.round(ImageTextPipeline(directory: Self.folder))
        let (results, errors) = Self.onThreads(7) { i in
            // thread 0: four pipelines, each released at the end of its round
            i == 0 ? try (0..<4).map { _ in try Self.round(ImageTextPipeline(directory: Self.folder)) }.first { $0 != serial } ?? serial
                   : try Self.round(ImageTextPipeline(directory: Self.folder))
        }
        #expect(errors == [])
        #expect(results.count == 7 && results.allSatisfy { $0 == serial })
    }

    /// A thread that sets `Threads.count` to 1 and back to `threads` (at least 2) until stopped; `stop`
    /// waits for it and restores `threads`.
    final class ThreadCountFlipper: Sendable {
        let threads: Int
        let stopping = Atomic<Bool>(false)
        let stopped = DispatchSemaphore(value: 0)
        init(_ threads: Int) {
            self.threads = threads
            Thread { [self] in
                var i = 0
                while !stopping.load(ordering: .relaxed) {
                    Threads.count = i % 2 == 0 ? 1 : max(threads, 2)
                    i += 1
                }
                stopped.signal()
            }.start()
        }
        func stop() {
            stopping.store(true, ordering: .relaxed)
            stopped.wait()
            Threads.count = threads
        }
    }

    /// The process-wide precision is left alone here (other suites run beside this one and follow it);
    /// Tests/capi/concurrency.c changes it under calls in flight, in a process of its own.
    @Test("precisions scoped per task (Precision.withLinear) while another thread changes the thread count")
    func scopedPrecisionsWhileThreadCountChanges() async throws {
        let other: LinearPrecision = LinearPrecision.int16.isSupported ? .int16 : .float32
        let pipeline = try ImageTextPipeline(directory: Self.folder)
        let atFloat = try Precision.withLinear(.float32) { try Self.round(pipeline) }
        let atOther = try Precision.withLinear(other) { try Self.round(pipeline) }
        if other != .float32 { #expect(atFloat != atOther) }   // else the test below could not tell them apart
        let flipper = ThreadCountFlipper(Threads.count)
        defer { flipper.stop() }
        let results = try await withThrowingTaskGroup(of: (LinearPrecision, [UInt32]).self) { group in
            for t in 0..<8 {
                group.addTask {
                    let p: LinearPrecision = t % 2 == 0 ? .float32 : other
                    let own = try ImageTextPipeline(directory: Self.folder)
                    return (p, try Precision.withLinear(p) { try Self.rounds(3, own) })
                }
            }
            var all: [(LinearPrecision, [UInt32])] = []
            for try await r in group { all.append(r) }
            return all
        }
        #expect(results.count == 8)
        for (p, bits) in results { #expect(bits == (p == .float32 ? atFloat : atOther), "a task at \(p)") }
    }
}
