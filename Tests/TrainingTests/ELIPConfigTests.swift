// ELIP YAML configurations.

import Testing
import Foundation
import Tensor
import Models
import Training

@Suite struct ELIPConfigTests {
    static let folder: String = {
        var url = URL(fileURLWithPath: #filePath)
        url.deleteLastPathComponent()
        url.deleteLastPathComponent()
        return url.appendingPathComponent("Fixtures/elip/configs").path
    }()

    @Test(arguments: ["test_cc3m.yaml", "full_datacomp.yaml", "test_pokemon.yaml"])
    func seedConfigsParse(_ file: String) throws {
        let c = try ELIPConfig.load(path: Self.folder + "/" + file)
        #expect(c.modelName == "openai/clip-vit-base-patch32")
        #expect(c.promptTokens == 12 && c.imgSize == 224 && c.seed == 3407)
        var stated = ELIPConfig.RerankK()
        stated.flickr = 100                          // the seed's configs state it; left out, it depends on the model
        #expect(c.rerankK == stated)
        #expect(c.evalSplit != nil && c.fp16)
        if file == "full_datacomp.yaml" {
            #expect(c.batchSize == 40 && c.lr == 1e-3 && c.maxTrainExamples == 6_000_000)
            #expect(c.dataset.name == "apple/DataCompDR-12M-bf16" && c.evalSplit?.textIsList == true)
        }
    }

    @Test func typosAndBadValuesNameTheKey() throws {
        let good = try String(contentsOfFile: Self.folder + "/test_cc3m.yaml", encoding: .utf8)
        func message(_ yaml: String) -> String {
            do { _ = try ELIPConfig.parse(yaml, name: "x.yaml"); return "" } catch { return "\(error)" }
        }
        #expect(message(good.replacingOccurrences(of: "batch_size:", with: "batchsize:")).contains("unknown key 'batchsize'"))
        #expect(message(good.replacingOccurrences(of: "  text_column:", with: "  text_colum:")).contains("unknown key 'dataset.text_colum'"))
        #expect(message(good.replacingOccurrences(of: "model_name:", with: "# model_name:")).contains("model_name missing"))
        #expect(message(good.replacingOccurrences(of: "epochs: 1", with: "epochs: 0")).contains("epochs"))
        #expect(message(good.replacingOccurrences(of: "lr: 5.0e-5", with: "lr: fast")).contains("lr"))
        #expect(message("model_name: [unclosed").contains("x.yaml"))
        #expect(ClipError.kind { try ELIPConfig.load(path: "/nonexistent.yaml") } == .io)
    }

    /// `rerank_k` is seed 000's map by dataset kind, or one number for every kind.
    @Test func rerankDepth() throws {
        let good = try String(contentsOfFile: Self.folder + "/test_cc3m.yaml", encoding: .utf8)
        let block = "rerank_k:\n  coco: 100\n  flickr: 100\n  occluded_coco: 500\n  imagenet_r: 1000\n"
        #expect(good.contains(block))
        #expect(try ELIPConfig.parse(good.replacingOccurrences(of: block, with: "rerank_k: 25\n")).rerankK == ELIPConfig.RerankK(all: 25))
        let partial = try ELIPConfig.parse(good.replacingOccurrences(of: block, with: "rerank_k:\n  flickr: 30\n")).rerankK
        #expect(partial.flickr == 30 && partial.coco == 100 && partial.imagenetR == 1000)
        for bad in ["rerank_k: 0\n", "rerank_k: ten\n", "rerank_k:\n  coco: -1\n", "rerank_k:\n  cocoa: 5\n"] {
            do {
                _ = try ELIPConfig.parse(good.replacingOccurrences(of: block, with: bad), name: "x.yaml")
                Issue.record("accepted \(bad)")
            } catch {
                #expect("\(error)".contains("x.yaml") && "\(error)".contains("rerank_k"), "\(error)")
            }
        }
    }

    /// `objective` defaults to ELIP's query objective; `pairs` is the other; anything else is named.
    @Test func objectiveKey() throws {
        let good = try String(contentsOfFile: Self.folder + "/test_cc3m.yaml", encoding: .utf8)
        #expect(!good.contains("objective"))
        #expect(try ELIPConfig.parse(good).objective == .query && ELIPConfig.parse(good).queryChunk == nil)
        #expect([4, 8, 16, 40].map { ELIPObjective.defaultQueryChunk(batch: $0) } == [4, 2, 1, 1])
        #expect(try ELIPConfig.parse(good + "\nobjective: pairs\n").objective == .pairs)
        #expect(try ELIPConfig.parse(good + "\nobjective: query\nquery_chunk: 4\n").queryChunk == 4)
        do {
            _ = try ELIPConfig.parse(good + "\nobjective: listwise\n", name: "x.yaml")
            Issue.record("accepted objective: listwise")
        } catch let e as ClipError {
            #expect(e.message.contains("x.yaml") && e.message.contains("objective") && e.message.contains("listwise")
                    && e.message.contains("query") && e.message.contains("pairs"), "\(e.message)")
            #expect(e.kind == .invalidArgument)
        }
        #expect(ClipError.kind { try ELIPConfig.parse(good + "\nquery_chunk: 0\n") } == .invalidArgument)
    }

    /// A config that states nothing else gets the official recipe; every new key is read and checked.
    @Test func officialRecipeIsTheDefault() throws {
        let c = try ELIPConfig.parse("model_name: m\noutput_root: o\ndataset:\n  name: d\n")
        #expect(c.promptTokens == 10 && c.mapperHidden == nil && c.resolvedMapperHidden == 10_240)
        #expect(c.lr == 1e-3 && c.weightDecay == 0.2 && c.beta1 == 0.9 && c.beta2 == 0.98 && c.eps == 1e-6)
        #expect(c.lrScheduler == .cosine && c.warmup == 10_000 && c.sigmoidBias == -10 && c.promptDropout == nil)
        #expect(c.resolvedPromptDropout(sigmoid: true) == 0.1 && c.resolvedPromptDropout(sigmoid: false) == 0)
        #expect(c.batches == nil && c.batchesSeparator == "\t" && c.batchesImageKey == "filepath" && c.batchesCaptionKey == "title")
        #expect(c.rerankK.depth(forDataset: "data/flickr30k", sigmoid: true) == 50)
        #expect(c.rerankK.depth(forDataset: "data/flickr30k", sigmoid: false) == 100)
        #expect(c.rerankK.depth(forDataset: "coco_karpathy", sigmoid: true) == 100)
        let set = try ELIPConfig.parse("""
            model_name: m
            output_root: o
            dataset: {name: d}
            mapper_hidden: 64
            beta2: 0.999
            eps: 1.0e-8
            lr_scheduler: const
            warmup: 0
            sigmoid_bias: -5
            prompt_dropout: 0.2
            batches: b.csv
            batches_sep: ','
            rerank_k: {flickr: 30}
            """)
        #expect(set.resolvedMapperHidden == 64 && set.beta2 == 0.999 && set.eps == 1e-8 && set.lrScheduler == .const)
        #expect(set.warmup == 0 && set.sigmoidBias == -5 && set.promptDropout == 0.2 && set.batches == "b.csv")
        #expect(set.rerankK.depth(forDataset: "flickr", sigmoid: true) == 30)
        for (bad, key) in [("beta2: 1.0", "beta2"), ("eps: 0", "eps"), ("warmup: -1", "warmup"), ("prompt_dropout: 1.0", "prompt_dropout"),
                           ("lr_scheduler: linear", "lr_scheduler"), ("batches_sep: ab", "batches_sep"), ("mapper_hidden: 0", "mapper_hidden")] {
            do {
                _ = try ELIPConfig.parse("model_name: m\noutput_root: o\ndataset: {name: d}\n" + bad + "\n", name: "c.yaml")
                Issue.record("accepted \(bad)")
            } catch let e as ClipError {
                #expect(e.message.contains(key), "\(bad): \(e.message)")
            }
        }
    }
}
