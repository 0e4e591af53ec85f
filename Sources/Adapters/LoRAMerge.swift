// A model folder and a LoRA adapter file merged into a plain model folder.

import Foundation
import Tensor
import NN
import Models

extension LoRAModel {
    /// Loads the model folder `model`, attaches the adapters of `adapter`, folds them into the
    /// weights and writes a plain Hugging Face folder to `output` (`ModelFolder.write`: replaced as a
    /// whole), which loads with no adapter support. Returns the merged pipeline.
    /// - Throws: what `ImageTextPipeline(directory:)`, `load(_:into:)` and `ModelFolder.write` throw.
    @discardableResult
    public static func mergeFolder(model: String, adapter: String, output: String) throws -> ImageTextPipeline {
        let pipeline = try ImageTextPipeline(directory: model)
        let lora = try LoRAModel.load(adapter, into: pipeline.model)
        lora.merge()
        try ModelFolder.write(pipeline.model, processor: pipeline.processor.config, tokenizerSource: model, to: output,
                              metadata: ["merged_adapter": "lora", "lora_r": String(lora.config.rank),
                                         "lora_alpha": String(lora.config.alpha)])
        return pipeline
    }
}
