// Reuse of large tensor buffers, so steady-state loops do not allocate.

#if canImport(Glibc)
import Glibc
#endif

/// A bounded cache of freed tensor buffers, keyed by size.
///
/// Large allocations (≥ 64 KiB) come from the system as fresh pages, and a
/// first touch of each page costs a fault; in a loop that allocates the same
/// activation shapes every step that cost dominates the elementwise kernels.
/// Freed large buffers are therefore kept here (up to `limitBytes` in all) and
/// handed out again for a request of the same size class (`roundedBytes`). Smaller
/// allocations go straight to malloc, which already recycles them well.
public final class BufferPool: @unchecked Sendable {
    public static let shared = BufferPool()

    /// Requests below this many bytes bypass the pool.
    static let minimumPooledBytes = 64 * 1024
    static let alignment = 64

    private var mutex = pthread_mutex_t()
    private var free: [Int: [UnsafeMutableRawPointer]] = [:]
    private var cached = 0
    private var limit: Int

    /// A pool keeping at most `limitBytes`; the shared one reads `CLIPCORE_BUFFER_CACHE_MB` (default: a quarter of physical memory, at least 1 GiB).
    package init(limitBytes: Int? = nil) {
        pthread_mutex_init(&mutex, nil)
        if let limitBytes {
            limit = Swift.max(0, limitBytes)
        } else if let raw = getenv("CLIPCORE_BUFFER_CACHE_MB"), let mb = Int(String(cString: raw)), mb >= 0 {
            limit = mb << 20
        } else {
            limit = BufferPool.defaultLimit
        }
    }

    /// A quarter of physical memory, at least 1 GiB.
    static var defaultLimit: Int {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        return Swift.max(1 << 30, pages > 0 && size > 0 ? pages * size / 4 : 0)
    }

    deinit {
        drain()
        pthread_mutex_destroy(&mutex)
    }

    /// Most bytes kept for reuse (default a quarter of physical memory, at least 1 GiB, or
    /// `CLIPCORE_BUFFER_CACHE_MB`); 0 disables the pool. A training step's activations are freed and
    /// allocated again every step; when they fit here, no step pays for fresh pages.
    public var limitBytes: Int {
        get { locked { limit } }
        set {
            let drained: [UnsafeMutableRawPointer] = locked {
                limit = Swift.max(0, newValue)
                return trimLocked(to: limit)
            }
            drained.forEach { $0.deallocate() }
        }
    }

    /// Bytes currently held for reuse.
    public var cachedBytes: Int { locked { cached } }

    /// Frees every cached buffer.
    public func drain() {
        let drained: [UnsafeMutableRawPointer] = locked { trimLocked(to: 0) }
        drained.forEach { $0.deallocate() }
    }

    /// The size class of a request: eight classes per octave (a block is at most 12.5% larger than asked,
    /// and a whole number of 4 KiB pages). Exact sizes would keep a block per shape: batches whose shapes
    /// change a little every time (texts sorted by length: another sequence length each batch) would fill
    /// the cache with blocks no later request fits.
    package static func roundedBytes(_ bytes: Int) -> Int {
        guard bytes >= minimumPooledBytes else { return bytes }
        let octave = Int.bitWidth - 1 - (bytes - 1).leadingZeroBitCount     // 2^octave < bytes ≤ 2^(octave+1)
        let step = Swift.max(1 << (octave - 3), 4096)
        return (bytes + step - 1) / step * step
    }

    package func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        let size = BufferPool.roundedBytes(bytes)
        if size >= BufferPool.minimumPooledBytes {
            let reused: UnsafeMutableRawPointer? = locked {
                guard let p = free[size]?.popLast() else { return nil }
                cached -= size
                return p
            }
            if let reused { return reused }
        }
        return UnsafeMutableRawPointer.allocate(byteCount: size, alignment: BufferPool.alignment)
    }

    package func release(_ p: UnsafeMutableRawPointer, bytes: Int) {
        let size = BufferPool.roundedBytes(bytes)
        if size >= BufferPool.minimumPooledBytes {
            let kept: Bool = locked {
                guard cached + size <= limit else { return false }
                free[size, default: []].append(p)
                cached += size
                return true
            }
            if kept { return }
        }
        p.deallocate()
    }

    private func trimLocked(to target: Int) -> [UnsafeMutableRawPointer] {
        var out: [UnsafeMutableRawPointer] = []
        for size in free.keys.sorted(by: >) where cached > target {
            while cached > target, let p = free[size]?.popLast() {
                out.append(p)
                cached -= size
            }
        }
        free = free.filter { !$0.value.isEmpty }
        return out
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}
