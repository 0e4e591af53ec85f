// swift-tools-version:6.1
// A Swift host of clipcore: a separate package that depends on the library by path, as a user's
// package would depend on it by URL, and uses its public API only (`import ClipCore`).
//
//   swift run -c release --package-path examples/swift clipcore-example          # checks the fixtures
//   swift run -c release --package-path examples/swift clipcore-example \
//       --model DIR --mapper FILE --query TEXT IMAGE...                           # re-ranks your images
//
// scripts/test-swift-example.sh builds and runs it as a test.
import PackageDescription

let package = Package(
    name: "clipcore-swift-example",
    dependencies: [
        // `name:` keeps the product reference below independent of the checkout's folder name (a path
        // dependency's identity is otherwise its folder's name).
        .package(name: "clipcore", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "clipcore-example",
            dependencies: [.product(name: "ClipCore", package: "clipcore")]),
        // The DocC articles' snippets, compiled (see Sources/DocSnippets/DocSnippets.swift).
        .target(
            name: "DocSnippets",
            dependencies: [.product(name: "ClipCore", package: "clipcore")]),
    ]
)
