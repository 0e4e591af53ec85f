// Tests/Fixtures/torchvision: transformers 5's default (torchvision) image processors on committed images,
// made by `Tools/gen_fixtures.py torchvision` (ImagesTests check the pixels, ModelsTests the embeddings).

import Foundation
import NN

public enum TorchvisionFixture {
    public struct Case {
        public let name: String
        /// The image, relative to Tests/Fixtures.
        public let image: String
        /// The model folder (relative to Tests/Fixtures) whose preprocessor_config.json and model ran; nil for
        /// the pixel-only cases, which ran a CLIPImageProcessor built from `settings`.
        public let model: String?
        /// A pixel-only case's settings as `preprocessor_config.json` text.
        public let settings: Data?
        /// How far transformers' PIL backend is from the torchvision one on this case's embeddings.
        public let pilMaxAbsDiff: Float?
    }

    /// The cases of cases.json and the tensors of expected.safetensors (`<name>.pixel_values` [3, H, W],
    /// `<name>.image_embeds` [dim], L2-normalised).
    public static func load() throws -> (cases: [Case], expected: SafeTensorsFile) {
        let path = Fixtures.path("torchvision/cases.json")
        let root = try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
        guard let list = root?["cases"] as? [[String: Any]] else { throw CocoaError(.fileReadCorruptFile) }
        let cases = try list.map { c -> Case in
            guard let name = c["name"] as? String, let image = c["image"] as? String else { throw CocoaError(.fileReadCorruptFile) }
            let settings = try (c["settings"] as? [String: Any]).map { try JSONSerialization.data(withJSONObject: $0) }
            return Case(name: name, image: image, model: c["model"] as? String, settings: settings,
                        pilMaxAbsDiff: (c["pil_max_abs_diff"] as? Double).map(Float.init))
        }
        return (cases, try Fixtures.expected("torchvision"))
    }
}
