// Limited-memory BFGS with a strong-Wolfe line search, stopping as scikit-learn's lbfgs solver does
// through SciPy's L-BFGS-B without bounds (Nocedal & Wright, Numerical Optimization, algorithms 7.4,
// 3.5 and 3.6; Byrd, Lu, Nocedal & Zhu 1995 for the stopping rule and the first step).

/// A function L-BFGS minimises: full evaluations, and line searches that may evaluate trials along a
/// direction more cheaply than a full evaluation (`value(at:)` then `trial` / `accept`).
package protocol LineObjective: AnyObject {
    /// f(x), writing ∇f(x) into `gradient`; x becomes the current point.
    func value(at x: [Double], gradient: inout [Double]) -> Double
    /// Starts trials along `direction` from the current point.
    func beginLine(direction: [Double])
    /// f(x + α·d) and its slope along d, for the current point x and direction d.
    func trial(_ alpha: Double) -> (value: Double, slope: Double)
    /// Makes x + α·d the current point (α a step `trial` was given), writing its gradient.
    func accept(_ alpha: Double, gradient: inout [Double])
}

/// Minimises a smooth function of `[Double]`. Stops when the largest gradient component is at most
/// `gradientTolerance` (SciPy's `gtol`), when an iteration lowers the value by at most
/// `relativeReduction · max(|f_old|, |f_new|, 1)` (SciPy's `ftol`), or after `maxIterations`.
package struct LBFGS: Sendable {
    package var maxIterations = 1000
    package var gradientTolerance = 1e-4
    /// Correction pairs kept (SciPy's `maxcor`).
    package var history = 10
    package var relativeReduction = 64 * Double.ulpOfOne
    /// Function evaluations allowed in one line search (scikit-learn passes `maxls=50`).
    package var maxLineSearchEvaluations = 50
    /// Wolfe constants: sufficient decrease and curvature (L-BFGS-B's 1e-3 and 0.9).
    package var sufficientDecrease = 1e-3
    package var curvature = 0.9

    package init() {}

    package struct Result {
        package var x: [Double]
        package var value: Double
        package var gradientMax: Double
        package var iterations: Int
        package var evaluations: Int
        package var converged: Bool
    }

    /// Minimises `objective` from `start`.
    package func minimize(from start: [Double], _ objective: LineObjective) -> Result {
        let n = start.count
        var x = start
        var g = [Double](repeating: 0, count: n)
        var f = objective.value(at: x, gradient: &g)
        var evaluations = 1
        var steps: [[Double]] = [], changes: [[Double]] = [], rhos: [Double] = []
        var iterations = 0
        var converged = maxAbs(g) <= gradientTolerance
        while !converged && iterations < maxIterations && f.isFinite {
            var d = direction(g, steps, changes, rhos)
            var slope = dot(d, g)
            if !(slope < 0) {
                steps.removeAll(); changes.removeAll(); rhos.removeAll()
                d = g.map { -$0 }
                slope = -dot(g, g)
            }
            // The first step of a fresh history has unit length, as L-BFGS-B's first iteration.
            let initial = steps.isEmpty ? 1 / dot(d, d).squareRoot() : 1
            objective.beginLine(direction: d)
            var search = LineSearch(solver: self, f: f, slope: slope, objective: objective)
            let accepted = search.run(initial: initial)
            evaluations += search.evaluations
            guard let point = accepted else {
                if steps.isEmpty { break }
                // Retry along the steepest descent with no history, as L-BFGS-B does.
                steps.removeAll(); changes.removeAll(); rhos.removeAll()
                continue
            }
            iterations += 1
            var newGradient = [Double](repeating: 0, count: n)
            objective.accept(point.step, gradient: &newGradient)
            var s = [Double](repeating: 0, count: n), y = [Double](repeating: 0, count: n)
            for i in 0..<n { s[i] = point.step * d[i]; y[i] = newGradient[i] - g[i] }
            let sy = dot(s, y), yy = dot(y, y)
            if sy > Double.ulpOfOne * yy {
                if steps.count == history { steps.removeFirst(); changes.removeFirst(); rhos.removeFirst() }
                steps.append(s); changes.append(y); rhos.append(1 / sy)
            }
            let previous = f
            for i in 0..<n { x[i] += s[i] }
            f = point.f; g = newGradient
            if maxAbs(g) <= gradientTolerance { converged = true; break }
            if previous - f <= relativeReduction * Swift.max(abs(previous), abs(f), 1) { converged = true; break }
        }
        return Result(x: x, value: f, gradientMax: maxAbs(g), iterations: iterations, evaluations: evaluations,
                      converged: converged)
    }

    /// −H·g by the two-loop recursion, H₀ = (sᵀy / yᵀy)·I from the newest pair.
    private func direction(_ g: [Double], _ s: [[Double]], _ y: [[Double]], _ rho: [Double]) -> [Double] {
        var q = g
        var alpha = [Double](repeating: 0, count: s.count)
        for i in s.indices.reversed() {
            alpha[i] = rho[i] * dot(s[i], q)
            axpy(-alpha[i], y[i], &q)
        }
        if let last = s.indices.last {
            let gamma = 1 / (rho[last] * dot(y[last], y[last]))
            for i in q.indices { q[i] *= gamma }
        }
        for i in s.indices {
            let beta = rho[i] * dot(y[i], q)
            axpy(alpha[i] - beta, s[i], &q)
        }
        for i in q.indices { q[i] = -q[i] }
        return q
    }
}

// MARK: - Line search

/// One point of a line search: step length, value and slope along the direction.
private struct Trial {
    var step: Double
    var f: Double
    var slope: Double
}

/// A step satisfying the strong Wolfe conditions along the objective's current direction (bracketing,
/// then zooming with safeguarded cubic interpolation).
private struct LineSearch {
    let solver: LBFGS
    let f: Double
    let slope: Double
    let objective: LineObjective
    var evaluations = 0

    init(solver: LBFGS, f: Double, slope: Double, objective: LineObjective) {
        self.solver = solver; self.f = f; self.slope = slope; self.objective = objective
    }

    private func armijo(_ t: Trial) -> Bool { t.f <= f + solver.sufficientDecrease * t.step * slope }
    private func flat(_ t: Trial) -> Bool { abs(t.slope) <= -solver.curvature * slope }

    private mutating func evaluate(_ step: Double) -> Trial {
        evaluations += 1
        let (value, slope) = objective.trial(step)
        return Trial(step: step, f: value.isNaN ? .infinity : value, slope: slope)
    }

    /// The accepted point, or nil when no step lowered the value within the evaluation budget.
    mutating func run(initial: Double) -> Trial? {
        var previous = Trial(step: 0, f: f, slope: slope)
        var step = initial
        while evaluations < solver.maxLineSearchEvaluations {
            let t = evaluate(step)
            if !armijo(t) || (previous.step > 0 && t.f >= previous.f) { return zoom(low: previous, high: t) }
            if flat(t) { return t }
            if t.slope >= 0 { return zoom(low: t, high: previous) }
            previous = t
            step *= 4
        }
        return previous.step > 0 ? previous : nil
    }

    private mutating func zoom(low: Trial, high: Trial) -> Trial? {
        var low = low, high = high
        while evaluations < solver.maxLineSearchEvaluations {
            let lo = Swift.min(low.step, high.step), hi = Swift.max(low.step, high.step), width = hi - lo
            if width <= 1e-12 * hi { break }
            var step = cubicMinimum(low, high) ?? (lo + hi) / 2
            step = Swift.min(Swift.max(step, lo + 0.1 * width), hi - 0.1 * width)
            let t = evaluate(step)
            if !armijo(t) || t.f >= low.f {
                high = t
            } else {
                if flat(t) { return t }
                if t.slope * (high.step - low.step) >= 0 { high = low }
                low = t
            }
        }
        return low.step > 0 ? low : nil
    }

    /// The minimiser of the cubic through two trials' values and slopes, when it is finite.
    private func cubicMinimum(_ a: Trial, _ b: Trial) -> Double? {
        guard a.f.isFinite, b.f.isFinite else { return nil }
        let d1 = a.slope + b.slope - 3 * (a.f - b.f) / (a.step - b.step)
        let radicand = d1 * d1 - a.slope * b.slope
        guard radicand >= 0 else { return nil }
        let d2 = (b.step > a.step ? 1.0 : -1.0) * radicand.squareRoot()
        let step = b.step - (b.step - a.step) * (b.slope + d2 - d1) / (b.slope - a.slope + 2 * d2)
        return step.isFinite ? step : nil
    }
}

// MARK: - Vector helpers

@inline(__always) private func dot(_ a: [Double], _ b: [Double]) -> Double {
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            var s = 0.0
            for i in 0..<pa.count { s += pa[i] * pb[i] }
            return s
        }
    }
}

@inline(__always) private func axpy(_ alpha: Double, _ x: [Double], _ y: inout [Double]) {
    x.withUnsafeBufferPointer { px in
        y.withUnsafeMutableBufferPointer { py in
            for i in 0..<px.count { py[i] += alpha * px[i] }
        }
    }
}

private func maxAbs(_ a: [Double]) -> Double { a.reduce(0) { Swift.max($0, abs($1)) } }
