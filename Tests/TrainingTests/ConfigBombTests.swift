// Every YAML entry point of the trainers parses through YAMLGuard: an alias bomb given as an ELIP,
// contrastive, projection-head or tuning config is refused by its limit, naming the file.

import Testing
import Foundation
import Tensor
import Studies
import Training

@Suite struct ConfigBombTests {
    static let bomb: String = {
        var lines = ["x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for i in 1...9 { lines.append("x\(i): &x\(i) [" + Array(repeating: "*x\(i - 1)", count: 10).joined(separator: ", ") + "]") }
        return lines.joined(separator: "\n") + "\n"
    }()

    static func expectNodeLimit(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try body()
            Issue.record("an alias bomb was accepted", sourceLocation: sourceLocation)
        } catch let e as ClipError {
            #expect(e.kind == .unsupported && e.message.contains("bomb.yaml") && e.message.contains("CLIPCORE_MAX_YAML_NODES"),
                    "\(e)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("not a ClipError: \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func aliasBombInEveryConfig() {
        Self.expectNodeLimit { _ = try ELIPConfig.parse(Self.bomb, name: "bomb.yaml") }
        Self.expectNodeLimit { _ = try ContrastiveConfig.parse(Self.bomb, name: "bomb.yaml") }
        Self.expectNodeLimit { _ = try HeadsRunConfig.parse(Self.bomb, name: "bomb.yaml") }
        Self.expectNodeLimit { _ = try HeadsTuneConfig(yaml: Self.bomb, name: "bomb.yaml") }
    }
}
