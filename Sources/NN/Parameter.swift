// Parameter creation: PyTorch's default initialisers, or none when weights will be loaded.

import Foundation
import Tensor
import Autograd

/// Creates parameters (leaves that take gradients). Values come from the
/// task's current `ParameterInitialization`: a seeded random stream by
/// default, or uninitialised memory inside `withoutInitialization`, used when
/// a checkpoint will overwrite every value (no time is spent drawing numbers).
public enum Parameter {
    /// Uniform in [-bound, bound) (PyTorch's Linear and Conv default with `bound = 1/√fan_in`).
    public static func uniform(_ shape: [Int], bound: Float) -> Variable {
        make(shape) { g in Tensor.uniform(shape, low: -bound, high: bound, generator: &g) }
    }

    /// Normal(0, std) values.
    public static func normal(_ shape: [Int], std: Float) -> Variable {
        make(shape) { g in Tensor.randn(shape, std: std, generator: &g) }
    }

    /// Normal(0, std) values restricted to [a, b] (absolute bounds, as `torch.nn.init.trunc_normal_`).
    public static func truncatedNormal(_ shape: [Int], std: Float, a: Float = -2, b: Float = 2) -> Variable {
        make(shape) { g in Tensor.truncatedNormal(shape, std: std, a: a, b: b, generator: &g) }
    }

    /// A constant.
    public static func constant(_ shape: [Int], _ value: Float) -> Variable {
        let source = ParameterInitialization.current
        guard source.reserve(shape) else { return placeholder() }
        if source.skipsValues { return Variable(Tensor(uninitializedShape: shape), requiresGrad: true) }
        return Variable(Tensor.full(shape, value), requiresGrad: true)
    }

    private static func make(_ shape: [Int], _ draw: (inout RandomGenerator) -> Tensor) -> Variable {
        let source = ParameterInitialization.current
        guard source.reserve(shape) else { return placeholder() }
        if source.skipsValues { return Variable(Tensor(uninitializedShape: shape), requiresGrad: true) }
        return Variable(source.draw(draw), requiresGrad: true)
    }

    /// What a parameter past its scope's budget gets instead of memory: an empty tensor. The scope
    /// throws before the module is used (`ParameterInitialization.withoutInitialization(checkpointValues:what:_:)`,
    /// `seeded(_:budget:what:_:)`).
    private static func placeholder() -> Variable { Variable(Tensor(uninitializedShape: [0]), requiresGrad: true) }
}

/// Where new parameters get their values: a seeded random stream shared by
/// every parameter created in the scope (in creation order), or nothing.
public final class ParameterInitialization: @unchecked Sendable {
    @TaskLocal static var current = ParameterInitialization(seed: 0)

    let skipsValues: Bool
    private var generator: RandomGenerator
    private let lock = NSLock()
    /// Most elements the scope's parameters may take together (nil: no limit), the elements taken so
    /// far, and the first request that went past the limit.
    private let budget: Int?
    private var reserved = 0
    private var refused: [Int]?
    /// The file whose sizes the scope builds (for messages).
    private let source: String

    init(seed: UInt64, skipsValues: Bool = false, budget: Int? = nil, source: String = "") {
        generator = RandomGenerator(seed: seed)
        self.skipsValues = skipsValues
        self.budget = budget
        self.source = source
    }

    /// Counts a parameter of `shape` against the budget: false (and nothing counted) when its size
    /// overflows or goes past the budget, or an earlier request did.
    func reserve(_ shape: [Int]) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard let budget else { return true }
        guard refused == nil else { return false }
        var n = 1
        for d in shape {
            let (m, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow, d >= 0 else { refused = shape; return false }
            n = m
        }
        guard n <= budget - reserved else { refused = shape; return false }
        reserved += n
        return true
    }

    /// Throws when the scope's budget cannot hold `elements` more (checked before building a large
    /// repeated part, such as `count` encoder layers, whose size a file gives).
    /// - Throws: `ClipError(.shape)` naming `what`.
    package static func require(_ elements: Int, for what: String) throws {
        let scope = current
        scope.lock.lock()
        defer { scope.lock.unlock() }
        guard let budget = scope.budget else { return }
        guard elements >= 0, elements <= budget - scope.reserved else {
            throw ClipError.shape("\(scope.source): \(what) need more weights than the checkpoint holds (\(budget) values)")
        }
    }

    func draw(_ body: (inout RandomGenerator) -> Tensor) -> Tensor {
        lock.lock()
        defer { lock.unlock() }
        return body(&generator)
    }

    /// Builds modules whose parameters are drawn from one stream seeded with `seed`.
    public static func seeded<T>(_ seed: UInt64, _ body: () throws -> T) rethrows -> T {
        try $current.withValue(ParameterInitialization(seed: seed), operation: body)
    }

    /// Builds modules whose parameters are left uninitialised, to be filled by a checkpoint.
    public static func withoutInitialization<T>(_ body: () throws -> T) rethrows -> T {
        try $current.withValue(ParameterInitialization(seed: 0, skipsValues: true), operation: body)
    }

    /// Builds modules whose parameters are left uninitialised, to be filled by a checkpoint of
    /// `checkpointValues` values: the build may take at most twice that (and 1 Mi values), so a size a
    /// file states cannot ask for memory its checkpoint could never fill, while a small mismatch (one
    /// layer more) still builds and is reported key by key by the strict load. Parameters past the
    /// budget are not allocated, and the scope throws after `body` returns.
    /// - Throws: `ClipError(.shape)` naming `what` (the file whose sizes were used) and the first
    ///   parameter shape past the budget; or what `body` throws.
    public static func withoutInitialization<T>(checkpointValues: Int, what: String, _ body: () throws -> T) throws -> T {
        let n = max(0, checkpointValues)
        let budget = n > (Int.max - (1 << 20)) / 2 ? Int.max : 2 * n + (1 << 20)
        return try run(ParameterInitialization(seed: 0, skipsValues: true, budget: budget, source: what), body) { scope, shape in
            ClipError.shape("\(what): the sizes ask for a weight of shape \(shape) after \(scope.reserved) values, past twice the \(n) "
                            + "values the checkpoint holds: sizes that do not belong to these weights")
        }
    }

    /// `seeded(_:_:)` with at most `budget` values in all parameters: parameters past it are neither
    /// allocated nor drawn, and the scope throws after `body` returns.
    /// - Throws: `ClipError(.invalidArgument)` naming `what` (the settings whose sizes were used); or
    ///   what `body` throws.
    public static func seeded<T>(_ seed: UInt64, budget: Int, what: String, _ body: () throws -> T) throws -> T {
        try run(ParameterInitialization(seed: seed, budget: max(0, budget), source: what), body) { scope, shape in
            ClipError.invalidArgument("\(what): a weight of shape \(shape) takes the model past \(budget) values "
                                      + "(\(scope.reserved) before it), more than fits in memory")
        }
    }

    private static func run<T>(_ scope: ParameterInitialization, _ body: () throws -> T,
                               refusal: (ParameterInitialization, [Int]) -> ClipError) throws -> T {
        let value = try $current.withValue(scope, operation: body)
        if let shape = scope.refused { throw refusal(scope, shape) }
        return value
    }

    /// Values a model trained in this process may have: physical memory over 16 bytes (a float for the
    /// weight, its gradient and two optimizer moments).
    public static var trainableBudget: Int { Int(clamping: ProcessInfo.processInfo.physicalMemory / 16) }
}
