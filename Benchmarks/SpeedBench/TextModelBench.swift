// SpeedBench text-model: sentence embeddings of a real text encoder folder (a sentence-transformers
// folder such as all-MiniLM-L6-v2) through `ImageTextPipeline(directory:)`, on captions read from a
// file, as Benchmarks/text_ref.py times sentence-transformers and ONNX Runtime on the same captions.
//
// The captions are sorted by length first, as sentence-transformers' encode does (characters — Unicode
// scalars, Python's len — longest first), encoded in batches of `batch` (each padded to its longest
// caption), and put back in file order (the pipeline itself then orders each call by token count). The time covers the whole call: sorting, tokenization, model,
// pooling, normalisation. `--breakdown` runs the same batches once more and times each stage apart;
// `--gemm-share` replays the GEMMs of one batch of average length alone.

import Foundation
import Autograd
import Models
import NN
import Tensor

/// Options of the text-model case.
struct TextModelOptions {
    var model: String?
    var texts: String?
    var out: String?
    var breakdown = false
    var sortByLength = true
}

/// The lines of `path` that hold more than white space (text_ref.py reads them the same way).
func readCaptions(_ path: String) throws -> [String] {
    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
        throw ClipError.io("\(path): cannot read the captions (UTF-8, one a line)")
    }
    return text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
}

/// sentence-transformers' order: longest first by Unicode scalars (Python's len); ties in file order.
func lengthOrder(_ texts: [String]) -> [Int] {
    let lengths = texts.map(\.unicodeScalars.count)
    return texts.indices.sorted { lengths[$0] != lengths[$1] ? lengths[$0] > lengths[$1] : $0 < $1 }
}

/// `x` `[n, d]` as a little-endian float32 .npy file (format 1.0).
func writeNpy(_ x: Tensor, to path: String) throws {
    precondition(x.shape.count == 2)
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(x.shape[0]), \(x.shape[1])), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)]
    bytes += Array(header.utf8)
    let values = x.toArray()
    var data = Data(bytes)
    values.withUnsafeBufferPointer { data.append(UnsafeBufferPointer(start: UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: UInt8.self), count: $0.count * 4)) }
    try data.write(to: URL(fileURLWithPath: path))
}

func textModelBench(_ o: TextModelOptions, batch: Int) throws {
    guard let dir = o.model, let path = o.texts else {
        print("usage: SpeedBench text-model --model DIR --texts FILE [--threads N] [--batch 64] [--reps R] [--out FILE.npy] [--breakdown] [--gemm-share] [--no-sort]")
        exit(2)
    }
    let texts = try readCaptions(path)
    guard !texts.isEmpty else { throw ClipError.invalidArgument("\(path): no captions") }
    var pipeline: ImageTextPipeline!
    let loadSec = try seconds { pipeline = try ImageTextPipeline(directory: dir) }

    /// Embeddings `[n, dim]` of `xs` in their own order.
    func encode(_ xs: [String]) throws -> Tensor {
        guard o.sortByLength else { return try pipeline.encode(texts: xs, batchSize: batch) }
        let order = lengthOrder(xs)
        let sorted = try pipeline.encode(texts: order.map { xs[$0] }, batchSize: batch)
        let dim = sorted.shape[1]
        let out = Tensor.zeros([xs.count, dim])
        let src = sorted.contiguous()
        for (row, i) in order.enumerated() {
            (out.data + i * dim).update(from: src.data + row * dim, count: dim)
        }
        return out
    }

    _ = try encode(Array(texts.prefix(2 * batch)))
    var embeddings = Tensor.zeros([0])
    let sec = try timed(warmUp: false) { embeddings = try encode(texts) }
    if let out = o.out { try writeNpy(embeddings, to: out) }

    let maxLength = (pipeline.model as? SentenceEncoder)?.maxLength ?? pipeline.model.contextLength
    print(String(format: "{\"what\": \"sentence_encode_n%d\", \"n\": %d, \"batch\": %d, \"threads\": %d, \"sec\": %.4f, \"per_s\": %.2f, "
                 + "\"peak_rss_mb\": %.0f, \"load_sec\": %.3f, \"sorted_by_length\": %@, \"max_seq_length\": %d, \"dim\": %d, "
                 + "\"blas\": \"%@\", \"kernels\": \"%@\", \"cpu_flags\": \"%@\", \"linear\": \"%@\", \"family\": \"%@\", \"buffer_cache_mb\": %d, \"runtime\": \"%@\"}",
                 texts.count, texts.count, batch, Threads.count, sec, Double(texts.count) / sec, peakRSSMB(), loadSec,
                 o.sortByLength ? "true" : "false", maxLength, embeddings.shape.last ?? 0, Threads.blasCoreName,
                 Threads.kernelPath, cpuFlags(), Precision.linear.rawValue, pipeline.family.name,
                 BufferPool.shared.limitBytes >> 20, Threads.runtimeSummary))
    fflush(stdout)

    if o.breakdown { try textBreakdown(pipeline, texts: texts, batch: batch, sorted: o.sortByLength, total: sec) }
    if gemmShare, let model = pipeline.model as? SentenceEncoder {
        // One batch of average length: the batch whose padded length is closest to the mean.
        let sorted = o.sortByLength ? lengthOrder(texts).map { texts[$0] } : texts
        let batches = stride(from: 0, to: sorted.count, by: batch).map { pipeline.tokenize(Array(sorted[$0..<min($0 + batch, sorted.count)])) }
        let mean = Double(batches.map { $0.ids.shape[1] }.reduce(0, +)) / Double(batches.count)
        let b = batches.min { abs(Double($0.ids.shape[1]) - mean) < abs(Double($1.ids.shape[1]) - mean) }!
        try printGEMMShare("text_model_b\(b.ids.shape[0])_len\(b.ids.shape[1])") {
            _ = try withNoGrad { try model.encoder.hiddenStates(b.ids, attentionMask: b.attentionMask) }
        }
    }
}

/// Times each stage of one more pass over the same batches: tokenization, the encoder, pooling,
/// normalisation and the rest (sorting, copies), and how much of the encoder's work is padding.
func textBreakdown(_ pipeline: ImageTextPipeline, texts: [String], batch: Int, sorted: Bool, total: Double) throws {
    guard let model = pipeline.model as? SentenceEncoder else {
        print("{\"what\": \"text_breakdown\", \"error\": \"not a sentence encoder (\(pipeline.family.name))\"}")
        return
    }
    var tokenize = 0.0, encoder = 0.0, pool = 0.0, normalize = 0.0
    var realTokens = 0, paddedTokens = 0, longest = 0
    var parts: [Tensor] = []
    let all = try seconds {
        let order = sorted ? lengthOrder(texts) : Array(texts.indices)
        let xs = order.map { texts[$0] }
        for start in stride(from: 0, to: xs.count, by: batch) {
            var b: TokenizedBatch!
            tokenize += seconds { b = pipeline.tokenize(Array(xs[start..<min(start + batch, xs.count)])) }
            var hidden: Variable!
            encoder += try seconds { hidden = try withNoGrad { try model.encoder.hiddenStates(b.ids, attentionMask: b.attentionMask) } }
            var pooled: Variable!
            pool += seconds { pooled = withNoGrad { model.pooling(hidden, mask: b.attentionMask) } }
            normalize += seconds { parts.append(pooled.value.l2Normalized()) }
            paddedTokens += b.ids.shape[0] * b.ids.shape[1]
            longest = max(longest, b.ids.shape[1])
            realTokens += b.attentionMask.map { Int($0.sum().item) } ?? b.ids.shape[0] * b.ids.shape[1]
        }
        _ = Tensor.concat(parts, axis: 0)
    }
    let rest = all - tokenize - encoder - pool - normalize
    print(String(format: "{\"what\": \"text_breakdown\", \"n\": %d, \"batch\": %d, \"threads\": %d, \"sec\": %.4f, \"timed_sec\": %.4f, "
                 + "\"tokenize_sec\": %.4f, \"encoder_sec\": %.4f, \"pool_sec\": %.4f, \"normalize_sec\": %.4f, \"rest_sec\": %.4f, "
                 + "\"tokenize_share\": %.3f, \"encoder_share\": %.3f, \"real_tokens\": %d, \"padded_tokens\": %d, "
                 + "\"padding_share\": %.3f, \"longest_batch\": %d, \"tokens_per_s_in_encoder\": %.0f, \"texts_per_s_tokenizer\": %.0f}",
                 texts.count, batch, Threads.count, all, total, tokenize, encoder, pool, normalize, rest,
                 tokenize / all, encoder / all, realTokens, paddedTokens, 1 - Double(realTokens) / Double(paddedTokens),
                 longest, Double(paddedTokens) / encoder, Double(texts.count) / tokenize))
    fflush(stdout)
}
