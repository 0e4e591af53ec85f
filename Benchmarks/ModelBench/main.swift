// Model-layer benchmarks: CLIP tokenizer throughput on one core, loading a
// ViT-B/32-sized checkpoint by mmap, and (for information) encode throughput
// at ViT-B/32 widths.
//
// Usage: swift run -c release ModelBench [--captions N] [--reps N] [--threads N]
//        [--captions-out FILE] [--skip-load] [--skip-encode]
// tokenizer_ref.py in this folder times transformers' CLIPTokenizer on the
// captions written by --captions-out, for the ratio.

import Dispatch
import Foundation
import Models
import NN
import Tensor
import Autograd

var captionCount = 20_000
var reps = 5
var captionsOut: String?
var skipLoad = false, skipEncode = false
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "--captions": captionCount = args.popFirst().flatMap(Int.init) ?? captionCount
    case "--reps": reps = args.popFirst().flatMap(Int.init) ?? reps
    case "--threads": Threads.count = args.popFirst().flatMap(Int.init) ?? Threads.count
    case "--captions-out": captionsOut = args.popFirst()
    case "--skip-load": skipLoad = true
    case "--skip-encode": skipEncode = true
    default:
        print("usage: ModelBench [--captions N] [--reps N] [--threads N] [--captions-out FILE] [--skip-load] [--skip-encode]")
        exit(2)
    }
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
}

func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

print("runtime: \(Threads.runtimeSummary)")

// MARK: - Tokenizer

/// Short captions in the style of COCO, drawn from a fixed word list with a fixed seed.
func captions(_ n: Int) -> [String] {
    let nouns = "man woman child dog cat horse bus train car bicycle pizza plate table street beach river tree sky kite boat bird clock bench sign laptop phone umbrella giraffe elephant zebra sheep cow skateboard surfboard".split(separator: " ")
    let adjectives = "red blue green small large old young wooden white black yellow busy empty sunny snowy crowded".split(separator: " ")
    let verbs = "sitting standing riding holding walking eating looking playing parked flying lying".split(separator: " ")
    let preps = "on in next to under near with behind in front of".split(separator: " ")
    var g = RandomGenerator(seed: 42)
    func pick<S: Collection>(_ s: S) -> S.Element where S.Index == Int { s[g.nextInt(below: s.count)] }
    return (0..<n).map { _ in
        var s = "A \(pick(adjectives)) \(pick(nouns)) \(pick(verbs)) \(pick(preps)) the \(pick(nouns))"
        if g.nextInt(below: 2) == 0 { s += " \(pick(preps)) a \(pick(adjectives)) \(pick(nouns))" }
        if g.nextInt(below: 4) == 0 { s += ", \(g.nextInt(below: 10)) people nearby." } else { s += "." }
        return s
    }
}

let texts = captions(captionCount)
if let path = captionsOut {
    try texts.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
    print("captions written to \(path)")
}
do {
    var cold: [Double] = [], warm: [Double] = []
    var checksum = 0
    for _ in 0..<reps {
        let tok = try CLIPTokenizer.standard()
        cold.append(seconds { for t in texts { checksum &+= tok.encode(t).count } })
        warm.append(seconds { for t in texts { checksum &+= tok.encode(t).count } })
    }
    let tLoad = median(try (0..<reps).map { _ in try seconds { _ = try CLIPTokenizer.standard() } })
    print(String(format: "tokenizer: %d captions, one thread: %.0f captions/s with a cold merge cache, %.0f/s warm (vocabulary load %.0f ms) [checksum %d]",
                 texts.count, Double(texts.count) / median(cold), Double(texts.count) / median(warm), tLoad * 1000, checksum))
}

// MARK: - Checkpoint loading

let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clipcore-bench-vitb32").path
if !skipLoad || !skipEncode {
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    if !FileManager.default.fileExists(atPath: dir + "/model.safetensors") {
        let t = try seconds {
            let model = try ParameterInitialization.seeded(0) { try CLIPModel(.vitB32) }
            try model.save(to: dir + "/model.safetensors", metadata: ["format": "pt"])
        }
        print(String(format: "wrote a random ViT-B/32 checkpoint in %.1f s", t))
    }
    let data = try JSONEncoder().encode(CLIPConfig.vitB32)
    try data.write(to: URL(fileURLWithPath: dir + "/config.json"))
}

if !skipLoad {
    let size = (try FileManager.default.attributesOfItem(atPath: dir + "/model.safetensors")[.size] as? Int) ?? 0
    var times: [Double] = []
    var params = 0
    for _ in 0..<max(reps, 3) {
        times.append(try seconds {
            let m = try CLIPModel.load(directory: dir)
            params = m.parameterCount
        })
    }
    print(String(format: "load ViT-B/32 (%d parameters, %.0f MB, mmap): median %.3f s, best %.3f s (target <= 0.3 s)",
                 params, Double(size) / 1e6, median(times), times.min()!))
    // mmap defers reading to first use; this also reads every weight once (file in the page cache).
    let touched = try (0..<3).map { _ in
        try seconds {
            let m = try CLIPModel.load(directory: dir)
            var s: Float = 0
            for p in m.parameters { let v = p.value; for i in Swift.stride(from: 0, to: v.count, by: 1024) { s += v.data[i] } }
            if s.isNaN { print("NaN in weights") }
        }
    }
    print(String(format: "load + first read of every page: median %.3f s", median(touched)))
}

// MARK: - Encode (information; issue 9 owns the comparison with the reference scripts)

if !skipEncode {
    let model = try CLIPModel.load(directory: dir)
    var g = RandomGenerator(seed: 1)
    let pixels = Tensor.randn([8, 3, 224, 224], generator: &g)
    let imgTimes = try (0..<reps).map { _ in try seconds { _ = try withNoGrad { try model.imageFeatures(Variable(pixels)) } } }
    let ids = Indices(shape: [8, 77], values: (0..<(8 * 77)).map { $0 % 77 == 76 ? 49407 : 1000 + $0 % 500 })
    let txtTimes = try (0..<reps).map { _ in try seconds { _ = try withNoGrad { try model.textFeatures(ids) } } }
    print(String(format: "encode ViT-B/32: %.1f images/s (batch 8), %.1f texts/s (batch 8, length 77)",
                 8 / median(imgTimes), 8 / median(txtTimes)))
}
