// Principal component analysis through LAPACK, with scikit-learn's conventions (PCA, svd_solver "full"
// or "covariance_eigh"): centred data, variances with n − 1, components signed by svd_flip on the
// components (the entry of largest magnitude in each component is positive).

import CBLAS
import Tensor

/// A fitted principal component analysis: the mean and the leading principal axes of a point set.
///
/// Fitting is in Float64: with at least as many points as features, an eigendecomposition of the
/// covariance matrix (`dsyevd`); otherwise a thin SVD of the centred points (`dgesdd`).
public struct PCA: Sendable {
    /// Per-feature means of the fitted points, [features].
    public let mean: [Double]
    /// Principal axes, [components, features] row-major: unit rows, largest variance first.
    public let axes: [Double]
    /// The variance along each axis (eigenvalues of the covariance, n − 1 in the denominator), [components].
    public let explainedVariance: [Double]
    /// Each axis's share of the total variance, [components].
    public let explainedVarianceRatio: [Double]
    /// Singular values of the centred points, [components].
    public let singularValues: [Double]

    /// Features per point.
    public var features: Int { mean.count }
    /// Number of axes kept.
    public var componentCount: Int { explainedVariance.count }

    /// The principal axes as a [components, features] tensor.
    public var components: Tensor {
        Tensor(axes.map { Float($0) }, shape: [componentCount, features])
    }

    /// Fits `components` principal axes to `x` ([points, features]).
    /// - Throws: `ClipError(.shape)` when `x` is not 2-D; `.invalidArgument` when it has fewer than two points,
    ///   holds NaN or an infinity, or `components` is not in 1...min(points, features); `.internal` when
    ///   LAPACK fails.
    public static func fit(_ x: Tensor, components: Int) throws -> PCA {
        let xc = try PointMatrix.checked(x, "PCA", minPoints: 2)
        let n = xc.shape[0], d = xc.shape[1]
        guard components >= 1 && components <= min(n, d) else {
            throw ClipError(.invalidArgument,
                            "PCA: components must be in 1...\(min(n, d)) (min of points and features), got \(components)")
        }
        var a = PointMatrix.doubles(xc)
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += a[i * d + j] } }
        for j in 0..<d { mean[j] /= Double(n) }
        for i in 0..<n { for j in 0..<d { a[i * d + j] -= mean[j] } }
        let totalVariance = a.reduce(0) { $0 + $1 * $1 } / Double(n - 1)

        var axes = [Double](repeating: 0, count: components * d)
        var variance = [Double](repeating: 0, count: components)
        if n >= d {
            // Covariance (d × d) = Xcᵀ Xc / (n − 1); its eigenvectors are the axes.
            var cov = [Double](repeating: 0, count: d * d)
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(d), Int32(d), Int32(n),
                        1 / Double(n - 1), a, Int32(d), a, Int32(d), 0, &cov, Int32(d))
            let w = try LAPACK.symmetricEigen(&cov, n: d)
            for c in 0..<components {
                let j = d - 1 - c                                   // ascending order: largest last
                variance[c] = max(w[j], 0)
                for f in 0..<d { axes[c * d + f] = cov[j * d + f] }
            }
        } else {
            // The row-major n × d points are the column-major d × n matrix Xcᵀ = V S Uᵀ: its left
            // singular vectors are the axes.
            let (s, u) = try LAPACK.leftSingularVectors(&a, m: d, n: n)
            for c in 0..<components {
                variance[c] = s[c] * s[c] / Double(n - 1)
                for f in 0..<d { axes[c * d + f] = u[c * d + f] }
            }
        }
        // svd_flip on the components: the entry of largest magnitude (the first, on ties) is positive.
        for c in 0..<components {
            var best = 0
            for f in 1..<d where abs(axes[c * d + f]) > abs(axes[c * d + best]) { best = f }
            if axes[c * d + best] < 0 { for f in 0..<d { axes[c * d + f] = -axes[c * d + f] } }
        }
        return PCA(mean: mean, axes: axes, explainedVariance: variance,
                   explainedVarianceRatio: variance.map { totalVariance > 0 ? $0 / totalVariance : 0 },
                   singularValues: variance.map { ($0 * Double(n - 1)).squareRoot() })
    }

    /// Projects `x` ([points, features]) onto the axes: (x − mean) · axesᵀ, [points, components].
    ///
    /// `x` must have `features` columns (a programming error otherwise, like a mismatched matmul).
    public func transform(_ x: Tensor) -> Tensor {
        precondition(x.rank == 2 && x.shape[1] == features,
                     "PCA.transform: expected [points, \(features)], got shape \(x.shape)")
        let n = x.shape[0], d = features, k = componentCount
        var a = PointMatrix.doubles(x)
        for i in 0..<n { for j in 0..<d { a[i * d + j] -= mean[j] } }
        var y = [Double](repeating: 0, count: n * k)
        if n > 0 {
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(k), Int32(d),
                        1, a, Int32(d), axes, Int32(d), 0, &y, Int32(k))
        }
        return Tensor(y.map { Float($0) }, shape: [n, k])
    }

    /// Fits `components` axes to `x` and projects it: `fit(x, components:).transform(x)`.
    /// - Throws: what `fit` throws.
    public static func fitTransform(_ x: Tensor, components: Int) throws -> Tensor {
        try fit(x, components: components).transform(x)
    }
}
