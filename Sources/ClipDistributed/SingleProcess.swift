// The communicator of a process that was not launched by mpirun: rank 0 of 1, collectives that
// return their input.

import Tensor

/// Rank 0 of a group of one: `allreduce` (sum or mean of one buffer) and `broadcast` leave the
/// buffer as it is, `allgather` returns the local array alone, `barrier` returns at once.
public final class SingleProcess: Communicator {
    public init() {}

    public var rank: Int { 0 }
    public var size: Int { 1 }

    public func allreduce(_ buffer: inout [Float], op: ReduceOp) throws {}
    public func allgather(_ local: [Float]) throws -> [[Float]] { [local] }
    public func allgather(_ local: [Int32]) throws -> [[Int32]] { [local] }
    public func broadcast(_ buffer: inout [Float], root: Int) throws { try requireRoot(root) }
    public func broadcast(_ buffer: inout [Int32], root: Int) throws { try requireRoot(root) }
    public func barrier() throws {}
}
