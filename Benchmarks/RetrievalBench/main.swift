// Retrieval benchmarks: global hard-negative mining (exact search) against
// the faiss Python package on the same shapes (../shared/bench/faiss_ref.py),
// and recall@10 of HNSW and IVF against flat search, with their parameters.
//
// Usage: swift run -c release RetrievalBench [--n N] [--dim D] [--k K] [--skip-mining] [--skip-ann]
//        [--queries Q] [--hnsw-m M] [--ef-construction E] [--ef-search E] [--lists L] [--probes P]

import Dispatch
import Foundation
import Search
import Tensor

var n = 100_000, dim = 512, k = 16, queries = 1000
var skipMining = false, skipANN = false, skipHNSW = false, skipIVF = false
var hnswM = 32, efConstruction = 200, efSearch = 256, lists = 1024, probes = 128
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    func int() -> Int { args.popFirst().flatMap(Int.init) ?? 0 }
    switch a {
    case "--n": n = int()
    case "--dim": dim = int()
    case "--k": k = int()
    case "--queries": queries = int()
    case "--skip-mining": skipMining = true
    case "--skip-ann": skipANN = true
    case "--skip-hnsw": skipHNSW = true
    case "--skip-ivf": skipIVF = true
    case "--hnsw-m": hnswM = int()
    case "--ef-construction": efConstruction = int()
    case "--ef-search": efSearch = int()
    case "--lists": lists = int()
    case "--probes": probes = int()
    default:
        print("usage: RetrievalBench [--n N] [--dim D] [--k K] [--queries Q] [--skip-mining] [--skip-ann] [--skip-hnsw] [--skip-ivf] [--hnsw-m M] [--ef-construction E] [--ef-search E] [--lists L] [--probes P]")
        exit(2)
    }
}

setvbuf(stdout, nil, _IOLBF, 0)

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
}

func peakRSSMB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// Random unit rows, normalised in place (no second copy).
func normalized(_ rows: Int, seed: UInt64) -> Tensor {
    var g = RandomGenerator(seed: seed)
    let t = Tensor.randn([rows, dim], generator: &g)
    for r in 0..<rows {
        let p = t.data + r * dim
        var s: Float = 0
        for j in 0..<dim { s += p[j] * p[j] }
        let inv = 1 / s.squareRoot()
        for j in 0..<dim { p[j] *= inv }
    }
    return t
}

print("runtime: \(Threads.runtimeSummary)")
let images = normalized(n, seed: 1)
let texts = normalized(n, seed: 2)
let embeddingMB = Double(2 * n * dim * 4) / 1e6
print(String(format: "embeddings: %d texts + %d images × %d = %.0f MB, peak RSS after creating them %.0f MB",
             n, n, dim, embeddingMB, peakRSSMB()))

if !skipMining {
    let miner = try HardNegativeMiner(imageOfText: Array(0..<n), imageCount: n)
    var neighbours: HardNeighbours?
    let t = try seconds { neighbours = try miner.mine(texts: texts, over: .exact(images), k: k) }
    let resultsMB = Double(n * k * 4) / 1e6
    print(String(format: "mine %d×%d×%d k=%d (exact inner product, GEMM tiles): %.2f s, peak RSS %.0f MB (embeddings + results = %.0f MB, ratio %.2f)",
                 n, n, dim, k, t, peakRSSMB(), embeddingMB + resultsMB, peakRSSMB() / (embeddingMB + resultsMB)))
    let tb = seconds { _ = miner.batches(neighbours!, batchSize: 40, seed: 0) }
    print(String(format: "batches of 40 from the neighbours: %.3f s", tb))
}

if !skipANN {
    let q = texts.narrowed(0, start: 0, length: min(queries, n))
    let flat = try VectorIndex.flat(dimension: dim)
    try flat.add(images)
    let truth = try flat.search(q, k: 10)
    func recall(_ r: SearchResult) -> Double {
        var hits = 0
        for i in 0..<q.shape[0] { hits += Set(r.ids(of: i)).intersection(truth.ids(of: i)).count }
        return Double(hits) / Double(10 * q.shape[0])
    }
    let tf = try seconds { _ = try flat.search(q, k: 10) }
    print(String(format: "flat: search %d queries %.3f s", q.shape[0], tf))

    if !skipHNSW {
    let hnsw = try VectorIndex.hnsw(dimension: dim, m: hnswM, efConstruction: efConstruction, efSearch: efSearch)
    let hb = try seconds { try hnsw.add(images) }
    var hr: SearchResult?
    let hs = try seconds { hr = try hnsw.search(q, k: 10) }
    print(String(format: "HNSW%d efConstruction %d efSearch %d: build %.1f s, search %.3f s, recall@10 %.4f",
                 hnswM, efConstruction, efSearch, hb, hs, recall(hr!)))
    }
    if !skipIVF {
    let ivf = try VectorIndex.ivfFlat(dimension: dim, lists: lists, probes: probes)
    let it = try seconds { try ivf.train(images); try ivf.add(images) }
    var ir: SearchResult?
    let isr = try seconds { ir = try ivf.search(q, k: 10) }
    print(String(format: "IVF%d,Flat nprobe %d: train + add %.1f s, search %.3f s, recall@10 %.4f",
                 lists, probes, it, isr, recall(ir!)))
    }
}
