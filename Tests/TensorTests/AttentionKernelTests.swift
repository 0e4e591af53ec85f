// ck_attention: each row the same whatever the batch size or thread count.

import Testing
import CKernels
import Tensor

@Suite struct AttentionKernelTests {
    @Test func rowsDoNotDependOnBatchOrThreads() {
        var g = RandomGenerator(seed: 5)
        let (b, s, heads, hd) = (3, 9, 3, 7)
        let d = heads * hd
        let qkv = Tensor.randn([b, s, 3 * d], generator: &g)
        let blocked = Tensor.zeros([b, s, s])
        for i in 0..<b { for q in 0..<s { for k in 0..<s where k > q || k == s - 1 - i { blocked.data[(i * s + q) * s + k] = 1 } } }
        func run(_ items: Range<Int>, threads: Int32) -> [Float] {
            let out = Tensor.zeros([items.count, s, d])
            let base = qkv.data + items.lowerBound * s * 3 * d
            ck_attention(base, Int64(3 * d), Int64(s * 3 * d), base + d, base + 2 * d, Int64(3 * d), Int64(s * 3 * d),
                         blocked.data + items.lowerBound * s * s, Int64(s * s), out.data, Int64(d), Int64(s * d),
                         Int64(items.count), Int64(heads), Int64(hd), Int64(s), Int64(s), 0.5, threads)
            return out.toArray()
        }
        let all = run(0..<b, threads: 2)
        #expect(all == run(0..<b, threads: 1))
        #expect(Array(all[(s * d)..<(2 * s * d)]) == run(1..<2, threads: 2))
        #expect(Array(all[(2 * s * d)...]) == run(2..<3, threads: 1))
        #expect(all.allSatisfy { $0.isFinite })
    }
}
