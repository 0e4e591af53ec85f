// The clip command-line tool.

import ArgumentParser

@main
struct Clip: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clip",
        abstract: "clipcore: CLIP-family image–text models in Swift.",
        subcommands: [SelfCheck.self, Encode.self, Info.self, IndexCommand.self, Mine.self, EvalRetrieval.self, ELIPCommand.self, DataCommand.self, Train.self],
        defaultSubcommand: SelfCheck.self)
}
