// Patch embedding: a convolution whose kernel equals its stride.

import Foundation
import Tensor
import Autograd

/// Cuts images into non-overlapping `patch × patch` squares and projects each
/// to `dim` values (`nn.Conv2d(c, dim, patch, stride: patch)`).
/// Keys: `weight` `[dim, channels, patch, patch]`, `bias` `[dim]` when present.
public final class PatchEmbedding: Module {
    public let weight: Variable
    public let bias: Variable?
    public let patchSize: Int

    public init(channels: Int, dim: Int, patchSize: Int, bias: Bool) {
        precondition(channels > 0 && dim > 0 && patchSize > 0, "PatchEmbedding: sizes must be positive")
        self.patchSize = patchSize
        let bound = 1 / (Float(channels) * Float(patchSize) * Float(patchSize)).squareRoot()   // no Int overflow
        weight = Parameter.uniform([dim, channels, patchSize, patchSize], bound: bound)
        self.bias = bias ? Parameter.uniform([dim], bound: bound) : nil
        super.init()
        register("weight", weight)
        if let b = self.bias { register("bias", b) }
    }

    /// pixels `[batch, channels, h, w]` → `[batch, (h/p)·(w/p), dim]`, patches in row-major order.
    public func callAsFunction(_ pixels: Variable) -> Variable {
        let y = pixels.conv2dPatch(weight: weight, bias: bias)     // [b, dim, gh, gw]
        return y.flattened(from: 2).transposed(1, 2)
    }
}
