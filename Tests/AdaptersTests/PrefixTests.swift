// Prefix tuning: the prefix changes outputs, masks still hold (a padded row equals the unpadded row,
// on CLIP's causal text tower, BERT and MPNet), one pool per tower with AdapterHub's keys, and Float64
// finite-difference gradients of the prefix parameters through attention with causal and padding masks.

import Foundation
import Testing
import Tensor
import Autograd
import NN
import Models
import Adapters
import TestSupport

@Suite struct PrefixTests {
    @Test func poolsPerTowerAndKeys() throws {
        let pipeline = try ImageTextPipeline(directory: AdapterFixtures.clip)
        let prefix = try PrefixModel(wrapping: pipeline.model, config: PrefixConfig(length: 3, bottleneckSize: 8))
        #expect(prefix.pools.map(\.tower) == ["text_model.encoder", "vision_model.encoder"]
                || prefix.pools.map(\.tower) == ["vision_model.encoder", "text_model.encoder"])
        let named = Dictionary(uniqueKeysWithValues: prefix.namedParameters().map { ($0.key, $0.variable.shape) })
        #expect(named["text_model.encoder.prefix_tunings.prefix.wte.weight"] == [3, 32])
        #expect(named["text_model.encoder.prefix_tunings.prefix.control_trans.0.weight"] == [8, 32])
        #expect(named["vision_model.encoder.prefix_tunings.prefix.control_trans.2.weight"] == [2 * 2 * 40, 8])
        #expect(named.count == 10)
        prefix.detach()
        let flat = try PrefixModel(wrapping: pipeline.model, config: PrefixConfig(length: 3, reparametrize: false))
        #expect(flat.namedParameters().map(\.key).sorted() == ["text_model.encoder.prefix_tunings.prefix.control_trans",
                                                                "vision_model.encoder.prefix_tunings.prefix.control_trans"])
        #expect(flat.namedParameters().first { $0.key.hasPrefix("text") }!.variable.shape == [3, 2 * 2 * 32])
    }

    /// Features of row 1 of a padded batch equal those of the same text alone, unpadded.
    @Test func clipTextPrefixChangesOutputsAndKeepsPaddingHidden() throws {
        let pipeline = try ImageTextPipeline(directory: AdapterFixtures.clip)
        let model = pipeline.model
        let batch = pipeline.tokenize(["a photo of a cat sitting on a red mat", "a dog"])
        let mask = try #require(batch.attentionMask as Tensor?)
        let seq = batch.ids.shape[1]
        let n = mask.contiguous().toArray()[seq...].filter { $0 != 0 }.count
        #expect(n < seq, "row 1 should be padded")
        let single = Indices(shape: [1, n], values: Array(batch.ids.values[seq..<(seq + n)]))
        let plain = try model.textFeatures(batch.ids, attentionMask: mask).value
        for config in [PrefixConfig(length: 3, bottleneckSize: 8), PrefixConfig(length: 2, reparametrize: false)] {
            let prefix = try PrefixModel(wrapping: model, config: config, seed: 4)
            let padded = try model.textFeatures(batch.ids, attentionMask: mask).value
            #expect(maxAbsDiff(plain, padded) > 1e-3, "the prefix should change the features")
            let alone = try model.textFeatures(single, attentionMask: nil).value
            let diff = maxAbsDiff(padded.narrowed(0, start: 1, length: 1).contiguous(), alone)
            #expect(diff < 1e-5, "padded row differs from the unpadded text by \(diff)")
            prefix.detach()
        }
        // Within float rounding: frozen by the prefix model, inference takes attention's fused path.
        #expect(maxAbsDiff(plain, try model.textFeatures(batch.ids, attentionMask: mask).value) <= 1e-5)
    }

    @Test(arguments: ["bert", "mpnet"])
    func textTowerPrefixKeepsPaddingHidden(name: String) throws {
        let encoder = try AdapterFixtures.textEncoder(name)
        let batch = AdapterFixtures.paddedBatch(vocabulary: encoder.config.vocabSize, seed: 6)
        let plain = try encoder.hiddenStates(batch.ids, attentionMask: batch.mask).value
        _ = try PrefixModel(wrapping: encoder, config: PrefixConfig(length: 3, bottleneckSize: 8), seed: 7)
        let padded = try encoder.hiddenStates(batch.ids, attentionMask: batch.mask).value     // [2, 7, d]
        #expect(maxAbsDiff(plain, padded) > 1e-3, "\(name): the prefix should change the hidden states")
        let single = Indices(shape: [1, 4], values: Array(batch.ids.values[7..<11]))
        let alone = try encoder.hiddenStates(single, attentionMask: nil).value                 // [1, 4, d]
        let diff = maxAbsDiff(padded.narrowed(0, start: 1, length: 1).narrowed(1, start: 0, length: 4).contiguous(), alone)
        #expect(diff < 1e-5, "\(name): padded row differs from the unpadded row by \(diff)")
    }

    /// One attention layer (2 heads of 3) with a 2-row prefix, causal and padding masks: the output
    /// against a Float64 reference, and the gradients of every prefix parameter against central differences.
    @Test(arguments: [true, false])
    func gradientsMatchFiniteDifferences(reparametrize: Bool) throws {
        let (b, s, d, heads, p, bn) = (2, 4, 6, 2, 2, 5)
        let hd = d / heads
        let attention = ParameterInitialization.seeded(31) { MultiHeadAttention(dim: d, heads: heads) }
        attention.freeze()
        let pool = ParameterInitialization.seeded(32) {
            PrefixPool(layers: 1, dim: d, config: PrefixConfig(length: p, reparametrize: reparametrize, bottleneckSize: bn))
        }
        attention.prefix = pool.slot(0)
        var rng = RandomGenerator(seed: 33)
        let xT = Tensor.randn([b, s, d], generator: &rng), g = Tensor.randn([b, s, d], generator: &rng)
        let padT = Tensor([1, 1, 1, 1, 1, 1, 0, 0], shape: [b, s])
        let y = attention(Variable(xT), mask: AttentionMask(causal: true, keyPadding: padT))
        y.backward(gradient: g)

        let x = xT.doubles, gv = g.doubles, pad = padT.doubles
        let wq = attention.qProj.weight.value.doubles, bq = attention.qProj.bias!.value.doubles
        let wk = attention.kProj.weight.value.doubles, bk = attention.kProj.bias!.value.doubles
        let wv = attention.vProj.weight.value.doubles, bv = attention.vProj.bias!.value.doubles
        let wo = attention.outProj.weight.value.doubles, bo = attention.outProj.bias!.value.doubles
        // The prefix rows [p, 2d] from the pool's parameters.
        let params: [Variable] = reparametrize
            ? [pool.table!, pool.hidden!.weight, pool.hidden!.bias!, pool.output!.weight, pool.output!.bias!]
            : [pool.flat!]
        func rows(_ q: [[Double]]) -> [Double] {
            guard reparametrize else { return q[0] }
            let h = linear64(q[0], rows: p, q[1], q[2], out: bn).map { Foundation.tanh($0) }
            return linear64(h, rows: p, q[3], q[4], out: 2 * d)
        }
        func forward(_ q: [[Double]]) -> [Double] {
            let pr = rows(q)
            let qs = linear64(x, rows: b * s, wq, bq, out: d).map { $0 / Double(hd).squareRoot() }
            let ks = linear64(x, rows: b * s, wk, bk, out: d), vs = linear64(x, rows: b * s, wv, bv, out: d)
            var context = [Double](repeating: 0, count: b * s * d)
            for bi in 0..<b {
                for h in 0..<heads {
                    for i in 0..<s {
                        // Keys: the prefix's p rows, then the sequence's s.
                        var scores: [Double?] = []
                        var values: [[Double]] = []
                        for j in 0..<(p + s) {
                            let key: [Double], value: [Double]
                            if j < p {
                                key = (0..<hd).map { pr[j * 2 * d + h * hd + $0] }
                                value = (0..<hd).map { pr[j * 2 * d + d + h * hd + $0] }
                            } else {
                                let t = bi * s + (j - p)
                                key = (0..<hd).map { ks[t * d + h * hd + $0] }
                                value = (0..<hd).map { vs[t * d + h * hd + $0] }
                            }
                            let hidden = j >= p && ((j - p) > i || pad[bi * s + j - p] == 0)
                            let query = (0..<hd).map { qs[(bi * s + i) * d + h * hd + $0] }
                            scores.append(hidden ? nil : zip(query, key).reduce(0) { $0 + $1.0 * $1.1 })
                            values.append(value)
                        }
                        let m = scores.compactMap { $0 }.max()!
                        let e = scores.map { $0.map { Foundation.exp($0 - m) } ?? 0 }
                        let z = e.reduce(0, +)
                        for c in 0..<hd {
                            context[(bi * s + i) * d + h * hd + c] = zip(e, values).reduce(0) { $0 + $1.0 / z * $1.1[c] }
                        }
                    }
                }
            }
            return linear64(context, rows: b * s, wo, bo, out: d)
        }
        func loss(_ q: [[Double]]) -> Double { zip(forward(q), gv).reduce(0) { $0 + $1.0 * $1.1 } }
        let p0 = params.map(\.value.doubles)
        let forwardError = zip(y.value.toArray(), forward(p0)).map { abs(Double($0) - $1) }.max()!
        #expect(forwardError < 1e-4, "forward error \(forwardError)")
        for (j, param) in params.enumerated() {
            let err = finiteDifferenceError(p0[j], param.grad) { v in
                var q = p0
                q[j] = v
                return loss(q)
            }
            print("prefix (\(reparametrize ? "MLP" : "flat")) gradient check: parameter \(j) \(param.shape) max relative error \(err)")
            #expect(err <= 1e-3, "parameter \(j): \(err)")
        }
        #expect(attention.kProj.weight.grad == nil && attention.qProj.weight.grad == nil)
    }
}
