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
        .package(name: "clipcore", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "clipcore-example",
            dependencies: [.product(name: "ClipCore", package: "clipcore")]),
    ]
)
