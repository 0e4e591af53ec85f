import Testing
import Tensor
import Autograd

@Suite struct FrozenWeightTests {
    /// A frozen weight gets no gradient and its weight-gradient GEMM never runs,
    /// while the input gradient through it stays exact.
    @Test func frozenLinearSkipsWeightGEMM() {
        var rng = RandomGenerator(seed: 40)
        let xT = Tensor.randn([6, 5], generator: &rng), wT = Tensor.randn([3, 5], generator: &rng)
        let g = Tensor.randn([6, 3], generator: &rng)

        func run(frozen: Bool) -> (GEMMRecorder, Variable, Variable) {
            let x = Variable(xT, requiresGrad: true)
            let w = Variable(wT, requiresGrad: !frozen)
            let b = Variable(Tensor.zeros([3]), requiresGrad: !frozen)
            let y = x.linear(weight: w, bias: b)
            let rec = GEMMRecorder()
            GEMMTrace.$recorder.withValue(rec) { y.backward(gradient: g) }
            return (rec, x, w)
        }
        let (frozenCalls, xf, wf) = run(frozen: true)
        let (liveCalls, xl, wl) = run(frozen: false)
        #expect(frozenCalls.calls.count == 1, "frozen: \(frozenCalls.calls)")
        #expect(liveCalls.calls.count == 2, "trainable: \(liveCalls.calls)")
        #expect(frozenCalls.calls.first.map { $0.m == 6 && $0.n == 5 && $0.k == 3 } == true)
        #expect(wf.grad == nil)
        #expect(wl.grad != nil)
        // dX = g · W in both cases.
        let expected = D.matmul(D(g), D(wT))
        for grad in [xf.grad!, xl.grad!] {
            for (a, e) in zip(grad.toArray(), expected.v) { #expect(abs(Double(a) - e) < 1e-5) }
        }
    }

    @Test func frozenPatchEmbeddingAndEmbeddingTable() {
        var rng = RandomGenerator(seed: 41)
        let x = Variable(Tensor.randn([1, 3, 4, 4], generator: &rng), requiresGrad: true)
        let w = Variable(Tensor.randn([2, 3, 2, 2], generator: &rng))
        let y = x.conv2dPatch(weight: w, bias: nil).sum()
        let rec = GEMMRecorder()
        GEMMTrace.$recorder.withValue(rec) { y.backward() }
        #expect(rec.calls.count == 1)
        #expect(w.grad == nil && x.grad != nil)

        let table = Variable(Tensor.randn([5, 3], generator: &rng))
        let e = table.embedding(Indices(shape: [2], values: [1, 4]))
        #expect(!e.requiresGrad)
    }

    @Test func noGradScopeRecordsNothing() {
        let w = Variable(Tensor.ones([2, 2]), requiresGrad: true)
        let y = withNoGrad { (w * w).sum() }
        #expect(!y.requiresGrad)
        let z = (w * w).sum()
        #expect(z.requiresGrad)
        #expect(w.detached().requiresGrad == false)
    }

    @Test func gradientsAccumulateAcrossBackwardCalls() {
        let w = Variable(Tensor([1, 2, 3], shape: [3]), requiresGrad: true)
        (w * w).sum().backward()
        (w * w).sum().backward()
        #expect(w.grad!.toArray() == [4, 8, 12])
        w.zeroGrad()
        #expect(w.grad == nil)
        // A variable used twice in one graph gets both contributions.
        (w * w + w).sum().backward()
        #expect(w.grad!.toArray() == [3, 5, 7])
    }

    /// A very long chain backpropagates and is released without deep recursion.
    @Test func longChainsBackpropagateAndRelease() {
        let w = Variable(Tensor([2], shape: [1]), requiresGrad: true)
        do {
            var x = w
            for _ in 0..<200_000 { x = x + 0.5 }
            #expect(x.value.item == 100_002)
            x.backward()
        }
        #expect(w.grad?.item == 1)
    }
}
