// DINO's projection head (Caron et al. 2021, "Emerging Properties in Self-Supervised Vision
// Transformers"), as facebookresearch/dino's `DINOHead` in vision_transformer.py, without its BatchNorm
// option (`use_bn=False`, its default): seed 003's head on a tower for `--*-head-n-layers` ≥ 2.

import Foundation
import Tensor
import Autograd
import NN

/// `mlp` (Linear → GELU, …, Linear to the bottleneck) → L2 normalisation → the weight-normalised
/// prototype layer `last_layer` when there is one: `[n, in]` → `[n, prototypes]` logits, or the
/// normalised bottleneck features `[n, bottleneck]` without it.
///
/// Keys as torch's state dict names them: `mlp.0`, `mlp.2`, …, `mlp.{2(L−1)}` (`weight`, `bias`;
/// the odd indices are the parameterless GELUs of the `nn.Sequential`), `mlp.weight`/`mlp.bias` for
/// one layer, and `last_layer.weight_g` `[prototypes, 1]`, `last_layer.weight_v` `[prototypes, bottleneck]`.
/// GELU is the exact erf form (`nn.GELU()`).
public final class DINOHead: Module, TowerHead {
    /// The MLP's linear layers in order (`nLayers` of them).
    public let layers: [Linear]
    /// The prototype layer (nil: the head ends at the normalised bottleneck).
    public let lastLayer: WeightNormLinear?
    public let inputDim: Int
    public let bottleneckDim: Int

    /// Linear weights truncated normal (std 0.02, within ±2), biases 0 (DINO's `_init_weights`);
    /// `last_layer`: `v` as torch's Linear, `g` filled with 1 and frozen when `normLastLayer`.
    /// Values come from the current `ParameterInitialization` (`TowerHeads.make` seeds it).
    /// - Throws: `ClipError.invalidArgument` for a non-positive size or layer count.
    public init(inDim: Int, nLayers: Int = 3, hiddenDim: Int = 2048, bottleneckDim: Int = 256,
                prototypes: Int? = nil, normLastLayer: Bool = true) throws {
        try ClipError.requirePositive([("in_dim", inDim), ("nlayers", nLayers), ("hidden_dim", hiddenDim),
                                       ("bottleneck_dim", bottleneckDim), ("prototypes", prototypes ?? 1)])
        inputDim = inDim
        self.bottleneckDim = bottleneckDim
        let sizes = nLayers == 1 ? [inDim, bottleneckDim]
            : [inDim] + Array(repeating: hiddenDim, count: nLayers - 1) + [bottleneckDim]
        layers = (0..<nLayers).map { i in
            let layer = Linear(sizes[i], sizes[i + 1])
            layer.weight.assign(Parameter.truncatedNormal(layer.weight.shape, std: 0.02).value)
            if let bias = layer.bias { bias.assign(Parameter.constant(bias.shape, 0).value) }
            return layer
        }
        lastLayer = prototypes.map { WeightNormLinear(bottleneckDim, $0, gain: 1, freezeGain: normLastLayer) }
        super.init()
        if nLayers == 1 {
            register("mlp", layers[0])
        } else {
            register("mlp", ModuleList(named: layers.enumerated().map { (String(2 * $0.offset), $0.element) }))
        }
        if let lastLayer { register("last_layer", lastLayer) }
    }

    /// `prototypes` with a prototype layer, else `bottleneckDim`.
    public var outputDim: Int { lastLayer?.outFeatures ?? bottleneckDim }

    /// x `[n, in]` → `[n, prototypes]` logits, or `[n, bottleneck]` L2-normalised features.
    public func callAsFunction(_ x: Variable) -> Variable {
        precondition(x.shape.last == inputDim, "DINOHead: input \(x.shape) does not end in \(inputDim) features")
        var h = x
        for (i, layer) in layers.enumerated() {
            h = layer(h)
            if i < layers.count - 1 { h = h.gelu() }
        }
        let features = h.l2Normalized(axis: -1)
        return lastLayer.map { $0(features) } ?? features
    }

    // MARK: - Freezing the prototype layer

    /// Drops the prototype layer's gradients (DINO's `cancel_gradients_last_layer`: `p.grad = None`),
    /// so an optimizer step leaves `last_layer` as it is. Call between `backward()` and `step()`.
    public func cancelLastLayerGradients() {
        for p in lastLayer?.parameters ?? [] { p.zeroGrad() }
    }

    /// `cancelLastLayerGradients()` while `epoch` (from 0) is below `freezeLastLayer`, as DINO's
    /// `cancel_gradients_last_layer(epoch, model, freeze_last_layer)` (seed 003 freezes the first
    /// epoch: `freezeLastLayer` 1). Returns whether it cancelled.
    @discardableResult
    public func cancelLastLayerGradients(epoch: Int, freezeLastLayer: Int) -> Bool {
        guard epoch < freezeLastLayer else { return false }
        cancelLastLayerGradients()
        return true
    }

    /// What the optimizer updates: every parameter that takes a gradient (no frozen `weight_g`).
    public var trainableParameters: [(key: String, variable: Variable)] {
        namedParameters().filter { $0.variable.requiresGrad }
    }
}
