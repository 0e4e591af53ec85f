// ServeBench: `clip serve` under load on loopback. Writes an index of N random unit vectors (metadata pointing at a
// small dataset's images), starts the server with micro-batching on and then off, drives it with 1, 8 and 64
// concurrent keep-alive clients sending text and image queries, and prints requests/s, p50/p99 latency, errors by
// status and the server's peak RSS, with the CPU's flags.
//
//   swift build -c release --product clip --product ServeBench
//   .build/release/ServeBench --clip .build/release/clip --model Tests/Fixtures/clip/gelu_vocab \
//       --data WORK/synth/manifest.jsonl --work WORK [--rows 100000] [--seconds 5] [--clients 1,8,64]
//       [--image-share 0.25] [--max-queue 256]

import Foundation
import Dispatch
import Tensor
import Pipelines
#if canImport(Glibc)
import Glibc
#endif

// MARK: - Arguments

var args: [String: String] = [:]
var it = CommandLine.arguments.dropFirst().makeIterator()
while let a = it.next() {
    guard a.hasPrefix("--"), let v = it.next() else { FileHandle.standardError.write(Data("usage: see the header of Benchmarks/ServeBench/main.swift\n".utf8)); exit(2) }
    args[String(a.dropFirst(2))] = v
}
func arg(_ k: String) -> String {
    guard let v = args[k] else { FileHandle.standardError.write(Data("ServeBench: --\(k) is required\n".utf8)); exit(2) }
    return v
}
let clip = arg("clip"), model = arg("model"), data = arg("data"), work = arg("work")
let rows = Int(args["rows"] ?? "100000") ?? 100_000
let seconds = Double(args["seconds"] ?? "5") ?? 5
let clientCounts = (args["clients"] ?? "1,8,64").split(separator: ",").compactMap { Int($0) }
let imageShare = Double(args["image-share"] ?? "0.25") ?? 0.25
let maxQueue = args["max-queue"] ?? "256"

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("ServeBench: \(message)\n".utf8))
    exit(1)
}

// MARK: - The index: random unit vectors, metadata pointing at the dataset's images

func datasetImages() -> [(String, String)] {
    guard let text = try? String(contentsOfFile: data, encoding: .utf8) else { fail("cannot read \(data)") }
    let base = (data as NSString).deletingLastPathComponent
    return text.split(separator: "\n").compactMap { line in
        guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
        let image = (o["image"] ?? o["image_path"] ?? o["file"]) as? String
        let caption = ((o["caption"] ?? o["text"]) as? String) ?? (o["captions"] as? [String])?.first
        guard let image, let caption else { return nil }
        return (image.hasPrefix("/") ? image : base + "/" + image, caption)
    }
}

func modelDimension() -> Int {
    guard let d = FileManager.default.contents(atPath: model + "/config.json"),
          let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any],
          let dim = (o["projection_dim"] as? Int) else { fail("\(model)/config.json: no projection_dim") }
    return dim
}

let images = datasetImages()
guard !images.isEmpty else { fail("\(data): no image records") }
let dim = modelDimension()
let indexFolder = work + "/random-\(rows)"
if !FileManager.default.fileExists(atPath: indexFolder + "/metadata_00000.jsonl") {
    try? FileManager.default.createDirectory(atPath: indexFolder, withIntermediateDirectories: true)
    var rng = SystemRandomNumberGenerator()
    var values = [Float](repeating: 0, count: rows * dim)
    for r in 0..<rows {
        var norm: Float = 0
        for j in 0..<dim { let v = Float.random(in: -1...1, using: &rng); values[r * dim + j] = v; norm += v * v }
        let s = 1 / norm.squareRoot()
        for j in 0..<dim { values[r * dim + j] *= s }
    }
    try NPY.write(Tensor(values, shape: [rows, dim]), dtype: .float16, to: EmbeddingShards.embeddingsPath(indexFolder, shard: 0, .image))
    let lines = (0..<rows).map { r -> String in
        let (path, caption) = images[r % images.count]
        return EmbeddingShards.Record(id: Int64(r), key: String(r), image: path, captions: [caption]).jsonLine
    }
    try AtomicFile.write(lines.joined(separator: "\n") + "\n", to: EmbeddingShards.metadataPath(indexFolder, shard: 0))
    print("wrote \(rows) random vectors of dimension \(dim) → \(indexFolder)")
}

// MARK: - The server

final class Server {
    let process = Process()
    var port = 0
    init(batchWaitMs: Double) throws {
        process.executableURL = URL(fileURLWithPath: clip)
        process.arguments = ["serve", "--model", model, "--index", "bench=" + indexFolder, "--port", "0",
                             "--batch-wait-ms", String(batchWaitMs), "--max-queue", maxQueue]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let handle = pipe.fileHandleForReading
        var buffer = ""
        while port == 0 {
            let chunk = handle.availableData
            guard !chunk.isEmpty else { fail("the server exited before listening:\n\(buffer)") }
            buffer += String(decoding: chunk, as: UTF8.self)
            if let r = buffer.range(of: #"listening on http://[0-9.]+:([0-9]+)"#, options: .regularExpression) {
                port = Int(buffer[r].split(separator: ":").last ?? "") ?? 0
            }
        }
        DispatchQueue.global().async { while !handle.availableData.isEmpty {} }
    }
    var peakRSSMiB: Double {
        guard let s = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb / 1024
    }
    func stop() {
        process.terminate()   // SIGTERM: graceful
        process.waitUntilExit()
    }
}

// MARK: - A keep-alive HTTP/1.1 client on a blocking socket

final class Connection {
    private var fd: Int32 = -1
    private let port: Int
    init(port: Int) { self.port = port }

    private func connect() -> Bool {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if ok != 0 { close(fd); fd = -1; return false }
        return true
    }

    /// The status of one POST (0: the connection failed).
    func post(_ path: String, _ body: [UInt8]) -> Int {
        if fd < 0 && !connect() { return 0 }
        let head = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
        let request = Array(head.utf8) + body
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { reset(); return 0 }
            sent += n
        }
        var buffer = [UInt8](), chunk = [UInt8](repeating: 0, count: 65536)
        var headerEnd = -1
        while headerEnd < 0 {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { reset(); return 0 }
            buffer += chunk[0..<n]
            if let r = findHeaderEnd(buffer) { headerEnd = r }
        }
        let header = String(decoding: buffer[0..<headerEnd], as: UTF8.self)
        let status = Int(header.split(separator: " ").dropFirst().first ?? "") ?? 0
        var length = 0
        for line in header.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
            length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        var have = buffer.count - headerEnd - 4
        while have < length {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { reset(); return 0 }
            have += n
        }
        if header.lowercased().contains("connection: close") { reset() }
        return status
    }

    private func findHeaderEnd(_ b: [UInt8]) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i }
        return nil
    }

    private func reset() { if fd >= 0 { close(fd) }; fd = -1 }
    deinit { reset() }
}

// MARK: - Load

let captions = images.map(\.1)
let imageBodies: [[UInt8]] = images.prefix(16).map { (path, _) in
    guard let bytes = FileManager.default.contents(atPath: path) else { fail("cannot read \(path)") }
    let b64 = bytes.base64EncodedString()
    return Array("{\"image\": \"\(b64)\", \"modality\": \"image\", \"num_images\": 10, \"indice_name\": \"bench\"}".utf8)
}
@Sendable func textBody(_ i: Int) -> [UInt8] {
    Array("{\"text\": \(JSONText.quoted(captions[i % captions.count])), \"modality\": \"image\", \"num_images\": 10, \"indice_name\": \"bench\"}".utf8)
}

struct RunResult { var requests = 0; var textLatencies: [Double] = []; var imageLatencies: [Double] = []; var errors: [Int: Int] = [:]; var seconds = 0.0 }

/// The clients' results, merged under a lock.
final class Totals: @unchecked Sendable {
    let lock = NSLock()
    var result = RunResult()
    func add(_ r: RunResult) {
        lock.lock()
        result.requests += r.requests
        result.textLatencies += r.textLatencies
        result.imageLatencies += r.imageLatencies
        result.errors.merge(r.errors, uniquingKeysWith: +)
        lock.unlock()
    }
}

func load(port: Int, clients: Int) -> RunResult {
    let totals = Totals()
    let group = DispatchGroup()
    let start = DispatchTime.now().uptimeNanoseconds
    let end = start + UInt64(seconds * 1e9)
    for c in 0..<clients {
        group.enter()
        let t = Thread {
            var local = RunResult()
            let conn = Connection(port: port)
            var i = c * 7919
            while DispatchTime.now().uptimeNanoseconds < end {
                i += 1
                let isImage = Double(i % 100) < imageShare * 100
                let t0 = DispatchTime.now().uptimeNanoseconds
                let status = conn.post("/knn-service", isImage ? imageBodies[i % imageBodies.count] : textBody(i))
                let ms = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
                local.requests += 1
                if status == 200 {
                    if isImage { local.imageLatencies.append(ms) } else { local.textLatencies.append(ms) }
                } else {
                    local.errors[status, default: 0] += 1
                    if status == 429 || status == 503 { usleep(1000) }
                }
            }
            totals.add(local)
            group.leave()
        }
        t.stackSize = 1 << 20
        t.start()
    }
    group.wait()
    var total = totals.result
    total.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    return total
}

func percentile(_ xs: [Double], _ p: Double) -> Double {
    guard !xs.isEmpty else { return .nan }
    let s = xs.sorted()
    return s[min(s.count - 1, Int((p / 100) * Double(s.count - 1) + 0.5))]
}

// MARK: - Report

func cpuLine() -> String {
    let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let lines = info.split(separator: "\n")
    let name = lines.first { $0.hasPrefix("model name") }.map { String($0.split(separator: ":", maxSplits: 1)[1]).trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
    let flags = Set(lines.first { $0.hasPrefix("flags") }.map { $0.split(separator: ":", maxSplits: 1)[1].split(separator: " ").map(String.init) } ?? [])
    let shown = ["sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile"].filter(flags.contains)
    return "CPU: \(name), \(ProcessInfo.processInfo.activeProcessorCount) cores; flags: \(shown.joined(separator: " "))"
}

print(cpuLine())
print("index: \(rows) random vectors of dimension \(dim); model \(model); \(Int(imageShare * 100))% image queries; \(seconds) s per run; num_images 10; server --max-queue \(maxQueue)")
print("")
print("| batching | clients | requests/s | text p50 ms | text p99 ms | image p50 ms | image p99 ms | errors | server peak RSS MiB |")
print("|---|---:|---:|---:|---:|---:|---:|---|---:|")
var throughput: [String: [Int: Double]] = [:]
for (label, wait) in [("on", 4.0), ("off", 0.0)] {
    let server = try Server(batchWaitMs: wait)
    _ = load(port: server.port, clients: 1)   // warm-up
    for clients in clientCounts {
        let r = load(port: server.port, clients: clients)
        let ok = Double(r.textLatencies.count + r.imageLatencies.count) / r.seconds
        throughput[label, default: [:]][clients] = ok
        let errors = r.errors.isEmpty ? "0" : r.errors.keys.sorted().map { "\($0 == 0 ? "conn" : String($0)): \(r.errors[$0]!)" }.joined(separator: ", ")
        print(String(format: "| %@ | %d | %.1f | %.2f | %.2f | %.2f | %.2f | %@ | %.0f |", label, clients, ok,
                     percentile(r.textLatencies, 50), percentile(r.textLatencies, 99),
                     percentile(r.imageLatencies, 50), percentile(r.imageLatencies, 99), errors, server.peakRSSMiB))
    }
    server.stop()
}
print("")
for clients in clientCounts {
    if let on = throughput["on"]?[clients], let off = throughput["off"]?[clients], off > 0 {
        print(String(format: "batching on/off throughput at %d clients: %.2fx", clients, on / off))
    }
}
