// The single-process communicator: rank 0 of 1, collectives that return their input, the gather
// with gradient a pass-through; and the choice of communicator by the launcher's environment.

import Testing
import Tensor
import Autograd
import ClipDistributed

@Suite struct SingleProcessTests {
    @Test func rankAndSize() {
        let c = SingleProcess()
        #expect(c.rank == 0)
        #expect(c.size == 1)
        #expect(c.isRoot)
        #expect(!c.isDistributed)
    }

    @Test func allreduceLeavesTheBuffer() throws {
        let c = SingleProcess()
        var a: [Float] = [1, -2.5, 3]
        try c.allreduce(&a, op: .sum)
        #expect(a == [1, -2.5, 3])
        try c.allreduce(&a, op: .mean)
        #expect(a == [1, -2.5, 3])
    }

    @Test func allgatherReturnsTheLocalArray() throws {
        let c = SingleProcess()
        #expect(try c.allgather([Float(1), 2]) == [[1, 2]])
        #expect(try c.allgather([Int32(-7)]) == [[-7]])
        #expect(try c.allgather([Float]()) == [[]])
    }

    @Test func allgatherWithCountsReturnsTheLocalArray() throws {
        let c = SingleProcess()
        #expect(try c.allgather([Float(3), 4], counts: [2]) == [[3, 4]])
        #expect(try c.allgather([Int32(9)], counts: [1]) == [[9]])
    }

    @Test func broadcastChecksTheRoot() throws {
        let c = SingleProcess()
        var f: [Float] = [4]
        try c.broadcast(&f, root: 0)
        #expect(f == [4])
        var i: [Int32] = [5]
        #expect(ClipError.kind { try c.broadcast(&i, root: 1) } == .invalidArgument)
        #expect(ClipError.kind { try c.broadcast(&f, root: -1) } == .invalidArgument)
        #expect(try c.broadcastInts([1, 2, 3], root: 0) == [1, 2, 3])
        try c.barrier()
    }

    @Test func gatherWithGradIsThePassThrough() throws {
        let c = SingleProcess()
        let x = Variable(Tensor([1, 2, 3, 4], shape: [2, 2]), requiresGrad: true)
        let g = try c.gatherWithGrad(x)
        #expect(g.isPassThrough)
        #expect(g.localRows == 0..<2)
        #expect(g.rowCounts == [2])
        (g.global * g.global).sum().backward()
        try c.backwardGathered([g])
        // d(Σx²)/dx = 2x, once (no second pass in one process).
        #expect(x.grad?.toArray() == [2, 4, 6, 8])
        try c.allreduceGradients([x], op: .mean)
        #expect(x.grad?.toArray() == [2, 4, 6, 8])
        let (rows, counts) = try c.allgatherRows(x.value)
        #expect(rows.toArray() == [1, 2, 3, 4])
        #expect(counts == [2])
    }

    @Test func worldIsSingleWithoutALauncher() throws {
        // The test runner is not started by mpirun (scripts/test-mpi.sh runs DistributedCheck for that).
        guard !Distributed.isLaunchedByMPI else { return }
        let w = try Distributed.world()
        #expect(w is SingleProcess)
        #expect(w === (try Distributed.world()))
    }
}
