// The C ABI of libclipcore.so. Declarations live in include/clipcore.h, imported
// here as the C module CClipABI: the status codes, enums, version macros and
// clip_load_options come from it, and HeaderCheck.swift holds every function
// below to the type the header declares. Each function is a thin @_cdecl shim
// over the Swift API: it checks its arguments before touching them, runs the
// Swift call, and turns every thrown error into a status code plus a
// thread-local message.

import CClipABI
import Foundation
import Tensor
import Images
import Autograd
import NN
import Models
import Search

// MARK: - Status codes and the thread-local error

/// CLIP_OK as the functions return it.
let statusOK = Int32(CLIP_OK)

/// A key for per-thread storage of one malloc'ed C string, freed with the thread.
func stringKey() -> pthread_key_t {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
}

/// Per-thread storage of the last message.
private let errorKey = stringKey()

private let emptyString: UnsafeMutablePointer<CChar> = {
    let p = UnsafeMutablePointer<CChar>.allocate(capacity: 1)
    p.pointee = 0
    return p
}()

private func setLastError(_ message: String) {
    let old = pthread_getspecific(errorKey)
    pthread_setspecific(errorKey, message.isEmpty ? nil : UnsafeRawPointer(strdup(message)))
    free(old)
}

/// The status code of an error kind (one code per kind).
func statusCode(_ kind: ClipError.Kind) -> Int32 {
    switch kind {
    case .invalidArgument: return Int32(CLIP_ERR_INVALID_ARGUMENT)
    case .io: return Int32(CLIP_ERR_IO)
    case .format: return Int32(CLIP_ERR_FORMAT)
    case .shape: return Int32(CLIP_ERR_SHAPE)
    case .unsupported: return Int32(CLIP_ERR_UNSUPPORTED)
    case .outOfMemory: return Int32(CLIP_ERR_OUT_OF_MEMORY)
    case .internal: return Int32(CLIP_ERR_INTERNAL)
    }
}

/// Runs a shim body: clears the thread's error, maps thrown errors to codes and messages.
func guarded(_ function: String, _ body: () throws -> Int32) -> Int32 {
    setLastError("")
    do {
        return try body()
    } catch let e as ClipError {
        setLastError("\(function): \(e.message)")
        return statusCode(e.kind)
    } catch {
        setLastError("\(function): \(error)")
        return Int32(CLIP_ERR_INTERNAL)
    }
}

func invalid(_ message: String) -> ClipError { ClipError(.invalidArgument, message) }

// MARK: - Argument checks

func count(_ n: Int64, _ name: String) throws -> Int {
    guard n > 0 else { throw invalid("\(name) must be positive, got \(n)") }
    guard n <= Int64(Int32.max) else { throw invalid("\(name) = \(n) is too large") }
    return Int(n)
}

func strings(_ list: UnsafePointer<UnsafePointer<CChar>?>?, _ n: Int, _ name: String) throws -> [String] {
    guard let list else { throw invalid("\(name) is NULL") }
    return try (0..<n).map { i in
        guard let s = list[i] else { throw invalid("\(name)[\(i)] is NULL") }
        return String(decoding: UnsafeBufferPointer(start: UnsafeRawPointer(s).assumingMemoryBound(to: UInt8.self), count: strlen(s)),
                      as: UTF8.self)
    }
}

func copyRows(_ t: Tensor, to out: UnsafeMutablePointer<Float>) {
    let c = t.contiguous()
    out.update(from: c.data, count: c.count)
}

// MARK: - Version and threads

/// The library version, "MAJOR.MINOR.PATCH" (`ClipCoreVersion.string`); static storage, never freed. It must
/// equal CLIP_VERSION_MAJOR/MINOR/PATCH of include/clipcore.h (Tests/capi/capi_check.c --check compares them).
private let versionString: UnsafeMutablePointer<CChar> = strdup(ClipCoreVersion.string)

@_cdecl("clip_version")
public func clip_version() -> UnsafePointer<CChar> {
    UnsafePointer(versionString)
}

/// This thread's copy of the runtime summary (each call refreshes it).
private let runtimeInfoKey = stringKey()

/// What computes the numbers: kernel path, OpenBLAS kernel and threads. Thread-local storage,
/// valid until this thread's next call of clip_runtime_info.
@_cdecl("clip_runtime_info")
public func clip_runtime_info() -> UnsafePointer<CChar> {
    guard let copy = strdup(Threads.runtimeSummary) else { return UnsafePointer(emptyString) }   // out of memory
    free(pthread_getspecific(runtimeInfoKey))
    pthread_setspecific(runtimeInfoKey, copy)
    return UnsafePointer(copy)
}

/// The description of each status code, in static storage (never freed); index = -status.
private let statusStrings: [UnsafeMutablePointer<CChar>] = ([
    "ok", "invalid argument", "I/O error", "format error", "shape mismatch", "unsupported", "out of memory",
    "internal error",
] as [String]).map { strdup($0) ?? emptyString }
private let unknownStatusString: UnsafeMutablePointer<CChar> = strdup("unknown status")

/// A static description of a status code ("unknown status" for any other value); never NULL.
@_cdecl("clip_status_string")
public func clip_status_string(_ status: Int32) -> UnsafePointer<CChar> {
    guard status <= 0, Int(-Int64(status)) < statusStrings.count else { return UnsafePointer(unknownStatusString) }
    return UnsafePointer(statusStrings[Int(-Int64(status))])
}

@_cdecl("clip_last_error")
public func clip_last_error() -> UnsafePointer<CChar> {
    guard let p = pthread_getspecific(errorKey) else { return UnsafePointer(emptyString) }
    return UnsafePointer(p.assumingMemoryBound(to: CChar.self))
}

/// The ABI version, CLIP_ABI_VERSION of include/clipcore.h; it grows when a declaration there changes
/// incompatibly. ABI_VERSION of python/clipcore/__init__.py must equal it.
@_cdecl("clip_abi_version")
public func clip_abi_version() -> Int32 {
    Int32(CLIP_ABI_VERSION)
}

/// The number of threads clipcore's kernels and OpenBLAS use.
@_cdecl("clip_num_threads")
public func clip_num_threads() -> Int32 {
    Int32(Threads.count)
}

/// Sets the thread count (values below 1 mean 1). Returns the count now in force.
@_cdecl("clip_set_num_threads")
public func clip_set_num_threads(_ n: Int32) -> Int32 {
    Threads.count = Int(n)
    return Int32(Threads.count)
}

/// The linear-layer precision in force: a CLIP_LINEAR_* code.
@_cdecl("clip_linear_precision")
public func clip_linear_precision() -> Int32 {
    LoadOptions.code(Precision.defaultLinear)
}

/// Sets the process-wide linear-layer precision (a CLIP_LINEAR_* code this CPU has a kernel for).
@_cdecl("clip_set_linear_precision")
public func clip_set_linear_precision(_ precision: Int32) -> Int32 {
    guarded("clip_set_linear_precision") {
        guard let p = LoadOptions.precision(precision) else {
            throw invalid("precision must be one of \(LoadOptions.precisionNames), got \(precision)")
        }
        guard p.isSupported else { throw LoadOptions.unsupported(p, "clip_set_linear_precision") }
        Precision.defaultLinear = p
        return statusOK
    }
}

// MARK: - Models and encoders

/// clip_model_load_ex with default options.
@_cdecl("clip_model_load")
public func clip_model_load(_ dir: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    loadModel("clip_model_load", dir, nil, out)
}

@_cdecl("clip_model_load_ex")
public func clip_model_load_ex(_ dir: UnsafePointer<CChar>?, _ opts: UnsafePointer<clip_load_options>?,
                               _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    loadModel("clip_model_load_ex", dir, opts, out)
}

private func loadModel(_ function: String, _ dir: UnsafePointer<CChar>?, _ opts: UnsafePointer<clip_load_options>?,
                       _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded(function) {
        guard let out else { throw invalid("out is NULL") }
        out.pointee = nil
        guard let dir else { throw invalid("dir is NULL") }
        let options = try LoadOptions.read(opts)
        let path = String(cString: dir)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ClipError(.io, "\(path): no such folder")
        }
        guard isDir.boolValue else { throw ClipError(.io, "\(path): not a folder (give the model folder)") }
        let pipeline = try ImageTextPipeline(directory: path, preprocessing: options.preprocessing)
        if options.threads > 0 { Threads.count = Int(options.threads) }   // process-wide: see clipcore.h
        out.pointee = register(ModelHandle(pipeline, precision: options.precision))
        return statusOK
    }
}

@_cdecl("clip_model_free")
public func clip_model_free(_ model: OpaquePointer?) {
    release(model)
}

@_cdecl("clip_model_embed_dim")
public func clip_model_embed_dim(_ model: OpaquePointer?) -> Int32 {
    guarded("clip_model_embed_dim") { Int32(try lookup(model, ModelHandle.self, "model").dim) }
}

// MARK: - Introspection

/// Writes one property of a live model handle through `out`.
private func modelProperty(_ function: String, _ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?,
                           _ value: (ModelHandle) -> Int) -> Int32 {
    guarded(function) {
        let m = try lookup(model, ModelHandle.self, "model")
        guard let out else { throw invalid("out is NULL") }
        out.pointee = Int32(clamping: value(m))
        return statusOK
    }
}

@_cdecl("clip_model_kind")
public func clip_model_kind(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?) -> Int32 {
    modelProperty("clip_model_kind", model, out) { Int($0.pipeline.family.abiKind) }
}

@_cdecl("clip_model_embedding_dim")
public func clip_model_embedding_dim(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?) -> Int32 {
    modelProperty("clip_model_embedding_dim", model, out) { $0.dim }
}

@_cdecl("clip_model_image_size")
public func clip_model_image_size(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?) -> Int32 {
    modelProperty("clip_model_image_size", model, out) { $0.pipeline.model.imageSize }
}

@_cdecl("clip_model_context_length")
public func clip_model_context_length(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?) -> Int32 {
    modelProperty("clip_model_context_length", model, out) { $0.pipeline.model.contextLength }
}

/// The linear precision a handle's calls use: its own (clip_model_load_ex), else CLIP_LINEAR_DEFAULT
/// (the process's).
@_cdecl("clip_model_linear_precision")
public func clip_model_linear_precision(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?) -> Int32 {
    modelProperty("clip_model_linear_precision", model, out) { m in
        Int(m.precision.map(LoadOptions.code) ?? Int32(CLIP_LINEAR_DEFAULT))
    }
}

@_cdecl("clip_encode_texts")
public func clip_encode_texts(_ model: OpaquePointer?, _ texts: UnsafePointer<UnsafePointer<CChar>?>?, _ n: Int64,
                              _ out: UnsafeMutablePointer<Float>?) -> Int32 {
    encodeStrings("clip_encode_texts", model, texts, n, "texts", out) { m, list in
        try m.run { try m.pipeline.encode(texts: list) }
    }
}

@_cdecl("clip_encode_image_files")
public func clip_encode_image_files(_ model: OpaquePointer?, _ paths: UnsafePointer<UnsafePointer<CChar>?>?, _ n: Int64,
                                    _ out: UnsafeMutablePointer<Float>?) -> Int32 {
    encodeStrings("clip_encode_image_files", model, paths, n, "paths", out) { m, files in
        try m.pipeline.requireImageTower()
        let images = try files.map { try RGBImage(contentsOfFile: $0) }   // decoded outside the handle's lock
        return try m.run { try m.pipeline.encode(images: images) }
    }
}

/// The shared shape of the string-list encoders: checks, the call (which takes the handle's lock for
/// the model work), the copy out.
private func encodeStrings(_ function: String, _ model: OpaquePointer?, _ list: UnsafePointer<UnsafePointer<CChar>?>?, _ n: Int64,
                           _ name: String, _ out: UnsafeMutablePointer<Float>?,
                           _ encode: (ModelHandle, [String]) throws -> Tensor) -> Int32 {
    guarded(function) {
        let m = try lookup(model, ModelHandle.self, "model")
        let items = try strings(list, try count(n, "n"), name)
        guard let out else { throw invalid("out is NULL") }
        copyRows(try encode(m, items), to: out)
        return statusOK
    }
}

@_cdecl("clip_encode_rgb8")
public func clip_encode_rgb8(_ model: OpaquePointer?, _ pixels: UnsafePointer<UInt8>?, _ n: Int64, _ height: Int32, _ width: Int32,
                             _ out: UnsafeMutablePointer<Float>?) -> Int32 {
    guarded("clip_encode_rgb8") {
        let m = try lookup(model, ModelHandle.self, "model")
        let count = try count(n, "n")
        guard height > 0, width > 0 else { throw invalid("height and width must be positive, got \(height)×\(width)") }
        let per = Int(height) * Int(width) * 3
        guard UInt64(height) * UInt64(width) <= RGBImage.maxPixels else {
            throw invalid("\(height)×\(width) is beyond the \(RGBImage.maxPixels)-pixel limit")
        }
        guard count <= Int.max / per else { throw invalid("n × height × width overflows") }
        guard let pixels else { throw invalid("pixels is NULL") }
        guard let out else { throw invalid("out is NULL") }
        try m.pipeline.requireImageTower()
        let images = try (0..<count).map { i in
            try RGBImage(width: Int(width), height: Int(height), pixels: Array(UnsafeBufferPointer(start: pixels + i * per, count: per)))
        }
        let emb = try m.run { try m.pipeline.encode(images: images) }
        copyRows(emb, to: out)
        return statusOK
    }
}

// MARK: - Loss and mining

@_cdecl("clip_loss")
public func clip_loss(_ kind: Int32, _ imageEmb: UnsafePointer<Float>?, _ textEmb: UnsafePointer<Float>?, _ n: Int64, _ dim: Int64,
                      _ logitScale: Float, _ logitBias: Float, _ loss: UnsafeMutablePointer<Float>?,
                      _ gradImage: UnsafeMutablePointer<Float>?, _ gradText: UnsafeMutablePointer<Float>?) -> Int32 {
    guarded("clip_loss") {
        guard kind == CLIP_LOSS_INFONCE || kind == CLIP_LOSS_SIGMOID else {
            throw invalid("kind must be CLIP_LOSS_INFONCE (\(CLIP_LOSS_INFONCE)) or CLIP_LOSS_SIGMOID (\(CLIP_LOSS_SIGMOID)), got \(kind)")
        }
        let rows = try count(n, "n"), d = try count(dim, "dim")
        guard rows <= Int.max / d else { throw invalid("n × dim overflows") }
        guard let imageEmb else { throw invalid("image_emb is NULL") }
        guard let textEmb else { throw invalid("text_emb is NULL") }
        guard let loss else { throw invalid("loss is NULL") }
        guard logitScale.isFinite, logitBias.isFinite else { throw invalid("logit_scale and logit_bias must be finite") }
        let i = Variable(Tensor(Array(UnsafeBufferPointer(start: imageEmb, count: rows * d)), shape: [rows, d]), requiresGrad: true)
        let t = Variable(Tensor(Array(UnsafeBufferPointer(start: textEmb, count: rows * d)), shape: [rows, d]), requiresGrad: true)
        let logits = i.matmul(t.transposed()) * logitScale + logitBias
        let value = kind == CLIP_LOSS_INFONCE ? clipContrastiveLoss(logits) : sigmoidLoss(logits)
        value.backward()
        loss.pointee = value.value.item
        if let gradImage { copyRows(i.grad ?? Tensor.zeros([rows, d]), to: gradImage) }
        if let gradText { copyRows(t.grad ?? Tensor.zeros([rows, d]), to: gradText) }
        return statusOK
    }
}

@_cdecl("clip_mine")
public func clip_mine(_ imageEmb: UnsafePointer<Float>?, _ nImages: Int64, _ textEmb: UnsafePointer<Float>?, _ nTexts: Int64,
                      _ dim: Int64, _ k: Int64, _ outIds: UnsafeMutablePointer<Int64>?, _ outScores: UnsafeMutablePointer<Float>?) -> Int32 {
    guarded("clip_mine") {
        let ni = try count(nImages, "n_images"), nt = try count(nTexts, "n_texts"), d = try count(dim, "dim")
        guard k > 0, k <= nImages else { throw invalid("k must lie in 1...n_images (\(nImages)), got \(k)") }
        guard ni <= Int.max / d, nt <= Int.max / d else { throw invalid("counts × dim overflow") }
        guard let imageEmb else { throw invalid("image_emb is NULL") }
        guard let textEmb else { throw invalid("text_emb is NULL") }
        guard let outIds else { throw invalid("out_ids is NULL") }
        guard let outScores else { throw invalid("out_scores is NULL") }
        let images = Tensor(Array(UnsafeBufferPointer(start: imageEmb, count: ni * d)), shape: [ni, d])
        let texts = Tensor(Array(UnsafeBufferPointer(start: textEmb, count: nt * d)), shape: [nt, d])
        let top = ExactSearch.topK(queries: texts, gallery: images, k: Int(k))
        outIds.update(from: top.ids, count: top.ids.count)
        copyRows(top.scores, to: outScores)
        return statusOK
    }
}

// MARK: - ELIP

@_cdecl("clip_elip_load")
public func clip_elip_load(_ base: OpaquePointer?, _ mapperPath: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded("clip_elip_load") {
        guard let out else { throw invalid("out is NULL") }
        out.pointee = nil
        let m = try lookup(base, ModelHandle.self, "base")
        guard let mapperPath else { throw invalid("mapper_path is NULL") }
        let path = String(cString: mapperPath)
        guard FileManager.default.fileExists(atPath: path) else { throw ClipError(.io, "\(path): no such file") }
        let mapper = try ELIPMapper.load(path: path)
        try mapper.checkFits(model: m.pipeline.model, source: path)
        out.pointee = register(ELIPHandle(base: m, mapper: mapper))
        return statusOK
    }
}

@_cdecl("clip_elip_free")
public func clip_elip_free(_ elip: OpaquePointer?) {
    release(elip)
}

@_cdecl("clip_rerank")
public func clip_rerank(_ elip: OpaquePointer?, _ query: UnsafePointer<CChar>?, _ imagePaths: UnsafePointer<UnsafePointer<CChar>?>?,
                        _ n: Int64, _ outScores: UnsafeMutablePointer<Float>?, _ outOrder: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded("clip_rerank") {
        let e = try lookup(elip, ELIPHandle.self, "elip")
        guard let query else { throw invalid("query is NULL") }
        let count = try count(n, "n")
        let files = try strings(imagePaths, count, "image_paths")
        let text = String(cString: query)
        let images = try files.map { try RGBImage(contentsOfFile: $0) }
        let model = e.base.pipeline.model
        let scores: [Float] = try e.base.run {
            let pipeline = e.base.pipeline
            return try ELIPObjective.guidedScores(model: model, mapper: e.mapper, query: try pipeline.encode(texts: [text]),
                                                  candidates: try pipeline.processor.batch(images))
        }
        if let outScores { outScores.update(from: scores, count: count) }
        if let outOrder {
            for (r, i) in rerankOrder(scores).enumerated() { outOrder[r] = Int64(i) }
        }
        return statusOK
    }
}
