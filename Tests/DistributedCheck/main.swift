// Checks every collective of the process's communicator with known values on every rank: run it
// under `mpirun -np 2` and `-np 3` (scripts/test-mpi.sh), or alone (the single process). Prints one
// line per failed check and exits 1 on any mismatch; rank 0 prints a summary.

import Foundation
import Tensor
import Autograd
import ClipDistributed

var failures = 0

func check(_ ok: Bool, _ what: String, rank: Int) {
    if !ok {
        failures += 1
        FileHandle.standardError.write(Data("rank \(rank): FAILED \(what)\n".utf8))
    }
}

func close(_ a: [Float], _ b: [Float], tol: Float = 1e-5) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tol * max(1, abs($1)) }
}

do {
    let comm = try Distributed.world()
    let (rank, size) = (comm.rank, comm.size)
    let expectedSize = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"].flatMap(Int.init) ?? 1
    check(size == expectedSize, "size \(size), launcher says \(expectedSize)", rank: rank)
    check((0..<size).contains(rank), "rank \(rank) outside 0..<\(size)", rank: rank)
    if let r = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_RANK"].flatMap(Int.init) {
        check(rank == r, "rank \(rank), launcher says \(r)", rank: rank)
    }
    // Without CLIPCORE_NUM_THREADS the ranks of one machine share its processors.
    let env = ProcessInfo.processInfo.environment
    if env["CLIPCORE_NUM_THREADS"] == nil, let local = env["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init), local > 0 {
        let share = max(1, ProcessInfo.processInfo.activeProcessorCount / local)
        check(Threads.count <= share, "\(Threads.count) threads on a rank, more than its share \(share)", rank: rank)
    }
    let n = Float(size)
    let triangle = Float(size * (size - 1) / 2)   // Σ r over ranks

    // MARK: allreduce
    var sum: [Float] = [Float(rank), 1, Float(rank) * 0.5, -2]
    try comm.allreduce(&sum, op: .sum)
    check(close(sum, [triangle, n, triangle * 0.5, -2 * n]), "allreduce sum \(sum)", rank: rank)
    var mean: [Float] = [Float(rank), 3, Float(rank * rank)]
    try comm.allreduce(&mean, op: .mean)
    let squares = Float((0..<size).map { $0 * $0 }.reduce(0, +))
    check(close(mean, [triangle / n, 3, squares / n]), "allreduce mean \(mean)", rank: rank)
    var empty: [Float] = []
    try comm.allreduce(&empty, op: .sum)
    check(empty.isEmpty, "allreduce of nothing", rank: rank)
    // A buffer long enough for the pipelined algorithms.
    var long = (0..<100_003).map { Float($0 % 97) + Float(rank) }
    try comm.allreduce(&long, op: .sum)
    check(close(long, (0..<100_003).map { Float($0 % 97) * n + triangle }), "allreduce of 100003 floats", rank: rank)

    // MARK: allgather (variable sizes: rank r gives r + 1 values, rank 1 none when size > 2)
    func localCount(_ r: Int) -> Int { size > 2 && r == 1 ? 0 : r + 1 }
    let floats = (0..<localCount(rank)).map { Float(rank * 10 + $0) + 0.25 }
    let gf = try comm.allgather(floats)
    check(gf.count == size, "allgather(Float) gave \(gf.count) arrays", rank: rank)
    for r in 0..<min(size, gf.count) {
        check(gf[r] == (0..<localCount(r)).map { Float(r * 10 + $0) + 0.25 }, "allgather(Float) rank \(r)'s part \(gf[r])", rank: rank)
    }
    let ints = (0..<localCount(rank)).map { Int32(-rank * 100 - $0) }
    let gi = try comm.allgather(ints)
    check(gi.count == size, "allgather(Int32) gave \(gi.count) arrays", rank: rank)
    for r in 0..<min(size, gi.count) {
        check(gi[r] == (0..<localCount(r)).map { Int32(-r * 100 - $0) }, "allgather(Int32) rank \(r)'s part \(gi[r])", rank: rank)
    }

    let known = try comm.allgather(floats, counts: (0..<size).map(localCount))
    check(known == gf, "allgather(Float, counts:) \(known)", rank: rank)
    let knownInts = try comm.allgather(ints, counts: (0..<size).map(localCount))
    check(knownInts == gi, "allgather(Int32, counts:) \(knownInts)", rank: rank)
    var wrongCounts = (0..<size).map(localCount)
    wrongCounts[rank] += 1
    check(ClipError.kind { _ = try comm.allgather(floats, counts: wrongCounts) } == (comm is SingleProcess ? nil : .invalidArgument),
          "allgather with counts that miss this rank's is an error", rank: rank)

    // MARK: broadcast (from the last rank, and from 0)
    let root = size - 1
    var bf: [Float] = rank == root ? [1.5, -2.5, 42] : [0, 0, 0]
    try comm.broadcast(&bf, root: root)
    check(bf == [1.5, -2.5, 42], "broadcast(Float) from \(root): \(bf)", rank: rank)
    var bi: [Int32] = rank == 0 ? [7, 8, 9, Int32.max] : [0, 0, 0, 0]
    try comm.broadcast(&bi, root: 0)
    check(bi == [7, 8, 9, Int32.max], "broadcast(Int32) from 0: \(bi)", rank: rank)
    let learned = try comm.broadcastInts(rank == root ? [3, 1, 4, 1, 5] : [], root: root)
    check(learned == [3, 1, 4, 1, 5], "broadcastInts from \(root): \(learned)", rank: rank)
    var bad: [Float] = [0]
    check(ClipError.kind { try comm.broadcast(&bad, root: size) } == .invalidArgument, "broadcast from root \(size) is an error", rank: rank)

    // MARK: rows and gradients
    let mine = Tensor((0..<(localCount(rank) * 2)).map { Float(rank) + Float($0) / 10 }, shape: [localCount(rank), 2])
    let (rows, counts) = try comm.allgatherRows(mine)
    check(counts == (0..<size).map(localCount), "allgatherRows counts \(counts)", rank: rank)
    check(rows.shape == [counts.reduce(0, +), 2], "allgatherRows shape \(rows.shape)", rank: rank)
    let expectedRows = (0..<size).flatMap { r in (0..<(localCount(r) * 2)).map { Float(r) + Float($0) / 10 } }
    check(rows.toArray() == expectedRows, "allgatherRows values", rank: rank)

    // gather-with-grad: loss = Σ_global w_i · x_i² with w_i = global row index + 1; every rank's
    // parameter p (its rows are p · c) must get the single-process gradient once averaged.
    let p = Variable(Tensor([Float(rank + 1)], shape: [1]), requiresGrad: true)
    let c = Tensor((0..<localCount(rank)).map { Float($0 + 1) }, shape: [localCount(rank), 1])
    let localRows = p.reshaped([1, 1]) * Variable(c)
    let gathered = try comm.gatherWithGrad(localRows)
    let total = gathered.rowCounts.reduce(0, +)
    let weights = Variable(Tensor((0..<total).map { Float($0 + 1) }, shape: [total, 1]))
    let loss = (gathered.global * gathered.global * weights).sum()
    loss.backward()
    try comm.backwardGathered([gathered])
    try comm.allreduceGradients([p], op: .mean)
    // Rank r's rows contribute g_r = Σ_{its rows} 2 w_i p_r c_i² (w_i by global row). Read p as one
    // parameter shared by the ranks (as in training): one process's gradient is Σ_r g_r, which is
    // what the summed gathered gradient (×size) averaged over the ranks must give.
    let start = gathered.localRows.lowerBound
    let expected = (0..<localCount(rank)).map { i in 2 * Float(start + i + 1) * Float(rank + 1) * Float((i + 1) * (i + 1)) }.reduce(0, +)
    var perRank: [Float] = [expected]
    try comm.allreduce(&perRank, op: .sum)
    check(close(p.grad?.toArray() ?? [], perRank, tol: 1e-4), "gatherWithGrad gradient \(p.grad?.toArray() ?? []) vs \(perRank)", rank: rank)

    // requireSame: equal values pass on every rank; values that differ on one rank throw on every
    // rank (none is left waiting); known counts that are not the ranks' counts throw everywhere too.
    do { try comm.requireSame([7, 3], "a shared position") } catch {
        check(false, "requireSame threw on equal values: \(error)", rank: rank)
    }
    var threw = false
    do { try comm.requireSame([7, rank == size - 1 ? 4 : 3], "a shared position") } catch { threw = true }
    check(threw == (size > 1), "requireSame on values that differ on rank \(size - 1): threw \(threw)", rank: rank)
    threw = false
    do { _ = try comm.allgather([Float](repeating: 1, count: 2), counts: [Int](repeating: 3, count: size)) } catch { threw = true }
    check(threw == (size > 1), "allgather with wrong known counts: threw \(threw)", rank: rank)

    try comm.barrier()
    var bad32 = [Float(failures)]
    try comm.allreduce(&bad32, op: .sum)
    if rank == 0 {
        print(bad32[0] == 0 ? "DistributedCheck: all collectives agree on \(size) rank(s)"
                            : "DistributedCheck: \(Int(bad32[0])) failed check(s) over \(size) rank(s)")
    }
    exit(bad32[0] == 0 ? 0 : 1)
} catch let e as ClipError {
    FileHandle.standardError.write(Data("DistributedCheck: \(e.message)\n".utf8))
    Distributed.abortJobIfDistributed(code: 2)   // the other ranks may wait in a collective
    exit(2)
} catch {
    FileHandle.standardError.write(Data("DistributedCheck: \(error)\n".utf8))
    Distributed.abortJobIfDistributed(code: 2)
    exit(2)
}
