// An opt-in profiler of the forward pass by kind of work (linear layers, attention, layer norm,
// activations): off by default, when on, instrumented call sites add their elapsed time to one
// counter per kind.

import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Time spent in each kind of operation while profiling is on. Off, an instrumented call costs one
/// relaxed atomic load. Counters are process-wide; nested measurements each count their own time
/// (softmax runs inside attention, so its time is also attention's).
public enum OpProfile {
    /// What an instrumented call site does.
    public enum Category: Int, CaseIterable, Sendable {
        /// Linear layers' GEMMs (and bias), including fused q/k/v projections.
        case linear
        /// Attention between the projections: QKᵀ, mask, softmax, ·V, head split and merge.
        case attention
        /// The softmax inside attention (also counted in `attention`).
        case softmax
        case layerNorm
        /// GELU, quick-GELU and the other activations of feed-forward blocks.
        case activation
    }

    @usableFromInline static let enabled = Atomic<Bool>(false)
    @usableFromInline static let linearNs = Atomic<Int>(0)
    @usableFromInline static let attentionNs = Atomic<Int>(0)
    @usableFromInline static let softmaxNs = Atomic<Int>(0)
    @usableFromInline static let layerNormNs = Atomic<Int>(0)
    @usableFromInline static let activationNs = Atomic<Int>(0)

    /// Whether instrumented call sites measure themselves.
    public static var isEnabled: Bool {
        get { enabled.load(ordering: .relaxed) }
        set { enabled.store(newValue, ordering: .relaxed) }
    }

    /// Sets every counter to zero.
    public static func reset() {
        for c in Category.allCases { _ = exchange(c, 0) }
    }

    /// Nanoseconds counted for `category` since the last `reset`.
    public static func nanoseconds(_ category: Category) -> Int {
        switch category {
        case .linear: linearNs.load(ordering: .relaxed)
        case .attention: attentionNs.load(ordering: .relaxed)
        case .softmax: softmaxNs.load(ordering: .relaxed)
        case .layerNorm: layerNormNs.load(ordering: .relaxed)
        case .activation: activationNs.load(ordering: .relaxed)
        }
    }

    /// Runs `body`, adding its wall time to `category` when profiling is on.
    @inlinable
    public static func measure<T>(_ category: Category, _ body: () throws -> T) rethrows -> T {
        guard enabled.load(ordering: .relaxed) else { return try body() }
        let t0 = now()
        defer { add(category, now() &- t0) }
        return try body()
    }

    @usableFromInline static func now() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return ts.tv_sec * 1_000_000_000 + ts.tv_nsec
    }

    @usableFromInline static func add(_ category: Category, _ ns: Int) {
        switch category {
        case .linear: linearNs.wrappingAdd(ns, ordering: .relaxed)
        case .attention: attentionNs.wrappingAdd(ns, ordering: .relaxed)
        case .softmax: softmaxNs.wrappingAdd(ns, ordering: .relaxed)
        case .layerNorm: layerNormNs.wrappingAdd(ns, ordering: .relaxed)
        case .activation: activationNs.wrappingAdd(ns, ordering: .relaxed)
        }
    }

    private static func exchange(_ category: Category, _ value: Int) -> Int {
        switch category {
        case .linear: linearNs.exchange(value, ordering: .relaxed)
        case .attention: attentionNs.exchange(value, ordering: .relaxed)
        case .softmax: softmaxNs.exchange(value, ordering: .relaxed)
        case .layerNorm: layerNormNs.exchange(value, ordering: .relaxed)
        case .activation: activationNs.exchange(value, ordering: .relaxed)
        }
    }
}
