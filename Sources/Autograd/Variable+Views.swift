// Differentiable views and joins: reshape, transpose, permute, narrow,
// expand, concat, stack, split, chunk.

import Tensor

extension Variable {
    public func reshaped(_ shape: [Int]) -> Variable {
        let old = self.shape
        return Variable.record("reshape", value.reshaped(shape), [self]) { g, _ in [g.reshaped(old)] }
    }

    public func flattened(from start: Int = 0, to end: Int = -1) -> Variable {
        let old = self.shape
        return Variable.record("flatten", value.flattened(from: start, to: end), [self]) { g, _ in [g.reshaped(old)] }
    }

    public func unsqueezed(_ axis: Int) -> Variable { reshaped(value.unsqueezed(axis).shape) }
    public func squeezed(_ axis: Int) -> Variable { reshaped(value.squeezed(axis).shape) }

    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Variable {
        Variable.record("transpose", value.transposed(a, b), [self]) { g, _ in [g.transposed(a, b)] }
    }

    public func permuted(_ order: [Int]) -> Variable {
        var inverse = [Int](repeating: 0, count: order.count)
        for (i, o) in order.enumerated() { inverse[o] = i }
        return Variable.record("permute", value.permuted(order), [self]) { g, _ in [g.permuted(inverse)] }
    }

    /// Elements `start..<start+length` along `axis`; backward pads with zeros.
    public func narrowed(_ axis: Int, start: Int, length: Int) -> Variable {
        let shape = self.shape
        return Variable.record("narrow", value.narrowed(axis, start: start, length: length), [self]) { g, _ in
            let dx = Tensor.zeros(shape)
            dx.narrowed(axis, start: start, length: length).copy(from: g)
            return [dx]
        }
    }

    /// Broadcast view; backward sums over the repeated dimensions.
    public func expanded(to shape: [Int]) -> Variable {
        let old = self.shape
        return Variable.record("expand", value.expanded(to: shape), [self]) { g, _ in [g.sum(toShape: old)] }
    }

    /// A dense copy (identity for gradients).
    public func contiguous() -> Variable {
        Variable.record("contiguous", value.contiguous(), [self]) { g, _ in [g] }
    }

    public static func concat(_ parts: [Variable], axis: Int) -> Variable {
        let values = parts.map(\.value)
        let a = values[0].axis(axis)
        let sizes = values.map { $0.shape[a] }
        return record("concat", Tensor.concat(values, axis: a), parts) { g, needs in
            let pieces = g.split(sizes: sizes, axis: a)
            return pieces.indices.map { needs[$0] ? pieces[$0].contiguous() : nil }
        }
    }

    public static func stack(_ parts: [Variable], axis: Int = 0) -> Variable {
        let a = axis < 0 ? axis + parts[0].rank + 1 : axis
        return concat(parts.map { $0.unsqueezed(a) }, axis: a)
    }

    public func split(sizes: [Int], axis: Int) -> [Variable] {
        var start = 0
        return sizes.map { n in
            defer { start += n }
            return narrowed(axis, start: start, length: n)
        }
    }

    public func chunked(_ chunks: Int, axis: Int) -> [Variable] {
        split(sizes: value.chunked(chunks, axis: axis).map { $0.shape[value.axis(axis)] }, axis: axis)
    }
}
