// The Swift snippets of the DocC articles (Sources/ClipCore/ClipCore.docc/*.md), compiled so that an
// article that no longer matches the API fails the build. scripts/test-swift-example.sh writes each
// ```swift block into Articles.swift here (ignored by git) as the body of a function, before building;
// nothing calls them.
