// The opt-in int16 path of linear layers: weights quantised once, cached on
// their storage, inputs quantised per row, exact integer sums (CKernels/q16.c).

import CKernels
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Arithmetic of linear layers (`Variable.linear`) where no weight gradient is
/// taken: inference, and layers with frozen weights (forward, and the input
/// gradient of their backward).
public enum LinearPrecision: String, Sendable, CaseIterable {
    /// OpenBLAS `sgemm`: transformers' numbers to float rounding. The default.
    case float32
    /// Weights quantised per output feature to ±1023 levels, each input row to
    /// ±8191, products summed exactly in int32: about 1.5–1.9× the GEMM
    /// throughput on AVX2, at a relative error near 1e-3 per layer output
    /// (see the README for the measured tolerance). Packed weights take half
    /// the memory of the float ones, kept beside them.
    case int16
}

/// Where the linear-layer precision comes from: a scope (`withLinear`), else
/// the process default (`defaultLinear`, initially `CLIPCORE_LINEAR_PRECISION`
/// = `float32` or `int16`, float32 when unset). The default is an atomic value:
/// any thread may read or set it at any time.
public enum Precision {
    @TaskLocal static var scoped: LinearPrecision?

    /// The process default as its index in `LinearPrecision.allCases`.
    private static let processDefault: Atomic<Int> = {
        var initial = LinearPrecision.float32
        if let raw = getenv("CLIPCORE_LINEAR_PRECISION") {
            let text = String(cString: raw)
            if let p = LinearPrecision(rawValue: text) {
                initial = p
            } else {
                fputs("clipcore: CLIPCORE_LINEAR_PRECISION=\(text) is not float32 or int16; using float32\n", stderr)
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

/// A weight matrix quantised and packed for `ck_q16_gemm`, with the storage
/// version it was made from.
final class Int16PackedMatrix {
    let data: UnsafeMutablePointer<Int16>
    let scales: UnsafeMutablePointer<Float>
    let version: Int

    /// Packs `w` [rows, cols] (any strides); nil when it holds a NaN or an infinity.
    init?(_ w: Tensor) {
        let (rows, cols) = (w.shape[0], w.shape[1])
        let count = Int(ck_q16_packed_count(Int64(rows), Int64(cols)))
        data = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(count, 1) * 2, alignment: 64)
            .bindMemory(to: Int16.self, capacity: Swift.max(count, 1))
        let scaleCount = (rows + 15) / 16 * 16
        scales = .allocate(capacity: scaleCount)
        version = w.storage.version
        let status = ck_q16_pack(w.data, Int64(rows), Int64(cols), Int64(w.strides[0]), Int64(w.strides[1]),
                                 data, scales)
        if status != 0 { return nil }
    }

    deinit {
        data.deallocate()
        scales.deallocate()
    }
}

/// The packed forms made from one storage, by view.
final class Int16PackCache {
    struct Key: Hashable {
        let offset: Int, shape: [Int], strides: [Int]
    }
    var entries: [Key: Int16PackedMatrix] = [:]

    /// Guards every storage's `int16Packs` (one lock for all: packing is rare, lookups are short).
    private static let lock = Mutex(())

    /// The packed form of `w`, made now when missing or older than the storage's version.
    static func packed(_ w: Tensor) -> Int16PackedMatrix? {
        let key = Key(offset: w.offset, shape: w.shape, strides: w.strides)
        let storage = w.storage
        let cached = lock.withLock { _ in storage.int16Packs?.entries[key] }
        if let cached, cached.version == storage.version { return cached }
        guard let made = Int16PackedMatrix(w) else { return nil }
        lock.withLock { _ in
            let cache = storage.int16Packs ?? Int16PackCache()
            cache.entries[key] = made
            storage.int16Packs = cache
        }
        return made
    }
}

extension Tensor {
    /// `x · weightᵀ + bias` through the int16 kernel: x `[m, k]`, weight
    /// `[n, k]` (any strides; its packed form is cached on its storage until
    /// the storage's version changes), bias `[n]` → `[m, n]`. Nil when the
    /// weight holds a NaN or an infinity: the caller then takes the float path.
    package static func linearInt16(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor? {
        precondition(x.rank == 2 && weight.rank == 2 && x.shape[1] == weight.shape[1],
                     "linearInt16: shapes \(x.shape) and \(weight.shape) do not match")
        precondition(bias.map { $0.shape == [weight.shape[0]] } ?? true,
                     "linearInt16: bias shape \(bias!.shape) is not [\(weight.shape[0])]")
        guard let packed = Int16PackCache.packed(weight) else { return nil }
        let m = x.shape[0], k = x.shape[1], n = weight.shape[0]
        let dense = x.strides[1] == 1 && x.strides[0] >= k ? x : x.contiguous()
        let b = bias?.contiguous()
        let y = Tensor(uninitializedShape: [m, n])
        let scratchBytes = Int(ck_q16_scratch_bytes(Int64(m), Int64(k), Int64(n)))
        let scratch = BufferPool.shared.allocate(bytes: scratchBytes)
        ck_q16_gemm(dense.data, Int64(m), Int64(k), Int64(Swift.max(dense.strides[0], 1)),
                    packed.data, packed.scales, Int64(n), b?.data, y.data, Int64(n), scratch, Int32(Threads.count))
        BufferPool.shared.release(scratch, bytes: scratchBytes)
        withExtendedLifetime((dense, b, packed)) {}
        return y
    }
}
