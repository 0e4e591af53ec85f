// Seed 003's heads on the towers (Sources/Heads/TowerHeads.swift) against the PyTorch reference
// (Tools/fixtures/tower_heads.py: facebookresearch/dino's DINOHead and a Linear head): output and every
// gradient; the frozen prototype gain, cancelling the prototype layer's gradients, WeightNormLinear's
// gradients against Float64 central differences, and the builder's errors.

import Testing
import Foundation
import Tensor
import Autograd
import NN
import Heads
import TestSupport

/// A fixture of Tests/Fixtures/tower_heads with its head built as seed 003 builds it, at the file's weights.
struct TowerHeadFixture {
    let file: SafeTensorsFile
    let options: [String: Any]
    let head: Module

    init(_ name: String) throws {
        file = try SafeTensorsFile(path: Fixtures.path("tower_heads/\(name).safetensors"))
        let options = try JSONSerialization.jsonObject(with: Data(file.metadata["options", default: "{}"].utf8)) as? [String: Any] ?? [:]
        self.options = options
        let inDim = options["in_dim"] as? Int ?? 0
        if options["kind"] as? String == "linear" {
            head = try #require(try TowerHeads.make(nLayers: 1, inDim: inDim, outDim: options["out_dim"] as? Int, seed: 5))
        } else if options["norm_last_layer"] as? Bool == false {
            head = try ParameterInitialization.seeded(5) {
                try DINOHead(inDim: inDim, nLayers: options["nlayers"] as? Int ?? 0, hiddenDim: options["hidden_dim"] as? Int ?? 0,
                             bottleneckDim: options["bottleneck_dim"] as? Int ?? 0, prototypes: options["prototypes"] as? Int,
                             normLastLayer: false)
            }
        } else {
            head = try #require(try TowerHeads.make(nLayers: options["nlayers"] as? Int ?? 0, inDim: inDim, outDim: nil,
                                                    hiddenDim: options["hidden_dim"] as? Int ?? 0,
                                                    bottleneckDim: options["bottleneck_dim"] as? Int ?? 0,
                                                    prototypes: options["prototypes"] as? Int, seed: 5))
        }
        var weights: [String: Tensor] = [:]
        for name in file.names where name.hasPrefix("param.") {
            weights[String(name.dropFirst("param.".count))] = try file.tensor(name).copiedForTest()
        }
        try head.load(weights)   // strict: our keys are torch's
    }

    func tensor(_ key: String) throws -> Tensor { try file.tensor(key) }

    /// Forward and backward of loss = Σ output ⊙ R; returns the input variable and the output.
    func run() throws -> (input: Variable, output: Variable) {
        let x = Variable(try tensor("input").copiedForTest(), requiresGrad: true)
        let y = TowerHeads.apply(head, to: x)
        (y * Variable(try tensor("weights"))).sum().backward()
        return (x, y)
    }
}

@Suite struct TowerHeadsTests {
    static let cases = ["dino3_proto", "dino2_proto", "dino3_features", "dino2_features", "dino2_proto_free_gain", "linear"]

    /// Output, the input's gradient and every trainable parameter's within 1e-5 (relative, per tensor);
    /// the trainable parameters are PyTorch's (no frozen `weight_g`), and a frozen gain gets no gradient.
    @Test(arguments: cases) func parity(name: String) throws {
        let f = try TowerHeadFixture(name)
        let (x, y) = try f.run()
        var errors: [(String, Float)] = []
        worst(&errors, "output", y.value, try f.tensor("output"))
        worst(&errors, "grad.input", x.grad, try f.tensor("grad.input"))
        let expected = Set(f.file.names.filter { $0.hasPrefix("grad.") && $0 != "grad.input" }.map { String($0.dropFirst(5)) })
        let trainable = f.head.namedParameters().filter { $0.variable.requiresGrad }
        #expect(Set(trainable.map(\.key)) == expected, "\(name): trainable parameters differ from PyTorch's")
        for p in trainable where expected.contains(p.key) {
            worst(&errors, "grad." + p.key, p.variable.grad, try f.tensor("grad." + p.key))
        }
        for p in f.head.namedParameters() where !p.variable.requiresGrad {
            #expect(p.key == "last_layer.weight_g", "\(name): \(p.key) is frozen")
            #expect(p.variable.grad == nil, "\(name): frozen \(p.key) got a gradient")
        }
        let bad = errors.filter { !($0.1 <= 1e-5) }
        #expect(bad.isEmpty, "\(name): relative errors above 1e-5: \(bad)")
        print("tower heads parity \(name): max relative error \(errors.map(\.1).max() ?? 0) over \(errors.count) tensors")
    }

    /// DINO's `cancel_gradients_last_layer`: during the frozen epochs the prototype layer's gradients
    /// are dropped and an optimizer step leaves it as it was, while the MLP still moves.
    @Test func cancellingLastLayerGradients() throws {
        let f = try TowerHeadFixture("dino2_proto_free_gain")
        _ = try f.run()
        let dino = try #require(f.head as? DINOHead)
        let g = try #require(dino.parameter(at: "last_layer.weight_g")), v = try #require(dino.parameter(at: "last_layer.weight_v"))
        let w0 = try #require(dino.parameter(at: "mlp.0.weight"))
        #expect(g.grad != nil && v.grad != nil)
        #expect(!TowerHeads.cancelLastLayerGradients(dino, epoch: 1, freezeLastLayer: 1))
        #expect(g.grad != nil && v.grad != nil, "past the frozen epochs the gradients stay")
        #expect(TowerHeads.cancelLastLayerGradients(dino, epoch: 0, freezeLastLayer: 1))
        #expect(g.grad == nil && v.grad == nil)
        #expect(w0.grad != nil, "the MLP keeps its gradients")
        let (g0, v0, m0) = (g.value.toArray(), v.value.toArray(), w0.value.toArray())
        SGD(dino.trainableParameters.map(\.variable), learningRate: 0.1).step()
        #expect(g.value.toArray() == g0 && v.value.toArray() == v0, "the prototype layer moved while frozen")
        #expect(w0.value.toArray() != m0, "the MLP did not move")
        // A head without a prototype layer, and no head: nothing to cancel.
        #expect(!TowerHeads.cancelLastLayerGradients(try TowerHeadFixture("dino2_features").head, epoch: 0, freezeLastLayer: 1))
        #expect(!TowerHeads.cancelLastLayerGradients(nil, epoch: 0, freezeLastLayer: 1))
    }

    /// The gradients of `v`, `g` and the input of WeightNormLinear against central differences of a
    /// Float64 reference of y = x · (g · v / ‖v‖)ᵀ, under loss Σ y ⊙ R.
    @Test func weightNormLinearFiniteDifferences() throws {
        let (n, inF, outF) = (3, 5, 4)
        let layer = ParameterInitialization.seeded(11) { WeightNormLinear(inF, outF) }
        var rng = RandomGenerator(seed: 12)
        layer.gain.assign(Tensor.uniform([outF, 1], low: 0.5, high: 2, generator: &rng))
        let x = Variable(Tensor.uniform([n, inF], low: -2, high: 2, generator: &rng), requiresGrad: true)
        let r = Tensor.randn([n, outF], generator: &rng)
        let y = layer(x)
        (y * Variable(r)).sum().backward()

        let R = r.toArray().map(Double.init)
        func forward(_ x: [Double], _ v: [Double], _ g: [Double]) -> [Double] {
            var out = [Double](repeating: 0, count: n * outF)
            for o in 0..<outF {
                let norm = (0..<inF).reduce(0.0) { $0 + v[o * inF + $1] * v[o * inF + $1] }.squareRoot()
                for i in 0..<n {
                    out[i * outF + o] = g[o] * (0..<inF).reduce(0.0) { $0 + x[i * inF + $1] * v[o * inF + $1] } / norm
                }
            }
            return out
        }
        let x0 = x.value.toArray().map(Double.init), v0 = layer.direction.value.toArray().map(Double.init)
        let g0 = layer.gain.value.toArray().map(Double.init)
        let ref = forward(x0, v0, g0)
        let forwardError = zip(y.value.toArray(), ref).map { Swift.abs(Double($0) - $1) / max(1, Swift.abs($1)) }.max() ?? 0
        #expect(forwardError <= 1e-5, "forward error \(forwardError)")

        func loss(_ x: [Double], _ v: [Double], _ g: [Double]) -> Double { zip(forward(x, v, g), R).reduce(0) { $0 + $1.0 * $1.1 } }
        let inputs: [(String, [Double], Tensor?, ([Double]) -> Double)] = [
            ("weight_v", v0, layer.direction.grad, { loss(x0, $0, g0) }),
            ("weight_g", g0, layer.gain.grad, { loss(x0, v0, $0) }),
            ("input", x0, x.grad, { loss($0, v0, g0) }),
        ]
        for (name, values, analytic, f) in inputs {
            let a = try #require(analytic, "\(name) got no gradient").toArray().map(Double.init)
            var numeric = [Double](repeating: 0, count: values.count)
            for j in values.indices {
                var up = values, down = values
                let h = 1e-6 * max(1, Swift.abs(values[j]))
                up[j] += h
                down[j] -= h
                numeric[j] = (f(up) - f(down)) / (2 * h)
            }
            let scale = numeric.map { Swift.abs($0) }.max() ?? 0
            let worst = zip(a, numeric).map { Swift.abs($0 - $1) / max(Swift.abs($1), 0.01 * scale, 1e-6) }.max() ?? 0
            #expect(worst <= 1e-3, "WeightNormLinear \(name): gradient error \(worst)")
            print("WeightNormLinear finite differences \(name): max gradient error \(worst)")
        }
    }

    /// torch's weight_norm start (g = ‖v‖ row by row, so W = v) and DINO's (g = 1, frozen).
    @Test func weightNormStart() throws {
        let layer = ParameterInitialization.seeded(3) { WeightNormLinear(6, 5) }
        #expect(maxAbsDiff(layer.weight.value, layer.direction.value) < 1e-6)
        #expect(layer.gain.requiresGrad)
        #expect(layer.namedParameters().map(\.key) == ["weight_g", "weight_v"])
        let frozen = ParameterInitialization.seeded(3) { WeightNormLinear(6, 5, gain: 1, freezeGain: true) }
        #expect(!frozen.gain.requiresGrad && frozen.gain.value.toArray().allSatisfy { $0 == 1 })
    }

    /// N = 0 is the identity, N = 1 a Linear (out defaults to in), N ≥ 2 DINO's head with torch's keys,
    /// DINO's initialisation, a frozen gain of 1, and normalised features without prototypes.
    @Test func builder() throws {
        #expect(try TowerHeads.make(nLayers: 0, inDim: 8, outDim: 4, seed: 1) == nil)
        var rng = RandomGenerator(seed: 42)
        let x = Variable(Tensor.randn([2, 8], generator: &rng), requiresGrad: true)
        #expect(TowerHeads.apply(nil, to: x) === x)
        #expect(TowerHeads.outputDim(of: nil, inDim: 8) == 8)

        let linear = try #require(try TowerHeads.make(nLayers: 1, inDim: 8, outDim: nil, seed: 1) as? Linear)
        #expect(linear.weight.shape == [8, 8] && linear.bias != nil)
        #expect(TowerHeads.outputDim(of: try TowerHeads.make(nLayers: 1, inDim: 8, outDim: 3, seed: 1), inDim: 8) == 3)

        let dino = try #require(try TowerHeads.make(nLayers: 3, inDim: 8, outDim: nil, hiddenDim: 512, bottleneckDim: 16,
                                                    prototypes: 10, seed: 1) as? DINOHead)
        #expect(dino.namedParameters().map(\.key) == ["mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias", "mlp.4.weight",
                                                      "mlp.4.bias", "last_layer.weight_g", "last_layer.weight_v"])
        #expect(dino.namedParameters().map(\.variable.shape) == [[512, 8], [512], [512, 512], [512], [16, 512], [16], [10, 1], [10, 16]])
        #expect(dino.outputDim == 10 && TowerHeads.outputDim(of: dino, inDim: 8) == 10)
        #expect(dino.trainableParameters.map(\.key) == ["mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias",
                                                        "mlp.4.weight", "mlp.4.bias", "last_layer.weight_v"])
        let g = try #require(dino.lastLayer?.gain)
        #expect(!g.requiresGrad && g.value.toArray().allSatisfy { $0 == 1 })
        let w = dino.layers[1].weight.value.toArray()
        let std = (w.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(w.count)).squareRoot()
        #expect(Swift.abs(std - 0.02) < 0.002, "trunc_normal(std 0.02): got std \(std)")
        #expect(dino.layers.allSatisfy { $0.bias?.value.toArray().allSatisfy { $0 == 0 } ?? false })
        #expect(TowerHeads.apply(dino, to: x).shape == [2, 10])

        let same = try #require(try TowerHeads.make(nLayers: 3, inDim: 8, outDim: nil, hiddenDim: 512, bottleneckDim: 16,
                                                    prototypes: 10, seed: 1))
        let other = try #require(try TowerHeads.make(nLayers: 3, inDim: 8, outDim: nil, hiddenDim: 512, bottleneckDim: 16,
                                                     prototypes: 10, seed: 2))
        #expect(zip(dino.parameters, same.parameters).allSatisfy { $0.value.toArray() == $1.value.toArray() })
        #expect(dino.parameters[0].value.toArray() != other.parameters[0].value.toArray())

        let features = try #require(try TowerHeads.make(nLayers: 2, inDim: 8, outDim: nil, hiddenDim: 16, bottleneckDim: 4,
                                                        seed: 1) as? DINOHead)
        #expect(features.lastLayer == nil && features.outputDim == 4)
        #expect(features.namedParameters().map(\.key) == ["mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias"])
        let rows = withNoGrad { features(x) }.value
        for i in 0..<2 { #expect(Swift.abs(norm(rows.sliced(0, i..<i + 1).contiguous()) - 1) < 1e-5) }

        let one = try ParameterInitialization.seeded(1) { try DINOHead(inDim: 8, nLayers: 1, bottleneckDim: 4, prototypes: 3) }
        #expect(one.namedParameters().map(\.key) == ["mlp.weight", "mlp.bias", "last_layer.weight_g", "last_layer.weight_v"])
    }

    /// Negative layer counts and non-positive sizes are refused, naming what is wrong.
    @Test func builderErrors() throws {
        func message(_ body: () throws -> Module?) -> String? {
            do { _ = try body(); return nil } catch let e as ClipError where e.kind == .invalidArgument { return e.message } catch { return "\(error)" }
        }
        let negative = message { try TowerHeads.make(nLayers: -1, inDim: 8, outDim: nil, seed: 0) }
        #expect(negative?.contains("--image-head-n-layers") == true && negative?.contains("-1") == true, "\(negative ?? "no error")")
        #expect(message { try TowerHeads.make(nLayers: 0, inDim: 0, outDim: nil, seed: 0) }?.contains("input dim") == true)
        #expect(message { try TowerHeads.make(nLayers: 1, inDim: 8, outDim: 0, seed: 0) }?.contains("output dim") == true)
        #expect(message { try TowerHeads.make(nLayers: 2, inDim: 8, outDim: nil, hiddenDim: 0, seed: 0) }?.contains("hidden dim") == true)
        #expect(message { try TowerHeads.make(nLayers: 2, inDim: 8, outDim: nil, bottleneckDim: -3, seed: 0) }?
            .contains("bottleneck dim") == true)
        #expect(message { try TowerHeads.make(nLayers: 3, inDim: 8, outDim: nil, hiddenDim: 4, bottleneckDim: 2, prototypes: 0,
                                              seed: 0) }?.contains("prototypes") == true)
        #expect(message { try TowerHeads.make(nLayers: 2, inDim: 8, outDim: nil, hiddenDim: 1 << 40, seed: 0) } != nil,
                "a head past the memory budget is refused")
        #expect(ClipError.kind { try DINOHead(inDim: 8, nLayers: 0) } == .invalidArgument)
        // Sizes the head does not use are not checked (N = 1 ignores the DINO sizes).
        #expect(message { try TowerHeads.make(nLayers: 1, inDim: 8, outDim: nil, hiddenDim: 0, bottleneckDim: 0, seed: 0) } == nil)
    }
}
