// NumPy's summation order for float64 arrays, so that scores averaged here equal scikit-learn's to the
// last bit (balanced accuracy, mutual information, entropies).

/// NumPy's pairwise summation of float64 values (`np.sum` of a contiguous array): blocks of up to 128
/// summed with eight accumulators, larger arrays split in two at a multiple of 8.
func pairwiseSum(_ x: [Double]) -> Double {
    x.withUnsafeBufferPointer { $0.baseAddress.map { pairwiseSum($0, x.count) } ?? 0 }
}

private func pairwiseSum(_ a: UnsafePointer<Double>, _ n: Int) -> Double {
    if n < 8 {
        var res = 0.0
        for i in 0..<n { res += a[i] }
        return res
    } else if n <= 128 {
        var r = (0..<8).map { a[$0] }
        var i = 8
        while i < n - n % 8 {
            for j in 0..<8 { r[j] += a[i + j] }
            i += 8
        }
        var res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n { res += a[i]; i += 1 }
        return res
    } else {
        var half = n / 2
        half -= half % 8
        return pairwiseSum(a, half) + pairwiseSum(a + half, n - half)
    }
}
