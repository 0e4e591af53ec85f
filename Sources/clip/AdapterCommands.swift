// `clip adapters`: LoRA adapter files on a model folder (merge).

import ArgumentParser
import Foundation
import Tensor
import Models
import Adapters
import NN

struct AdaptersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adapters",
        abstract: "LoRA adapters: fold an adapter file into a model folder (docs/ADAPTERS.md).",
        subcommands: [Merge.self])

    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Merge a LoRA adapter file into a model's weights and write a plain model folder.",
            discussion: """
                FILE holds the adapters alone (PEFT's keys, base_model.model.<layer>.lora_A.weight and lora_B.weight; \
                r, lora_alpha and target_modules in its metadata). Each adapted weight becomes W + (alpha/r)·B·A; \
                OUT gets config.json, model.safetensors, the tokenizer files and preprocessor_config.json and is \
                replaced as a whole.
                """)
        @Option(help: "Model folder (Hugging Face layout, or open_clip's).") var model: String
        @Option(help: "LoRA adapter file (.safetensors).") var adapter: String
        @Option(help: "Output folder (replaced as a whole).") var out: String

        func run() throws {
            let pipeline = try LoRAModel.mergeFolder(model: model, adapter: adapter, output: out)
            let file = try SafeTensorsFile(path: adapter)
            print("merged \(file.names.count / 2) LoRA layers (r \(file.metadata["r"] ?? "?"), alpha \(file.metadata["lora_alpha"] ?? "?")) "
                  + "from \(adapter) into \(model) → \(out) (\(pipeline.kind))")
        }
    }
}
