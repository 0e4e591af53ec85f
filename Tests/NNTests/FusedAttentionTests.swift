// Attention's fused inference path (one q/k/v GEMM, ck_attention) against the unfused one.

import Testing
import Tensor
import Autograd
import NN

/// An adapter that leaves the output unchanged (it only has to be there).
private final class IdentityAdapter: LinearAdapter {
    func adapt(_ x: Variable, base: Variable) -> Variable { base }
}

/// A trainable scale on a projection's output: the base weights stay frozen, as under LoRA.
private final class ScaleAdapter: LinearAdapter {
    let scale = Variable(Tensor(scalar: 1), requiresGrad: true)
    func adapt(_ x: Variable, base: Variable) -> Variable { base * scale }
}

@Suite(.serialized) struct FusedAttentionTests {
    /// Masks of every kind for `[b, s]`: none, causal, padding (item 0's first key padded too, so some
    /// of its queries see no key at all), causal with padding.
    private func masks(_ b: Int, _ s: Int) -> [AttentionMask] {
        let pad = Tensor.ones([b, s])
        for i in 0..<b {
            for j in max(1, s - 2 - i)..<s { pad.data[i * s + j] = 0 }
        }
        pad.data[0] = 0
        return [AttentionMask(), AttentionMask(causal: true), AttentionMask(keyPadding: pad),
                AttentionMask(causal: true, keyPadding: pad)]
    }

    @Test func fusedMatchesUnfusedOnRandomShapes() {
        var g = RandomGenerator(seed: 7)
        // (batch, seq, heads, head dim): odd head dims, batch 1 and 3, seq 7 and 50.
        for (b, s, heads, hd) in [(1, 7, 3, 5), (3, 7, 2, 13), (1, 50, 4, 16), (3, 50, 3, 11), (3, 50, 12, 64)] {
            let dim = heads * hd
            let attn = ParameterInitialization.seeded(UInt64(b * 1000 + s)) { MultiHeadAttention(dim: dim, heads: heads) }
            let x = Tensor.randn([b, s, dim], generator: &g)
            let positions = (0..<b).map { ($0 * 5 + 3) % s }
            for mask in masks(b, s) {
                // Recording a gradient for x takes the unfused path.
                let reference = attn(Variable(x, requiresGrad: true), mask: mask).value
                let fused = withNoGrad { attn(Variable(x), mask: mask) }.value
                #expect(maxDiff(fused, reference) <= 1e-5, "b \(b) s \(s) heads \(heads) hd \(hd)")
                let rowsReference = attn(Variable(x, requiresGrad: true), rows: positions, mask: mask).value
                let rowsFused = withNoGrad { attn(Variable(x), rows: positions, mask: mask) }.value
                #expect(maxDiff(rowsFused, rowsReference) <= 1e-5, "rows: b \(b) s \(s) heads \(heads) hd \(hd)")
            }
        }
    }

    /// Count of GEMMs with n = 3·dim (the fused q/k/v projection) in a no-grad pass.
    private func fusedProjections(_ attn: MultiHeadAttention, _ x: Tensor) -> Int {
        let recorder = GEMMRecorder()
        GEMMTrace.$recorder.withValue(recorder) { _ = withNoGrad { attn(Variable(x)) } }
        return recorder.calls.filter { $0.n == 3 * x.shape[2] }.count
    }

    @Test func projectionCacheFollowsWeightsAndAdaptersUnfuse() {
        var g = RandomGenerator(seed: 9)
        let attn = ParameterInitialization.seeded(3) { MultiHeadAttention(dim: 12, heads: 3) }
        let x = Tensor.randn([2, 5, 12], generator: &g)
        #expect(fusedProjections(attn, x) == 1)
        _ = withNoGrad { attn(Variable(x)) }
        // An in-place write and an assignment each remake the concatenated weight.
        attn.kProj.weight.value.copy(from: Tensor.randn([12, 12], generator: &g))
        var fused = withNoGrad { attn(Variable(x)) }.value
        #expect(maxDiff(fused, attn(Variable(x, requiresGrad: true)).value) <= 1e-5)
        attn.vProj.bias!.assign(Tensor.randn([12], generator: &g))
        fused = withNoGrad { attn(Variable(x)) }.value
        #expect(maxDiff(fused, attn(Variable(x, requiresGrad: true)).value) <= 1e-5)
        // An adapter on a projection keeps the three products apart (the adapter must see its own).
        attn.vProj.adapter = IdentityAdapter()
        #expect(fusedProjections(attn, x) == 0)
        attn.vProj.adapter = nil
        #expect(fusedProjections(attn, x) == 1)
        // Off, the unfused path runs.
        MultiHeadAttention.fusedInference = false
        defer { MultiHeadAttention.fusedInference = true }
        #expect(fusedProjections(attn, x) == 0)
    }

    /// Frozen weights and an input needing no gradient, but an adapter that does: the unfused path runs
    /// and the adapter gets its gradient.
    @Test func trainableAdapterOnFrozenWeightsGetsGradients() {
        var g = RandomGenerator(seed: 11)
        let attn = ParameterInitialization.seeded(5) { MultiHeadAttention(dim: 12, heads: 3) }
        attn.freeze()
        let adapter = ScaleAdapter()
        attn.qProj.adapter = adapter
        attn(Variable(Tensor.randn([2, 5, 12], generator: &g))).sum().backward()
        #expect(adapter.scale.grad != nil)
    }
}
