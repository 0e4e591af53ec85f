// The LAPACK routines PCA needs (OpenBLAS exports them; declared in Sources/CBLAS/shim.h):
// symmetric eigendecomposition (dsyevd) and thin SVD (dgesdd), column-major, in Float64.

import CBLAS
import Tensor

enum LAPACK {
    /// Eigenvalues (ascending) and eigenvectors of the symmetric n × n matrix `a` (either layout:
    /// it is symmetric). On return the eigenvectors are the columns of `a`, column-major: vector j is
    /// `a[j*n ..< (j+1)*n]`.
    /// - Throws: `ClipError(.internal)` when LAPACK reports a failure to converge or a bad argument.
    static func symmetricEigen(_ a: inout [Double], n: Int) throws -> [Double] {
        guard n > 0 else { return [] }
        var w = [Double](repeating: 0, count: n)
        var jobz = Int8(UInt8(ascii: "V")), uplo = Int8(UInt8(ascii: "L"))
        var n32 = Int32(n), lda = Int32(n), info: Int32 = 0
        var lwork: Int32 = -1, liwork: Int32 = -1
        var workSize = 0.0
        var iworkSize: Int32 = 0
        dsyevd_(&jobz, &uplo, &n32, &a, &lda, &w, &workSize, &lwork, &iworkSize, &liwork, &info, 1, 1)
        guard info == 0 else { throw ClipError(.internal, "PCA: dsyevd workspace query failed (info \(info))") }
        lwork = Int32(workSize.rounded(.up))
        liwork = max(iworkSize, 1)
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        dsyevd_(&jobz, &uplo, &n32, &a, &lda, &w, &work, &lwork, &iwork, &liwork, &info, 1, 1)
        guard info == 0 else {
            throw ClipError(.internal, "PCA: dsyevd failed on a \(n) × \(n) covariance matrix (info \(info))")
        }
        return w
    }

    /// Thin SVD of the column-major m × n matrix `a` (overwritten): singular values descending, the
    /// left singular vectors as the columns of the returned m × min(m, n) column-major matrix.
    /// - Throws: `ClipError(.internal)` when LAPACK reports a failure to converge or a bad argument.
    static func leftSingularVectors(_ a: inout [Double], m: Int, n: Int) throws -> (s: [Double], u: [Double]) {
        let k = min(m, n)
        guard k > 0 else { return ([], []) }
        var s = [Double](repeating: 0, count: k)
        var u = [Double](repeating: 0, count: m * k)
        var vt = [Double](repeating: 0, count: k * n)
        var jobz = Int8(UInt8(ascii: "S"))
        var m32 = Int32(m), n32 = Int32(n), lda = Int32(m), ldu = Int32(m), ldvt = Int32(k), info: Int32 = 0
        var lwork: Int32 = -1
        var workSize = 0.0
        var iwork = [Int32](repeating: 0, count: 8 * k)
        dgesdd_(&jobz, &m32, &n32, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &workSize, &lwork, &iwork, &info, 1)
        guard info == 0 else { throw ClipError(.internal, "PCA: dgesdd workspace query failed (info \(info))") }
        lwork = Int32(workSize.rounded(.up))
        var work = [Double](repeating: 0, count: Int(lwork))
        dgesdd_(&jobz, &m32, &n32, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &work, &lwork, &iwork, &info, 1)
        guard info == 0 else {
            throw ClipError(.internal, "PCA: dgesdd failed on a \(m) × \(n) matrix (info \(info))")
        }
        return (s, u)
    }
}
