// The linear precisions' numbers in the C ABI, stated once.

extension LinearPrecision {
    /// The precision's `CLIP_LINEAR_*` value in include/clipcore.h: `CLIP_LINEAR_FLOAT32` 0,
    /// `CLIP_LINEAR_INT16` 1.
    public var abiCode: Int32 {
        switch self {
        case .float32: return 0
        case .int16: return 1
        }
    }

    /// The precision whose `CLIP_LINEAR_*` value is `abiCode`; nil for any other number.
    public init?(abiCode: Int32) {
        guard let p = Self.allCases.first(where: { $0.abiCode == abiCode }) else { return nil }
        self = p
    }
}
