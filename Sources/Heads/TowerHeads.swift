// Seed 003's heads on the towers' outputs, chosen by `--image-head-n-layers N` / `--text-head-n-layers N`:
// none (N = 0), a linear projection (N = 1), or DINO's MLP head (N ≥ 2).

import Foundation
import Tensor
import Autograd
import NN

/// A head on a tower's output: `[n, inputDim]` → `[n, outputDim]`.
public protocol TowerHead: Module {
    var inputDim: Int { get }
    var outputDim: Int { get }
    func callAsFunction(_ x: Variable) -> Variable
}

/// The linear projection head (N = 1): keys `weight` `[out, in]`, `bias` `[out]`.
extension Linear: TowerHead {
    public var inputDim: Int { inFeatures }
    public var outputDim: Int { outFeatures }
}

/// Builds and applies the head of `--image-head-n-layers` / `--text-head-n-layers`.
public enum TowerHeads {
    /// The head for `nLayers`, its parameters drawn from `seed`:
    /// - 0: nil (the identity; see `apply(_:to:)`);
    /// - 1: `Linear(inDim, outDim ?? inDim)` with bias (torch's default initialisation);
    /// - N ≥ 2: `DINOHead(inDim:nLayers:hiddenDim:bottleneckDim:prototypes:)` with its prototype layer's
    ///   gain frozen at 1; its output is `[n, prototypes]` logits with `prototypes`, else the
    ///   L2-normalised `[n, bottleneckDim]` features. `outDim` does not apply to it (read `outputDim`).
    ///
    /// `hiddenDim`, `bottleneckDim` and `prototypes` are checked only where they are used (N ≥ 2).
    /// - Throws: `ClipError.invalidArgument` for a negative `nLayers` (naming the flags), a non-positive
    ///   size, or weights past what this machine can train (`ParameterInitialization.trainableBudget`).
    public static func make(nLayers: Int, inDim: Int, outDim: Int?, hiddenDim: Int = 2048, bottleneckDim: Int = 256,
                            prototypes: Int? = nil, seed: UInt64) throws -> Module? {
        guard nLayers >= 0 else {
            throw ClipError.invalidArgument("--image-head-n-layers / --text-head-n-layers must be 0 (no head), 1 (linear) "
                                            + "or more (DINO MLP head), got \(nLayers)")
        }
        try ClipError.requirePositive([("head input dim", inDim)])
        guard nLayers > 0 else { return nil }
        let what = "head of \(nLayers) layer\(nLayers == 1 ? "" : "s")"
        if nLayers == 1 {
            let out = outDim ?? inDim
            try ClipError.requirePositive([("head output dim", out)])
            return try ParameterInitialization.seeded(seed, budget: ParameterInitialization.trainableBudget, what: what) {
                Linear(inDim, out)
            }
        }
        if let outDim { try ClipError.requirePositive([("head output dim", outDim)]) }
        try ClipError.requirePositive([("head hidden dim", hiddenDim), ("head bottleneck dim", bottleneckDim),
                                       ("prototypes", prototypes ?? 1)])
        // Each MLP weight is drawn twice (torch's default, then DINO's): the budget counts both.
        return try ParameterInitialization.seeded(seed, budget: ParameterInitialization.trainableBudget, what: what) {
            try DINOHead(inDim: inDim, nLayers: nLayers, hiddenDim: hiddenDim, bottleneckDim: bottleneckDim,
                         prototypes: prototypes, normLastLayer: true)
        }
    }

    /// `head(x)`, or `x` when there is no head (N = 0): `[n, in]` → `[n, out]`.
    public static func apply(_ head: Module?, to x: Variable) -> Variable {
        guard let head else { return x }
        guard let tower = head as? any TowerHead else {
            preconditionFailure("TowerHeads.apply: \(type(of: head)) is not a tower head")
        }
        return tower(x)
    }

    /// The output size of `head` for inputs of `inDim` values (`inDim` when there is no head).
    public static func outputDim(of head: Module?, inDim: Int) -> Int {
        (head as? any TowerHead)?.outputDim ?? inDim
    }

    /// Drops the prototype layer's gradients while `epoch` (from 0) is below `freezeLastLayer` (DINO's
    /// `cancel_gradients_last_layer`); nothing for heads without one. Returns whether it cancelled.
    @discardableResult
    public static func cancelLastLayerGradients(_ head: Module?, epoch: Int, freezeLastLayer: Int) -> Bool {
        guard let dino = head as? DINOHead, dino.lastLayer != nil else { return false }
        return dino.cancelLastLayerGradients(epoch: epoch, freezeLastLayer: freezeLastLayer)
    }
}
