import Testing
import CFaiss
import CPNG
import Tensor

@Suite struct FaissShimTests {
    @Test func flatInnerProductEqualsBruteForce() throws {
        var rng = RandomGenerator(seed: 50)
        let (n, q, d, k) = (300, 20, 16, 5)
        let base = Tensor.randn([n, d], generator: &rng), queries = Tensor.randn([q, d], generator: &rng)
        var index: OpaquePointer?
        #expect(cfaiss_index_flat_ip_new(Int64(d), &index) == 0)
        defer { cfaiss_index_free(index) }
        #expect(cfaiss_index_add(index, Int64(n), base.data) == 0)
        #expect(cfaiss_index_count(index) == Int64(n))
        var scores = [Float](repeating: 0, count: q * k)
        var ids = [Int64](repeating: 0, count: q * k)
        #expect(cfaiss_index_search(index, Int64(q), queries.data, Int64(k), &scores, &ids) == 0)
        let sims = queries.matmul(base.transposed())
        let (topScores, topIds) = sims.topk(k, axis: 1)
        #expect(ids.map(Int.init) == topIds.values)
        for (a, b) in zip(scores, topScores.toArray()) { #expect(abs(a - b) < 1e-4) }
    }

    @Test func badArgumentsAreErrorsWithMessages() {
        var index: OpaquePointer?
        #expect(cfaiss_index_flat_ip_new(0, &index) == Int32(CFAISS_ERR_INVALID_ARGUMENT))
        #expect(String(cString: cfaiss_last_error()).contains("dim must be > 0"))
        #expect(cfaiss_index_flat_ip_new(4, nil) == Int32(CFAISS_ERR_INVALID_ARGUMENT))
        #expect(cfaiss_index_add(nil, 1, nil) == Int32(CFAISS_ERR_INVALID_ARGUMENT))
        #expect(cfaiss_index_flat_ip_new(4, &index) == 0)
        defer { cfaiss_index_free(index) }
        var s: Float = 0
        var i: Int64 = 0
        let query: [Float] = [1, 0, 0, 0]
        #expect(cfaiss_index_search(index, 1, query, 0, &s, &i) == Int32(CFAISS_ERR_INVALID_ARGUMENT))
        #expect(String(cString: cfaiss_last_error()).contains("k must be > 0"))
        // Searching an empty index is not an error: ids are -1.
        #expect(cfaiss_index_search(index, 1, query, 1, &s, &i) == 0)
        #expect(i == -1)
        cfaiss_index_free(nil)
    }
}

@Suite struct LibraryLinkTests {
    @Test func libpngIsVersion16() {
        let v = png_access_version_number()
        #expect(v >= 10600 && v < 10700)
    }

    @Test func openBLASReportsItsKernel() {
        #expect(!Threads.blasCoreName.isEmpty && Threads.blasCoreName != "unknown")
        #expect(Threads.blasThreads >= 1)
    }
}
