// The precision of linear layers, and the reduced-precision paths' packed
// weights: int8 (CKernels/q8.c) and bfloat16 (CKernels/bf16.c) here, int16 in
// Int16Linear.swift. Packed weights are made once and cached on the weight's
// storage until it changes.

import CKernels
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Arithmetic of linear layers (`Variable.linear`) where no weight gradient is
/// taken: inference, and layers with frozen weights (forward, and the input
/// gradient of their backward: at bf16, or int16 without AVX512_BF16, for int8).
public enum LinearPrecision: String, Sendable, CaseIterable {
    /// OpenBLAS `sgemm`: transformers' numbers to float rounding. The default.
    case float32
    /// Weights quantised per output feature to ±1023 levels, each input row to
    /// ±8191, products summed exactly in int32 (`vpmaddwd` on AVX2, a portable
    /// kernel elsewhere). Relative error near 1e-3 per layer output.
    case int16
    /// Weights quantised per output feature and block of 128 inputs to ±127
    /// levels, each input row and block to 255 steps over its range (u8 with a
    /// zero point), products summed exactly in int32 per block: `vpdpbusd` on
    /// AVX-512 VNNI, `vpmaddubsw` on AVX2 (the same bits). The fastest path;
    /// needs AVX2. Input gradients of frozen layers take bf16 where the CPU has
    /// it, else int16.
    case int8
    /// Weights and inputs rounded to bfloat16, products accumulated in float32
    /// (`vdpbf16ps`); needs AVX512_BF16.
    case bf16

    /// Whether this CPU, at the instruction-set level in use (`CLIPCORE_ISA` may lower it), has a kernel
    /// for this precision. A linear layer asked for one it lacks computes in float32.
    public var isSupported: Bool {
        switch self {
        case .float32, .int16: return true
        case .int8: return ck_isa_level() >= Int32(CK_LEVEL_AVX2)
        case .bf16: return ck_bf16_available() != 0
        }
    }

    /// What the level a precision needs is called, for messages.
    public var requirement: String {
        switch self {
        case .float32, .int16: return "any CPU"
        case .int8: return "AVX2"
        case .bf16: return "AVX512_BF16"
        }
    }

    /// The kernel this precision runs on here ("float32 (OpenBLAS)" for float32, "unsupported" when none).
    public var kernelName: String {
        guard isSupported else { return "unsupported" }
        switch self {
        case .float32: return "float32 (OpenBLAS)"
        case .int16:
            switch ck_q16_best_kernel() {
            case Int32(CK_Q16_AVX512_VNNI): return "avx512_vnni (vpdpwssd)"
            case Int32(CK_Q16_AVX2): return "avx2 (vpmaddwd)"
            default: return "portable"
            }
        case .int8: return String(cString: ck_q8_kernel_name(ck_q8_best_kernel()))
        case .bf16: return "avx512_bf16 (vdpbf16ps)"
        }
    }
}

/// Where the linear-layer precision comes from: a scope (`withLinear`), else
/// the process default (`defaultLinear`, initially `CLIPCORE_LINEAR_PRECISION`
/// = `float32`, `int16`, `int8` or `bf16`, float32 when unset, unknown, or not
/// supported by this CPU, the last two with a warning on stderr). The default
/// is an atomic value: any thread may read or set it at any time.
public enum Precision {
    @TaskLocal static var scoped: LinearPrecision?

    /// The process default as its index in `LinearPrecision.allCases`.
    private static let processDefault: Atomic<Int> = {
        var initial = LinearPrecision.float32
        if let raw = getenv("CLIPCORE_LINEAR_PRECISION") {
            let text = String(cString: raw)
            if let p = LinearPrecision(rawValue: text) {
                if p.isSupported {
                    initial = p
                } else {
                    fputs("clipcore: CLIPCORE_LINEAR_PRECISION=\(text) needs \(p.requirement), which this CPU (or "
                          + "CLIPCORE_ISA) does not allow; using float32\n", stderr)
                }
            } else {
                fputs("clipcore: CLIPCORE_LINEAR_PRECISION=\(text) is not float32, int16, int8 or bf16; using float32\n", stderr)
            }
        }
        return Atomic(index(initial))
    }()

    private static func index(_ p: LinearPrecision) -> Int { LinearPrecision.allCases.firstIndex(of: p) ?? 0 }

    /// The precision linear layers use now.
    public static var linear: LinearPrecision { scoped ?? defaultLinear }

    /// The process-wide default (scopes override it).
    public static var defaultLinear: LinearPrecision {
        get {
            let i = processDefault.load(ordering: .relaxed)
            return LinearPrecision.allCases.indices.contains(i) ? LinearPrecision.allCases[i] : .float32
        }
        set { processDefault.store(index(newValue), ordering: .relaxed) }
    }

    /// Runs `body` with linear layers at `precision` (this task and its callees only).
    public static func withLinear<T>(_ precision: LinearPrecision, _ body: () throws -> T) rethrows -> T {
        try $scoped.withValue(precision, operation: body)
    }
}

/// A packed weight matrix, with the storage version it was made from.
protocol LinearPack: AnyObject {
    var version: Int { get }
}

/// The packed forms made from one storage, by kind and view.
final class LinearPackCache {
    enum Kind: Hashable {
        case int16, int8, bf16
    }
    struct Key: Hashable {
        let kind: Kind, offset: Int, shape: [Int], strides: [Int]
    }
    var entries: [Key: any LinearPack] = [:]

    /// Guards every storage's `linearPacks` (one lock for all: packing is rare, lookups are short).
    private static let lock = Mutex(())

    /// The packed form of `w` of this kind, made now by `make` when missing or older than the storage's
    /// version; nil when `make` gives nil (a weight holding a NaN or an infinity).
    static func packed<P: LinearPack>(_ w: Tensor, kind: Kind, make: (Tensor) -> P?) -> P? {
        let key = Key(kind: kind, offset: w.offset, shape: w.shape, strides: w.strides)
        let storage = w.storage
        let cached = lock.withLock { _ in storage.linearPacks?.entries[key] }
        if let cached = cached as? P, cached.version == storage.version { return cached }
        guard let made = make(w) else { return nil }
        lock.withLock { _ in
            let cache = storage.linearPacks ?? LinearPackCache()
            cache.entries[key] = made
            storage.linearPacks = cache
        }
        return made
    }
}

/// 64-byte-aligned memory for `count` elements of `T` (at least one).
func alignedBuffer<T>(_ count: Int, _: T.Type) -> UnsafeMutablePointer<T> {
    UnsafeMutableRawPointer.allocate(byteCount: Swift.max(count, 1) * MemoryLayout<T>.stride, alignment: 64)
        .bindMemory(to: T.self, capacity: Swift.max(count, 1))
}

/// A weight matrix quantised and packed for `ck_q8_gemm` (every int8 kernel reads the same packing).
final class Int8PackedMatrix: LinearPack {
    let data: UnsafeMutablePointer<Int8>
    let scales: UnsafeMutablePointer<Float>
    let sums: UnsafeMutablePointer<Int32>
    let version: Int

    /// Packs `w` [rows, cols] (any strides); nil when it holds a NaN or an infinity.
    init?(_ w: Tensor) {
        let (rows, cols) = (Int64(w.shape[0]), Int64(w.shape[1]))
        data = alignedBuffer(Int(ck_q8_packed_bytes(rows, cols)), Int8.self)
        scales = alignedBuffer(Int(ck_q8_scale_count(rows, cols)), Float.self)
        sums = alignedBuffer(Int(ck_q8_scale_count(rows, cols)), Int32.self)
        version = w.storage.version
        let status = ck_q8_pack(w.data, rows, cols, Int64(w.strides[0]), Int64(w.strides[1]), data, scales, sums)
        if status != 0 { return nil }
    }

    deinit {
        UnsafeMutableRawPointer(data).deallocate()
        UnsafeMutableRawPointer(scales).deallocate()
        UnsafeMutableRawPointer(sums).deallocate()
    }
}

/// A weight matrix rounded to bfloat16 and packed for `ck_bf16_gemm`.
final class BF16PackedMatrix: LinearPack {
    let data: UnsafeMutablePointer<UInt16>
    let version: Int

    /// Packs `w` [rows, cols] (any strides); nil when it holds a NaN or an infinity (the float path
    /// then carries them as float32 does).
    init?(_ w: Tensor) {
        let (rows, cols) = (Int64(w.shape[0]), Int64(w.shape[1]))
        data = alignedBuffer(Int(ck_bf16_packed_count(rows, cols)), UInt16.self)
        version = w.storage.version
        if ck_bf16_pack(w.data, rows, cols, Int64(w.strides[0]), Int64(w.strides[1]), data) != 0 { return nil }
    }

    deinit { UnsafeMutableRawPointer(data).deallocate() }
}

extension Tensor {
    /// `x · weightᵀ + bias` at a reduced precision (x `[m, k]`, weight `[n, k]`, bias `[n]` → `[m, n]`):
    /// nil for float32, for a precision this CPU has no kernel for, and for a weight the path cannot
    /// pack (a NaN or an infinity); the caller then takes the float path.
    package static func linearReduced(_ x: Tensor, weight: Tensor, bias: Tensor?, precision: LinearPrecision) -> Tensor? {
        switch precision {
        case .float32: return nil
        case .int16: return linearInt16(x, weight: weight, bias: bias)
        case .int8: return precision.isSupported ? linearInt8(x, weight: weight, bias: bias) : nil
        case .bf16: return precision.isSupported ? linearBF16(x, weight: weight, bias: bias) : nil
        }
    }

    /// The frame of every reduced-precision product (x `[m, k]`, weight `[n, k]`, bias `[n]`): the shapes
    /// checked, the weight's packed form from `pack` (nil: no product), x with dense rows (copied only when
    /// it has none), a contiguous bias, the output `[m, n]` and `scratchBytes(m, k, n)` bytes of pooled
    /// scratch around `gemm` (packed form, x, x's row stride, bias or NULL, y, scratch → a C status; nil
    /// unless it is 0).
    static func reducedProduct<P: LinearPack>(
        _ x: Tensor, weight: Tensor, bias: Tensor?, what: String, pack: () -> P?,
        scratchBytes: (Int64, Int64, Int64) -> Int64,
        gemm: (P, UnsafeMutablePointer<Float>, Int64, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>,
               UnsafeMutableRawPointer) -> Int32
    ) -> Tensor? {
        precondition(x.rank == 2 && weight.rank == 2 && x.shape[1] == weight.shape[1],
                     "\(what): shapes \(x.shape) and \(weight.shape) do not match")
        precondition(bias.map { $0.shape == [weight.shape[0]] } ?? true,
                     "\(what): bias shape \(bias!.shape) is not [\(weight.shape[0])]")
        guard let packed = pack() else { return nil }
        let m = x.shape[0], k = x.shape[1], n = weight.shape[0]
        let dense = x.strides[1] == 1 && x.strides[0] >= k ? x : x.contiguous()
        let b = bias?.contiguous()
        let y = Tensor(uninitializedShape: [m, n])
        let bytes = Int(scratchBytes(Int64(m), Int64(k), Int64(n)))
        let scratch = BufferPool.shared.allocate(bytes: bytes)
        let status = gemm(packed, dense.data, Int64(Swift.max(dense.strides[0], 1)), b?.data, y.data, scratch)
        BufferPool.shared.release(scratch, bytes: bytes)
        withExtendedLifetime((dense, b, packed)) {}
        return status == 0 ? y : nil
    }

    /// The int8 path through `kernel` (a `CK_Q8_*`; default: the best this CPU runs; all give the same
    /// bits). Nil when the kernel is not available here or the weight is not finite.
    package static func linearInt8(_ x: Tensor, weight: Tensor, bias: Tensor?, kernel: Int32 = ck_q8_best_kernel()) -> Tensor? {
        let (m, k, n) = (Int64(x.shape.first ?? 0), Int64(x.shape.last ?? 0), Int64(weight.shape.first ?? 0))
        return reducedProduct(x, weight: weight, bias: bias, what: "linearInt8", pack: {
            ck_q8_kernel_available(kernel) != 0 ? LinearPackCache.packed(weight, kind: .int8, make: Int8PackedMatrix.init) : nil
        }, scratchBytes: ck_q8_scratch_bytes) { packed, x, ldx, b, y, scratch in
            ck_q8_gemm(x, m, k, ldx, packed.data, packed.scales, packed.sums, n, b, y, n, scratch, Int32(Threads.count), kernel)
        }
    }

    /// The bfloat16 path, through the AVX-512 BF16 kernel or (`portable`) its portable reference. Nil when
    /// the kernel is not available here or the weight is not finite.
    package static func linearBF16(_ x: Tensor, weight: Tensor, bias: Tensor?, portable: Bool = false) -> Tensor? {
        let (m, k, n) = (Int64(x.shape.first ?? 0), Int64(x.shape.last ?? 0), Int64(weight.shape.first ?? 0))
        return reducedProduct(x, weight: weight, bias: bias, what: "linearBF16", pack: {
            portable || ck_bf16_available() != 0 ? LinearPackCache.packed(weight, kind: .bf16, make: BF16PackedMatrix.init) : nil
        }, scratchBytes: ck_bf16_scratch_bytes) { packed, x, ldx, b, y, scratch in
            ck_bf16_gemm(x, m, k, ldx, packed.data, n, b, y, n, scratch, Int32(Threads.count), portable ? 1 : 0)
        }
    }
}

extension Tensor {
    /// `x · weightᵀ + bias` in float32 for few rows (at most `CK_SMALL_GEMM_MAX_ROWS`), with the weight
    /// read in place (`ck_small_gemm`), where OpenBLAS's packing of the weight on every call would cost
    /// about as much as the product. Nil for more rows, a weight or input without unit column stride, or
    /// a CPU without AVX2: the caller then takes OpenBLAS.
    package static func linearFewRows(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor? {
        let m = x.shape[0], k = x.shape[1], n = weight.shape[0]
        guard m <= Int(CK_SMALL_GEMM_MAX_ROWS), k > 0, x.strides[1] == 1, weight.strides[1] == 1,
              x.strides[0] >= k, weight.strides[0] >= k, ck_small_gemm_available() != 0 else { return nil }
        let b = bias?.contiguous()
        let y = Tensor(uninitializedShape: [m, n])
        GEMMTrace.recorder?.record(m, n, k)   // a float32 GEMM, as tests that count them expect
        let status = ck_small_gemm(x.data, Int64(m), Int64(k), Int64(x.strides[0]), weight.data, Int64(n),
                                   Int64(weight.strides[0]), b?.data, y.data, Int64(n), Int32(Threads.count))
        withExtendedLifetime((x, weight, b)) {}
        return status == 0 ? y : nil
    }
}
