// ELIP: mapper and prompt-guided image encoding against a PyTorch reference.

import Testing
import Foundation
import Tensor
import TestSupport
import Autograd
import NN
import Models

@Suite struct ELIPTests {
    /// The fixture model of `kind`, its mapper and the PyTorch expectations.
    func fixture(_ kind: String) throws -> (any PromptGuidedModel, ELIPMapper, SafeTensorsFile) {
        let model: any PromptGuidedModel = kind == "clip"
            ? try CLIPModel.load(directory: Fixtures.path("clip/p16_96"))
            : try SiglipModel.load(directory: Fixtures.path("siglip/p8_48"))
        return (model, try ELIPMapper.load(path: Fixtures.path("elip/\(kind)_mapper.safetensors")),
                try SafeTensorsFile(path: Fixtures.path("elip/\(kind)_expected.safetensors")))
    }

    @Test(arguments: ["clip", "siglip"])
    func guidedEmbeddingsMatchPyTorch(_ kind: String) throws {
        let (model, mapper, expected) = try fixture(kind)
        #expect(mapper.promptTokens == (kind == "clip" ? 3 : 4) && mapper.hidden == 48)
        let textEmbeds = try expected.tensor("text_embeds")
        let prompts = withNoGrad { mapper(Variable(textEmbeds)) }
        #expect(maxAbsDiff(prompts.value.contiguous(), try expected.tensor("prompts")) <= 1e-5)
        let guided = try withNoGrad {
            try model.guidedImageFeatures(Variable(try expected.tensor("pixel_values")), prompts: prompts).l2Normalized()
        }
        #expect(maxAbsDiff(guided.value, try expected.tensor("guided_image_embeds")) <= 1e-4)
        // Prompts change the embedding: without them it differs.
        let plain = try withNoGrad { try model.imageFeatures(Variable(try expected.tensor("pixel_values"))).l2Normalized() }
        #expect(maxAbsDiff(plain.value, guided.value) > 1e-3)
    }

    /// 20 AdamW steps on the mapper with the backbone frozen follow PyTorch's loss curve.
    @Test(arguments: ["clip", "siglip"])
    func trainingFollowsPyTorch(_ kind: String) throws {
        let (model, mapper, expected) = try fixture(kind)
        model.freeze()
        let optimizer = AdamW(mapper.parameters, learningRate: 1e-3, weightDecay: 0.01)
        let reference = try expected.tensor("train_losses").toArray()
        let t = try expected.tensor("text_embeds"), pixels = try expected.tensor("pixel_values")
        for step in 0..<20 {
            let loss = try ELIPObjective.loss(model: model, mapper: mapper, textEmbeds: t, pixels: pixels)
            #expect(abs(loss.value.item - reference[step]) <= 1e-3 * abs(reference[step]), "step \(step)")
            optimizer.zeroGrad()
            loss.backward()
            optimizer.step()
        }
        #expect(model.parameters.allSatisfy { $0.grad == nil })
    }

    // MARK: - Query objective

    /// The query-objective fixture of `kind`: the frozen model, the mapper at its initial weights, the
    /// PyTorch expectations, and the batch (its text embeddings and images, query `i` matching image `i`).
    func queryFixture(_ kind: String) throws -> (model: any PromptGuidedModel, mapper: ELIPMapper, expected: SafeTensorsFile,
                                                 textEmbeds: Tensor, pixels: Tensor) {
        let model: any PromptGuidedModel = kind == "clip"
            ? try CLIPModel.load(directory: Fixtures.path("clip/p16_96"))
            : try SiglipModel.load(directory: Fixtures.path("siglip/p8_48"))
        model.freeze()
        let expected = try SafeTensorsFile(path: Fixtures.path("elip/\(kind)_query_expected.safetensors"))
        let pixels = try SafeTensorsFile(path: Fixtures.path("elip/\(kind)_expected.safetensors")).tensor("pixel_values")
        return (model, try ELIPMapper.load(path: Fixtures.path("elip/\(kind)_query_mapper.safetensors")), expected,
                try expected.tensor("text_embeds"), pixels)
    }

    /// max |a − ref| / max |ref|.
    static func relDiff(_ a: Tensor, _ ref: Tensor) -> Float {
        guard a.shape == ref.shape else { return .infinity }
        return maxAbsDiff(a, ref) / max(ref.toArray().map(abs).max() ?? 0, 1e-30)
    }

    /// The query loss (every query's prompts re-encoding all the batch's images) and the mapper's gradients
    /// match PyTorch's plain B × B computation, whatever the query chunk.
    @Test(arguments: ["clip", "siglip"])
    func queryLossAndGradientsMatchPyTorch(_ kind: String) throws {
        let (model, mapper, expected, t, pixels) = try queryFixture(kind)
        let b = t.shape[0]
        #expect(b == 3 && pixels.shape[0] == b)
        let reference = try expected.tensor("loss").item
        var byChunk: [(loss: Float, grads: [Tensor])] = []
        for chunk in [1, 2, b] {
            mapper.zeroGrad()
            let loss = try ELIPObjective.queryLossAndBackward(model: model, mapper: mapper, textEmbeds: t, pixels: pixels,
                                                              queryChunk: chunk)
            #expect(abs(loss - reference) <= 1e-4 * abs(reference), "\(kind) chunk \(chunk): loss \(loss) vs \(reference)")
            var grads: [Tensor] = []
            for p in mapper.namedParameters() {
                guard let g = p.variable.grad else {
                    Issue.record("\(kind) chunk \(chunk): no gradient for \(p.key)")
                    continue
                }
                let ref = try expected.tensor("grad.\(p.key)")
                let rel = Self.relDiff(g, ref)
                #expect(rel <= 1e-4, "\(kind) chunk \(chunk): \(p.key) relative difference \(rel)")
                grads.append(g)
            }
            #expect(grads.count == 6)
            byChunk.append((loss, grads))
        }
        // The chunk sizes agree with each other (tighter than with PyTorch: same kernels, other batch sizes).
        for (chunk, r) in zip([2, b], byChunk.dropFirst()) {
            #expect(abs(r.loss - byChunk[0].loss) <= 1e-5 * abs(byChunk[0].loss), "\(kind) chunk \(chunk) vs 1: loss")
            for (g, g1) in zip(r.grads, byChunk[0].grads) {
                #expect(Self.relDiff(g, g1) <= 1e-4, "\(kind) chunk \(chunk) vs 1: gradients")
            }
        }
        // gradientScale scales the gradients, not the loss; gradients accumulate across calls.
        mapper.zeroGrad()
        let scaled = try ELIPObjective.queryLossAndBackward(model: model, mapper: mapper, textEmbeds: t, pixels: pixels,
                                                            queryChunk: b, gradientScale: 0.5)
        #expect(abs(scaled - byChunk[2].loss) <= 1e-6 * abs(scaled))
        for (p, g) in zip(mapper.namedParameters(), byChunk[2].grads) {
            #expect(Self.relDiff(p.variable.grad ?? Tensor.zeros(g.shape), g * 0.5) <= 1e-5, "\(kind): gradientScale on \(p.key)")
        }
        #expect(model.parameters.allSatisfy { $0.grad == nil })
    }

    /// 20 AdamW steps on the query objective, the backbone frozen, follow PyTorch's loss curve.
    @Test(arguments: ["clip", "siglip"])
    func queryTrainingFollowsPyTorch(_ kind: String) throws {
        let (model, mapper, expected, t, pixels) = try queryFixture(kind)
        let reference = try expected.tensor("train_losses").toArray()
        #expect(reference.count == 20 && reference[19] < reference[0])
        let optimizer = AdamW(mapper.parameters, learningRate: 1e-3, weightDecay: 0.01)
        for step in 0..<20 {
            optimizer.zeroGrad()
            let loss = try ELIPObjective.queryLossAndBackward(model: model, mapper: mapper, textEmbeds: t, pixels: pixels)
            #expect(abs(loss - reference[step]) <= 2e-3, "\(kind) step \(step): \(loss) vs \(reference[step])")
            optimizer.step()
        }
        #expect(mapper.parameters.allSatisfy { $0.grad != nil })
        #expect(model.parameters.allSatisfy { $0.grad == nil })
    }

    /// The official recipe (Tools/fixtures/elip_recipe.py): AdamW with open_clip's groups (weight decay 0.2
    /// on matrices, 0 on biases), β (0.9, 0.98), ε 1e-6, lr 1e-3 under a 5-step warm-up and cosine over 20
    /// steps, and for SigLIP (ELIP-S) the sigmoid query loss with a fixed bias of −10. Loss and gradients
    /// within 1e-4 relative, 20 steps within 2e-3, the schedule exact, the final weights close.
    @Test(arguments: ["clip", "siglip"])
    func officialRecipeFollowsPyTorch(_ kind: String) throws {
        let (model, _, _, t, pixels) = try queryFixture(kind)
        let mapper = try ELIPMapper.load(path: Fixtures.path("elip/\(kind)_recipe_mapper.safetensors"))
        let expected = try SafeTensorsFile(path: Fixtures.path("elip/\(kind)_recipe_expected.safetensors"))
        let bias: Float? = model.usesSigmoidLoss ? -10 : nil
        #expect(model.usesSigmoidLoss == (kind == "siglip"))
        let groups = ParameterGroup.decaySplit(mapper, weightDecay: 0.2, noDecay: ParameterGroup.openCLIPNoDecay)
        #expect(groups[0].parameters.count == 3 && groups[0].parameters.allSatisfy { $0.rank == 2 })
        #expect(groups[1].parameters.count == 3 && groups[1].parameters.allSatisfy { $0.rank == 1 })
        let optimizer = AdamW(groups, learningRate: 1e-3, beta1: 0.9, beta2: 0.98, eps: 1e-6)
        let schedule = WarmupCosineSchedule(base: 1e-3, warmupSteps: 5, totalSteps: 20)
        let losses = try expected.tensor("train_losses").toArray(), lrs = try expected.tensor("lrs").toArray()
        #expect(losses.count == 20 && lrs.count == 20 && losses[19] < losses[0])
        for step in 0..<20 {
            optimizer.zeroGrad()
            optimizer.learningRate = schedule.rate(at: step)
            #expect(abs(optimizer.learningRate - lrs[step]) <= 1e-9, "\(kind) step \(step): lr \(optimizer.learningRate) vs \(lrs[step])")
            let loss = try ELIPObjective.queryLossAndBackward(model: model, mapper: mapper, textEmbeds: t, pixels: pixels,
                                                              fixedBias: bias)
            if step == 0 {
                let reference = try expected.tensor("loss").item
                #expect(abs(loss - reference) <= 1e-4 * abs(reference), "\(kind): loss \(loss) vs \(reference)")
                for p in mapper.namedParameters() {
                    let rel = Self.relDiff(p.variable.grad ?? Tensor.zeros(p.variable.shape), try expected.tensor("grad.\(p.key)"))
                    #expect(rel <= 1e-4, "\(kind): \(p.key) gradient relative difference \(rel)")
                }
            }
            #expect(abs(loss - losses[step]) <= 2e-3, "\(kind) step \(step): \(loss) vs \(losses[step])")
            optimizer.step()
        }
        for p in mapper.namedParameters() {
            let rel = Self.relDiff(p.variable.value, try expected.tensor("final.\(p.key)"))
            #expect(rel <= 2e-3, "\(kind): final \(p.key) relative difference \(rel)")
        }
        // The model's own bias is not what ELIP-S trains with: the loss differs from the fixed-bias one.
        if kind == "siglip" {
            let own = try ELIPObjective.queryLossAndBackward(model: model, mapper: mapper, textEmbeds: t, pixels: pixels)
            let fixed = try ELIPObjective.queryLossAndBackward(model: model, mapper: mapper, textEmbeds: t, pixels: pixels, fixedBias: -10)
            #expect(abs(own - fixed) > 1e-3)
        }
    }

    /// Prompt dropout drops elements in training mode, at about its rate, and leaves evaluation untouched.
    @Test func promptDropoutIsActiveOnlyInTraining() throws {
        let (model, mapper, _, t, pixels) = try queryFixture("siglip")
        let plain = try ELIPObjective.queryLossAndBackward(model: model, mapper: mapper, textEmbeds: t, pixels: pixels, fixedBias: -10)
        let dropout = Dropout(0.1, seed: 3)
        let dropped = try ELIPObjective.queryLossAndBackward(model: model, mapper: mapper, textEmbeds: t, pixels: pixels,
                                                             fixedBias: -10, promptDropout: dropout)
        #expect(abs(dropped - plain) > 1e-6)
        dropout.train(false)
        let off = try ELIPObjective.queryLossAndBackward(model: model, mapper: mapper, textEmbeds: t, pixels: pixels,
                                                         fixedBias: -10, promptDropout: dropout)
        #expect(abs(off - plain) <= 1e-6 * abs(plain))
        let mask = Dropout(0.1, seed: 4)(Variable(Tensor.full([10_000], 1))).value.toArray()
        let zeros = mask.filter { $0 == 0 }.count
        #expect((800...1200).contains(zeros) && mask.allSatisfy { $0 == 0 || abs($0 - 1 / 0.9) < 1e-6 })
    }

    /// Text embeddings and images that do not pair up are refused before anything runs.
    @Test func queryLossRejectsMismatchedInputs() throws {
        let (model, mapper, _, t, pixels) = try queryFixture("clip")
        #expect(ClipError.kind {
            try ELIPObjective.queryLossAndBackward(model: model, mapper: mapper, textEmbeds: t.narrowed(0, start: 0, length: 2),
                                                   pixels: pixels)
        } == .shape)
        #expect(ClipError.kind {
            try ELIPObjective.queryLossAndBackward(model: model, mapper: mapper, textEmbeds: t,
                                                   pixels: pixels.narrowed(0, start: 0, length: 2))
        } == .shape)
        #expect(ClipError.kind {
            try ELIPObjective.queryLossAndBackward(model: model, mapper: mapper, textEmbeds: t.reshaped([t.count]), pixels: pixels)
        } == .shape)
        #expect(mapper.parameters.allSatisfy { $0.grad == nil })
    }

    @Test func mapperRoundTripsAndGradientsReachOnlyIt() throws {
        let model = try CLIPModel.load(directory: Fixtures.path("clip/p16_96"))
        model.freeze()
        let mapper = ParameterInitialization.seeded(3) {
            ELIPMapper(textDim: model.config.projectionDim, hidden: 16, promptTokens: 2, visionDim: model.visionWidth)
        }
        #expect(mapper.namedParameters().map(\.key) == ["mapper.0.weight", "mapper.0.bias", "mapper.2.weight",
                                                        "mapper.2.bias", "mapper.4.weight", "mapper.4.bias"])
        #expect(mapper.parameters.filter { $0.rank == 1 }.allSatisfy { $0.value.toArray().allSatisfy { $0 == 0 } })
        let e = try Fixtures.expected("clip/p16_96")
        let t = try withNoGrad { try model.textFeatures(indices(try e.tensor("input_ids")), attentionMask: try e.tensor("attention_mask")) }
        let guided = try model.guidedImageFeatures(Variable(try e.tensor("pixel_values")), prompts: mapper(t.l2Normalized()))
        guided.pow(2).sum().backward()
        #expect(mapper.parameters.allSatisfy { $0.grad != nil })
        #expect(model.parameters.allSatisfy { $0.grad == nil })
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("clipcore-mapper-\(UUID().uuidString).safetensors").path
        defer { unlink(path) }
        try mapper.saveMapper(to: path)
        let back = try ELIPMapper.load(path: path)
        #expect(back.promptTokens == 2 && back.visionDim == model.visionWidth && back.hidden == 16)
        for (a, b) in zip(mapper.stateDict(), back.stateDict()) { #expect(a.tensor.toArray() == b.tensor.toArray()) }
        #expect(ClipError.kind {
            try model.guidedImageFeatures(Variable(try e.tensor("pixel_values")), prompts: Variable(Tensor.zeros([1, 2, 5])))
        } == .shape)
    }

    /// A mapper file whose sizes do not fit together (a zero size, a mapper.2 that does not match
    /// mapper.0, a missing key) is refused before anything is built, naming the file and the key.
    @Test func mapperFileSizesAreCheckedBeforeBuilding() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clipcore-elip-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func write(_ name: String, _ shapes: [String: [Int]], promptTokens: String = "2") throws -> String {
            let path = dir + "/" + name
            try SafeTensors.write(shapes.sorted { $0.key < $1.key }.map { ($0.key, Tensor.zeros($0.value)) },
                                  metadata: ["prompt_tokens": promptTokens], to: path)
            return path
        }
        func layout(d: Int, h: Int, out: Int) -> [String: [Int]] {
            ["mapper.0.weight": [h, d], "mapper.0.bias": [h], "mapper.2.weight": [h, h], "mapper.2.bias": [h],
             "mapper.4.weight": [out, h], "mapper.4.bias": [out]]
        }
        var tall = layout(d: 1, h: 4096, out: 6)
        tall["mapper.2.weight"] = [1, 1]          // 4096 × 4096 would be built from mapper.0 alone
        let cases: [(String, [String: [Int]], String, String)] = [
            ("zero-hidden", layout(d: 4, h: 0, out: 6), "2", "mapper.0.weight"),
            ("zero-text", layout(d: 0, h: 3, out: 6), "2", "mapper.0.weight"),
            ("zero-out", layout(d: 4, h: 3, out: 0), "2", "mapper.4.weight"),
            ("zero-tokens", layout(d: 4, h: 3, out: 6), "0", "prompt_tokens"),
            ("odd-out", layout(d: 4, h: 3, out: 7), "2", "mapper.4.weight"),
            ("tall", tall, "2", "mapper.2.weight"),
            ("no-bias", layout(d: 4, h: 3, out: 6).filter { $0.key != "mapper.2.bias" }, "2", "mapper.2.bias"),
        ]
        for (name, shapes, tokens, key) in cases {
            let path = try write(name + ".safetensors", shapes, promptTokens: tokens)
            do {
                _ = try ELIPMapper.load(path: path)
                Issue.record("\(name): accepted")
            } catch let e as ClipError {
                #expect(e.kind == .format && e.message.contains(path) && e.message.contains(key), "\(name): \(e.message)")
            }
        }
        let good = try ELIPMapper.load(path: try write("good.safetensors", layout(d: 4, h: 3, out: 6)))
        #expect(good.textDim == 4 && good.hidden == 3 && good.promptTokens == 2 && good.visionDim == 3)
    }

    /// A mapper for another model is refused by the fit check that every caller uses, and by the
    /// scoring and training entry points themselves (it used to trap in the first linear layer).
    @Test func mismatchedMapperIsAShapeErrorEverywhere() throws {
        let (model, _, expected) = try fixture("clip")
        let wrongText = ParameterInitialization.seeded(1) {
            ELIPMapper(textDim: model.embeddingDim + 1, hidden: 8, promptTokens: 2, visionDim: model.visionWidth)
        }
        let wrongVision = ParameterInitialization.seeded(1) {
            ELIPMapper(textDim: model.embeddingDim, hidden: 8, promptTokens: 2, visionDim: model.visionWidth + 1)
        }
        let pixels = try expected.tensor("pixel_values")
        let query = try expected.tensor("text_embeds").narrowed(0, start: 0, length: 1).contiguous()
        for mapper in [wrongText, wrongVision] {
            do {
                try mapper.checkFits(model: model, source: "m.safetensors")
                Issue.record("a mapper for other widths fits")
            } catch let e as ClipError {
                #expect(e.kind == .shape && e.message.contains("m.safetensors") && e.message.contains("mapper maps"))
            }
            #expect(ClipError.kind { try ELIPObjective.guidedScores(model: model, mapper: mapper, query: query, candidates: pixels) } == .shape)
            #expect(ClipError.kind { try ELIPObjective.loss(model: model, mapper: mapper, textEmbeds: query, pixels: pixels.narrowed(0, start: 0, length: 1)) } == .shape)
        }
    }

    /// Sizes a config or caller gives for a new mapper: zero and overflowing sizes are refused.
    @Test func newMapperSizesAreChecked() throws {
        try ELIPMapper.checkSizes(textDim: 4, hidden: 8, promptTokens: 2, visionDim: 6, source: "config")
        for (d, h, m, v) in [(0, 8, 2, 6), (4, 0, 2, 6), (4, 8, -1, 6), (4, 1 << 40, 2, 6), (4, 8, 1 << 40, 1 << 40)] {
            #expect(ClipError.kind { try ELIPMapper.checkSizes(textDim: d, hidden: h, promptTokens: m, visionDim: v, source: "config") }
                    == .invalidArgument, "\((d, h, m, v))")
        }
    }
}
