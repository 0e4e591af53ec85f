// `clip selfcheck`: the environment report and a small end-to-end training run.

import ArgumentParser
import Autograd
import Dispatch
import Tensor
#if canImport(Glibc)
import Glibc
#endif

struct SelfCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selfcheck",
        abstract: "Print the BLAS kernel and thread count, then train a small MLP on a generated regression task.")

    @Option(help: "Training steps.") var steps = 800
    @Option(help: "Batch size.") var batch = 256
    @Option(help: "Hidden width.") var hidden = 256
    @Option(help: "Learning rate (SGD with momentum 0.9).") var lr: Float = 0.05
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Threads (default: all cores, or CLIPCORE_NUM_THREADS).") var threads: Int?

    func validate() throws {
        guard steps > 0, batch > 0, hidden > 0 else { throw ValidationError("steps, batch and hidden must be positive") }
        // hidden² weights and batch × hidden activations are allocated before the first step
        guard hidden <= 1 << 14, batch <= 1 << 20 else { throw ValidationError("--hidden is at most 16384 and --batch at most 1048576") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be a positive number") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    /// The regression target: y = sin(π x₀)·x₁ + x₂² − ½ x₃.
    static func target(_ x: Tensor) -> Tensor {
        let n = x.shape[0]
        let y = Tensor(uninitializedShape: [n, 1])
        for i in 0..<n {
            let r = x.data + i * 4
            y.data[i] = sinf(Float.pi * r[0]) * r[1] + r[2] * r[2] - 0.5 * r[3]
        }
        return y
    }

    func run() throws {
        if let threads { Threads.count = threads }
        print("clipcore self-check")
        print("  \(Threads.runtimeSummary); linear layers: \(Precision.linear.rawValue)")

        var rng = RandomGenerator(seed: seed)
        func layer(_ i: Int, _ o: Int) -> (Variable, Variable) {
            let bound = 1 / Float(i).squareRoot()
            return (Variable(Tensor.uniform([o, i], low: -bound, high: bound, generator: &rng), requiresGrad: true),
                    Variable(Tensor.zeros([o]), requiresGrad: true))
        }
        let (w1, b1) = layer(4, hidden), (w2, b2) = layer(hidden, hidden), (w3, b3) = layer(hidden, 1)
        let params = [w1, b1, w2, b2, w3, b3]
        let velocity = params.map { Tensor.zeros($0.shape) }

        func forward(_ x: Variable) -> Variable {
            let h1 = x.linear(weight: w1, bias: b1).gelu()
            let h2 = h1.linear(weight: w2, bias: b2).gelu()
            return h2.linear(weight: w3, bias: b3)
        }

        let testX = Tensor.uniform([2048, 4], low: -1, high: 1, generator: &rng)
        let testY = SelfCheck.target(testX)
        func testLoss() -> Float {
            withNoGrad { (forward(Variable(testX)) - Variable(testY)).pow(2).mean().value.item }
        }

        print("  MLP 4 → \(hidden) → \(hidden) → 1 (GELU), batch \(batch), \(steps) steps of SGD (lr \(lr), momentum 0.9)")
        let initial = testLoss()
        print("  step \(pad(0, 5))  train loss       -  test loss \(fixed(initial, 5))")
        let start = DispatchTime.now().uptimeNanoseconds
        for step in 1...steps {
            let x = Tensor.uniform([batch, 4], low: -1, high: 1, generator: &rng)
            let loss = (forward(Variable(x)) - Variable(SelfCheck.target(x))).pow(2).mean()
            for p in params { p.zeroGrad() }
            loss.backward()
            for (i, p) in params.enumerated() {
                guard let g = p.grad else { continue }
                velocity[i].scaleInPlace(0.9)
                velocity[i].addInPlace(g)
                p.value.addInPlace(velocity[i], scale: -lr)
            }
            if step % max(1, steps / 8) == 0 || step == steps {
                print("  step \(pad(step, 5))  train loss \(fixed(loss.value.item, 5))  test loss \(fixed(testLoss(), 5))")
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let final = testLoss()
        print("  \(Int(Double(steps * batch) / seconds)) samples/s; test loss \(fixed(initial, 5)) → \(fixed(final, 5))")
        guard final.isFinite, final < 0.25 * initial else {
            print("self-check FAILED: the loss did not fall to a quarter of its start")
            throw ExitCode.failure
        }
        print("self-check passed")
    }
}

/// `x` with `digits` decimals.
func fixed(_ x: Float, _ digits: Int) -> String {
    guard x.isFinite else { return "\(x)" }
    var scale: Double = 1
    for _ in 0..<digits { scale *= 10 }
    let r = (Double(x) * scale).rounded() / scale
    var s = "\(abs(r))"
    if s.contains("e") { return "\(x)" }
    let parts = s.split(separator: ".", omittingEmptySubsequences: false)
    let frac = parts.count > 1 ? String(parts[1]) : ""
    s = String(parts[0]) + "." + String((frac + String(repeating: "0", count: digits)).prefix(digits))
    return (r < 0 ? "-" : "") + s
}

/// `n` right-aligned in `width` columns.
func pad(_ n: Int, _ width: Int) -> String {
    let s = "\(n)"
    return String(repeating: " ", count: max(0, width - s.count)) + s
}
