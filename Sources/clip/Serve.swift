// `clip serve`: clip-retrieval's k-NN service and a search page over embedding shard folders (Sources/Serve).

import ArgumentParser
import Foundation
import Dispatch
import Images
import Models
import Serve
import Tensor

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve indices over HTTP with clip-retrieval's API (/knn-service, /metadata, /indices-list) and a search page at /.",
        discussion: """
            Each --index is an embedding shard folder (clip encode-dataset; a prebuilt FOLDER/image.index from \
            clip index build is used when present), NAME=FOLDER, or clip-retrieval's indices_paths JSON \
            ({"name": "folder"} or {"name": {"path": "folder", "images": "root"}}). Binds 127.0.0.1 unless --host says \
            otherwise. SIGTERM or SIGINT stops accepting and finishes the requests in flight. See docs/SERVE.md.
            """)

    @Option(help: "Model folder (the one the indices were encoded with).") var model: String
    @Option(help: ImagePreprocessing.help) var preprocessing: ImagePreprocessing = .pil
    @Option(help: "Index: a shard folder, NAME=FOLDER, or an indices_paths JSON file (repeatable).") var index: [String]
    @Option(help: "Folder result images are served from (default: the deepest folder holding every image of an index).")
    var imageRoot: String?
    @Option(help: "ELIP mapper (.safetensors): enables \"rerank_k\" on text queries and the side-by-side page.") var elip: String?
    @Option(help: "Port (0: a free one, printed).") var port = 1234
    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Require 'Authorization: Bearer KEY' on every route but /health and the static page / (default: $CLIPCORE_SERVE_API_KEY if set).")
    var apiKey: String?
    @Option(help: "Micro-batching: under load, how long the first query of a batch waits for others, milliseconds (0: batching off, one query per model call).") var batchWaitMs = 4.0
    @Option(help: "Most queries per model call.") var maxBatch = 32
    @Option(help: "Most queries waiting for the model before 503.") var maxQueue = 256
    @Option(help: "Most requests in flight before 429 (with --max-body, the bound on request memory).") var maxInFlight = 128
    @Option(help: "Largest request body, bytes (413 past it).") var maxBody = 8 << 20
    @Option(help: "Largest num_images / num_result_ids.") var maxResults = 10_000
    @Option(help: "Longest text query, characters (400 past it).") var maxTextChars = 4096
    @Option(help: "Most pixels of a query image (400 past it).") var maxImagePixels = 4096 * 4096
    @Option(help: "Query images decoded at once (more wait, up to --max-queue, then 503).") var imageDecodes = 2

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535") }
        guard batchWaitMs >= 0, batchWaitMs <= 1000 else { throw ValidationError("--batch-wait-ms must be 0…1000") }
        guard maxBatch >= 1, maxQueue >= 1, maxInFlight >= 1, maxBody >= 1024, (1...1_000_000).contains(maxResults), maxTextChars >= 1,
              maxImagePixels >= 1, imageDecodes >= 1 else {
            throw ValidationError("--max-batch, --max-queue, --max-in-flight, --max-text-chars, --max-image-pixels and --image-decodes must be positive, --max-body at least 1024, --max-results 1…1000000")
        }
    }

    func run() throws {
        Self.passiveOpenMP()
        var options = ServeOptions()
        options.host = host
        options.port = port
        options.apiKey = apiKey ?? ProcessInfo.processInfo.environment["CLIPCORE_SERVE_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        options.limits.maxWait = batchWaitMs / 1000
        options.limits.maxBatch = maxBatch
        options.limits.maxQueueDepth = maxQueue
        options.limits.maxInFlight = maxInFlight
        options.limits.maxBodyBytes = maxBody
        options.limits.maxResults = maxResults
        options.limits.maxTextChars = maxTextChars
        options.limits.maxImagePixels = maxImagePixels
        options.limits.imageDecodes = imageDecodes

        let catalog = try IndexCatalog(arguments: index, imageRoot: imageRoot)
        let pipeline = try ImageTextPipeline(directory: model, preprocessing: preprocessing)
        let mapper = try elip.map { try ELIPMapper.load(path: $0) }
        let indices = try catalog.entries.map { e -> ServedIndex in
            let ix = try ServedIndex(name: e.name, folder: e.folder, imageRoot: e.imageRoot)
            guard ix.dimension == pipeline.model.embeddingDim else {
                throw ClipError.invalidArgument("index \(e.name) (\(e.folder)) has dimension \(ix.dimension) but \(model) embeds in \(pipeline.model.embeddingDim)")
            }
            print("index \(e.name): \(ix.records.count) images from \(e.folder)" + (ix.images.map { ", images under \($0.root)" } ?? ", no images served"))
            return ix
        }
        let engine = try QueryEngine(pipeline: pipeline, mapper: mapper)
        let server = ServeServer(service: KnnService(indices: indices, engine: engine, limits: options.limits), options: options)
        let done = DispatchSemaphore(value: 0)
        let failure = Box()
        let host = self.host, batching = options.limits.batching ? "on (\(batchWaitMs) ms, \(maxBatch) per call)" : "off"
        let auth = options.apiKey != nil
        Task {
            do {
                try await server.run { port in
                    print("listening on http://\(host):\(port) (micro-batching \(batching)\(auth ? ", bearer token required" : ""))")
                }
            } catch { failure.error = error }
            done.signal()
        }
        done.wait()
        if let e = failure.error { throw e }
        print("stopped")
    }

    private final class Box: @unchecked Sendable { var error: (any Error)? }

    /// FAISS's OpenMP threads spin after each parallel region by default, and on a few cores that spinning takes
    /// the CPU from the server's own threads (on 2 cores: 2.3× less throughput at 64 clients, seconds of p99).
    /// libgomp reads OMP_WAIT_POLICY once, when it loads, so when it is unset the process runs itself again with
    /// OMP_WAIT_POLICY=PASSIVE (a value set by the caller is kept).
    static func passiveOpenMP() {
        guard getenv("OMP_WAIT_POLICY") == nil else { return }
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1)
        var argv: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.map { strdup($0) }
        argv.append(nil)
        execv("/proc/self/exe", argv)
        // execv returned: it failed; serve on with OpenMP's default policy.
        FileHandle.standardError.write(Data("warning: could not restart with OMP_WAIT_POLICY=PASSIVE (errno \(errno)); set it to avoid spinning threads\n".utf8))
    }
}
