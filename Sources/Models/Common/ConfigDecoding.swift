// Reading HF config.json files with errors that name the field.

import Foundation
import Tensor
import NN

extension ClipError {
    /// Reads and decodes a JSON file.
    static func decodeJSON<T: Decodable>(_ type: T.Type, path: String) throws -> T {
        guard let data = FileContents.read(atPath: path) else {
            throw ClipError.io("\(path): cannot read the file")
        }
        try JSONText.checkDepth(data, file: path)
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw ClipError.decoding(error, file: path, syntax: "JSON", valueKind: .format)
        }
    }
}

/// The activation named by HF's `hidden_act`.
public func activation(named name: String) throws -> Activation {
    switch name {
    case "quick_gelu": return .quickGelu
    case "gelu": return .gelu
    case "gelu_pytorch_tanh", "gelu_new": return .geluTanh
    default: throw ClipError.unsupported("hidden_act '\(name)' is not supported (quick_gelu, gelu, gelu_pytorch_tanh, gelu_new)")
    }
}

/// The largest size a config file may give (a width, a vocabulary, a context length, an image side):
/// 2^24. Products of two or three such sizes cannot overflow, so building a model from checked sizes
/// never traps on arithmetic; what the sizes then ask for is held to the checkpoint (`loadWeights`).
let maxConfigSize = 1 << 24

extension KeyedDecodingContainer {
    /// A size that must lie in 1...`maxConfigSize`.
    func size(_ key: K) throws -> Int { try positive(key, atMost: maxConfigSize) }

    /// An activation name, checked.
    func activation(_ key: K, default name: String) throws -> String {
        let v = try decodeIfPresent(String.self, forKey: key) ?? name
        do { _ = try Models.activation(named: v) } catch {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "\(error)")
        }
        return v
    }
}

/// A transformer encoder of `layers` pre-LN layers with the named activation. Inside a budgeted
/// `withoutInitialization` scope (a checkpoint's size) a layer count past the budget throws before any
/// layer is built.
func makeEncoder(layers: Int, dim: Int, heads: Int, mlpDim: Int, activation name: String, eps: Float) throws -> NN.Encoder {
    // Each layer holds at least its four attention projections and two MLP matrices (counted in
    // Double: the product of sizes a file gives must not overflow before it is compared).
    let need = Double(layers) * Double(dim) * (4 * Double(dim) + 2 * Double(mlpDim))
    try ParameterInitialization.require(need < Double(Int.max) ? Int(need) : -1,
                                        for: "\(layers) encoder layers of width \(dim) and MLP \(mlpDim)")
    return NN.Encoder(layers: layers, EncoderOptions(dim: dim, heads: heads, mlpDim: mlpDim,
                                                  activation: try activation(named: name), layerNormEps: eps))
}

extension KeyedDecodingContainer {
    /// Checks that `hidden` splits into `heads` heads and, for vision towers, that the image tiles into patches.
    func checkTower(hidden: Int, heads: Int, headsKey: K, image: Int? = nil, patch: Int? = nil, patchKey: K? = nil) throws {
        guard hidden % heads == 0 else {
            throw DecodingError.dataCorruptedError(forKey: headsKey, in: self,
                debugDescription: "hidden_size \(hidden) is not divisible by \(heads) heads")
        }
        if let image, let patch, let patchKey, image % patch != 0 {
            throw DecodingError.dataCorruptedError(forKey: patchKey, in: self,
                debugDescription: "image_size \(image) is not a multiple of patch_size \(patch)")
        }
    }
}

/// Builds a model without drawing initial values, loads a folder's weights strictly (buffers such
/// as `position_ids` that older files persisted are ignored) and switches to evaluation mode. The
/// checkpoint is opened first and bounds what the build may allocate: sizes in `config` (the file they
/// come from) that ask for far more weights than the checkpoint holds throw before memory is taken.
func loadWeights<M: Module>(_ directory: String, config: String, _ make: () throws -> M) throws -> M {
    let checkpoint = try Checkpoint(path: directory)
    let model = try ParameterInitialization.withoutInitialization(checkpointValues: checkpoint.elementCount, what: config, make)
    try model.load(checkpoint, ignoring: { $0.hasSuffix("position_ids") })
    model.eval()
    return model
}
