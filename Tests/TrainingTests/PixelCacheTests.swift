// The ELIP trainer's pixel cache: the same mapper with and without it, images decoded once per run
// when they fit, streamed beyond the budget.

import Testing
import Foundation
import Tensor
import TestSupport
import NN
import Models
import Training
import Datasets

@Suite(.serialized) struct PixelCacheTests {
    @Test(arguments: ELIPObjectiveKind.allCases)
    func trainingIsBitIdenticalWithAndWithoutTheCache(_ objective: ELIPObjectiveKind) throws {
        let scratch = try ScratchFolder("pixelcache")
        defer { scratch.remove() }
        let base = ELIPTrainerTests()
        let data = try base.dataset(scratch.path)
        let pipeline = try ImageTextPipeline(directory: ELIPTrainerTests.fixtures + "/clip/gelu_vocab")
        func train(cacheMB: Int) throws -> ELIPTrainer {
            var c = base.config(scratch.path)
            c.objective = objective
            c.epochs = 2
            c.pixelCacheMB = cacheMB
            c.outputRoot = scratch.path + "/cache\(cacheMB)"
            let t = try ELIPTrainer(config: c, pipeline: pipeline, dataset: data)
            try t.run()
            return t
        }
        let streamed = try train(cacheMB: 0), cached = try train(cacheMB: 16)
        // 12 images decoded once for mining and kept; every batch of both epochs is served from memory.
        #expect(cached.pixelCache.count == 12 && cached.pixelCache.misses == 12)
        #expect(cached.pixelCache.hits == 2 * 24)
        #expect(streamed.pixelCache.count == 0 && streamed.pixelCache.hits == 0 && streamed.pixelCache.misses == 12 + 2 * 24)
        for (x, y) in zip(streamed.mapper.stateDict(), cached.mapper.stateDict()) {
            #expect(x.tensor.toArray() == y.tensor.toArray(), "\(x.key)")
        }
    }

    @Test func configKeyAndDefault() throws {
        let yaml = "model_name: m\noutput_root: o\ndataset:\n  name: d\n"
        #expect(try ELIPConfig.parse(yaml).pixelCacheMB == 1024)
        #expect(try ELIPConfig.parse(yaml + "pixel_cache_mb: 0\n").pixelCacheMB == 0)
        #expect(ClipError.kind { try ELIPConfig.parse(yaml + "pixel_cache_mb: -1\n") } == .invalidArgument)
    }

    @Test func imagesBeyondTheBudgetStream() throws {
        let cache = PixelCache(budgetMB: 1)
        var loads = 0
        let big = { () -> Tensor in loads += 1; return Tensor.zeros([3, 300, 300]) }     // 1.03 MiB: never kept
        let small = { () -> Tensor in loads += 1; return Tensor.ones([3, 200, 200]) }    // 0.46 MiB
        for _ in 0..<2 { _ = cache.pixels(0, load: big) }
        for _ in 0..<2 { _ = cache.pixels(1, load: small) }
        for _ in 0..<2 { _ = cache.pixels(2, load: small) }
        for _ in 0..<2 { _ = cache.pixels(3, load: small) }   // over the budget once 1 and 2 are in
        #expect(loads == 2 + 1 + 1 + 2)
        #expect(cache.count == 2 && cache.usedBytes == 2 * 3 * 200 * 200 * 4 && cache.hits == 2)
        #expect(ClipError.kind { try cache.batch([0, 1]) { _ in Tensor.zeros([3, 2, 2]) } } == .shape)
        #expect(PixelCache(budgetMB: 0).budgetBytes == 0)
    }
}
