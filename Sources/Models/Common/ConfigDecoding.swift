// Reading HF config.json files with errors that name the field.

import Foundation
import Tensor
import NN

extension ClipError {
    /// Reads and decodes a JSON file.
    static func decodeJSON<T: Decodable>(_ type: T.Type, path: String) throws -> T {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ClipError.io("\(path): cannot read the file")
        }
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

extension KeyedDecodingContainer {
    /// An activation name, checked.
    func activation(_ key: K, default name: String) throws -> String {
        let v = try decodeIfPresent(String.self, forKey: key) ?? name
        do { _ = try Models.activation(named: v) } catch {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "\(error)")
        }
        return v
    }
}

/// A transformer encoder of `layers` pre-LN layers with the named activation.
func makeEncoder(layers: Int, dim: Int, heads: Int, mlpDim: Int, activation name: String, eps: Float) throws -> NN.Encoder {
    NN.Encoder(layers: layers, EncoderOptions(dim: dim, heads: heads, mlpDim: mlpDim,
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
/// as `position_ids` that older files persisted are ignored) and switches to evaluation mode.
func loadWeights<M: Module>(_ directory: String, _ make: () throws -> M) throws -> M {
    let model = try ParameterInitialization.withoutInitialization(make)
    try model.load(Checkpoint(path: directory), ignoring: { $0.hasSuffix("position_ids") })
    model.eval()
    return model
}
