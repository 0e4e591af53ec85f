// MPNet's relative position buckets (Song et al. 2020, "MPNet: Masked and Permuted Pre-training for
// Language Understanding"; T5's bucketing), following transformers' models/mpnet/modeling_mpnet.py:
// MPNetEncoder.relative_position_bucket and compute_position_bias.

import Foundation
import Tensor

/// transformers' `MPNetEncoder.relative_position_bucket` for one relative position (key − query),
/// bidirectional: half the buckets for keys after the query; within a half, distances below a
/// quarter of the buckets get their own bucket and the rest share logarithmically wider ones up to
/// `maxDistance`. The logarithm runs in Float as PyTorch's (float32 tensors, the divisor
/// `math.log(max_distance / max_exact)` rounded to float32), so boundary distances fall alike.
package func relativePositionBucket(_ relativePosition: Int, buckets: Int = 32, maxDistance: Int = 128) -> Int {
    var n = -relativePosition
    let half = buckets / 2
    var bucket = n < 0 ? half : 0
    n = abs(n)
    let maxExact = half / 2
    if n < maxExact { return bucket + n }
    let ratio = logf(Float(n) / Float(maxExact)) / Float(Foundation.log(Double(maxDistance) / Double(maxExact)))
    let large = maxExact + Int(ratio * Float(half - maxExact))
    bucket += min(large, half - 1)
    return bucket
}

/// The bucket of every (query i, key j) pair of a `seq`-token sequence, `[seq, seq]`: the relative
/// position j − i (MPNet computes it from 0, 1, 2, … whatever the padding).
package func relativePositionBuckets(seq: Int, buckets: Int = 32) -> Indices {
    // One bucket per distance −(seq − 1)…(seq − 1), spread over the pairs.
    let byDistance = (0..<(2 * seq - 1)).map { relativePositionBucket($0 - (seq - 1), buckets: buckets) }
    var values = [Int](repeating: 0, count: seq * seq)
    for i in 0..<seq {
        for j in 0..<seq { values[i * seq + j] = byDistance[j - i + seq - 1] }
    }
    return Indices(shape: [seq, seq], values: values)
}
