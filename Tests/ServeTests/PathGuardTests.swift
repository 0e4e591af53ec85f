// Image files are served from under the dataset root only.

import Foundation
import Testing
import Serve

@Suite struct PathGuardTests {
    /// root/images/a.png, root/images/sub/b.png, outside/secret.txt, root/images/link → outside/secret.txt,
    /// root/images/dirlink → outside.
    func fixture() throws -> (root: String, outside: String) {
        let base = NSTemporaryDirectory() + "pathguard-\(UUID().uuidString)"
        let root = base + "/root", outside = base + "/outside"
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/images/sub", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try Data([1]).write(to: URL(fileURLWithPath: root + "/images/a.png"))
        try Data([2]).write(to: URL(fileURLWithPath: root + "/images/sub/b.png"))
        try Data([3]).write(to: URL(fileURLWithPath: outside + "/secret.txt"))
        try fm.createSymbolicLink(atPath: root + "/images/link", withDestinationPath: outside + "/secret.txt")
        try fm.createSymbolicLink(atPath: root + "/images/dirlink", withDestinationPath: outside)
        try fm.createSymbolicLink(atPath: root + "/images/inner", withDestinationPath: root + "/images/sub/b.png")
        return (root, outside)
    }

    @Test func servesFilesUnderTheRoot() throws {
        let (root, _) = try fixture()
        let g = try #require(PathGuard(root: root))
        #expect(g.resolve("images/a.png") != nil)
        #expect(g.resolve("images/sub/b.png") != nil)
        #expect(g.resolve("images/sub/../a.png") != nil)   // stays inside
        #expect(g.resolve("images/inner") != nil)   // a link that stays inside
    }

    @Test func refusesEverythingElse() throws {
        let (root, _) = try fixture()
        let g = try #require(PathGuard(root: root + "/images"))
        for bad in ["", "/etc/passwd", "../outside/secret.txt", "../../outside/secret.txt", "sub/../../outside/secret.txt",
                    "link", "dirlink/secret.txt", "sub", ".", "missing.png", "a.png\0.jpg",
                    "%2e%2e/outside/secret.txt", "..%2Foutside%2Fsecret.txt"] {
            #expect(g.resolve(bad) == nil, "\(bad) must not resolve")
        }
        #expect(PathGuard(root: root + "/images/a.png") == nil)   // a file is no root
        #expect(PathGuard(root: root + "/nope") == nil)
    }

    @Test func servesOnlyListedFiles() throws {
        let (root, _) = try fixture()
        let g = try #require(PathGuard(root: root, files: [root + "/images/a.png", root + "/images/inner"]))
        #expect(g.resolve("images/a.png") == g.root + "/images/a.png")
        #expect(g.resolve("images/sub/b.png") != nil)   // listed through the link that leads to it
        let h = try #require(PathGuard(root: root, files: [root + "/images/a.png"]))
        #expect(h.resolve("images/a.png") != nil)
        #expect(h.resolve("images/sub/b.png") == nil)   // inside the root but not an indexed image
        #expect(h.resolve("images/inner") == nil)
    }

    @Test func noFilesystemRootByDefault() {
        #expect(ServedIndex.defaultImageRoot(["/a/x/1.png", "/b/y/2.png"]) == nil)   // unrelated folders: no "/"
        #expect(ServedIndex.defaultImageRoot(["/a/x/1.png", "/a/y/2.png"]) == "/a")
        #expect(ServedIndex.defaultImageRoot(["/a/x/1.png", "/a/x/2.png"]) == "/a/x")
    }

    @Test func relativePaths() throws {
        let (root, outside) = try fixture()
        let g = try #require(PathGuard(root: root))
        #expect(g.relative(root + "/images/sub/b.png") == "images/sub/b.png")
        #expect(g.relative(outside + "/secret.txt") == nil)
        #expect(g.relative(root + "/images/link") == nil)
    }
}
