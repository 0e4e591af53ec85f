// clipcore-example: clipcore from a Swift package, through `import ClipCore` only.
//
//   clipcore-example [--fixtures DIR] [EXPECTED.txt ...]
//       the check run (the default): load each fixture model, encode, compute losses, search, mine
//       and re-rank, comparing every result with transformers' values or a direct computation;
//       prints "ok"/"FAIL" per check and exits 1 if any failed. With no file, the CLIP and SigLIP
//       fixtures (DIR/capi/{clip,siglip}/expected.txt; DIR defaults to the repository's Tests/Fixtures).
//   clipcore-example --model DIR --mapper FILE --query TEXT [--k N] IMAGE...
//       the plain run: search the images with the query and re-rank the top N with the ELIP mapper.

import Foundation
import ClipCore

/// This file is examples/swift/Sources/clipcore-example/main.swift in the clipcore repository.
let repository = (0..<5).reduce(URL(fileURLWithPath: #filePath)) { url, _ in url.deletingLastPathComponent() }

func usage() -> Never {
    FileHandle.standardError.write(Data("""
        usage: clipcore-example [--fixtures DIR] [EXPECTED.txt ...]
               clipcore-example --model DIR --mapper FILE --query TEXT [--k N] IMAGE...

        """.utf8))
    exit(2)
}

var args = Array(CommandLine.arguments.dropFirst())
var options: [String: String] = [:]
var positional: [String] = []
while !args.isEmpty {
    let a = args.removeFirst()
    switch a {
    case "--fixtures", "--model", "--mapper", "--query", "--k":
        guard !args.isEmpty else { usage() }
        options[a] = args.removeFirst()
    case "-h", "--help": usage()
    default:
        if a.hasPrefix("--") { usage() }
        positional.append(a)
    }
}

do {
    if let model = options["--model"] {
        guard let mapper = options["--mapper"], let query = options["--query"], !positional.isEmpty else { usage() }
        guard let k = Int(options["--k"] ?? "10"), k > 0 else { usage() }
        try rerank(model: model, mapperPath: mapper, query: query, imageFiles: positional, k: k)
    } else {
        let fixtures = options["--fixtures"] ?? repository.appendingPathComponent("Tests/Fixtures").path
        let files = positional.isEmpty ? ["clip", "siglip"].map { "\(fixtures)/capi/\($0)/expected.txt" } : positional
        var checks = Checks()
        for file in files {
            do {
                try checkFixture(expectedPath: file, fixtures: fixtures, checks: &checks)
            } catch {
                checks.expect(false, "\(file): the run stopped", detail: "\(error)")
            }
        }
        print("\(checks.passed) passed, \(checks.failed) failed")
        exit(checks.failed == 0 && checks.passed > 0 ? 0 : 1)
    }
} catch {
    FileHandle.standardError.write(Data("clipcore-example: \(error)\n".utf8))
    exit(1)
}
