// The Tensor value type: a strided view of Float32 storage.

/// An n-dimensional Float32 array: a view (shape, strides in elements, offset)
/// onto a shared `TensorStorage`.
///
/// Views (reshape of contiguous data, transpose, permute, narrow, expand) share
/// storage and copy nothing; kernels that need dense input call `contiguous()`,
/// which copies only when the view is not already row-major and dense.
/// Tensors have reference semantics for their elements, like PyTorch's: the
/// few in-place operations (`copy(from:)`, `addInPlace`, …) are visible
/// through every view of the same storage.
public struct Tensor: @unchecked Sendable {
    public let storage: TensorStorage
    public let shape: [Int]
    public let strides: [Int]
    public let offset: Int

    /// A view; the caller guarantees that every reachable element lies in `storage`.
    @inlinable
    public init(storage: TensorStorage, shape: [Int], strides: [Int], offset: Int = 0) {
        self.storage = storage
        self.shape = shape
        self.strides = strides
        self.offset = offset
    }

    /// A new contiguous tensor with uninitialised elements.
    public init(uninitializedShape shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in shape \(shape)")
        let n = shape.reduce(1, *)
        self.init(storage: TensorStorage(capacity: n), shape: shape, strides: Tensor.contiguousStrides(shape))
    }

    /// A contiguous tensor holding `values` (row-major) with the given shape.
    public init(_ values: [Float], shape: [Int]) {
        let n = shape.reduce(1, *)
        precondition(values.count == n, "Tensor: \(values.count) values do not fill shape \(shape) (\(n) elements)")
        self.init(uninitializedShape: shape)
        let dst = storage.base
        values.withUnsafeBufferPointer { src in
            if n > 0 { dst.update(from: src.baseAddress!, count: n) }
        }
    }

    /// A rank-0 tensor.
    public init(scalar: Float) {
        self.init([scalar], shape: [])
    }

    // MARK: - Geometry

    @inlinable public var rank: Int { shape.count }
    @inlinable public var count: Int { shape.reduce(1, *) }

    /// Pointer to the element at index (0, 0, …).
    @inlinable public var data: UnsafeMutablePointer<Float> { storage.base + offset }

    /// Row-major strides for `shape`.
    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = s
            s *= Swift.max(shape[i], 1)
        }
        return strides
    }

    /// True when the elements are dense and row-major (dimensions of size 1 may have any stride).
    public var isContiguous: Bool {
        var expected = 1
        for i in stride(from: rank - 1, through: 0, by: -1) where shape[i] != 1 {
            if strides[i] != expected { return false }
            expected *= shape[i]
        }
        return true
    }

    /// Normalises a possibly negative axis; traps with a clear message when out of range.
    @inlinable
    public func axis(_ a: Int) -> Int {
        let r = a < 0 ? a + rank : a
        precondition(r >= 0 && r < Swift.max(rank, 1), "axis \(a) out of range for a tensor of rank \(rank)")
        return r
    }

    // MARK: - Element access (slow paths, for tests and small data)

    /// Storage offset of a multi-index.
    @inlinable
    func elementOffset(_ index: [Int]) -> Int {
        precondition(index.count == rank, "index \(index) does not match rank \(rank)")
        var o = offset
        for i in 0..<rank {
            precondition(index[i] >= 0 && index[i] < shape[i], "index \(index) out of bounds for shape \(shape)")
            o += index[i] * strides[i]
        }
        return o
    }

    /// The element at a multi-index.
    public subscript(_ index: Int...) -> Float {
        get { storage.base[elementOffset(index)] }
        nonmutating set {
            storage.base[elementOffset(index)] = newValue
            storage.markModified()
        }
    }

    /// The single value of a tensor with one element.
    public var item: Float {
        precondition(count == 1, "item: tensor of shape \(shape) has \(count) elements, not 1")
        return storage.base[offset]
    }

    /// The elements in row-major order.
    public func toArray() -> [Float] {
        let c = contiguous()
        return Array(UnsafeBufferPointer(start: c.data, count: c.count))
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let values = toArray()
        let shown = values.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(shown)\(values.count > 8 ? ", …" : "")])"
    }
}
