// Learning-rate schedules.

import Foundation

/// The learning rate at each optimizer step (0-based).
public protocol LearningRateSchedule {
    func rate(at step: Int) -> Float
}

/// The same rate at every step.
public struct ConstantSchedule: LearningRateSchedule {
    public var rate: Float
    public init(_ rate: Float) { self.rate = rate }
    public func rate(at step: Int) -> Float { rate }
}

/// Linear warm-up from `base/warmup` to `base` over `warmupSteps`, then a
/// half-cosine decay to `minimum` at `totalSteps` (open_clip's `cosine_lr`
/// when `minimum` is 0); `minimum` after the end. A warm-up longer than the
/// run stays linear to the last step, as open_clip's does.
public struct WarmupCosineSchedule: LearningRateSchedule {
    public var base: Float, warmupSteps: Int, totalSteps: Int, minimum: Float

    public init(base: Float, warmupSteps: Int, totalSteps: Int, minimum: Float = 0) {
        precondition(warmupSteps >= 0 && totalSteps >= 0, "schedule: step counts must not be negative")
        self.base = base
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.minimum = minimum
    }

    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return base * Float(step + 1) / Float(warmupSteps) }
        let span = totalSteps - warmupSteps
        guard span > 0, step < totalSteps else { return step < totalSteps ? base : minimum }
        let progress = Double(step - warmupSteps) / Double(span)
        return minimum + Float(0.5 * (1 + cos(Double.pi * progress))) * (base - minimum)
    }
}

/// Linear warm-up from `base/warmup` to `base` over `warmupSteps`, then `base` (open_clip's `const_lr`).
public struct WarmupConstantSchedule: LearningRateSchedule {
    public var base: Float, warmupSteps: Int

    public init(base: Float, warmupSteps: Int) {
        precondition(warmupSteps >= 0, "schedule: warm-up steps must not be negative")
        self.base = base
        self.warmupSteps = warmupSteps
    }

    public func rate(at step: Int) -> Float {
        step < warmupSteps ? base * Float(step + 1) / Float(warmupSteps) : base
    }
}
