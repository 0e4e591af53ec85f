import Testing
import Tensor
import Autograd

@Suite struct MatmulGradTests {
    @Test func matmulLayoutsAndBroadcasting() {
        var r = Inputs(seed: 10)
        let cases: [([Int], Layout, [Int], Layout)] = [
            ([3, 4], .contiguous, [4, 5], .contiguous),
            ([3, 4], .transposed, [4, 5], .transposed),
            ([3, 4], .strided, [4, 2], .transposed),
            ([2, 3, 4], .contiguous, [4, 5], .contiguous),      // folds into one GEMM
            ([2, 3, 4], .transposed, [4, 5], .contiguous),
            ([2, 3, 4], .contiguous, [2, 4, 5], .transposed),
            ([2, 1, 3, 4], .contiguous, [3, 4, 2], .contiguous), // batch broadcast
            ([1, 4], .contiguous, [4, 1], .contiguous),
        ]
        for (sa, la, sb, lb) in cases {
            gradCheck("matmul \(sa)\(la) x \(sb)\(lb)", [r.make(sa, la), r.make(sb, lb)],
                      { $0[0].matmul($0[1]) }, reference: { D.matmul($0[0], $0[1]) })
        }
    }

    @Test func permutedBatchesUseStridedGEMMs() {
        // [b, s, h, d] viewed as [b, h, s, d], as attention heads are.
        var r = Inputs(seed: 11)
        let q = r.make([2, 3, 2, 4]), k = r.make([2, 3, 2, 4])
        gradCheck("q·kᵀ per head", [q, k], { v in
            v[0].permuted([0, 2, 1, 3]).matmul(v[1].permuted([0, 2, 3, 1]))
        }, reference: { d in D.matmul(d[0].permute([0, 2, 1, 3]), d[1].permute([0, 2, 3, 1])) })
    }

    @Test func linearWithAndWithoutBias() {
        var r = Inputs(seed: 12)
        let x = r.make([2, 3, 5], .strided), w = r.make([4, 5]), b = r.make([4])
        gradCheck("linear", [x, w, b], { $0[0].linear(weight: $0[1], bias: $0[2]) },
                  reference: { d in D.matmul(d[0], d[1].permute([1, 0])) + d[2] })
        gradCheck("linear no bias", [r.make([3, 5], .transposed), w], { $0[0].linear(weight: $0[1], bias: nil) },
                  reference: { d in D.matmul(d[0], d[1].permute([1, 0])) })
    }

    @Test func patchConvolution() {
        var r = Inputs(seed: 13)
        let x = r.make([2, 3, 8, 6]), w = r.make([4, 3, 2, 2]), b = r.make([4])
        func ref(_ d: [D], bias: Bool) -> D {
            let (bn, c, h, wd, o, p) = (2, 3, 8, 6, 4, 2)
            var out = D(zeros: [bn, o, h / p, wd / p])
            for i in 0..<bn { for oc in 0..<o { for y in 0..<(h / p) { for xx in 0..<(wd / p) {
                var s = bias ? d[2].v[oc] : 0
                for ch in 0..<c { for ky in 0..<p { for kx in 0..<p {
                    s += d[0].v[d[0].flat([i, ch, y * p + ky, xx * p + kx])] * d[1].v[d[1].flat([oc, ch, ky, kx])]
                } } }
                out.v[out.flat([i, oc, y, xx])] = s
            } } } }
            return out
        }
        gradCheck("conv2d patch + bias", [x, w, b], { $0[0].conv2dPatch(weight: $0[1], bias: $0[2]) },
                  reference: { ref($0, bias: true) })
        gradCheck("conv2d patch", [x, w], { $0[0].conv2dPatch(weight: $0[1], bias: nil) },
                  reference: { ref($0, bias: false) })
        // A border that does not fill a patch is dropped (7 rows, patch 2).
        let odd = r.make([1, 3, 7, 6])
        let y = odd.conv2dPatch(weight: w, bias: nil)
        #expect(y.shape == [1, 4, 3, 3])
    }
}
