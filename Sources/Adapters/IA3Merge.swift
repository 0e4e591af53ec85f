// A model folder and an (IA)³ adapter file merged into a plain model folder; merging any mergeable
// adapter file by its kind.

import Foundation
import Tensor
import NN
import Models

extension IA3Model {
    /// Loads the model folder `model`, attaches the vectors of `adapter`, folds them into the weights
    /// and writes a plain Hugging Face folder to `output` (`ModelFolder.write`: replaced as a whole).
    /// Returns the merged pipeline.
    /// - Throws: what `ImageTextPipeline(directory:)`, `Adapters.load(_:into:)` and `ModelFolder.write` throw;
    ///   `ClipError(.format)` when the file is not an (IA)³ adapter file.
    @discardableResult
    public static func mergeFolder(model: String, adapter: String, output: String) throws -> ImageTextPipeline {
        let pipeline = try ImageTextPipeline(directory: model)
        guard let ia3 = try Adapters.load(adapter, into: pipeline.model) as? IA3Model else {
            throw ClipError.format("\(adapter): not an (IA)3 adapter file")
        }
        ia3.merge()
        try ModelFolder.write(pipeline.model, processor: pipeline.processor.config, tokenizerSource: model, to: output,
                              metadata: ["merged_adapter": "ia3", "ia3_sites": ia3.config.siteNames.joined(separator: ",")])
        return pipeline
    }
}

extension Adapters {
    /// Folds a LoRA or (IA)³ adapter file (by its `adapter_type`) into the model folder `model` and
    /// writes a plain model folder to `output`. Returns the merged pipeline and the file's kind.
    /// - Throws: `ClipError(.unsupported)` for bottleneck and prefix files (they add layers or key/value
    ///   rows that no plain checkpoint holds); what `LoRAModel.mergeFolder` and `IA3Model.mergeFolder` throw.
    @discardableResult
    public static func mergeFolder(model: String, adapter: String, output: String) throws -> (pipeline: ImageTextPipeline, kind: AdapterKind) {
        let kind = try config(ofFile: adapter).kind
        switch kind {
        case .lora: return (try LoRAModel.mergeFolder(model: model, adapter: adapter, output: output), kind)
        case .ia3: return (try IA3Model.mergeFolder(model: model, adapter: adapter, output: output), kind)
        case .bottleneck, .prefix:
            throw ClipError.unsupported("\(adapter): \(kind.rawValue) adapters cannot be merged into the weights "
                                        + "(only LoRA and (IA)3 can); load the file with the model instead")
        }
    }
}
