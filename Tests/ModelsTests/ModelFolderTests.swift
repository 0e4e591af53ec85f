// Saving a model folder replaces it as a whole: a reader never finds it missing or partial.

import Testing
import Foundation
import Dispatch
import Tensor
import TestSupport
import Images
import NN
import Models

@Suite struct ModelFolderTests {
    /// While a folder is written again and again, another thread always finds it, whole (Linux: one
    /// atomic exchange of names), and no temporary is left beside it.
    @Test func rewritingAFolderNeverLeavesItMissing() throws {
        let scratch = try ScratchFolder("folder")
        defer { scratch.remove() }
        let pipeline = try #require(try ParameterInitialization.seeded(1) {
            try CLIPFamily.preset("micro", imageSize: 16, projectionDim: nil)
        })
        let dir = scratch.path + "/model"
        func save(_ round: Int) throws {
            try ModelFolder.write(pipeline.model, processor: pipeline.processor.config, tokenizerSource: nil, to: dir,
                                  metadata: ["round": String(round)])
        }
        try save(0)
        let watch = FolderWatch(dir)
        let group = DispatchGroup()
        DispatchQueue(label: "reader").async(group: group) { watch.run() }
        for round in 1...20 { try save(round) }
        watch.stop()
        group.wait()
        let (missing, reads) = watch.counts
        #if os(Linux)
        #expect(missing == 0, "the folder was missing in \(missing) of \(reads) looks")
        #endif
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path) == ["model"])
        #expect(try SafeTensorsFile(path: dir + "/model.safetensors").metadata["round"] == "20")
        _ = try ImageTextPipeline(directory: dir)
    }
}

/// Looks for a folder's files on one thread until stopped, counting the looks that miss them.
final class FolderWatch: @unchecked Sendable {
    let directory: String
    private let lock = NSLock()
    private var stopped = false
    private var missing = 0, reads = 0

    init(_ directory: String) { self.directory = directory }

    var counts: (missing: Int, reads: Int) { lock.withLock { (missing, reads) } }
    func stop() { lock.withLock { stopped = true } }

    func run() {
        let fm = FileManager.default
        while !lock.withLock({ stopped }) {
            let gone = !fm.fileExists(atPath: directory + "/config.json") || !fm.fileExists(atPath: directory + "/model.safetensors")
            lock.withLock {
                reads += 1
                if gone { missing += 1 }
            }
        }
    }
}
