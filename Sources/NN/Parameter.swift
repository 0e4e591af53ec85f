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
        if ParameterInitialization.current.skipsValues { return Variable(Tensor(uninitializedShape: shape), requiresGrad: true) }
        return Variable(Tensor.full(shape, value), requiresGrad: true)
    }

    private static func make(_ shape: [Int], _ draw: (inout RandomGenerator) -> Tensor) -> Variable {
        let source = ParameterInitialization.current
        if source.skipsValues { return Variable(Tensor(uninitializedShape: shape), requiresGrad: true) }
        return Variable(source.draw(draw), requiresGrad: true)
    }
}

/// Where new parameters get their values: a seeded random stream shared by
/// every parameter created in the scope (in creation order), or nothing.
public final class ParameterInitialization: @unchecked Sendable {
    @TaskLocal static var current = ParameterInitialization(seed: 0)

    let skipsValues: Bool
    private var generator: RandomGenerator
    private let lock = NSLock()

    init(seed: UInt64, skipsValues: Bool = false) {
        generator = RandomGenerator(seed: seed)
        self.skipsValues = skipsValues
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
}
