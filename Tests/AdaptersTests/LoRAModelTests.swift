// LoRA on a fixture CLIP model: attaching by target name, training steps that move only A and B,
// the adapter file (PEFT keys, settings in the metadata, strict loading) and merging into a folder.

import Foundation
import Testing
import Tensor
import Autograd
import NN
import Models
import Adapters
import TestSupport

@Suite struct LoRAModelTests {
    static let fixture = Fixtures.path("clip/gelu_vocab")
    static let texts = ["a photo of a cat", "two dogs on a beach", "a red bicycle"]

    /// The fixture with adapters on every attention and MLP projection, B drawn from a seeded stream.
    func adapted(seed: UInt64 = 7) throws -> (ImageTextPipeline, LoRAModel) {
        let pipeline = try ImageTextPipeline(directory: Self.fixture)
        let lora = try LoRAModel(wrapping: pipeline.model, config: LoRAConfig(rank: 4, alpha: 8, targetModules: LoRAConfig.clipTargets),
                                 seed: seed)
        var rng = RandomGenerator(seed: seed + 100)
        for (key, v) in lora.namedParameters() where key.hasSuffix("lora_B.weight") {
            v.assign(Tensor.randn(v.shape, std: 0.5, generator: &rng))
        }
        return (pipeline, lora)
    }

    func pixels(_ n: Int, size: Int) -> [Tensor] {
        var rng = RandomGenerator(seed: 5)
        return (0..<n).map { _ in Tensor.randn([3, size, size], generator: &rng) }
    }

    @Test func attachesToTargetsByLastPathComponent() throws {
        let (pipeline, lora) = try adapted()
        // Two text and two vision layers, six projections each.
        #expect(lora.layers.count == 24)
        #expect(lora.layers.contains { $0.path == "vision_model.encoder.layers.0.self_attn.q_proj" })
        #expect(lora.layers.contains { $0.path == "text_model.encoder.layers.1.mlp.fc2" })
        #expect(lora.namedParameters().first?.key.hasPrefix("base_model.model.") == true)
        // The base model's keys are unchanged and all frozen.
        let original = try SafeTensorsFile(path: Self.fixture + "/model.safetensors")
        #expect(Set(pipeline.model.namedStateEntries().map(\.key)).isSubset(of: Set(original.names)))
        #expect(pipeline.model.trainableParameterCount == 0)
        #expect(lora.parameters.allSatisfy { $0.requiresGrad })

        let other = try ImageTextPipeline(directory: Self.fixture)
        #expect(throws: ClipError.self) { try LoRAModel(wrapping: other.model, config: LoRAConfig(targetModules: ["nope"])) }
        #expect(throws: ClipError.self) { try LoRAModel(wrapping: other.model, config: LoRAConfig(rank: 0)) }
        #expect(throws: ClipError.self) { try LoRAModel(wrapping: pipeline.model, config: LoRAConfig()) }   // already adapted
    }

    /// AdamW steps on a text loss: A and B move, every base parameter stays bit-identical and gets no
    /// gradient, and no base Linear's weight-gradient GEMM (out × in) runs.
    @Test func trainingMovesOnlyTheAdapters() throws {
        let (pipeline, lora) = try adapted()
        let model = pipeline.model
        let before = model.namedParameters().map { ($0.key, $0.variable.value.toArray()) }
        let adapterBefore = lora.parameters.map { $0.value.toArray() }
        let linears = model.namedModules().compactMap { $0.module as? Linear }
        let weightShapes = Set(linears.map { [$0.outFeatures, $0.inFeatures] })
        let optimizer = AdamW(lora.parameters, learningRate: 1e-2, weightDecay: 0)
        let batch = pipeline.tokenize(Self.texts)
        var rng = RandomGenerator(seed: 9)
        for step in 0..<2 {
            optimizer.zeroGrad()
            let features = try model.textFeatures(batch.ids, attentionMask: batch.attentionMask)
            let loss = (features * Variable(Tensor.randn(features.shape, generator: &rng))).sum()
            let rec = GEMMRecorder()
            GEMMTrace.$recorder.withValue(rec) { loss.backward() }
            // A weight gradient dW = dYᵀ·X is (out × in) summed over the rows through the layer:
            // every token, or one per text in a layer that keeps only the pooled token.
            let rows: Set<Int> = [batch.ids.shape[0] * batch.ids.shape[1], batch.ids.shape[0]]
            let weightGEMMs = rec.calls.filter { weightShapes.contains([$0.m, $0.n]) && rows.contains($0.k) }
            #expect(weightGEMMs.isEmpty, "step \(step): base weight-gradient GEMMs ran: \(weightGEMMs)")
            optimizer.step()
        }
        for ((key, old), p) in zip(before, model.namedParameters()) {
            #expect(p.variable.value.toArray() == old, "\(key) changed")
            #expect(p.variable.grad == nil, "\(key) got a gradient")
        }
        // A text loss moves the text tower's 24 adapter matrices; the vision tower's take no gradient.
        for ((key, p), old) in zip(lora.namedParameters(), adapterBefore) {
            let isText = key.hasPrefix("base_model.model.text_model.")
            #expect((p.value.toArray() != old) == isText, "\(key): moved \(p.value.toArray() != old)")
        }
    }

    @Test func adapterFileRoundTripsAndLoadsStrictly() throws {
        let scratch = try ScratchFolder("lora-file")
        defer { scratch.remove() }
        let (pipeline, lora) = try adapted()
        let file = scratch.path + "/adapter.safetensors"
        try lora.save(to: file)
        let stored = try SafeTensorsFile(path: file)
        #expect(stored.metadata["r"] == "4" && stored.metadata["lora_alpha"] == "8.0")
        #expect(stored.metadata["target_modules"] == LoRAConfig.clipTargets.joined(separator: ","))
        #expect(stored.names.contains("base_model.model.text_model.encoder.layers.0.self_attn.v_proj.lora_A.weight"))
        #expect(stored.names.count == 48)

        let expected = try pipeline.encode(texts: Self.texts)
        let fresh = try ImageTextPipeline(directory: Self.fixture)
        let loaded = try LoRAModel.load(file, into: fresh.model)
        #expect(loaded.config == lora.config)
        let got = try fresh.encode(texts: Self.texts)
        #expect(maxAbsDiff(expected, got) == 0)

        // A wrong shape, a missing key and an unknown key are each named.
        var tensors = lora.namedParameters().map { (name: $0.key, tensor: $0.variable.value) }
        let victim = "base_model.model.vision_model.encoder.layers.1.mlp.fc1.lora_B.weight"
        let index = tensors.firstIndex { $0.name == victim }!
        func expectFailure(_ entries: [(name: String, tensor: Tensor)], naming key: String) throws {
            let bad = scratch.path + "/bad.safetensors"
            try SafeTensors.write(entries, metadata: lora.config.metadata, to: bad)
            let target = try ImageTextPipeline(directory: Self.fixture)
            do {
                _ = try LoRAModel.load(bad, into: target.model)
                Issue.record("loaded a bad adapter file (\(key))")
            } catch let e as ClipError {
                #expect(e.message.contains(key), "\(e.message)")
            }
            #expect(target.model.namedModules().allSatisfy { ($0.module as? Linear)?.adapter == nil })
        }
        var wrongShape = tensors
        wrongShape[index].tensor = Tensor.zeros([80, 3])
        try expectFailure(wrongShape, naming: victim)
        try expectFailure(tensors.filter { $0.name != victim }, naming: victim)
        tensors.append((name: "base_model.model.vision_model.encoder.layers.9.mlp.fc1.lora_A.weight", tensor: Tensor.zeros([4, 40])))
        try expectFailure(tensors, naming: "layers.9.mlp.fc1.lora_A.weight")
    }

    /// The merged folder loads as a plain model whose embeddings equal the adapted model's.
    @Test func mergedFolderMatchesTheAdaptedModel() throws {
        let scratch = try ScratchFolder("lora-merge")
        defer { scratch.remove() }
        let (pipeline, lora) = try adapted()
        let images = pixels(2, size: pipeline.model.imageSize)
        let adaptedText = try pipeline.encode(texts: Self.texts), adaptedImages = try pipeline.encode(pixels: images)
        let plain = try ImageTextPipeline(directory: Self.fixture)
        let plainText = try plain.encode(texts: Self.texts)
        #expect(maxAbsDiff(adaptedText, plainText) > 1e-3, "the adapters should change the embeddings")

        let file = scratch.path + "/adapter.safetensors", out = scratch.path + "/merged"
        try lora.save(to: file)
        try LoRAModel.mergeFolder(model: Self.fixture, adapter: file, output: out)
        let merged = try ImageTextPipeline(directory: out)
        let textDiff = maxAbsDiff(adaptedText, try merged.encode(texts: Self.texts))
        let imageDiff = maxAbsDiff(adaptedImages, try merged.encode(pixels: images))
        print("LoRA merge: max |adapted − merged| text \(textDiff), image \(imageDiff)")
        #expect(textDiff <= 1e-5 && imageDiff <= 1e-5, "text \(textDiff), image \(imageDiff)")
        let keys = try SafeTensorsFile(path: out + "/model.safetensors").names
        #expect(Set(keys) == Set(try SafeTensorsFile(path: Self.fixture + "/model.safetensors").names))

        // Merging in memory gives the same model.
        lora.merge()
        #expect(lora.isMerged)
        #expect(maxAbsDiff(adaptedText, try pipeline.encode(texts: Self.texts)) <= 1e-5)
    }
}
