import Foundation
import Testing
import Tensor
import Autograd

@Suite struct ReductionGradTests {
    @Test func sumMeanMaxVar() {
        var r = Inputs(seed: 20)
        let x = r.make([3, 4, 5], .strided)
        for axis in [0, 1, -1] {
            for keep in [false, true] {
                gradCheck("sum \(axis) \(keep)", [x], { $0[0].sum(axis: axis, keepDim: keep) },
                          reference: { $0[0].sum(axis, keepDim: keep) })
                gradCheck("mean \(axis) \(keep)", [x], { $0[0].mean(axis: axis, keepDim: keep) },
                          reference: { $0[0].reduce(axis, keepDim: keep) { $0.reduce(0, +) / Double($0.count) } })
                gradCheck("max \(axis) \(keep)", [x], { $0[0].max(axis: axis, keepDim: keep) },
                          reference: { $0[0].reduce(axis, keepDim: keep) { $0.max()! } })
                gradCheck("var \(axis) \(keep)", [x], { $0[0].variance(axis: axis, keepDim: keep) },
                          reference: { $0[0].reduce(axis, keepDim: keep) { f in
                              let m = f.reduce(0, +) / Double(f.count)
                              return f.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(f.count - 1) } })
            }
        }
        gradCheck("sum all", [x], { $0[0].sum() }, reference: { $0[0].sumAll() })
        gradCheck("mean all", [r.make([4, 3], .transposed)], { $0[0].mean() },
                  reference: { D(shape: [], v: [$0[0].v.reduce(0, +) / 12]) })
    }

    @Test func softmaxFamily() {
        var r = Inputs(seed: 21)
        let x = r.make([3, 4, 5], .strided, lo: -4, hi: 4)
        for axis in [0, 1, 2] {
            gradCheck("softmax \(axis)", [x], { $0[0].softmax(axis: axis) }, reference: { $0[0].softmax(axis) })
            gradCheck("log_softmax \(axis)", [x], { $0[0].logSoftmax(axis: axis) }, reference: { $0[0].logSoftmax(axis) })
            gradCheck("logsumexp \(axis)", [x], { $0[0].logSumExp(axis: axis) },
                      reference: { $0[0].reduce(axis, keepDim: false) { f in
                          let m = f.max()!
                          return m + Foundation.log(f.map { Foundation.exp($0 - m) }.reduce(0, +)) } })
        }
        gradCheck("softmax transposed", [r.make([6, 7], .transposed)], { $0[0].softmax(axis: -1) },
                  reference: { $0[0].softmax(-1) })
    }

    @Test func softmaxOfHugeLogits() {
        let values: [Float] = [1e4, -1e4, 0, 1e4 - 1, -1e4, -1e4 + 3, 5, 2]
        let x = Tensor(values, shape: [2, 4])
        gradCheck("softmax ±1e4", [x], { $0[0].softmax() }, reference: { $0[0].softmax(-1) })
        gradCheck("log_softmax ±1e4", [x], { $0[0].logSoftmax() }, reference: { $0[0].logSoftmax(-1) })
        gradCheck("logsumexp ±1e4", [x], { $0[0].logSumExp() }, reference: { $0[0].reduce(-1, keepDim: false) { f in
            let m = f.max()!
            return m + Foundation.log(f.map { Foundation.exp($0 - m) }.reduce(0, +)) } })
        let y = x.softmax().toArray()
        #expect(y.allSatisfy { $0.isFinite })
        #expect(Swift.abs(y[0] - 1 / (1 + Float(Foundation.exp(-1.0)))) < 1e-6)
    }

    @Test func layerNormAndL2() {
        var r = Inputs(seed: 22)
        let x = r.make([2, 3, 8], .strided), w = r.make([8]), b = r.make([8])
        gradCheck("layer_norm affine", [x, w, b], { $0[0].layerNorm(weight: $0[1], bias: $0[2], eps: 1e-5) },
                  reference: { $0[0].layerNorm($0[1], $0[2], eps: 1e-5) })
        gradCheck("layer_norm plain", [r.make([5, 6], .transposed)], { $0[0].layerNorm(weight: nil, bias: nil, eps: 1e-6) },
                  reference: { $0[0].layerNorm(nil, nil, eps: 1e-6) })
        gradCheck("layer_norm weight only", [x, w], { $0[0].layerNorm(weight: $0[1], bias: nil) },
                  reference: { $0[0].layerNorm($0[1], nil, eps: 1e-5) })
        for axis in [0, -1] {
            gradCheck("l2 normalize \(axis)", [r.make([4, 5], .transposed)], { $0[0].l2Normalized(axis: axis) },
                      reference: { $0[0].fibres(axis, outLen: $0[0].shape[$0[0].ax(axis)]) { f in
                          let n = f.map { $0 * $0 }.reduce(0, +).squareRoot()
                          return f.map { $0 / Swift.max(n, 1e-12) } } })
        }
    }

    @Test func layerNormOfConstantRow() {
        var r = Inputs(seed: 23)
        let x = Tensor.full([2, 6], 3.25), w = r.make([6]), b = r.make([6])
        gradCheck("layer_norm constant", [x, w, b], step: 1e-7, { $0[0].layerNorm(weight: $0[1], bias: $0[2], eps: 1e-5) },
                  reference: { $0[0].layerNorm($0[1], $0[2], eps: 1e-5) })
        let y = x.layerNorm(weight: w, bias: b)
        #expect(y.toArray() == (b.toArray() + b.toArray()))
    }

    @Test func crossEntropyAndLogSigmoid() {
        var r = Inputs(seed: 24)
        let logits = r.make([5, 7], .transposed, lo: -3, hi: 3)
        let labels = [0, 6, 3, 3, 1]
        for eps: Float in [0, 0.1] {
            gradCheck("cross_entropy ε=\(eps)", [logits], { $0[0].crossEntropy(labels: labels, labelSmoothing: eps) },
                      reference: { d in
                          let lp = d[0].logSoftmax(-1)
                          var total = 0.0
                          for i in 0..<5 {
                              let row = (0..<7).map { lp.v[i * 7 + $0] }
                              total += -(1 - Double(eps)) * row[labels[i]] - Double(eps) * row.reduce(0, +) / 7
                          }
                          return D(shape: [], v: [total / 5])
                      })
        }
        gradCheck("log_sigmoid wide", [r.make([3, 4], lo: -60, hi: 60)], { $0[0].logSigmoid() },
                  reference: { $0[0].map(refLogSigmoid) })
    }

    @Test func crossEntropyWithOneHugeLogit() {
        let logits = Tensor([1e4, 0, -3, 0, 1e4, 2], shape: [2, 3])
        let right = logits.crossEntropy(labels: [0, 1]).item
        #expect(right == 0)
        let x = Variable(logits, requiresGrad: true)
        let wrong = x.crossEntropy(labels: [1, 0])
        #expect(Swift.abs(wrong.value.item - 1e4) < 1)
        wrong.backward()
        let g = x.grad!.toArray()
        #expect(g.allSatisfy { $0.isFinite })
        #expect(Swift.abs(g[0] - 0.5) < 1e-6 && Swift.abs(g[1] + 0.5) < 1e-6)
        gradCheck("cross_entropy huge", [logits], { $0[0].crossEntropy(labels: [1, 0]) }, reference: { d in
            let lp = d[0].logSoftmax(-1)
            return D(shape: [], v: [-(lp.v[1] + lp.v[3]) / 2])
        })
    }
}
