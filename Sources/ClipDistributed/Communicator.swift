// The collectives data-parallel work needs, behind one protocol: MPI's over every rank of an
// `mpirun` job (`MPICommunicator`), or no-ops in a single process (`SingleProcess`).

import Tensor

/// How `allreduce` combines the ranks' buffers.
public enum ReduceOp: String, Sendable, CaseIterable {
    /// Element-wise sum over the ranks.
    case sum
    /// Element-wise sum divided by the number of ranks.
    case mean
}

/// A group of processes (ranks `0..<size`) and the collectives between them. Every rank must call
/// the same collectives in the same order; each call returns when every rank has made it.
///
/// - `allreduce`: in place, float32; every rank's buffer must have the same length.
/// - `allgather`: variable sizes; one array per rank, in rank order.
/// - `broadcast`: `root`'s buffer into every rank's; every rank's buffer must have root's length.
public protocol Communicator: AnyObject, Sendable {
    var rank: Int { get }
    var size: Int { get }
    func allreduce(_ buffer: inout [Float], op: ReduceOp) throws
    func allgather(_ local: [Float]) throws -> [[Float]]
    func allgather(_ local: [Int32]) throws -> [[Int32]]
    func broadcast(_ buffer: inout [Float], root: Int) throws
    func broadcast(_ buffer: inout [Int32], root: Int) throws
    func barrier() throws
    /// `allgather` when every rank's count is known (`counts[r]`: rank r's elements): one exchange
    /// fewer. The default gathers the counts anyway.
    func allgather(_ local: [Float], counts: [Int]) throws -> [[Float]]
    func allgather(_ local: [Int32], counts: [Int]) throws -> [[Int32]]
}

extension Communicator {
    public func allgather(_ local: [Float], counts: [Int]) throws -> [[Float]] { try allgather(local) }
    public func allgather(_ local: [Int32], counts: [Int]) throws -> [[Int32]] { try allgather(local) }

    /// Whether this is rank 0, the one that writes checkpoints and logs.
    public var isRoot: Bool { rank == 0 }

    /// Whether there is more than one rank.
    public var isDistributed: Bool { size > 1 }

    /// `broadcast` of one integer list from `root`, whose length the other ranks learn first.
    public func broadcastInts(_ values: [Int32], root: Int) throws -> [Int32] {
        var count: [Int32] = [Int32(truncatingIfNeeded: values.count)]
        try broadcast(&count, root: root)
        var buffer = rank == root ? values : [Int32](repeating: 0, count: Int(count[0]))
        try broadcast(&buffer, root: root)
        return buffer
    }

    /// Returns when every rank holds the same `values` (a position that must agree, such as where a
    /// resumed run starts); otherwise every rank throws alike.
    /// - Throws: `ClipError.invalidArgument` naming `what` and the first rank that differs from rank 0.
    public func requireSame(_ values: [Int], _ what: String) throws {
        guard size > 1 else { return }
        let all = try allgather(values.map { Int32(clamping: $0) })
        if let r = all.indices.first(where: { all[$0] != all[0] }) {
            throw ClipError.invalidArgument("\(what) differs between the ranks: rank 0 has \(all[0]), rank \(r) has \(all[r]) "
                                            + "(every rank must read the same files: a shared folder, or identical copies)")
        }
    }

    /// Checks `root` is a rank.
    /// - Throws: `ClipError.invalidArgument` naming the root and the size.
    func requireRoot(_ root: Int) throws {
        guard (0..<size).contains(root) else {
            throw ClipError.invalidArgument("broadcast root \(root) is not a rank of \(size)")
        }
    }
}
