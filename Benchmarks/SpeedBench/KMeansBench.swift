// SpeedBench kmeans: seconds of KMeans.fit (FAISS k-means through the shim, then every point's
// nearest centroid), as Benchmarks/kmeans_ref.py times faiss.Kmeans (train, then index.search) on the
// same data (Benchmarks/compare-kmeans.sh runs both).
//
// Data: `points` × `dim` float32 rows, row i = centre (i mod clusters) + 0.5 × noise, centres and
// noise uniform in [-1, 1) from a splitmix64 counter hash (bit-identical to the Python side; both
// print the checksum). Settings as faiss.Kmeans's defaults: seed 1234, one run, at most 256 points
// per centroid sampled for training. One warm-up run, then `reps` timed runs; sec is the median.

import Dispatch
import Foundation
import Search
import Tensor

/// Options of the kmeans case.
struct KMeansBenchOptions {
    var points = 50_000
    var dim = 512
    var clusters = 100
    var iterations = 20
}

/// splitmix64 of `counter`, its top 24 bits as a Float in [0, 1) (exact).
func hashedUnit(_ counter: UInt64) -> Float {
    var z = counter &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    z ^= z >> 31
    return Float(z >> 40) * (1 / 16_777_216)
}

func kmeansBenchData(_ o: KMeansBenchOptions) -> Tensor {
    let d = o.dim
    let centres = (0..<(o.clusters * d)).map { hashedUnit(UInt64(1 << 40) + UInt64($0)) * 2 - 1 }
    let x = Tensor(uninitializedShape: [o.points, d])
    for i in 0..<o.points {
        let c = (i % o.clusters) * d
        for j in 0..<d {
            let noise = hashedUnit(UInt64(i * d + j)) * 2 - 1
            x.data[i * d + j] = centres[c + j] + 0.5 * noise
        }
    }
    return x
}

func kmeansBench(_ o: KMeansBenchOptions, reps: Int) throws {
    let x = kmeansBenchData(o)
    var checksum = 0.0
    for i in 0..<x.count { checksum += Double(x.data[i]) }
    var kmeans = KMeans(clusters: o.clusters)
    kmeans.iterations = o.iterations
    var result = try kmeans.fit(x)
    var secs = [Double]()
    for _ in 0..<reps {
        let t0 = DispatchTime.now().uptimeNanoseconds
        result = try kmeans.fit(x)
        secs.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    let sec = secs.sorted()[secs.count / 2]
    let line: [String: Any] = [
        "what": "kmeans_n\(o.points)_d\(o.dim)_k\(o.clusters)_it\(o.iterations)", "impl": "clipcore", "batch": o.points,
        "threads": Threads.count, "sec": (sec * 1e4).rounded() / 1e4, "per_s": (Double(o.points) / sec).rounded(),
        "secs": secs.map { ($0 * 1e4).rounded() / 1e4 }, "objective": result.objective.last ?? 0,
        "clusters_used": Set(result.assignments).count, "checksum": checksum, "peak_rss_mb": peakRSSMB().rounded(),
        "blas": Threads.blasCoreName,
    ]
    let data = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
    fflush(stdout)
}
