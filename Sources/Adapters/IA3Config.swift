// (IA)³'s settings (Liu et al. 2022, "Few-Shot Parameter-Efficient Fine-Tuning is Better and Cheaper
// than In-Context Learning"; names as PEFT's `IA3Config`).

import Foundation
import Tensor

/// Which activations (IA)³ rescales in every transformer layer: the keys, the values, and the input
/// of the feed-forward block's second linear layer (the intermediate activations).
public struct IA3Config: Codable, Equatable, Sendable {
    public var keys: Bool
    public var values: Bool
    public var feedForward: Bool

    public init(keys: Bool = true, values: Bool = true, feedForward: Bool = true) {
        self.keys = keys
        self.values = values
        self.feedForward = feedForward
    }

    /// The sites as metadata names.
    var siteNames: [String] {
        (keys ? ["key"] : []) + (values ? ["value"] : []) + (feedForward ? ["feed_forward"] : [])
    }

    /// - Throws: `ClipError(.invalidArgument)` when no site is chosen.
    public func validate() throws {
        guard keys || values || feedForward else { throw ClipError.invalidArgument("(IA)3: no keys, values or feed-forward chosen") }
    }

    // MARK: - File metadata

    /// The settings as safetensors metadata (`ia3_sites`: `key,value,feed_forward`). The model-specific
    /// `target_modules` and `feedforward_modules` (PEFT's names) are added by `IA3Model`.
    public var metadata: [String: String] {
        ["adapter_type": AdapterKind.ia3.rawValue, "ia3_sites": siteNames.joined(separator: ",")]
    }

    /// Reads the settings back from an adapter file's metadata.
    /// - Throws: `ClipError(.format)` naming the file and the missing or bad key.
    public init(metadata m: [String: String], file: String) throws {
        try AdapterFile.checkType(m, kind: .ia3, file: file)
        let sites = try AdapterFile.value(m, "ia3_sites", file: file, kind: .ia3).split(separator: ",").map(String.init)
        if let bad = sites.first(where: { !["key", "value", "feed_forward"].contains($0) }) {
            throw ClipError.format("\(file): metadata 'ia3_sites' names '\(bad)', not key, value or feed_forward")
        }
        self.init(keys: sites.contains("key"), values: sites.contains("value"), feedForward: sites.contains("feed_forward"))
        do { try validate() } catch let e as ClipError { throw ClipError.format("\(file): \(e.message)") }
    }
}
