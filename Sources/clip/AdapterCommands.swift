// `clip adapters`: LoRA and (IA)³ adapter files on a model folder (merge).

import ArgumentParser
import Foundation
import Tensor
import Models
import Adapters
import NN

struct AdaptersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adapters",
        abstract: "Adapters: fold a LoRA or (IA)3 adapter file into a model folder (docs/ADAPTERS.md).",
        subcommands: [Merge.self])

    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Merge a LoRA or (IA)3 adapter file into a model's weights and write a plain model folder.",
            discussion: """
                FILE holds the adapters alone, its kind in the metadata's adapter_type. LoRA (PEFT's keys, \
                base_model.model.<layer>.lora_A.weight and lora_B.weight; r, lora_alpha and target_modules in its \
                metadata): each adapted weight becomes W + (alpha/r)·B·A. (IA)3 (base_model.model.<layer>.ia3_l): \
                keys, values and their biases are scaled row-wise, the feed-forward block's second weight column-wise. \
                Bottleneck and prefix files cannot be merged. OUT gets config.json, model.safetensors, the tokenizer \
                files and preprocessor_config.json and is replaced as a whole.
                """)
        @Option(help: "Model folder (Hugging Face layout, or open_clip's).") var model: String
        @Option(help: "LoRA or (IA)3 adapter file (.safetensors).") var adapter: String
        @Option(help: "Output folder (replaced as a whole).") var out: String

        func run() throws {
            let (pipeline, kind) = try Adapters.mergeFolder(model: model, adapter: adapter, output: out)
            let file = try SafeTensorsFile(path: adapter)
            let what = kind == .lora
                ? "\(file.names.count / 2) LoRA layers (r \(file.metadata["r"] ?? "?"), alpha \(file.metadata["lora_alpha"] ?? "?"))"
                : "\(file.names.count) (IA)3 vectors (\(file.metadata["ia3_sites"] ?? "?"))"
            print("merged \(what) from \(adapter) into \(model) → \(out) (\(pipeline.kind))")
        }
    }
}
