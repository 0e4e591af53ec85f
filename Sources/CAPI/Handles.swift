// The C ABI's handles: the objects behind clip_model * and clip_elip *, the
// registry that hands out opaque, never-reused values for them, and the
// options a model is loaded with (clip_load_options).

import Foundation
import Models
import Tensor

// MARK: - Handles

/// A loaded model; calls on one handle are serialised by its lock, and run at the handle's linear
/// precision when it has one (clip_model_load_ex), else at the process-wide one.
final class ModelHandle {
    let pipeline: ImageTextPipeline
    let lock = NSLock()
    let precision: LinearPrecision?
    init(_ pipeline: ImageTextPipeline, precision: LinearPrecision? = nil) {
        self.pipeline = pipeline
        self.precision = precision
    }
    var dim: Int { pipeline.model.embeddingDim }

    /// Runs `body` under the handle's lock, with the handle's precision scoped around it.
    func run<T>(_ body: () throws -> T) throws -> T {
        try lock.withLock {
            guard let precision else { return try body() }
            return try Precision.withLinear(precision, body)
        }
    }
}

/// A mapper bound to a model (the handle keeps the model alive).
final class ELIPHandle {
    let base: ModelHandle
    let mapper: ELIPMapper
    init(base: ModelHandle, mapper: ELIPMapper) {
        self.base = base
        self.mapper = mapper
    }
}

/// Live handles. A handle is not the object's address but an opaque value made from a 64-bit
/// generation counter that only grows (never 0, never reused), so a freed handle stays rejected even
/// when the allocator reuses the object's memory, and a pointer the library did not hand out is
/// rejected instead of dereferenced. The registry holds the one strong reference of each handle.
private let registryLock = NSLock()
nonisolated(unsafe) private var liveHandles: [UInt64: AnyObject] = [:]
nonisolated(unsafe) private var nextGeneration: UInt64 = 1
/// High bits of every handle value: keeps handles away from small integers and typical heap addresses.
private let handleTag: UInt64 = 0x0C1F_0000_0000_0000

func register(_ object: AnyObject) -> OpaquePointer {
    registryLock.lock()
    defer { registryLock.unlock() }
    let id = handleTag | (nextGeneration & 0x0000_FFFF_FFFF_FFFF)
    nextGeneration += 1
    liveHandles[id] = object
    return OpaquePointer(bitPattern: UInt(id))!
}

private func handleID(_ handle: OpaquePointer) -> UInt64 { UInt64(UInt(bitPattern: UnsafeRawPointer(handle))) }

func lookup<T: AnyObject>(_ handle: OpaquePointer?, _ type: T.Type, _ what: String) throws -> T {
    guard let handle else { throw invalid("\(what) is NULL") }
    registryLock.lock()
    defer { registryLock.unlock() }
    guard let object = liveHandles[handleID(handle)] else {
        throw invalid("\(what) is not a live handle (already freed, or not from this library)")
    }
    guard let typed = object as? T else {
        throw invalid("\(what) is a handle of another kind (\(Swift.type(of: object)), not \(T.self))")
    }
    return typed
}

func release(_ handle: OpaquePointer?) {
    guard let handle else { return }
    registryLock.lock()
    let object = liveHandles.removeValue(forKey: handleID(handle))
    registryLock.unlock()
    _ = object   // the last reference (unless an ELIP handle keeps its model) goes here, outside the lock
}

// MARK: - Load options

/// clip_load_options as the C header lays it out; `knownSize` bytes in this library's version.
enum LoadOptions {
    static let knownSize = 12               // struct_size, num_threads, linear_precision
    static let linearProcessDefault: Int32 = -1

    /// (num_threads, precision) from a caller's struct: fields beyond its struct_size take their
    /// defaults; bytes beyond the fields this library knows must be zero.
    static func read(_ raw: UnsafeRawPointer?) throws -> (threads: Int32, precision: LinearPrecision?) {
        guard let raw else { return (0, nil) }
        let size = Int(raw.loadUnaligned(as: UInt32.self))
        guard size >= 4 else {
            throw invalid("opts->struct_size is \(size): set it to sizeof(clip_load_options) (at least 4)")
        }
        if size > knownSize {
            for i in knownSize..<size where raw.load(fromByteOffset: i, as: UInt8.self) != 0 {
                throw ClipError(.unsupported, "opts->struct_size is \(size) and byte \(i) is set: this library "
                                + "knows only the first \(knownSize) bytes of clip_load_options (a newer header's option?)")
            }
        }
        let threads: Int32 = size >= 8 ? raw.loadUnaligned(fromByteOffset: 4, as: Int32.self) : 0
        let p: Int32 = size >= 12 ? raw.loadUnaligned(fromByteOffset: 8, as: Int32.self) : linearProcessDefault
        guard threads >= 0 else { throw invalid("opts->num_threads must be 0 (keep the process's count) or positive, got \(threads)") }
        let precision = LinearPrecision(abiCode: p)
        guard precision != nil || p == linearProcessDefault else {
            throw invalid("opts->linear_precision must be CLIP_LINEAR_DEFAULT (-1), CLIP_LINEAR_FLOAT32 (0) or "
                          + "CLIP_LINEAR_INT16 (1), got \(p)")
        }
        return (threads, precision)
    }
}
