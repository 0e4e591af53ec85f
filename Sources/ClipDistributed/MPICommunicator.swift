// MPI_COMM_WORLD through CMPI, which loads Open MPI's libmpi at run time (nothing links MPI).

import Foundation
import Tensor
import CMPI

/// Every rank of an `mpirun` job (MPI_COMM_WORLD). Made once per process by `Distributed.world()`,
/// which initialises MPI (finalised at exit). Calls are serialised by a lock (MPI is initialised
/// with MPI_THREAD_SERIALIZED).
public final class MPICommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    private let lock = NSLock()

    /// Loads libmpi, initialises MPI and reads this process's rank and the job's size.
    /// - Throws: `ClipError.unsupported` when libmpi cannot be loaded (naming what was tried),
    ///   `ClipError.internal` when MPI fails to start.
    init() throws {
        var message = [CChar](repeating: 0, count: 2048)
        guard cmpi_load(&message, message.count) == 0 else {
            throw ClipError.unsupported("launched under mpirun, but " + String(cString: message))
        }
        try Self.check(cmpi_init(), "MPI_Init_thread")
        var r: Int32 = 0, s: Int32 = 0
        try Self.check(cmpi_rank(&r), "MPI_Comm_rank")
        try Self.check(cmpi_size(&s), "MPI_Comm_size")
        rank = Int(r)
        size = Int(s)
        Self.current = self
        Self.shareCores()
    }

    /// Without `CLIPCORE_NUM_THREADS`, each rank's threads default to its share of the machine: the
    /// processors it may run on (mpirun binds a rank to a core when there are at most two), and at
    /// most the online processors divided by the ranks on this machine (`OMPI_COMM_WORLD_LOCAL_SIZE`),
    /// instead of every rank starting a thread per processor.
    static func shareCores() {
        let env = ProcessInfo.processInfo.environment
        guard env["CLIPCORE_NUM_THREADS"] == nil else { return }
        let local = max(1, env["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? 1)
        let online = max(1, ProcessInfo.processInfo.activeProcessorCount)
        Threads.count = max(1, min(Int(cmpi_affinity_cpus()), online / local))
    }

    /// The communicator once `Distributed.world()` made it (set once, before any use).
    nonisolated(unsafe) static var current: MPICommunicator?

    // MARK: - Collectives

    public func allreduce(_ buffer: inout [Float], op: ReduceOp) throws {
        try locked {
            try buffer.withUnsafeMutableBufferPointer { b in
                try Self.inSlices(b.count) { start, n in
                    try Self.check(cmpi_allreduce_sum_float(b.baseAddress.map { $0 + start }, n), "MPI_Allreduce")
                }
            }
        }
        if op == .mean {
            let scale = 1 / Float(size)
            for i in buffer.indices { buffer[i] *= scale }
        }
    }

    /// In-place sum of float64 values (statistics that must not lose precision).
    public func allreduce(_ buffer: inout [Double]) throws {
        try locked {
            try buffer.withUnsafeMutableBufferPointer { b in
                try Self.inSlices(b.count) { start, n in
                    try Self.check(cmpi_allreduce_sum_double(b.baseAddress.map { $0 + start }, n), "MPI_Allreduce")
                }
            }
        }
    }

    public func allgather(_ local: [Float]) throws -> [[Float]] {
        try gather(local, zero: 0) { cmpi_allgatherv_float($0, $1, $2, $3, $4) }
    }

    public func allgather(_ local: [Int32]) throws -> [[Int32]] {
        try gather(local, zero: 0) { cmpi_allgatherv_int($0, $1, $2, $3, $4) }
    }

    public func allgather(_ local: [Float], counts: [Int]) throws -> [[Float]] {
        try gather(local, zero: 0, counts: counts) { cmpi_allgatherv_float($0, $1, $2, $3, $4) }
    }

    public func allgather(_ local: [Int32], counts: [Int]) throws -> [[Int32]] {
        try gather(local, zero: 0, counts: counts) { cmpi_allgatherv_int($0, $1, $2, $3, $4) }
    }

    public func broadcast(_ buffer: inout [Float], root: Int) throws {
        try broadcast(&buffer, root: root) { cmpi_bcast_float($0, $1, $2) }
    }

    public func broadcast(_ buffer: inout [Int32], root: Int) throws {
        try broadcast(&buffer, root: root) { cmpi_bcast_int($0, $1, $2) }
    }

    /// MPI_Bcast of `buffer` from `root` by `call` (pointer, count, root), in 32-bit slices.
    private func broadcast<T>(_ buffer: inout [T], root: Int,
                              _ call: (UnsafeMutablePointer<T>?, Int32, Int32) -> Int32) throws {
        try requireRoot(root)
        try locked {
            try buffer.withUnsafeMutableBufferPointer { b in
                try Self.inSlices(b.count) { start, n in
                    try Self.check(call(b.baseAddress.map { $0 + start }, n, Int32(root)), "MPI_Bcast")
                }
            }
        }
    }

    public func barrier() throws {
        try locked { try Self.check(cmpi_barrier(), "MPI_Barrier") }
    }

    /// Ends every rank of the job with `code` (MPI_Abort): a rank that fails alone would leave the
    /// others waiting in their next collective.
    public func abort(code: Int32) {
        _ = cmpi_abort(code)
    }

    // MARK: - Helpers

    /// The sizes first (one MPI_Allgather), then the data (MPI_Allgatherv), split per rank. Every
    /// check runs on the gathered sizes, so all ranks throw alike (none is left waiting in the data
    /// exchange); given `known` counts must match them on every rank.
    private func gather<T>(_ local: [T], zero: T, counts known: [Int]? = nil,
                           _ call: (UnsafePointer<T>?, Int32, UnsafeMutablePointer<T>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> Int32)
        throws -> [[T]] {
        // -1 tells every rank that this one's count does not fit MPI's 32-bit count.
        let count = local.count <= Int(Int32.max) ? Int32(local.count) : -1
        return try locked {
            var counts = [Int32](repeating: 0, count: size)
            try Self.check(cmpi_allgather_int(count, &counts), "MPI_Allgather")
            if let r = counts.firstIndex(where: { $0 < 0 }) {
                throw ClipError.invalidArgument("allgather: rank \(r)'s elements exceed MPI's 32-bit count")
            }
            if let known, known != counts.map(Int.init) {
                throw ClipError.invalidArgument("allgather: the given counts \(known) are not the ranks' \(counts)")
            }
            var displacements = [Int32](repeating: 0, count: size)
            var total = 0
            for r in 0..<size {
                displacements[r] = Int32(truncatingIfNeeded: total)
                total += Int(counts[r])
            }
            guard total <= Int(Int32.max) else {
                throw ClipError.invalidArgument("allgather: \(total) elements over all ranks exceed MPI's 32-bit count")
            }
            var gathered = [T](repeating: zero, count: total)
            try local.withUnsafeBufferPointer { src in
                try gathered.withUnsafeMutableBufferPointer { dst in
                    try Self.check(call(src.baseAddress, count, dst.baseAddress, counts, displacements), "MPI_Allgatherv")
                }
            }
            return (0..<size).map { r in
                let start = Int(displacements[r])
                return Array(gathered[start..<(start + Int(counts[r]))])
            }
        }
    }

    private func locked<R>(_ body: () throws -> R) throws -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Calls `body(start, count)` over `0..<n` in slices that fit MPI's 32-bit count (every rank's
    /// buffer has the same length, so every rank makes the same calls).
    static func inSlices(_ n: Int, slice: Int = 1 << 30, _ body: (Int, Int32) throws -> Void) throws {
        var start = 0
        repeat {
            let c = min(slice, n - start)
            try body(start, Int32(c))
            start += c
        } while start < n
    }

    private static func check(_ code: Int32, _ call: String) throws {
        guard code != 0 else { return }
        var text = [CChar](repeating: 0, count: 512)
        cmpi_error_string(code, &text, text.count)
        throw ClipError.internal("\(call) failed: \(String(cString: text))")
    }
}
