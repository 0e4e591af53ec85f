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

    /// The graph keeps only what backward rules saved: an intermediate that no rule needs (the input
    /// of a frozen linear layer, the operand of an addition) is freed when the caller drops it,
    /// and backward still gives the exact gradient.
    @Test func graphKeepsOnlySavedValues() {
        var rng = RandomGenerator(seed: 41)
        let x = Variable(Tensor.randn([4, 6], generator: &rng), requiresGrad: true)
        let w1 = Variable(Tensor.randn([5, 6], generator: &rng)), w2 = Variable(Tensor.randn([3, 5], generator: &rng))
        weak var hidden: TensorStorage?
        weak var sum: TensorStorage?
        var y: Variable
        do {
            let h = x.linear(weight: w1, bias: nil)              // saved by nothing: w2 is frozen
            hidden = h.value.storage
            let s = h + 1                                        // addition saves no operand
            sum = s.value.storage
            y = s.linear(weight: w2, bias: nil)
        }
        #expect(hidden == nil, "the frozen layer's input outlived the forward pass")
        #expect(sum == nil)
        y.sum().backward()
        // d/dx sum(W2 (W1 x + 1)) = 1ᵀ W2 W1 for every row.
        let expected = Tensor.ones([1, 3]).matmul(w2.value).matmul(w1.value).toArray()
        for r in 0..<4 {
            let row = Array(x.grad!.toArray()[(r * 6)..<(r * 6 + 6)])
            for (a, b) in zip(row, expected) { #expect(abs(a - b) <= 1e-4 * max(1, abs(b))) }
        }
        // A trainable weight keeps its input for its own gradient.
        let w3 = Variable(Tensor.randn([3, 6], generator: &rng), requiresGrad: true)
        weak var kept: TensorStorage?
        var z: Variable
        do {
            let h = x * 2
            kept = h.value.storage
            z = h.linear(weight: w3, bias: nil)
        }
        #expect(kept != nil)
        z.sum().backward()
        #expect(w3.grad != nil)
    }
}

@Suite struct Int16LinearPathTests {
    /// Under `Precision.linear == .int16`, a product that gives the weight a gradient stays in
    /// float32 (bit for bit), while a frozen layer's forward and input gradient use the int16
    /// kernel (no sgemm call) and stay within its error.
    @Test func onlyProductsWithoutAWeightGradientUseInt16() {
        var rng = RandomGenerator(seed: 42)
        let xT = Tensor.randn([20, 64], generator: &rng), wT = Tensor.randn([24, 64], std: 0.1, generator: &rng)
        let bT = Tensor.randn([24], generator: &rng), g = Tensor.randn([20, 24], generator: &rng)

        func run(frozen: Bool) -> (y: Tensor, dx: Tensor, sgemms: Int) {
            let x = Variable(xT, requiresGrad: true)
            let w = Variable(wT, requiresGrad: !frozen), b = Variable(bT, requiresGrad: !frozen)
            let rec = GEMMRecorder()
            let y = GEMMTrace.$recorder.withValue(rec) { () -> Variable in
                let y = x.linear(weight: w, bias: b)
                y.backward(gradient: g)
                return y
            }
            return (y.value, x.grad!, rec.calls.count)
        }
        let float32 = run(frozen: true)
        #expect(float32.sgemms == 2)
        Precision.withLinear(.int16) {
            let trainable = run(frozen: false)
            #expect(trainable.y.toArray() == float32.y.toArray())
            #expect(trainable.dx.toArray() == float32.dx.toArray())
            #expect(trainable.sgemms == 3)   // forward, dX and dW

            let frozen = run(frozen: true)
            #expect(frozen.sgemms == 0)
            #expect(frozen.y.toArray() != float32.y.toArray())
            #expect(relativeError(frozen.y, float32.y) <= 2e-3)
            #expect(relativeError(frozen.dx, float32.dx) <= 2e-3)

            // Inference (no graph) of a trainable layer takes the int16 path too.
            let inference = withNoGrad { Variable(xT).linear(weight: Variable(wT, requiresGrad: true), bias: Variable(bT)) }
            #expect(inference.value.toArray() == frozen.y.toArray())
        }
    }

    func relativeError(_ a: Tensor, _ b: Tensor) -> Double {
        let x = a.toArray(), y = b.toArray()
        let num = zip(x, y).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
        return (num / y.reduce(0.0) { $0 + Double($1) * Double($1) }).squareRoot()
    }
}
