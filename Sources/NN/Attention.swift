// Multi-head self-attention with separate q/k/v/out projections
// (transformers' CLIPAttention / SiglipAttention, eager path).

import Foundation
import CKernels
import Synchronization
import Tensor
import Autograd

/// Which query–key pairs attention may not use.
public struct AttentionMask {
    /// Query i sees keys j ≤ i only.
    public var causal: Bool
    /// `[batch, seq]`, nonzero where a token is real and zero where it is padding;
    /// padding keys are hidden from every query.
    public var keyPadding: Tensor?

    public init(causal: Bool = false, keyPadding: Tensor? = nil) {
        self.causal = causal
        self.keyPadding = keyPadding
    }

    /// The blocked pairs as `[batch or 1, 1, seq, prefix + seq]` (nonzero = blocked), or nil when none.
    /// With `queryPositions` (one per batch item), only those queries: `[batch, 1, 1, prefix + seq]`.
    /// The first `prefix` keys (an `AttentionPrefix`'s rows) are never blocked.
    func blocked(batch: Int, seq: Int, queryPositions: [Int]? = nil, prefix: Int = 0) -> Tensor? {
        guard causal || keyPadding != nil else { return nil }
        if let kp = keyPadding {
            precondition(kp.shape == [batch, seq], "attention: key padding mask \(kp.shape) is not [\(batch), \(seq)]")
        }
        let rows = keyPadding == nil && queryPositions == nil ? 1 : batch
        let queries = queryPositions == nil ? seq : 1
        let width = prefix + seq
        let m = Tensor.zeros([rows, 1, queries, width])
        let pad = keyPadding?.contiguous()
        for b in 0..<rows {
            for q in 0..<queries {
                let i = queryPositions?[b] ?? q
                let row = m.data + (b * queries + q) * width + prefix
                for j in 0..<seq {
                    let hidden = (causal && j > i) || (pad.map { $0.data[b * seq + j] == 0 } ?? false)
                    if hidden { row[j] = 1 }
                }
            }
        }
        return m
    }
}

/// Scaled dot-product attention over `heads` heads.
/// Keys: `q_proj`, `k_proj`, `v_proj`, `out_proj` (each a `Linear` with bias).
public final class MultiHeadAttention: Module, AttentionPrefixHost {
    public let qProj: Linear, kProj: Linear, vProj: Linear, outProj: Linear
    public let heads: Int
    public let headDim: Int
    /// Key and value rows prepended to the sequence's own (prefix tuning; nil: none).
    public var prefix: (any AttentionPrefix)?
    public var keyValueWidth: Int { heads * headDim }
    /// q, k and v's weights and biases concatenated (`[3·dim, dim]`, `[3·dim]`) for one projection
    /// GEMM in inference, remade when any of them changes (behind a lock: inference may run on several
    /// threads at once).
    private let fusedProjection = Mutex<FusedProjection?>(nil)

    /// Whether inference (no gradient recorded, no prefix, at most `fusedMaxKeys` keys) takes the fused
    /// paths: attention computed per (item, head) by one kernel reading the projections in place, and
    /// q, k and v projected by one GEMM when no adapter hooks them. On by default; the unfused path gives
    /// the same values to float rounding.
    public static var fusedInference: Bool {
        get { fusedInferenceFlag.load(ordering: .relaxed) }
        set { fusedInferenceFlag.store(newValue, ordering: .relaxed) }
    }
    private static let fusedInferenceFlag = Atomic<Bool>(true)
    /// The longest key sequence the fused attention kernel takes (longer ones go through GEMMs).
    static let fusedMaxKeys = 256

    public init(dim: Int, heads: Int) {
        precondition(heads > 0 && dim % heads == 0, "attention: dim \(dim) is not divisible by \(heads) heads")
        self.heads = heads
        headDim = dim / heads
        qProj = Linear(dim, dim)
        kProj = Linear(dim, dim)
        vProj = Linear(dim, dim)
        outProj = Linear(dim, dim)
        super.init()
        register("k_proj", kProj)
        register("v_proj", vProj)
        register("q_proj", qProj)
        register("out_proj", outProj)
    }

    /// x `[batch, seq, dim]` → `[batch, seq, dim]`.
    public func callAsFunction(_ x: Variable, mask: AttentionMask = AttentionMask()) -> Variable {
        attend(x, queries: x, queryPositions: nil, mask: mask)
    }

    /// Attention of one query per batch item, at `positions[b]` of `x` `[batch, seq, dim]`, over all of
    /// `x`'s keys → `[batch, 1, dim]`: the rows of `callAsFunction(x)` at those positions, for models
    /// that pool one token and need nothing else from their last layer.
    public func callAsFunction(_ x: Variable, rows positions: [Int], mask: AttentionMask = AttentionMask()) -> Variable {
        let (b, s) = (x.shape[0], x.shape[1])
        precondition(positions.count == b && positions.allSatisfy { (0..<s).contains($0) },
                     "attention: query positions \(positions) for \(x.shape)")
        return attend(x, queries: x.token(at: positions).reshaped([b, 1, x.shape[2]]), queryPositions: positions, mask: mask)
    }

    private func attend(_ x: Variable, queries: Variable, queryPositions: [Int]?, mask: AttentionMask) -> Variable {
        precondition(x.rank == 3, "attention: input must be [batch, seq, dim], got \(x.shape)")
        let (b, s, sq, d) = (x.shape[0], x.shape[1], queries.shape[1], heads * headDim)
        // Inference without a prefix takes the fused kernel; q, k and v come from one GEMM when nothing
        // hooks the three projections and nothing asks for their gradients.
        let fusable = MultiHeadAttention.fusedInference && prefix == nil && s <= MultiHeadAttention.fusedMaxKeys
        if fusable, queries === x, !recordsGradient(x), let w = fusedWeights() {
            let qkv = OpProfile.measure(.linear) { x.linear(weight: w.weight, bias: w.bias) }.value.contiguous()
            return outProj(fusedCore(q: qkv, k: qkv.narrowed(2, start: d, length: d), v: qkv.narrowed(2, start: 2 * d, length: d),
                                     rowStride: 3 * d, batch: b, keys: s, queries: sq, queryPositions: queryPositions, mask: mask))
        }
        let queryRows = qProj(queries), keyRows = kProj(x), valueRows = vProj(x)
        if fusable, !(GradMode.isEnabled && [queryRows, keyRows, valueRows].contains(where: \.requiresGrad)) {
            let (q, k, v) = (queryRows.value.contiguous(), keyRows.value.contiguous(), valueRows.value.contiguous())
            return outProj(fusedCore(q: q, k: k, v: v, rowStride: d, batch: b, keys: s, queries: sq,
                                     queryPositions: queryPositions, mask: mask))
        }
        func split(_ t: Variable, _ n: Int) -> Variable {   // [b, n, d] → [b, h, n, hd]
            t.reshaped([b, n, heads, headDim]).permuted([0, 2, 1, 3])
        }
        let merged = OpProfile.measure(.attention) { () -> Variable in
            let q = split(queryRows * (1 / Float(headDim).squareRoot()), sq)
            var keys = keyRows, values = valueRows, p = 0
            if let prefix {                                     // [b, p + s, d]
                let rows = prefix.keysAndValues()
                (keys, values, p) = (keys.prependingRows(rows.keys), values.prependingRows(rows.values), rows.keys.shape[0])
            }
            let k = split(keys, p + s), v = split(values, p + s)
            var scores = q.matmul(k.transposed())               // [b, h, sq, p + s]
            if let blocked = mask.blocked(batch: b, seq: s, queryPositions: queryPositions, prefix: p) {
                scores = scores.maskedFill(blocked, -Float.greatestFiniteMagnitude)
            }
            let weights = OpProfile.measure(.softmax) { scores.softmax(axis: -1) }
            let context = weights.matmul(v)                     // [b, h, sq, hd]
            return context.permuted([0, 2, 1, 3]).reshaped([b, sq, heads * headDim])
        }
        return outProj(merged)
    }

    // MARK: - Fused inference

    /// softmax(q·kᵀ/√hd + mask)·v by `ck_attention`, reading q `[b, sq, ·]`, k and v `[b, keys, ·]` (rows
    /// `rowStride` apart, heads side by side) in place → `[b, sq, dim]` with the heads merged. No graph.
    private func fusedCore(q: Tensor, k: Tensor, v: Tensor, rowStride: Int, batch b: Int, keys s: Int, queries sq: Int,
                           queryPositions: [Int]?, mask: AttentionMask) -> Variable {
        let d = heads * headDim
        return Variable(OpProfile.measure(.attention) {
            let blocked = mask.blocked(batch: b, seq: s, queryPositions: queryPositions)
            let out = Tensor(uninitializedShape: [b, sq, d])
            ck_attention(q.data, Int64(rowStride), Int64(sq * rowStride), k.data, v.data, Int64(rowStride), Int64(s * rowStride),
                         blocked?.data, Int64(blocked.map { $0.shape[0] == 1 ? 0 : sq * s } ?? 0),
                         out.data, Int64(d), Int64(sq * d), Int64(b), Int64(heads), Int64(headDim), Int64(sq), Int64(s),
                         1 / Float(headDim).squareRoot(), Int32(Threads.count))
            withExtendedLifetime((q, k, v, blocked)) {}
            return out
        })
    }

    /// Whether the q, k and v projections of `x` would be recorded for backward.
    private func recordsGradient(_ x: Variable) -> Bool {
        guard GradMode.isEnabled else { return false }
        let params = [qProj, kProj, vProj].flatMap { [$0.weight] + ($0.bias.map { [$0] } ?? []) }
        return x.requiresGrad || params.contains { $0.requiresGrad }
    }

    /// The concatenated q/k/v weight and bias, made again when a weight or bias was assigned or written
    /// since; nil when an adapter hooks one of the three projections or one has no bias.
    private func fusedWeights() -> FusedProjection? {
        let layers = [qProj, kProj, vProj]
        guard layers.allSatisfy({ $0.adapter == nil }) else { return nil }
        var sources: [Tensor] = layers.map(\.weight.value)
        for l in layers {
            guard let bias = l.bias else { return nil }
            sources.append(bias.value)
        }
        if let f = fusedProjection.withLock({ $0 }), f.matches(sources) { return f }
        let f = FusedProjection(sources)
        fusedProjection.withLock { $0 = f }
        return f
    }
}

/// q, k and v's weights and biases as one projection, and what they were made from.
private final class FusedProjection {
    let weight: Variable
    let bias: Variable
    private let sources: [Tensor]
    private let versions: [Int]

    /// `sources`: the three weights `[dim, dim]`, then the three biases `[dim]`.
    init(_ sources: [Tensor]) {
        weight = Variable(Tensor.concat(Array(sources[0..<3]), axis: 0))
        bias = Variable(Tensor.concat(Array(sources[3..<6]), axis: 0))
        self.sources = sources
        versions = sources.map(\.storage.version)
    }

    /// Whether `current` are the same views of unchanged memory.
    func matches(_ current: [Tensor]) -> Bool {
        zip(zip(sources, versions), current).allSatisfy { pair, t in
            let (old, version) = pair
            return old.storage === t.storage && old.offset == t.offset && old.shape == t.shape
                && old.strides == t.strides && t.storage.version == version
        }
    }
}

extension Variable {
    /// Token `positions[b]` of each batch item of `[batch, seq, dim]` → `[batch, dim]`.
    func token(at positions: [Int]) -> Variable {
        let (b, s, d) = (shape[0], shape[1], shape[2])
        return reshaped([b * s, d]).indexSelect(axis: 0, positions.enumerated().map { $0.offset * s + $0.element })
    }
}
