// SpeedBench soak: --calls N (default 1,000,000) calls of the C ABI (include/clipcore.h's
// declarations; SpeedBench links the CAPI target, whose clip_* entry points libclipcore.so exports)
// on the CLIP fixture model of Tests/Fixtures, in a fixed cycle of 100 calls: 30 good ones (text,
// image-file and RGB8 encoding, ELIP re-ranking, both losses, mining, introspection) and 70 bad
// ones (NULL, freed and wrong-kind handles, zero, negative and mismatched sizes, NULL buffers,
// missing and malformed files, bad settings); and 100 times in a run (every N/100 calls, at least
// 100; --reload-every N) a model and an ELIP mapper loaded and freed (4 calls). Every good call
// must return CLIP_OK with the bits of the first one, every bad call its error code and a message.
// RSS (/proc/self/statm) and open fds (/proc/self/fd) are sampled 100 times; after the warm-up
// (the first 10% of the calls, ten reloads included: the allocator's high-water mark settles
// there) RSS must stay within 5% of its value then, and the fds must not grow. Prints the mix,
// calls/s, RSS and fds at the warm-up and the end, and a verdict; exit status 1 on failure.

import CClipABI   // include/clipcore.h: the calls below go through the C declarations
import Foundation

struct SoakOptions {
    var calls = 1_000_000
    /// Calls between two loads and frees of a model and a mapper (--reload-every); nil: a hundredth of
    /// the calls (at least 100), so that the warm-up holds ten of them.
    var reloadEvery: Int?
}

/// One kind of call of the cycle: its name, whether it is a bad call, and the call (its status).
private struct SoakCall {
    let name: String
    let bad: Bool
    let expected: Int32
    let run: () -> Int32
}

/// Resident set size in bytes, and open file descriptors.
private func rssBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return -1 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return -1 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

private func openFDs() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

/// C strings that live as long as the soak (strdup'd once).
private final class CStrings {
    var pointers: [UnsafePointer<CChar>?]
    init(_ strings: [String]) { pointers = strings.map { UnsafePointer(strdup($0)) } }
    deinit { for p in pointers { free(UnsafeMutablePointer(mutating: p)) } }
    var count: Int64 { Int64(pointers.count) }
    func with<T>(_ body: (UnsafePointer<UnsafePointer<CChar>?>) -> T) -> T {
        pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

func soakBench(_ options: SoakOptions) -> Bool {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Tests/Fixtures").path
    let folder = fixtures + "/clip/gelu_vocab", mapperPath = fixtures + "/capi/clip/mapper.safetensors"
    var model: OpaquePointer?, elip: OpaquePointer?, freed: OpaquePointer?
    guard clip_model_load(folder, &model) == CLIP_OK, clip_elip_load(model, mapperPath, &elip) == CLIP_OK,
          clip_model_load(folder, &freed) == CLIP_OK else {
        print("soak: the fixture does not load: \(String(cString: clip_last_error()))")
        return false
    }
    clip_model_free(freed)   // its value stays: a freed handle
    var dim32: Int32 = 0
    _ = clip_model_embedding_dim(model, &dim32)
    let dim = Int(dim32)
    let texts = CStrings(["a photo of a cat", "two dogs running on the beach", "a red circle left of a blue square"])
    let images = CStrings([folder + "/image0.png", folder + "/image1.png"])
    let missing = CStrings([folder + "/no-such-image.png"]), notImage = CStrings([folder + "/config.json"])
    let withNull = CStrings(["a text"])
    withNull.pointers.append(nil)
    let query = strdup("a small red circle")!
    defer { free(query) }
    let nT = Int(texts.count), nI = Int(images.count)
    var textOut = [Float](repeating: 0, count: nT * dim), imageOut = [Float](repeating: 0, count: nI * dim)
    var rgbOut = [Float](repeating: 0, count: dim), scores = [Float](repeating: 0, count: nI)
    var order = [Int64](repeating: 0, count: nI)
    var loss: Float = 0
    var gradI = [Float](repeating: 0, count: nI * dim), gradT = [Float](repeating: 0, count: nI * dim)
    var ids = [Int64](repeating: 0, count: nT * nI), mined = [Float](repeating: 0, count: nT * nI)
    let pixels = [UInt8]((0..<(16 * 12 * 3)).map { UInt8(truncatingIfNeeded: $0 &* 37) })
    var int32Out: Int32 = 0
    let ok = Int32(CLIP_OK), invalid = Int32(CLIP_ERR_INVALID_ARGUMENT), io = Int32(CLIP_ERR_IO)

    // The good calls write their outputs; the first results are the reference bits.
    let good: [SoakCall] = [
        SoakCall(name: "encode_texts", bad: false, expected: ok) { texts.with { clip_encode_texts(model, $0, texts.count, &textOut) } },
        SoakCall(name: "encode_image_files", bad: false, expected: ok) {
            images.with { clip_encode_image_files(model, $0, images.count, &imageOut) }
        },
        SoakCall(name: "encode_rgb8", bad: false, expected: ok) { clip_encode_rgb8(model, pixels, 1, 12, 16, &rgbOut) },
        SoakCall(name: "rerank", bad: false, expected: ok) { images.with { clip_rerank(elip, query, $0, images.count, &scores, &order) } },
        SoakCall(name: "loss_infonce", bad: false, expected: ok) {
            clip_loss(Int32(CLIP_LOSS_INFONCE), imageOut, textOut, Int64(nI), Int64(dim), 10, 0, &loss, &gradI, &gradT)
        },
        SoakCall(name: "loss_sigmoid", bad: false, expected: ok) {
            clip_loss(Int32(CLIP_LOSS_SIGMOID), imageOut, textOut, Int64(nI), Int64(dim), 10, -10, &loss, &gradI, &gradT)
        },
        SoakCall(name: "mine", bad: false, expected: ok) {
            clip_mine(imageOut, Int64(nI), textOut, Int64(nT), Int64(dim), Int64(nI), &ids, &mined)
        },
        SoakCall(name: "introspection", bad: false, expected: ok) { clip_model_context_length(model, &int32Out) },
    ]
    let goodWeights = [5, 3, 2, 2, 5, 5, 5, 3]   // 30 per cycle
    let bad: [SoakCall] = [
        SoakCall(name: "NULL handle", bad: true, expected: invalid) { texts.with { clip_encode_texts(nil, $0, texts.count, &textOut) } },
        SoakCall(name: "freed handle", bad: true, expected: invalid) { texts.with { clip_encode_texts(freed, $0, texts.count, &textOut) } },
        SoakCall(name: "handle of the other kind", bad: true, expected: invalid) {
            texts.with { clip_encode_texts(elip, $0, texts.count, &textOut) }
        },
        SoakCall(name: "n = 0", bad: true, expected: invalid) { texts.with { clip_encode_texts(model, $0, 0, &textOut) } },
        SoakCall(name: "n < 0", bad: true, expected: invalid) { images.with { clip_encode_image_files(model, $0, -3, &imageOut) } },
        SoakCall(name: "NULL text in the list", bad: true, expected: invalid) { withNull.with { clip_encode_texts(model, $0, 2, &textOut) } },
        SoakCall(name: "NULL out", bad: true, expected: invalid) { texts.with { clip_encode_texts(model, $0, texts.count, nil) } },
        SoakCall(name: "missing image file", bad: true, expected: io) { missing.with { clip_encode_image_files(model, $0, 1, &imageOut) } },
        SoakCall(name: "file that is no image", bad: true, expected: Int32(CLIP_ERR_UNSUPPORTED)) {
            notImage.with { clip_encode_image_files(model, $0, 1, &imageOut) }
        },
        SoakCall(name: "missing model folder", bad: true, expected: io) {
            var m: OpaquePointer?
            return clip_model_load(folder + "/no-such-folder", &m)
        },
        SoakCall(name: "missing mapper", bad: true, expected: io) {
            var e: OpaquePointer?
            return clip_elip_load(model, mapperPath + ".missing", &e)
        },
        SoakCall(name: "rgb8 of height 0", bad: true, expected: invalid) { clip_encode_rgb8(model, pixels, 1, 0, 16, &rgbOut) },
        SoakCall(name: "loss dim 0", bad: true, expected: invalid) {
            clip_loss(Int32(CLIP_LOSS_INFONCE), imageOut, textOut, Int64(nI), 0, 10, 0, &loss, nil, nil)
        },
        SoakCall(name: "loss of unknown kind", bad: true, expected: invalid) {
            clip_loss(7, imageOut, textOut, Int64(nI), Int64(dim), 10, 0, &loss, nil, nil)
        },
        SoakCall(name: "loss n beyond INT32_MAX", bad: true, expected: invalid) {
            clip_loss(Int32(CLIP_LOSS_SIGMOID), imageOut, textOut, Int64(Int32.max) + 1, Int64(dim), 10, 0, &loss, nil, nil)
        },
        SoakCall(name: "mine k > n_images", bad: true, expected: invalid) {
            clip_mine(imageOut, Int64(nI), textOut, Int64(nT), Int64(dim), Int64(nI + 1), &ids, &mined)
        },
        SoakCall(name: "rerank NULL query", bad: true, expected: invalid) { images.with { clip_rerank(elip, nil, $0, images.count, &scores, nil) } },
        SoakCall(name: "rerank on a model handle", bad: true, expected: invalid) {
            images.with { clip_rerank(model, query, $0, images.count, &scores, nil) }
        },
        SoakCall(name: "unknown precision", bad: true, expected: invalid) { clip_set_linear_precision(99) },
        SoakCall(name: "struct_size 2 options", bad: true, expected: invalid) {
            var opts = clip_load_options()
            opts.struct_size = 2
            var m: OpaquePointer?
            return clip_model_load_ex(folder, &opts, &m)
        },
        SoakCall(name: "introspection of NULL", bad: true, expected: invalid) { clip_model_kind(nil, &int32Out) },
    ]
    // 70 bad calls per cycle: each kind 3 or 4 times
    let badWeights = bad.indices.map { $0 < 70 - 3 * bad.count ? 4 : 3 }
    var cycle: [Int] = []   // indices into good + bad, interleaved
    let all = good + bad
    let weights = goodWeights + badWeights
    precondition(weights.reduce(0, +) == 100)
    var left = weights
    while cycle.count < 100 {
        for i in all.indices where left[i] > 0 { cycle.append(i); left[i] -= 1 }
    }

    // The reference bits of each good call's output.
    func outputBits() -> [[UInt32]] {
        [textOut, imageOut, rgbOut, scores, [loss], gradI, gradT, mined].map { $0.map(\.bitPattern) } + [ids.map { UInt32(truncatingIfNeeded: $0) }]
    }
    for call in good where call.run() != ok {
        print("soak: \(call.name) fails before the soak: \(String(cString: clip_last_error()))")
        return false
    }
    let reference = outputBits()

    let total = max(options.calls, 100), sampleEvery = max(total / 100, 100), warmUp = total / 10
    let reloadEvery = options.reloadEvery ?? max(total / 100, 100)
    var counts = [Int](repeating: 0, count: all.count)
    var reloads = 0, wrong: [String: Int] = [:], changed = 0
    var samples: [(calls: Int, rss: Int, fds: Int)] = []
    print("soak: \(total) calls on \(folder): per 100, \(goodWeights.reduce(0, +)) good (\(zip(all, goodWeights).map { "\($0.name) \($1)" }.joined(separator: ", "))), "
          + "\(badWeights.reduce(0, +)) bad (\(bad.count) kinds, 3-4 each: \(bad.map(\.name).joined(separator: "; "))); "
          + "every \(reloadEvery) calls a load and free of a model and a mapper (4 calls); \(clip_num_threads()) thread(s)")
    fflush(stdout)
    let start = Date()
    var calls = 0, position = 0, nextReload = reloadEvery, nextSample = sampleEvery
    while calls < total {
        if calls >= nextReload {
            nextReload += reloadEvery
            var m: OpaquePointer?, e: OpaquePointer?
            let rcs = [clip_model_load(folder, &m), clip_elip_load(m, mapperPath, &e)]
            clip_elip_free(e)
            clip_model_free(m)
            if rcs != [ok, ok] { wrong["reload", default: 0] += 1 }
            reloads += 1
            calls += 4
        }
        let i = cycle[position]
        position = (position + 1) % cycle.count
        let rc = all[i].run()
        counts[i] += 1
        calls += 1
        if rc != all[i].expected || (all[i].bad && String(cString: clip_last_error()).isEmpty) {
            wrong[all[i].name, default: 0] += 1
            if wrong[all[i].name] == 1 {
                print("soak: \(all[i].name) returned \(rc), expected \(all[i].expected): \(String(cString: clip_last_error()))")
            }
        }
        if position == 0 && outputBits() != reference { changed += 1 }
        if calls >= nextSample || calls >= total {
            samples.append((calls, rssBytes(), openFDs()))
            nextSample += sampleEvery
        }
    }
    let seconds = Date().timeIntervalSince(start)
    clip_elip_free(elip)
    clip_model_free(model)

    let mb = { (b: Int) in String(format: "%.1f MB", Double(b) / 1_048_576) }
    guard let base = samples.first(where: { $0.calls >= warmUp }), let end = samples.last else { return false }
    let after = samples.filter { $0.calls >= base.calls }
    let maxRSS = after.map(\.rss).max()!, minRSS = after.map(\.rss).min()!, maxFDs = after.map(\.fds).max()!
    let growth = Double(maxRSS - base.rss) / Double(base.rss), drop = Double(base.rss - minRSS) / Double(base.rss)
    print(String(format: "soak: %d calls in %.1f s, %.0f calls/s (%d model + mapper reloads)", calls, seconds, Double(calls) / seconds, reloads))
    print("soak: RSS at warm-up (\(base.calls) calls) \(mb(base.rss)), at the end \(mb(end.rss)); after warm-up min \(mb(minRSS)), "
          + "max \(mb(maxRSS)) (" + String(format: "%+.2f%%", 100 * growth) + "); fds at warm-up \(base.fds), at the end \(end.fds), max \(maxFDs)")
    let tenths = (1...10).compactMap { t in samples.first { $0.calls >= total * t / 10 } }
    print("soak: RSS at each tenth of the calls: " + tenths.map { mb($0.rss) }.joined(separator: ", "))
    print("soak: calls by kind: " + zip(all, counts).map { "\($0.name) \($1)" }.joined(separator: ", "))
    var failures: [String] = []
    if growth > 0.05 || drop > 0.05 { failures.append(String(format: "RSS moved %+.2f%% / -%.2f%% from warm-up (limit 5%%)", 100 * growth, 100 * drop)) }
    if maxFDs > base.fds || end.fds > base.fds { failures.append("fds grew from \(base.fds) to \(maxFDs)") }
    if !wrong.isEmpty { failures.append("wrong status: " + wrong.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")) }
    if changed > 0 { failures.append("\(changed) cycles whose good calls' outputs differ from the first run's bits") }
    print(failures.isEmpty ? "soak: PASS (RSS flat within 5% after warm-up, no fd growth, every status as expected, outputs unchanged)"
                           : "soak: FAIL: " + failures.joined(separator: "; "))
    return failures.isEmpty
}
