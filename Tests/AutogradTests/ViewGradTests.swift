import Testing
import Tensor
import Autograd

@Suite struct ViewGradTests {
    @Test func viewsAndJoins() {
        var r = Inputs(seed: 30)
        let x = r.make([2, 3, 4], .strided)
        gradCheck("reshape", [x], { $0[0].reshaped([4, -1]) }, reference: { $0[0].reshape([4, 6]) })
        gradCheck("flatten", [x], { $0[0].flattened(from: 1) }, reference: { $0[0].reshape([2, 12]) })
        gradCheck("transpose", [x], { $0[0].transposed(0, 2) }, reference: { $0[0].permute([2, 1, 0]) })
        gradCheck("permute", [x], { $0[0].permuted([1, 2, 0]) }, reference: { $0[0].permute([1, 2, 0]) })
        gradCheck("narrow", [x], { $0[0].narrowed(1, start: 1, length: 2) }, reference: { $0[0].narrow(1, 1, 2) })
        gradCheck("unsqueeze+expand", [r.make([3, 1], .contiguous)], { $0[0].unsqueezed(0).expanded(to: [2, 3, 4]) },
                  reference: { D.bin($0[0].reshape([1, 3, 1]), D(zeros: [2, 3, 4]), +) })
        gradCheck("contiguous", [r.make([3, 4], .transposed)], { $0[0].contiguous() }, reference: { $0[0] })
        let y = r.make([2, 2, 4], .contiguous)
        gradCheck("concat", [x, y], { Variable.concat([$0[0], $0[1]], axis: 1) }, reference: { D.concat([$0[0], $0[1]], 1) })
        let z = r.make([2, 3, 4], .contiguous)
        gradCheck("stack", [x, z], { Variable.stack([$0[0], $0[1]], axis: 1) },
                  reference: { D.concat([$0[0].reshape([2, 1, 3, 4]), $0[1].reshape([2, 1, 3, 4])], 1) })
        gradCheck("split", [x], { v in
            let parts = v[0].split(sizes: [1, 3], axis: 2)
            return parts[0] * parts[1].sum(axis: 2, keepDim: true)
        }, reference: { d in d[0].narrow(2, 0, 1) * d[0].narrow(2, 1, 3).sum(2, keepDim: true) })
        gradCheck("chunk", [x], { v in
            let parts = v[0].chunked(2, axis: 1)   // sizes 2, 1
            return parts[0].sum(axis: 1, keepDim: true) - parts[1]
        }, reference: { d in d[0].narrow(1, 0, 2).sum(1, keepDim: true) - d[0].narrow(1, 2, 1) })
    }

    @Test func indexing() {
        var r = Inputs(seed: 31)
        let x = r.make([5, 4], .transposed)
        gradCheck("index_select 0", [x], { $0[0].indexSelect(axis: 0, [3, 0, 3, 4]) }, reference: { d in
            D.concat([3, 0, 3, 4].map { d[0].narrow(0, $0, 1) }, 0)
        })
        gradCheck("index_select 1", [x], { $0[0].indexSelect(axis: 1, [2, 2, 1]) }, reference: { d in
            D.concat([2, 2, 1].map { d[0].narrow(1, $0, 1) }, 1)
        })
        let table = r.make([6, 3])
        let ids = Indices(shape: [2, 2], values: [5, 0, 5, 2])
        gradCheck("embedding", [table], { $0[0].embedding(ids) }, reference: { d in
            D.concat(ids.values.map { d[0].narrow(0, $0, 1) }, 0).reshape([2, 2, 3])
        })
        let gi = Indices(shape: [5, 2], values: [0, 3, 1, 1, 2, 0, 3, 3, 0, 1])
        gradCheck("gather 1", [x], { $0[0].gather(axis: 1, gi) }, reference: { d in
            var out = D(zeros: [5, 2])
            for i in 0..<5 { for j in 0..<2 { out.v[i * 2 + j] = d[0].v[i * 4 + gi.values[i * 2 + j]] } }
            return out
        })
        let gi0 = Indices(shape: [2, 4], values: [4, 0, 1, 2, 4, 4, 3, 0])
        gradCheck("gather 0", [x], { $0[0].gather(axis: 0, gi0) }, reference: { d in
            var out = D(zeros: [2, 4])
            for i in 0..<2 { for j in 0..<4 { out.v[i * 4 + j] = d[0].v[gi0.values[i * 4 + j] * 4 + j] } }
            return out
        })
    }

    @Test func masksAndTopk() {
        var r = Inputs(seed: 32)
        let x = r.make([3, 4], .transposed), y = r.make([4], .contiguous)
        let mask = Tensor([1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 1, 1], shape: [3, 4])
        let rowMask = Tensor([0, 1, 0, 1], shape: [4])
        gradCheck("masked_fill", [x], { $0[0].maskedFill(rowMask, -7) }, reference: { d in
            D.whereD(D(rowMask), D(shape: [], v: [-7]), d[0])
        })
        gradCheck("where", [x, y], { Variable.where(mask, $0[0], $0[1]) }, reference: { D.whereD(D(mask), $0[0], $0[1]) })
        let t = r.make([3, 6], .strided)
        for axis in [0, 1] {
            let k = axis == 0 ? 2 : 4
            gradCheck("topk \(axis)", [t], { $0[0].topk(k, axis: axis).values }, reference: { d in
                d[0].fibres(axis, outLen: k) { Array($0.sorted(by: >).prefix(k)) }
            })
        }
    }
}
