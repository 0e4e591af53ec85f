// Distributed benchmarks, run under mpirun (or alone, as one rank):
//   allreduce   float32 sum-allreduce of 1, 16 and 64 MB (or --mb a,b,c): time per call, algorithm
//               bandwidth (bytes / time) and bus bandwidth (2 (N−1)/N · bytes / time, NCCL's convention:
//               what each rank's link carries in a ring allreduce)
//   mine        sharded exact hard-negative search (GallerySplit, per-rank top-k, allgather, TopKMerge)
//               of --queries random captions against --n random images of --dim, k = --k
// Rank 0 prints one line per measurement, with the ranks, the threads and the CPU's vector flags.
//
// Usage: mpirun -np N .build/release/DistBench allreduce [--mb 1,16,64] [--reps R]
//        mpirun -np N .build/release/DistBench mine [--n 100000] [--queries 5000] [--dim 512] [--k 16] [--reps R]

import Dispatch
import Foundation
import ClipDistributed
import Search
import Tensor

var mode = "allreduce", sizesMB = [1, 16, 64], reps = 5
var n = 100_000, queries = 5000, dim = 512, k = 16, block = 4096
var args = Array(CommandLine.arguments.dropFirst())[...]
if let first = args.first, !first.hasPrefix("--") { mode = first; args = args.dropFirst() }
while let a = args.popFirst() {
    func int() -> Int { args.popFirst().flatMap { Int($0) } ?? 0 }
    switch a {
    case "--mb": sizesMB = (args.popFirst() ?? "").split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
    case "--reps": reps = max(1, int())
    case "--n": n = int()
    case "--queries": queries = int()
    case "--dim": dim = int()
    case "--k": k = int()
    case "--gallery-block": block = max(1, int())
    default:
        FileHandle.standardError.write(Data("DistBench: unknown argument \(a)\n".utf8))
        exit(2)
    }
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
}

/// The CPU's SIMD flags (avx2, fma, avx512*), as /proc/cpuinfo lists them.
func cpuFlags() -> String {
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return "-" }
    let flags = line.split(separator: " ").filter { $0.hasPrefix("avx") || $0 == "fma" || $0.hasPrefix("sse4") }
    return flags.joined(separator: " ")
}

do {
    let comm = try Distributed.world()
    let context = "ranks \(comm.size), threads \(Threads.count) per rank, CPU flags: \(cpuFlags())"
    if comm.isRoot { print("DistBench \(mode): \(context)") }
    switch mode {
    case "allreduce":
        for mb in sizesMB {
            let count = mb * (1 << 20) / 4
            var buffer = [Float](repeating: Float(comm.rank + 1), count: count)
            try comm.allreduce(&buffer, op: .sum)   // warm-up (and a check)
            let want = Float(comm.size * (comm.size + 1) / 2)
            guard buffer[0] == want, buffer[count - 1] == want else {
                throw ClipError(.internal, "allreduce: got \(buffer[0]), expected \(want)")
            }
            try comm.barrier()
            var best = Double.infinity, total = 0.0
            for _ in 0..<reps {
                let t = try seconds { try comm.allreduce(&buffer, op: .sum) }
                // The slowest rank's time: the collective ends for the job when it ends there.
                let slowest = Double(try comm.allgather([Float(t)]).map { $0[0] }.max() ?? Float(t))
                best = min(best, slowest)
                total += slowest
            }
            let bytes = Double(count * 4)
            let algo = bytes / best / 1e9, bus = algo * 2 * Double(comm.size - 1) / Double(max(comm.size, 1))
            if comm.isRoot {
                print(String(format: "allreduce %3d MB float32 sum: best %.4f s, mean %.4f s over %d; algorithm bandwidth %.2f GB/s, bus bandwidth %.2f GB/s",
                             mb, best, total / Double(reps), reps, algo, bus))
            }
        }
    case "mine":
        var g = RandomGenerator(seed: 7)
        let images = Tensor.randn([n, dim], generator: &g).l2Normalized()
        let texts = Tensor.randn([queries, dim], generator: &g).l2Normalized()
        let pairs = (0..<queries).map { $0 % n }
        let miner = try HardNegativeMiner(imageOfText: pairs, imageCount: n)
        let split = try GallerySplit(count: n, ranks: comm.size, galleryBlock: block)
        var best = Double.infinity, searchBest = Double.infinity
        var checksum: Int64 = 0
        for _ in 0..<reps {
            try comm.barrier()
            var search = 0.0
            let t = try seconds {
                var part: SearchResult? = nil
                search = try seconds {
                    part = try miner.mineExactPart(texts: texts, images: images, rows: split.rows(of: comm.rank), k: k, galleryBlock: block)
                }
                var ids = part!.ids.map { Int32(truncatingIfNeeded: $0) }
                let scores = part!.scores.contiguous().toArray()
                if comm.size > 1 {
                    let s = try comm.allgather(scores), i = try comm.allgather(ids)
                    let merged = try TopKMerge.merge(scores: s, ids: i.map { $0.map(Int64.init) }, queries: queries, k: k)
                    ids = merged.ids.map { Int32(truncatingIfNeeded: $0) }
                }
                checksum = ids.reduce(0) { $0 &+ Int64($1) }
            }
            var times = [Float(t), Float(search)]
            try comm.allreduce(&times, op: .mean)
            best = min(best, Double(times[0]))
            searchBest = min(searchBest, Double(times[1]))
        }
        if comm.isRoot {
            print(String(format: "mine %d captions × %d images, d %d, k %d: best %.3f s (search %.3f s, gather + merge %.3f s) over %d; id checksum %lld",
                         queries, n, dim, k, best, searchBest, best - searchBest, reps, checksum))
        }
    default:
        throw ClipError(.invalidArgument, "DistBench: mode must be allreduce or mine, got \(mode)")
    }
    try comm.barrier()
} catch {
    FileHandle.standardError.write(Data("DistBench: \(error)\n".utf8))
    Distributed.abortJobIfDistributed(code: 1)
    exit(1)
}
