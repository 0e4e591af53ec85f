// The clip command-line tool.

import ArgumentParser
import Foundation

@main
struct Clip: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clip",
        abstract: "clipcore: CLIP-family image–text models in Swift.",
        subcommands: [SelfCheck.self, Encode.self, Info.self, IndexCommand.self, Mine.self, EvalRetrieval.self, ELIPCommand.self, DataCommand.self, Train.self, Demo.self],
        defaultSubcommand: SelfCheck.self)

    /// Line-buffered output, so progress reaches logs and pipes as it happens.
    static func main() {
        setvbuf(stdout, nil, _IOLBF, 0)
        main(nil)
    }
}
