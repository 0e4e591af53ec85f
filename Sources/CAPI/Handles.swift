// The C ABI's handles: the objects behind clip_model * and clip_elip *, the
// registry that hands out opaque, never-reused values for them, and the
// options a model is loaded with (clip_load_options).

import CClipABI
import Foundation
import Images
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

    /// Runs `body` under the handle's lock, with one precision scoped around it: the handle's own, else
    /// the process-wide one read once here, so that clip_set_linear_precision while the call runs cannot
    /// give its layers different precisions (the call runs wholly at the old one or the new one).
    func run<T>(_ body: () throws -> T) throws -> T {
        try lock.withLock {
            try Precision.withLinear(precision ?? Precision.defaultLinear, body)
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

/// clip_load_options of include/clipcore.h, read field by field: the layout (offsets, sizes) is the
/// imported struct's, never written out here.
enum LoadOptions {
    typealias Fields = (threads: Int32, precision: LinearPrecision?, preprocessing: ImagePreprocessing)

    /// The defaults: keep the thread count, follow the process-wide precision, PIL's preprocessing.
    static let defaults: Fields = (0, nil, .pil)

    /// The bytes of clip_load_options in ABI version 1 (struct_size, num_threads, linear_precision):
    /// every caller's struct has them, so a zeroed struct (struct_size 0) is checked over these and no
    /// further.
    static let firstSize = 12

    /// The options of a caller's struct: NULL, or struct_size 0 with every other field 0, are the
    /// defaults; otherwise fields beyond the caller's struct_size take their defaults, and bytes beyond
    /// the fields this library knows must be zero.
    /// - Throws: `ClipError` (.invalidArgument for a bad size or value, .unsupported for an unknown option).
    static func read(_ opts: UnsafePointer<clip_load_options>?) throws -> Fields {
        guard let opts else { return defaults }
        let raw = UnsafeRawPointer(opts)
        let known = MemoryLayout<clip_load_options>.size
        let size = Int(raw.loadUnaligned(fromByteOffset: offset(\.struct_size), as: UInt32.self))
        if size == 0 {
            for i in MemoryLayout<UInt32>.size..<firstSize where raw.load(fromByteOffset: i, as: UInt8.self) != 0 {
                throw invalid("opts->struct_size is 0 (the defaults) but byte \(i) is set: set struct_size to "
                              + "sizeof(clip_load_options) to choose options")
            }
            return defaults
        }
        guard size >= MemoryLayout<UInt32>.size else {
            throw invalid("opts->struct_size is \(size): set it to sizeof(clip_load_options), or 0 for the defaults")
        }
        if size > known {
            for i in known..<size where raw.load(fromByteOffset: i, as: UInt8.self) != 0 {
                throw ClipError(.unsupported, "opts->struct_size is \(size) and byte \(i) is set: this library "
                                + "knows only the first \(known) bytes of clip_load_options (a newer header's option?)")
            }
        }
        /// A field's value when the caller's struct holds it, else `fallback`.
        func field(_ key: KeyPath<clip_load_options, Int32>, _ fallback: Int32) -> Int32 {
            let at = offset(key)
            return at + MemoryLayout<Int32>.size <= size ? raw.loadUnaligned(fromByteOffset: at, as: Int32.self) : fallback
        }
        let threads = field(\.num_threads, 0)
        let p = field(\.linear_precision, Int32(CLIP_LINEAR_DEFAULT))
        let pre = field(\.preprocessing, Int32(CLIP_PREPROCESSING_PIL))
        let fallback = field(\.precision_fallback, Int32(CLIP_PRECISION_STRICT))
        guard threads >= 0 else { throw invalid("opts->num_threads must be 0 (keep the process's count) or positive, got \(threads)") }
        guard let preprocessing = preprocessing(pre) else {
            throw invalid("opts->preprocessing must be CLIP_PREPROCESSING_PIL (\(CLIP_PREPROCESSING_PIL)) or "
                          + "CLIP_PREPROCESSING_TORCHVISION (\(CLIP_PREPROCESSING_TORCHVISION)), got \(pre)")
        }
        guard fallback == CLIP_PRECISION_STRICT || fallback == CLIP_PRECISION_FALLBACK else {
            throw invalid("opts->precision_fallback must be CLIP_PRECISION_STRICT (\(CLIP_PRECISION_STRICT)) or "
                          + "CLIP_PRECISION_FALLBACK (\(CLIP_PRECISION_FALLBACK)), got \(fallback)")
        }
        if p == CLIP_LINEAR_DEFAULT { return (threads, nil, preprocessing) }
        guard let precision = precision(p) else {
            throw invalid("opts->linear_precision must be CLIP_LINEAR_DEFAULT (\(CLIP_LINEAR_DEFAULT)) or one of "
                          + "\(precisionNames), got \(p)")
        }
        if !precision.isSupported {
            if fallback == CLIP_PRECISION_FALLBACK { return (threads, .float32, preprocessing) }
            throw unsupported(precision, "opts->linear_precision")
        }
        return (threads, precision, preprocessing)
    }

    /// The CLIP_LINEAR_* precisions with their codes, for messages.
    static let precisionNames = "CLIP_LINEAR_FLOAT32 (\(CLIP_LINEAR_FLOAT32)), CLIP_LINEAR_INT16 (\(CLIP_LINEAR_INT16)), "
        + "CLIP_LINEAR_INT8 (\(CLIP_LINEAR_INT8)), CLIP_LINEAR_BF16 (\(CLIP_LINEAR_BF16))"

    /// The error for a precision this CPU has no kernel for, asked for through `what`.
    static func unsupported(_ precision: LinearPrecision, _ what: String) -> ClipError {
        ClipError(.unsupported, "\(what) asks for \(precision.rawValue), which needs \(precision.requirement): this CPU "
                  + "(features: \(Threads.cpuFeatures.joined(separator: " ")); level in use \(Threads.isaLevel)) has no "
                  + "kernel for it")
    }

    /// The preprocessing a CLIP_PREPROCESSING_* code names; nil for any other value.
    static func preprocessing(_ code: Int32) -> ImagePreprocessing? {
        switch Int(code) {
        case Int(CLIP_PREPROCESSING_PIL): return .pil
        case Int(CLIP_PREPROCESSING_TORCHVISION): return .torchvision
        default: return nil
        }
    }

    /// The byte offset of a stored field of the imported struct.
    private static func offset<T>(_ key: KeyPath<clip_load_options, T>) -> Int {
        MemoryLayout<clip_load_options>.offset(of: key) ?? 0   // never nil: every key here is a stored field
    }

    /// The precision a CLIP_LINEAR_* code names; nil for any other value.
    static func precision(_ code: Int32) -> LinearPrecision? {
        switch Int(code) {
        case Int(CLIP_LINEAR_FLOAT32): return .float32
        case Int(CLIP_LINEAR_INT16): return .int16
        case Int(CLIP_LINEAR_INT8): return .int8
        case Int(CLIP_LINEAR_BF16): return .bf16
        default: return nil
        }
    }

    /// The CLIP_LINEAR_* code of a precision.
    static func code(_ precision: LinearPrecision) -> Int32 {
        switch precision {
        case .float32: return Int32(CLIP_LINEAR_FLOAT32)
        case .int16: return Int32(CLIP_LINEAR_INT16)
        case .int8: return Int32(CLIP_LINEAR_INT8)
        case .bf16: return Int32(CLIP_LINEAR_BF16)
        }
    }
}
