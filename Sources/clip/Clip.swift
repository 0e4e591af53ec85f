// The clip command-line tool.

import ArgumentParser
import Foundation

@main
struct Clip: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clip",
        abstract: "clipcore: CLIP-family image–text models in Swift.",
        discussion: """
            Environment: CLIPCORE_NUM_THREADS (threads; default all cores), \
            CLIPCORE_LINEAR_PRECISION=int16 (linear layers of encoding, re-ranking and frozen \
            backbones on the int16 kernel: faster, embeddings within cosine 0.9999 of float32; \
            default float32, transformers' numbers).
            """,
        subcommands: [SelfCheck.self, Encode.self, Info.self, IndexCommand.self, Mine.self, EvalRetrieval.self, ELIPCommand.self, DataCommand.self, Train.self, Demo.self],
        defaultSubcommand: SelfCheck.self)

    /// Line-buffered output, so progress reaches logs and pipes as it happens.
    static func main() {
        setvbuf(stdout, nil, _IOLBF, 0)
        main(nil)
    }
}
