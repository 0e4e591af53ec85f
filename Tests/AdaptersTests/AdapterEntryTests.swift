// Every adapter kind through the common entry points on the fixture CLIP model: attaching freezes the
// base, training moves only the adapters and runs no frozen weight-gradient GEMM, the adapter file
// round-trips through `Adapters.load`, and a model of another shape refuses it with a named error.

import Foundation
import Testing
import Tensor
import Autograd
import NN
import Models
import Adapters
import TestSupport

@Suite struct AdapterEntryTests {
    /// Small settings for the fixture (width 32 or so): every kind attaches somewhere on CLIP.
    static func config(_ kind: AdapterKind) -> AdapterConfig {
        switch kind {
        case .lora: .lora(LoRAConfig(rank: 2, alpha: 4, targetModules: LoRAConfig.clipTargets))
        case .bottleneck: .bottleneck(.houlsby(reductionFactor: 4))
        case .prefix: .prefix(PrefixConfig(length: 3, bottleneckSize: 8))
        case .ia3: .ia3(IA3Config())
        }
    }

    @Test(arguments: AdapterKind.allCases)
    func trainingMovesOnlyTheAdaptersAndRunsNoFrozenWeightGEMM(kind: AdapterKind) throws {
        let pipeline = try ImageTextPipeline(directory: AdapterFixtures.clip)
        let model = pipeline.model
        let adapter = try Adapters.attach(Self.config(kind), to: model, seed: 3)
        #expect(adapter.kind == kind)
        AdapterFixtures.perturb(adapter, seed: 4)
        #expect(model.parameters.allSatisfy { !$0.requiresGrad }, "a base parameter still takes gradients")
        #expect(!adapter.parameters.isEmpty && adapter.parameters.allSatisfy { $0.requiresGrad })
        // The base model's checkpoint keys are unchanged.
        let original = try SafeTensorsFile(path: AdapterFixtures.clip + "/model.safetensors")
        #expect(Set(model.namedStateEntries().map(\.key)).isSubset(of: Set(original.names)))

        let before = model.namedParameters().map { ($0.key, $0.variable.value.toArray()) }
        let adapterBefore = adapter.parameters.map { $0.value.toArray() }
        let weightShapes = Set(model.namedModules().compactMap { $0.module as? Linear }.map { [$0.outFeatures, $0.inFeatures] })
        let optimizer = AdamW(adapter.parameters, learningRate: 1e-2, weightDecay: 0)
        let batch = pipeline.tokenize(AdapterFixtures.texts)
        var rng = RandomGenerator(seed: 9)
        optimizer.zeroGrad()
        let features = try model.textFeatures(batch.ids, attentionMask: batch.attentionMask)
        let loss = (features * Variable(Tensor.randn(features.shape, generator: &rng))).sum()
        let rec = GEMMRecorder()
        GEMMTrace.$recorder.withValue(rec) { loss.backward() }
        // A base weight's gradient dW = dYᵀ·X is (out × in) over the rows through the layer.
        let rows: Set<Int> = [batch.ids.shape[0] * batch.ids.shape[1], batch.ids.shape[0]]
        let weightGEMMs = rec.calls.filter { weightShapes.contains([$0.m, $0.n]) && rows.contains($0.k) }
        #expect(weightGEMMs.isEmpty, "\(kind): base weight-gradient GEMMs ran: \(weightGEMMs)")
        #expect(!rec.calls.isEmpty)
        optimizer.step()
        for ((key, old), p) in zip(before, model.namedParameters()) {
            #expect(p.variable.value.toArray() == old, "\(key) changed")
            #expect(p.variable.grad == nil, "\(key) got a gradient")
        }
        let moved = zip(adapter.namedParameters(), adapterBefore).filter { $0.0.variable.value.toArray() != $0.1 }.map(\.0.key)
        #expect(!moved.isEmpty && moved.allSatisfy { $0.contains("text_model.") }, "\(kind): moved \(moved)")
    }

    @Test(arguments: AdapterKind.allCases)
    func adapterFileRoundTripsAndRefusesAnotherShape(kind: AdapterKind) throws {
        let scratch = try ScratchFolder("adapter-file-\(kind.rawValue)")
        defer { scratch.remove() }
        let pipeline = try ImageTextPipeline(directory: AdapterFixtures.clip)
        let adapter = try Adapters.attach(Self.config(kind), to: pipeline.model, seed: 5)
        AdapterFixtures.perturb(adapter, seed: 6)
        let file = scratch.path + "/adapter.safetensors"
        try adapter.save(to: file, metadata: ["note": "test"])
        let stored = try SafeTensorsFile(path: file)
        #expect(stored.metadata["adapter_type"] == kind.rawValue && stored.metadata["note"] == "test")
        #expect(Set(stored.names) == Set(adapter.namedParameters().map(\.key)))
        #expect(try Adapters.config(ofFile: file) == Self.config(kind))

        let expected = try pipeline.encode(texts: AdapterFixtures.texts)
        let plain = try ImageTextPipeline(directory: AdapterFixtures.clip)
        let plainText = try plain.encode(texts: AdapterFixtures.texts)
        #expect(maxAbsDiff(expected, plainText) > 1e-4, "\(kind): the perturbed adapters should change the embeddings")
        let loaded = try Adapters.load(file, into: plain.model)
        #expect(loaded.kind == kind)
        #expect(maxAbsDiff(expected, try plain.encode(texts: AdapterFixtures.texts)) == 0)

        // Another model's shape: a BERT tower (other paths and widths), and a CLIP fixture of other widths.
        let bert = try AdapterFixtures.textEncoder("bert")
        #expect(throws: ClipError.self) { _ = try Adapters.load(file, into: bert) }
        #expect(bert.namedModules().allSatisfy { ($0.module as? Linear)?.adapter == nil })
        let other = try ImageTextPipeline(directory: Fixtures.path("clip/p16_96"))
        do {
            _ = try Adapters.load(file, into: other.model)
            Issue.record("\(kind): loaded into a model of another shape")
        } catch let e as ClipError {
            #expect(e.message.contains(file) && e.message.contains("'"), "\(e.message)")
        }
        #expect(other.model.namedModules().allSatisfy { ($0.module as? Linear)?.adapter == nil })
        #expect(other.model.namedModules().allSatisfy { (($0.module as? AdaptableLayer)?.adapterSites.attention.prefix) == nil })
    }

    @Test func badMetadataIsNamed() throws {
        let scratch = try ScratchFolder("adapter-metadata")
        defer { scratch.remove() }
        let file = scratch.path + "/a.safetensors"
        try SafeTensors.write([(name: "x", tensor: Tensor.zeros([1]))], metadata: ["adapter_type": "nope"], to: file)
        let model = try ImageTextPipeline(directory: AdapterFixtures.clip).model
        do { _ = try Adapters.load(file, into: model); Issue.record("loaded") } catch let e as ClipError {
            #expect(e.message.contains("nope"))
        }
        try SafeTensors.write([(name: "x", tensor: Tensor.zeros([1]))], metadata: ["adapter_type": "bottleneck"], to: file)
        do { _ = try Adapters.load(file, into: model); Issue.record("loaded") } catch let e as ClipError {
            #expect(e.message.contains("architecture"))
        }
        #expect(throws: ClipError.self) { try Adapters.attach(.bottleneck(.pfeiffer(reductionFactor: 0)), to: model) }
        #expect(throws: ClipError.self) { try Adapters.attach(.prefix(PrefixConfig(length: 0)), to: model) }
        #expect(throws: ClipError.self) { try Adapters.attach(.ia3, to: Linear(3, 3)) }   // no transformer layer
    }

    /// Two adapters on the same layers are refused (each Linear takes one adapter, each attention one prefix).
    @Test func attachingTwiceIsRefused() throws {
        let model = try ImageTextPipeline(directory: AdapterFixtures.clip).model
        _ = try Adapters.attach(.ia3, to: model)
        #expect(throws: ClipError.self) { try Adapters.attach(.bottleneck(.pfeiffer(reductionFactor: 4)), to: model) }
        _ = try Adapters.attach(.prefix(PrefixConfig(length: 2, bottleneckSize: 4)), to: model)
        #expect(throws: ClipError.self) { try Adapters.attach(.prefix(PrefixConfig(length: 2)), to: model) }
    }
}

/// Every kind on the other image–text families (SigLIP with its attention-pooling head, open_clip):
/// a new LoRA, bottleneck or (IA)³ adapter changes no embedding, a new prefix does.
@Suite struct AdapterFamilyTests {
    @Test(arguments: ["siglip/p8_48", "openclip/gelu"])
    func everyKindAttachesToTheFamily(fixture: String) throws {
        var rng = RandomGenerator(seed: 12)
        for kind in AdapterKind.allCases {
            let pipeline = try ImageTextPipeline(directory: Fixtures.path(fixture))
            let pixels = [Tensor.randn([3, pipeline.model.imageSize, pipeline.model.imageSize], generator: &rng)]
            let text = try pipeline.encode(texts: AdapterFixtures.texts), image = try pipeline.encode(pixels: pixels)
            let adapter = try Adapters.attach(AdapterEntryTests.config(kind), to: pipeline.model, seed: 13)
            #expect(adapter.parameterCount > 0)
            let textDiff = maxAbsDiff(text, try pipeline.encode(texts: AdapterFixtures.texts))
            let imageDiff = maxAbsDiff(image, try pipeline.encode(pixels: pixels))
            if kind == .prefix {
                #expect(textDiff > 1e-4 && imageDiff > 1e-4, "\(fixture): the prefix changed nothing")
            } else {
                #expect(textDiff == 0 && imageDiff == 0, "\(fixture) \(kind): text \(textDiff), image \(imageDiff)")
            }
        }
    }
}
