// Where one tower of a two-tower model sits among its parameter keys, so that
// training can lock it whole or all but its last encoder layers (open_clip's
// --lock-image / --lock-text with unlocked layers).

/// The parameter keys of one tower (image or text) in a family's checkpoint layout.
public struct TowerKeys: Sendable, Equatable {
    /// Prefixes of every key of the tower (`vision_model.`, `visual_projection.`).
    public var prefixes: [String]
    /// Parts of keys below the encoder layers that stay locked when the last layers open (`embeddings`,
    /// CLIP's `pre_layrnorm`); every other key outside the layers (final norm, head, projection)
    /// opens with them.
    public var stem: [String]
    /// The key part followed by an encoder layer's index (`.encoder.layers.`).
    public var layers: String

    public init(prefixes: [String], stem: [String], layers: String = ".encoder.layers.") {
        self.prefixes = prefixes
        self.stem = stem
        self.layers = layers
    }

    /// The keys among `keys` that belong to this tower.
    public func keys(in keys: [String]) -> [String] {
        keys.filter { key in prefixes.contains { key.hasPrefix($0) } }
    }

    /// The tower's keys among `keys` that a lock freezes: all of them, or with `unlockedLayers` above 0
    /// everything but the last `unlockedLayers` encoder layers and the keys above the layers.
    package func lockedKeys(in keys: [String], unlockedLayers n: Int) -> Set<String> {
        let own = self.keys(in: keys)
        let firstOpen = (own.compactMap(layerIndex).max() ?? -1) + 1 - n
        return Set(own.filter { key in
            guard n > 0 else { return true }
            if let l = layerIndex(key) { return l < firstOpen }
            return stem.contains { key.contains($0) }
        })
    }

    /// The encoder layer a key belongs to, if any.
    func layerIndex(_ key: String) -> Int? {
        guard let r = key.range(of: layers) else { return nil }
        return Int(key[r.upperBound...].prefix { $0.isNumber })
    }
}
