// Owned or borrowed Float32 memory behind one or more tensors.

/// A block of `Float` memory. Tensors are views onto a storage; several
/// tensors (a tensor and its transpose, say) may share one.
///
/// Owned storage is 64-byte aligned and freed with the last reference;
/// borrowed storage (a memory-mapped checkpoint, a caller's buffer) keeps its
/// `owner` alive instead.
public final class TensorStorage: @unchecked Sendable {
    /// First element.
    public let base: UnsafeMutablePointer<Float>
    /// Number of `Float`s the block holds.
    public let capacity: Int
    private let owner: AnyObject?
    private let owned: Bool

    /// Bumped by clipcore's in-place writers (element assignment, `copy(from:)`,
    /// `fill`, `addInPlace`, `scaleInPlace`, optimizer steps). Values derived from the
    /// memory and cached (packed weights of the reduced-precision linear paths) are remade when it changes;
    /// code that writes through `data` itself calls `markModified()`.
    public private(set) var version = 0
    /// Packed forms of views of this storage for the reduced-precision linear paths (see `Precision`).
    var linearPacks: LinearPackCache?

    /// Records a write to the memory, so caches derived from it are remade.
    public func markModified() { version &+= 1 }

    /// Allocates `capacity` floats, uninitialised (large blocks are recycled through `BufferPool`).
    public init(capacity: Int) {
        precondition(capacity >= 0, "TensorStorage: negative capacity \(capacity)")
        base = BufferPool.shared.allocate(bytes: TensorStorage.byteCount(capacity))
            .bindMemory(to: Float.self, capacity: Swift.max(capacity, 1))
        self.capacity = capacity
        owner = nil
        owned = true
    }

    /// Wraps memory owned elsewhere; `owner` is retained as long as this storage lives.
    public init(borrowing pointer: UnsafeMutablePointer<Float>, capacity: Int, owner: AnyObject?) {
        base = pointer
        self.capacity = capacity
        self.owner = owner
        owned = false
    }

    /// Bytes behind an owned block of `capacity` floats (at least one float).
    private static func byteCount(_ capacity: Int) -> Int {
        Swift.max(capacity, 1) * MemoryLayout<Float>.stride
    }

    deinit {
        if owned {
            BufferPool.shared.release(UnsafeMutableRawPointer(base), bytes: TensorStorage.byteCount(capacity))
        }
    }
}
