// The checks every embedding map makes on its input: a [points, features] matrix of finite values.

import Tensor

enum PointMatrix {
    /// `x` as a contiguous [points, features] tensor.
    /// - Throws: `ClipError(.shape)` when `x` is not 2-D or has no features, `.invalidArgument` when it
    ///   has fewer than `minPoints` rows or holds NaN or an infinity (naming the first such row and column).
    static func checked(_ x: Tensor, _ who: String, minPoints: Int) throws -> Tensor {
        guard x.rank == 2 else {
            throw ClipError(.shape, "\(who): expected a [points, features] matrix, got shape \(x.shape)")
        }
        guard x.shape[1] > 0 else { throw ClipError(.shape, "\(who): the points have no features (shape \(x.shape))") }
        guard x.shape[0] >= minPoints else {
            throw ClipError(.invalidArgument, "\(who): needs at least \(minPoints) points, got \(x.shape[0])")
        }
        let c = x.contiguous()
        let p = c.data, d = x.shape[1]
        for i in 0..<c.count where !p[i].isFinite {
            throw ClipError(.invalidArgument, "\(who): value \(p[i]) at point \(i / d), feature \(i % d) is not finite")
        }
        return c
    }

    /// The rows of a contiguous tensor as Float64, row-major.
    static func doubles(_ x: Tensor) -> [Double] {
        let c = x.contiguous()
        return (0..<c.count).map { Double(c.data[$0]) }
    }
}
