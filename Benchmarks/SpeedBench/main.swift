// Throughput and peak memory of clipcore's main workloads at the shapes of
// ../shared/bench (ViT-B/32 towers, random weights, fp32). One case per
// process, so each peak RSS belongs to its case; Benchmarks/compare.sh runs
// them all beside the PyTorch and ONNX Runtime reference scripts.
//
// Usage: swift run -c release SpeedBench CASE [--batch N] [--reps N] [--threads N] [--gallery N]
// --gemm-share (encode cases): also replays the GEMMs of one pass alone and prints their share of it.
// --profile (encode cases): also prints the share of a pass in linear layers, attention (softmax apart),
// layer norm, activations and the rest (OpProfile), over --reps passes.
// --unfused: attention's inference fusions off (MultiHeadAttention.fusedInference), for before/after runs.
// --ab fused (encode cases): passes alternate with attention's fusions on and off (2 × --reps after a warm-up of
// each); prints the median of each, so that a drifting load on a shared machine hits both alike.
// --int16, --int8, --bf16: linear layers at that Precision.linear (the opt-in reduced-precision paths; a
// precision this CPU has no kernel for is refused).
// --chunk N (elip-query-step): queries whose guided encodes run forward and backward together.
// CASE: image-encode, text-encode, attention (one layer, fused against unfused), elip-step, elip-query-step, clip-step, rerank, mining, load, precision
// (each reduced precision this CPU runs against float32 on the full towers: smallest cosine of image, text
// and ELIP-guided embeddings, and Kendall's tau of ELIP re-rank scores over 100 candidates, the mean and the
// smallest over --queries N captions, default 4), text-model (a real text encoder folder on captions
// from a file: --model DIR --texts FILE [--out FILE.npy] [--breakdown] [--no-sort]; TextModelBench.swift),
// and encode-dataset (--images N synthetic JPEGs
// of photo sizes in webdataset tar shards → `clip encode-dataset`'s engine with --decode-threads N, against image-encode on the
// same images preprocessed; prints the ratio and the share of time the encoder waited on decoding), and heads-mlp
// (projection-head training epochs on random pairs: --pairs N --epochs N [--breakdown]; HeadsBench.swift), kmeans
// (FAISS k-means on hashed data: --points N --dim N --clusters N --iterations N; KMeansBench.swift), and
// linear-probe (one logistic-regression fit on features written by Benchmarks/linear_probe_ref.py --write:
// --data FILE [--c C]; LinearProbeBench.swift), and soak (--calls N C ABI calls on the fixture model, good
// and bad ones mixed, default 1,000,000: RSS flat within 5% after warm-up and no fd growth, or exit
// status 1; SoakBench.swift).
// Output: one JSON line per measurement: what, batch, sec (median), per_s, peak_rss_mb, blas.

import Dispatch
import Foundation
import Autograd
import Models
import NN
import Datasets
import Search
import Tensor

var batch: Int?
var reps = 5
var gallery = 100_000
var gemmShare = false
var profile = false
var abSetting: String?
var queries: Int?
var textLength = 77
var queryChunk: Int?
var imageCount = 128
var decodeThreads = 2
var textModel = TextModelOptions()
var headsOptions = HeadsBenchOptions()
var kmeansOptions = KMeansBenchOptions()
var linearProbeOptions = LinearProbeBenchOptions()
var soakOptions = SoakOptions()
var args = Array(CommandLine.arguments.dropFirst())
guard let benchCase = args.first, !benchCase.hasPrefix("-") else {
    print("usage: SpeedBench image-encode|text-encode|attention|elip-step|elip-query-step|clip-step|rerank|mining|load|precision|encode-dataset|text-model|heads-mlp|kmeans|linear-probe|soak [--batch N] [--reps N] [--threads N] [--gallery N] [--queries N] [--length L] [--chunk N] [--images N] [--decode-threads N] [--gemm-share] [--profile] [--unfused] [--ab fused] [--int16|--int8|--bf16] [--model DIR --texts FILE [--out FILE.npy] [--breakdown] [--no-sort]] [--pairs N --epochs N] [--points N --dim N --clusters N --iterations N] [--data FILE --c C] [--calls N]")
    exit(2)
}
args.removeFirst()
while !args.isEmpty {
    let a = args.removeFirst()
    if a == "--gemm-share" { gemmShare = true; continue }
    if a == "--profile" { profile = true; continue }
    if a == "--unfused" { MultiHeadAttention.fusedInference = false; continue }
    if let p = ["--int16": LinearPrecision.int16, "--int8": .int8, "--bf16": .bf16][a] {
        guard p.isSupported else { print("SpeedBench: \(a): this CPU has no \(p.rawValue) kernel (needs \(p.requirement))"); exit(2) }
        Precision.defaultLinear = p
        continue
    }
    if a == "--breakdown" { textModel.breakdown = true; headsOptions.breakdown = true; continue }
    if a == "--no-sort" { textModel.sortByLength = false; continue }
    if a == "--data" || a == "--c" {
        guard let v = args.first else { print("SpeedBench: \(a) needs a value"); exit(2) }
        args.removeFirst()
        if a == "--data" { linearProbeOptions.data = v } else if let c = Double(v), c > 0 { linearProbeOptions.c = c } else {
            print("SpeedBench: --c needs a positive number"); exit(2)
        }
        continue
    }
    if a == "--ab" {
        guard let v = args.first, v == "fused" else { print("SpeedBench: --ab needs a setting: fused"); exit(2) }
        args.removeFirst()
        abSetting = v
        continue
    }
    if ["--model", "--texts", "--out"].contains(a) {
        guard !args.isEmpty else { print("SpeedBench: \(a) needs a value"); exit(2) }
        let v = args.removeFirst()
        switch a {
        case "--model": textModel.model = v
        case "--texts": textModel.texts = v
        default: textModel.out = v
        }
        continue
    }
    let v = args.isEmpty ? nil : Int(args.removeFirst())
    switch (a, v) {
    case ("--batch", let n?): batch = n
    case ("--reps", let n?): reps = max(1, n)
    case ("--threads", let n?): Threads.count = n
    case ("--gallery", let n?): gallery = n
    case ("--queries", let n?): queries = n
    case ("--chunk", let n?) where n > 0: queryChunk = n
    case ("--images", let n?) where n > 0: imageCount = n
    case ("--decode-threads", let n?) where n > 0: decodeThreads = n
    case ("--pairs", let n?) where n > 0: headsOptions.pairs = n
    case ("--epochs", let n?) where n > 0: headsOptions.epochs = n
    case ("--length", let n?) where (2...77).contains(n): textLength = n
    case ("--points", let n?) where n > 0: kmeansOptions.points = n
    case ("--dim", let n?) where n > 0: kmeansOptions.dim = n
    case ("--clusters", let n?) where n > 0: kmeansOptions.clusters = n
    case ("--iterations", let n?) where n > 0: kmeansOptions.iterations = n
    case ("--calls", let n?) where n > 0: soakOptions.calls = n
    case ("--reload-every", let n?) where n > 0: soakOptions.reloadEvery = n
    default:
        print("SpeedBench: bad option \(a)")
        exit(2)
    }
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
}

/// Median of `reps` timed runs after one warm-up run (none for runs of a minute or more).
func timed(warmUp: Bool = true, _ body: () throws -> Void) rethrows -> Double {
    if warmUp { try body() }
    let ts = try (0..<reps).map { _ in try seconds(body) }.sorted()
    return ts[ts.count / 2]
}

func peakRSSMB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

func emit(_ what: String, batch n: Int, sec: Double) {
    print(String(format: "{\"what\": \"%@\", \"batch\": %d, \"threads\": %d, \"sec\": %.4f, \"per_s\": %.2f, \"peak_rss_mb\": %.0f, \"blas\": \"%@\", \"linear\": \"%@\", \"cpu\": \"%@\", \"kernels\": \"%@\"}",
                 what, n, Threads.count, sec, Double(n) / sec, peakRSSMB(), Threads.blasCoreName,
                 Precision.linear.rawValue, Threads.cpuFeatures.joined(separator: " "), Threads.kernelsInUse))
    fflush(stdout)
}

/// Kendall's tau-b of two score lists over the same items (ties counted as neither concordant nor discordant).
func kendallTau(_ a: [Float], _ b: [Float]) -> Double {
    var concordant = 0.0, discordant = 0.0, tiesA = 0.0, tiesB = 0.0
    for i in a.indices {
        for j in (i + 1)..<a.count {
            let da = a[i] - a[j], db = b[i] - b[j]
            if da == 0 && db == 0 { continue }
            if da == 0 { tiesA += 1 } else if db == 0 { tiesB += 1 } else if (da > 0) == (db > 0) { concordant += 1 } else { discordant += 1 }
        }
    }
    let denominator = ((concordant + discordant + tiesA) * (concordant + discordant + tiesB)).squareRoot()
    return denominator > 0 ? (concordant - discordant) / denominator : 1
}

/// A random-weight ViT-B/32 CLIP (the reference scripts' shapes).
func vitB32() throws -> CLIPModel {
    let m = try ParameterInitialization.seeded(0) { try CLIPModel(.vitB32) }
    m.train(false)
    return m
}

/// Time of the GEMMs `body` issues, replayed alone on random operands (same m, n, k; both operands
/// row-major), against the time of `body` itself: how much of a pass is not GEMM.
func printGEMMShare(_ what: String, _ body: () throws -> Void) throws {
    let recorder = GEMMRecorder()
    try GEMMTrace.$recorder.withValue(recorder) { try body() }
    let calls = recorder.calls
    var g = RandomGenerator(seed: 3)
    let operands = calls.map { (Tensor.randn([$0.m, $0.k], generator: &g), Tensor.randn([$0.k, $0.n], generator: &g)) }
    let out = Tensor.zeros([calls.map { $0.m * $0.n }.max() ?? 1])
    let replay = timed {
        // Batched small GEMMs run on the pool in the real pass; replay them the same way.
        var i = 0
        while i < calls.count {
            var j = i
            while j < calls.count && calls[j] == calls[i] && calls[i].m * calls[i].n * calls[i].k <= 65_536 * 4 { j += 1 }
            if j > i + 1 {
                let (a, b) = (operands[i].0, operands[i].1)
                parallelFor(j - i, costPerItem: calls[i].m * calls[i].n * calls[i].k) { r in
                    let scratch = Tensor.zeros([calls[i].m, calls[i].n])
                    for _ in r { Tensor.gemm(a, b, into: scratch.data, ldc: calls[i].n) }
                }
                i = j
            } else {
                Tensor.gemm(operands[i].0, operands[i].1, into: out.data, ldc: calls[i].n)
                i += 1
            }
        }
    }
    let total = try timed(body)
    let flops = calls.reduce(0.0) { $0 + 2 * Double($1.m) * Double($1.n) * Double($1.k) }
    print(String(format: "%@: %d GEMMs, %.1f GFLOP; GEMMs alone %.3f s (%.0f GFLOP/s), whole pass %.3f s: GEMM share %.0f%%",
                 what, calls.count, flops / 1e9, replay, flops / replay / 1e9, total, 100 * replay / total))
}

/// The share of `body`'s time (mean of `reps` runs after a warm-up) in each `OpProfile` category.
func printProfile(_ what: String, _ body: () throws -> Void) throws {
    try body()
    OpProfile.reset()
    OpProfile.isEnabled = true
    var total = 0.0
    for _ in 0..<reps { total += try seconds(body) }
    OpProfile.isEnabled = false
    func share(_ c: OpProfile.Category) -> Double { 100 * Double(OpProfile.nanoseconds(c)) / (total * 1e9) }
    let (l, a, s, n, act) = (share(.linear), share(.attention), share(.softmax), share(.layerNorm), share(.activation))
    print(String(format: "%@ profile: linear %.0f%% attention %.0f%% (softmax %.0f%%) layernorm %.0f%% activation %.0f%% other %.0f%%, total %.3f s",
                 what, l, a, s, n, act, 100 - l - a - n - act, total / Double(reps)))
    fflush(stdout)
}

/// With --ab: passes of `body` alternating `abSetting` on and off; prints the median of each.
func printAB(_ what: String, _ body: () throws -> Void) throws {
    guard let setting = abSetting else { return }
    func set(_ on: Bool) { MultiHeadAttention.fusedInference = on }
    var times: [Bool: [Double]] = [:]
    for i in 0..<(2 * reps + 2) {
        set(i % 2 == 0)
        let t = try seconds(body)
        if i >= 2 { times[i % 2 == 0, default: []].append(t) }
    }
    set(true)
    func median(_ v: [Double]?) -> Double { let s = (v ?? [0]).sorted(); return s[s.count / 2] }
    let (on, off) = (median(times[true]), median(times[false]))
    print(String(format: "{\"what\": \"%@\", \"ab\": \"%@\", \"threads\": %d, \"on_sec\": %.4f, \"off_sec\": %.4f, \"off_over_on\": %.3f}",
                 what, setting, Threads.count, on, off, off / on))
    fflush(stdout)
}

/// `n` rows of 77 ids: random tokens, the end-of-text id at position `length - 1`, padding after it
/// (as a tokenizer pads a caption of `length` tokens to the context length).
func randomIds(_ n: Int, _ g: inout RandomGenerator, length: Int = 77) -> Indices {
    Indices(shape: [n, 77], values: (0..<(n * 77)).map { i in
        let j = i % 77
        return j == length - 1 ? 49407 : (j < length ? g.nextInt(below: 49406) : 49407)
    })
}

var g = RandomGenerator(seed: 1)

switch benchCase {
case "image-encode":
    let model = try vitB32()
    for n in batch.map({ [$0] }) ?? [1, 8, 32] {
        let pixels = Tensor.randn([n, 3, 224, 224], generator: &g)
        emit("image_encode_b\(n)", batch: n, sec: try timed { _ = try withNoGrad { try model.imageFeatures(Variable(pixels)) } })
        if gemmShare { try printGEMMShare("image_encode_b\(n)") { _ = try withNoGrad { try model.imageFeatures(Variable(pixels)) } } }
        if profile { try printProfile("image_encode_b\(n)") { _ = try withNoGrad { try model.imageFeatures(Variable(pixels)) } } }
        try printAB("image_encode_b\(n)") { _ = try withNoGrad { try model.imageFeatures(Variable(pixels)) } }
    }
case "text-encode":
    let model = try vitB32()
    for n in batch.map({ [$0] }) ?? [1, 8, 32] {
        let ids = randomIds(n, &g, length: textLength)
        emit("text_encode_b\(n)_len\(textLength)", batch: n, sec: try timed { _ = try withNoGrad { try model.textFeatures(ids) } })
        if gemmShare { try printGEMMShare("text_encode_b\(n)_len\(textLength)") { _ = try withNoGrad { try model.textFeatures(ids) } } }
        if profile { try printProfile("text_encode_b\(n)_len\(textLength)") { _ = try withNoGrad { try model.textFeatures(ids) } } }
        try printAB("text_encode_b\(n)_len\(textLength)") { _ = try withNoGrad { try model.textFeatures(ids) } }
    }
case "attention":
    // One attention layer in inference, fused (one q/k/v GEMM, ck_attention) against unfused, alternating;
    // also the attention core alone (OpProfile's attention share: no projections). ViT-B/32 image shapes
    // (768 wide, 12 heads, 50 tokens) and text shapes (512, 8 heads, 77 tokens, causal).
    for (dim, heads, s) in [(768, 12, 50), (512, 8, 77)] {
        let attn = ParameterInitialization.seeded(0) { MultiHeadAttention(dim: dim, heads: heads) }
        let mask = AttentionMask(causal: s == 77)
        for n in batch.map({ [$0] }) ?? [1, 8, 32] {
            let x = Variable(Tensor.randn([n, s, dim], generator: &g))
            var layer: [Bool: [Double]] = [:], core: [Bool: [Double]] = [:]
            OpProfile.isEnabled = true
            for i in 0..<(2 * max(reps, 5) + 2) {
                let fused = i % 2 == 0
                MultiHeadAttention.fusedInference = fused
                OpProfile.reset()
                let t = seconds { _ = withNoGrad { attn(x, mask: mask) } }
                if i >= 2 {
                    layer[fused, default: []].append(t)
                    core[fused, default: []].append(Double(OpProfile.nanoseconds(.attention)) / 1e9)
                }
            }
            OpProfile.isEnabled = false
            MultiHeadAttention.fusedInference = true
            func median(_ v: [Double]?) -> Double { let s = (v ?? [0]).sorted(); return s[s.count / 2] }
            print(String(format: "attention_d%d_s%d_b%d: layer fused %.3f ms, unfused %.3f ms; core fused %.3f ms, unfused %.3f ms",
                         dim, s, n, 1e3 * median(layer[true]), 1e3 * median(layer[false]),
                         1e3 * median(core[true]), 1e3 * median(core[false])))
            fflush(stdout)
        }
    }
case "precision":
    // Each reduced precision against float32 on the full towers: the smallest cosine between matching
    // embeddings, and the agreement of ELIP re-rank scores (Kendall's tau over 100 candidates).
    let model = try vitB32()
    model.freeze()
    let mapper = ParameterInitialization.seeded(2) { ELIPMapper(textDim: 512, hidden: 1024, promptTokens: 12, visionDim: 768) }
    let n = batch ?? 8
    let pixels = Variable(Tensor.randn([n, 3, 224, 224], generator: &g))
    let ids = randomIds(n, &g, length: textLength)
    func embeddings() throws -> [Tensor] {
        try withNoGrad {
            let texts = try model.textFeatures(ids).l2Normalized()
            return [try model.imageFeatures(pixels).l2Normalized().value, texts.value,
                    try model.guidedImageFeatures(pixels, prompts: mapper(texts)).l2Normalized().value]
        }
    }
    // ELIP re-ranking of `queries` (default 4) captions, each over its own 100 random candidates.
    let rerankQueries = try (0..<(queries ?? 4)).map { _ in
        (query: try withNoGrad { try model.textFeatures(randomIds(1, &g)).l2Normalized().value },
         candidates: Tensor.randn([100, 3, 224, 224], generator: &g))
    }
    func rerankScores() throws -> [[Float]] {
        try rerankQueries.map { try ELIPObjective.guidedScores(model: model, mapper: mapper, query: $0.query, candidates: $0.candidates) }
    }
    let reference = try Precision.withLinear(.float32) { try embeddings() }
    let referenceScores = try Precision.withLinear(.float32) { try rerankScores() }
    for p in LinearPrecision.allCases where p != .float32 && p.isSupported {
        let reduced = try Precision.withLinear(p) { try embeddings() }
        let scores = try Precision.withLinear(p) { try rerankScores() }
        let cosines = zip(reference, reduced).map { a, b in (a * b).sum(axis: 1).toArray().min()! }
        let taus = zip(referenceScores, scores).map { kendallTau($0, $1) }
        print(String(format: "{\"what\": \"%@_vs_float32_b%d\", \"image_min_cos\": %.7f, \"text_min_cos\": %.7f, "
                     + "\"guided_min_cos\": %.7f, \"rerank_kendall_tau_k100\": %.4f, \"rerank_kendall_tau_k100_min\": %.4f, "
                     + "\"rerank_queries\": %d, \"kernel\": \"%@\"}",
                     p.rawValue, n, cosines[0], cosines[1], cosines[2], taus.reduce(0, +) / Double(taus.count), taus.min()!,
                     taus.count, p.kernelName))
    }
case "elip-step", "elip-query-step", "rerank":
    // Frozen CLIP; mapper 512 → 1024 → 1024 → 12 × 768, as the reference script.
    let model = try vitB32()
    model.freeze()
    let mapper = ParameterInitialization.seeded(2) { ELIPMapper(textDim: 512, hidden: 1024, promptTokens: 12, visionDim: 768) }
    if benchCase == "elip-step" {
        let n = batch ?? 40
        let texts = try withNoGrad { try model.textFeatures(randomIds(n, &g)).l2Normalized().value }
        let pixels = Tensor.randn([n, 3, 224, 224], generator: &g)
        let optimizer = AdamW(mapper.parameters, learningRate: 1e-3)
        emit("elip_train_step_b\(n)", batch: n, sec: try timed {
            let loss = try ELIPObjective.loss(model: model, mapper: mapper, textEmbeds: texts, pixels: pixels)
            loss.backward()
            optimizer.step()
            optimizer.zeroGrad()
        })
    } else if benchCase == "elip-query-step" {
        // ELIP's own objective: B × B guided encodes, forward and backward one query at a time.
        let n = batch ?? 8
        let texts = try withNoGrad { try model.textFeatures(randomIds(n, &g)).l2Normalized().value }
        let pixels = Tensor.randn([n, 3, 224, 224], generator: &g)
        let optimizer = AdamW(mapper.parameters, learningRate: 1e-3)
        emit("elip_query_step_b\(n)", batch: n, sec: try timed {
            optimizer.zeroGrad()
            try ELIPObjective.queryLossAndBackward(model: model, mapper: mapper, textEmbeds: texts, pixels: pixels,
                                                   queryChunk: queryChunk)
            optimizer.step()
        })
    } else {
        let k = batch ?? 100
        let query = try withNoGrad { try model.textFeatures(randomIds(1, &g)).l2Normalized().value }
        let candidates = Tensor.randn([k, 3, 224, 224], generator: &g)
        let sec = try timed { _ = try ELIPObjective.guidedScores(model: model, mapper: mapper, query: query, candidates: candidates) }
        emit("rerank_k\(k)_one_query", batch: 1, sec: sec)
    }
case "clip-step":
    let model = try ParameterInitialization.seeded(0) { try CLIPModel(.vitB32) }
    let n = batch ?? 32
    let step = ContrastiveStepBench(model: model)
    let ids = randomIds(n, &g)
    let pixels = Tensor.randn([n, 3, 224, 224], generator: &g)
    emit("clip_train_step_b\(n)", batch: n, sec: try timed { try step.run(ids: ids, pixels: pixels) })
case "mining":
    // Global text→image mining: `queries` captions (default: as many as images) against the gallery.
    let n = batch ?? gallery, q = queries ?? n
    let dim = 512
    let texts = Tensor.randn([q, dim], generator: &g).l2Normalized(axis: -1)
    let images = Tensor.randn([n, dim], generator: &g).l2Normalized(axis: -1)
    let miner = try HardNegativeMiner(imageOfText: (0..<q).map { $0 % n }, imageCount: n)
    let sec = try timed(warmUp: false) { _ = try miner.mine(texts: texts, over: .exact(images), k: 40) }
    emit("mining_q\(q)_gallery\(n)_d\(dim)_k40", batch: q, sec: sec)
case "load":
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clipcore-bench-vitb32").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    if !FileManager.default.fileExists(atPath: dir + "/model.safetensors") {
        try vitB32().save(to: dir + "/model.safetensors", metadata: ["format": "pt"])
    }
    try JSONEncoder().encode(CLIPConfig.vitB32).write(to: URL(fileURLWithPath: dir + "/config.json"))
    emit("checkpoint_load_vitb32", batch: 1, sec: try timed { _ = try CLIPModel.load(directory: dir) })
case "encode-dataset":
    try encodeDatasetBench(images: imageCount, batch: batch ?? 32, decodeThreads: decodeThreads)
case "text-model":
    do { try textModelBench(textModel, batch: batch ?? 64) } catch {
        print("SpeedBench text-model: \(error)")
        exit(1)
    }
case "heads-mlp":
    do { try headsBench(headsOptions, batch: batch ?? 512) } catch {
        print("SpeedBench heads-mlp: \(error)")
        exit(1)
    }
case "kmeans":
    do { try kmeansBench(kmeansOptions, reps: reps) } catch {
        print("SpeedBench kmeans: \(error)")
        exit(1)
    }
case "soak":
    exit(soakBench(soakOptions) ? 0 : 1)
case "linear-probe":
    do { try linearProbeBench(linearProbeOptions) } catch {
        print("SpeedBench linear-probe: \(error)")
        exit(1)
    }
default:
    print("SpeedBench: unknown case \(benchCase)")
    exit(2)
}

/// One full CLIP training step (both towers trainable): forward, symmetric InfoNCE, backward, AdamW.
struct ContrastiveStepBench {
    let model: CLIPModel
    let optimizer: AdamW

    init(model: CLIPModel) {
        self.model = model
        optimizer = AdamW(ParameterGroup.decaySplit(model, weightDecay: 0.1), learningRate: 1e-4)
    }

    func run(ids: Indices, pixels: Tensor) throws {
        let t = try model.textFeatures(ids).l2Normalized()
        let i = try model.imageFeatures(Variable(pixels)).l2Normalized()
        model.pairLoss(textEmbeds: t, imageEmbeds: i).backward()
        optimizer.step()
        optimizer.zeroGrad()
    }
}
