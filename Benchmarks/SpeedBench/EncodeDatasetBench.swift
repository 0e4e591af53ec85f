// SpeedBench encode-dataset: synthetic JPEG photos in webdataset tar shards as img2dataset writes
// them ({key}.jpg + {key}.txt + {key}.json, 32 samples a shard) → DatasetEncoder (decode + preprocess on worker threads, ViT-B/32 random weights) → float16 shards,
// against the image tower alone on the same images already preprocessed.

import Foundation
import Datasets
import Models
import Pipelines
import Tensor
import Images

/// A photo-like test image: smooth colour gradients, a few soft blobs and sensor-like noise, so
/// that its JPEG has the size and decode cost of a real photo.
func syntheticPhoto(width: Int, height: Int, seed: UInt64) throws -> RGBImage {
    var g = RandomGenerator(seed: seed)
    func u() -> Float { Float(g.nextInt(below: 1 << 20)) / Float(1 << 20) }
    let base = (0..<3).map { _ in (u() * 160 + 40, u() * 120 - 60, u() * 120 - 60) }
    let blobs = (0..<6).map { _ in (x: u() * Float(width), y: u() * Float(height), r: (u() * 0.3 + 0.05) * Float(min(width, height)),
                                   c: (u() * 255, u() * 255, u() * 255)) }
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    for y in 0..<height {
        let fy = Float(y) / Float(height)
        for x in 0..<width {
            let fx = Float(x) / Float(width)
            var rgb = base.map { $0.0 + $0.1 * fx + $0.2 * fy }
            for b in blobs {
                let d = ((Float(x) - b.x) * (Float(x) - b.x) + (Float(y) - b.y) * (Float(y) - b.y)) / (b.r * b.r)
                if d < 1 {
                    let w = (1 - d) * (1 - d)
                    rgb[0] += w * (b.c.0 - rgb[0]); rgb[1] += w * (b.c.1 - rgb[1]); rgb[2] += w * (b.c.2 - rgb[2])
                }
            }
            let noise = Float(g.nextInt(below: 17)) - 8
            for c in 0..<3 { pixels[(y * width + x) * 3 + c] = UInt8(max(0, min(255, rgb[c] + noise))) }
        }
    }
    return try RGBImage(width: width, height: height, pixels: pixels)
}

/// The CPU features that matter for the kernels, as `grep -o -w … /proc/cpuinfo | sort -u` lists them.
func cpuFlags() -> String {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
    let present = Set(text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init))
    return ["avx2", "avx512_bf16", "avx512_vnni", "avx512bw", "avx512f", "avx_vnni", "fma"].filter(present.contains).joined(separator: " ")
}

func encodeDatasetBench(images n: Int, batch: Int, decodeThreads: Int) throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clipcore-bench-encode-dataset-\(getpid())").path
    try FileManager.default.createDirectory(atPath: dir + "/shards", withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let perShard = 32, shards = (n + perShard - 1) / perShard
    // Photo sizes as in COCO, Flickr30k and CC3M: landscape, portrait, square, small and large.
    let sizes = [(500, 375), (375, 500), (640, 480), (480, 640), (224, 224), (800, 600), (333, 250), (640, 427)]
    var bytes = 0
    for s in 0..<shards {
        var tar = TarWriter()
        for i in (s * perShard)..<min(n, (s + 1) * perShard) {
            let (w, h) = sizes[i % sizes.count]
            let jpeg = try syntheticPhoto(width: w, height: h, seed: UInt64(i)).jpegData(quality: 90)
            bytes += jpeg.count
            let key = String(format: "%09d", i), caption = "synthetic photo \(i)"
            tar.add(key + ".jpg", jpeg)
            tar.add(key + ".txt", Array(caption.utf8))
            tar.add(key + ".json", Array("{\"key\": \"\(key)\", \"caption\": \"\(caption)\"}".utf8))
        }
        try tar.write(to: dir + String(format: "/shards/%05d.tar", s))
    }
    let source = try ImageTextSourceFactory.open(dir + String(format: "/shards/{00000..%05d}.tar", shards - 1))

    let pipeline = ImageTextPipeline(model: try vitB32(), processor: ImageProcessor(.clip), tokenize: { _ in
        TokenizedBatch(ids: Indices(shape: [0, 1], values: []), attentionMask: nil)
    }, directory: "ViT-B/32 random weights")

    // Decode + preprocess alone, one thread (the cost the pipeline has to hide).
    var records: [ImageTextRecord] = []
    var reader = try source.makeReader()
    while let r = try reader.next() { records.append(r) }
    var pixels: [Tensor] = []
    let decodeOne = try seconds { pixels = try records.map { try pipeline.processor(try $0.image.decode()) } }

    // Alternating `reps` times (the best of each, as other work on the machine only slows a run down):
    // the image tower alone on the preprocessed images, in the same batches; then end to end: read,
    // decode and preprocess on `decodeThreads` threads, encode, write float16 shards.
    _ = try pipeline.encode(pixels: Array(pixels.prefix(batch)), batchSize: batch)     // warm-up
    var options = DatasetEncoder.Options()
    options.shardSize = n
    options.batchSize = batch
    options.decodeThreads = decodeThreads
    options.dtype = .float16
    var encodeOnly = Double.infinity
    var best: DatasetEncoder.Stats?
    for _ in 0..<reps {
        encodeOnly = min(encodeOnly, try seconds { _ = try pipeline.encode(pixels: pixels, batchSize: batch) })
        try? FileManager.default.removeItem(atPath: dir + "/out")
        let run = try DatasetEncoder(pipeline: pipeline, options: options).run(source: source, to: dir + "/out")
        if run.seconds < best?.seconds ?? .infinity { best = run }
    }
    guard let stats = best else { return }
    emit("image_encode_preprocessed_n\(n)", batch: n, sec: encodeOnly)
    emit("encode_dataset_tar_jpeg_n\(n)_decode\(decodeThreads)", batch: n, sec: stats.seconds)

    let e2e = Double(stats.images) / stats.seconds, pure = Double(n) / encodeOnly
    print(String(format: "{\"what\": \"encode_dataset_summary\", \"source\": \"%d webdataset tar shards of JPEGs\", \"images\": %d, \"mean_jpeg_kb\": %.1f, "
                 + "\"decode_threads\": %d, \"compute_threads\": %d, \"end_to_end_per_s\": %.2f, \"preprocessed_encode_per_s\": %.2f, "
                 + "\"ratio\": %.3f, \"throughput_lost\": %.3f, \"encoder_wait_share\": %.3f, \"decode_cpu_s\": %.2f, "
                 + "\"decode_ms_per_image_1_thread\": %.1f, \"blas\": \"%@\", \"cpu_flags\": \"%@\"}",
                 shards, n, Double(bytes) / Double(n) / 1024, decodeThreads, Threads.count, e2e, pure, e2e / pure, 1 - e2e / pure,
                 stats.waitSeconds / stats.seconds, stats.decodeSeconds, 1000 * decodeOne / Double(n),
                 Threads.blasCoreName, cpuFlags()))
}
