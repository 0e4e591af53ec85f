// The C surface of clipcore_faiss.h over faiss's C++ API. Each entry point
// validates its arguments and converts every C++ exception into a status and
// a thread-local message.
#include "clipcore_faiss.h"

#include <faiss/Clustering.h>
#include <faiss/Index.h>
#include <faiss/IndexFlat.h>
#include <faiss/AutoTune.h>
#include <faiss/IVFlib.h>
#include <faiss/IndexIVF.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/io.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

struct cfaiss_index {
    faiss::Index *index;
};

// OpenMP's thread count, from the libgomp that libfaiss links (declared here: the toolchain's clang
// has no omp.h of its own).
extern "C" int omp_get_max_threads(void);
extern "C" void omp_set_num_threads(int);

// OpenBLAS's GEMM (libfaiss links it); the CBLAS enums as their int values.
extern "C" void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                            const float *b, int ldb, float beta, float *c, int ldc);

namespace {

thread_local std::string last_error;

int fail(int status, const std::string &message) {
    last_error = message;
    return status;
}

template <typename F>
int guarded(const char *what, F &&body) {
    try {
        last_error.clear();
        return body();
    } catch (const faiss::FaissException &e) {
        return fail(CFAISS_ERR_FAISS, std::string(what) + ": " + e.what());
    } catch (const std::bad_alloc &) {
        return fail(CFAISS_ERR_OUT_OF_MEMORY, std::string(what) + ": out of memory");
    } catch (const std::exception &e) {
        return fail(CFAISS_ERR_INTERNAL, std::string(what) + ": " + e.what());
    } catch (...) {
        return fail(CFAISS_ERR_INTERNAL, std::string(what) + ": unknown C++ exception");
    }
}

/// ‖x‖² with 16 independent float accumulators (the compiler vectorises them; Debian's libfaiss
/// computes norms with one double accumulator, a serial chain that cost a sixth of a k-means run).
float squared_norm(const float *x, size_t d) {
    float acc[16] = {0};
    size_t i = 0;
    for (; i + 16 <= d; i += 16)
        for (int j = 0; j < 16; j++) acc[j] += x[i + j] * x[i + j];
    float s = 0;
    for (int j = 0; j < 16; j++) s += acc[j];
    for (; i < d; i++) s += x[i] * x[i];
    return s;
}

/// A flat L2 index whose 1-nearest search is one row-major GEMM per block of queries followed by
/// ‖x‖² + ‖y‖² − 2 x·y and an argmin, as faiss's exhaustive_L2sqr_blas computes it (negative
/// distances clamped to 0, the first of equal distances kept). The queries' norms are kept between
/// calls with the same rows (k-means searches the same training set every iteration). With
/// `memoise`, a search of the same rows against bit-identical centroids returns the previous answer:
/// once k-means has converged (same assignments, so the same centroids) its remaining iterations
/// cost no search, and give what searching would. Other k go to IndexFlatL2. The rows must not
/// change between calls (faiss::Clustering's training set does not).
struct NearestL2 : faiss::IndexFlatL2 {
    NearestL2(idx_t dim, bool memoise) : faiss::IndexFlatL2(dim), memoise(memoise) {}

    const bool memoise;
    mutable const float *normed_rows = nullptr;
    mutable idx_t normed_count = 0;
    mutable std::vector<float> row_norms;
    mutable std::vector<float> memo_centroids, memo_distances;
    mutable std::vector<idx_t> memo_labels;

    void search(idx_t n, const float *x, idx_t k, float *distances, idx_t *labels,
                const faiss::SearchParameters *params = nullptr) const override {
        if (k != 1 || params != nullptr || ntotal == 0 || n == 0) {
            faiss::IndexFlatL2::search(n, x, k, distances, labels, params);
            return;
        }
        const size_t dim = static_cast<size_t>(d), ny = static_cast<size_t>(ntotal);
        const float *y = get_xb();
        const bool same_rows = normed_rows == x && normed_count == n;
        if (memoise && same_rows && memo_centroids.size() == ny * dim &&
            std::equal(memo_centroids.begin(), memo_centroids.end(), y,
                       [](float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; })) {
            std::copy(memo_distances.begin(), memo_distances.end(), distances);
            std::copy(memo_labels.begin(), memo_labels.end(), labels);
            return;
        }
        std::vector<float> y_norms(ny);
        for (size_t j = 0; j < ny; j++) y_norms[j] = squared_norm(y + j * dim, dim);
        if (!same_rows) {
            row_norms.resize(static_cast<size_t>(n));
            for (idx_t i = 0; i < n; i++) row_norms[i] = squared_norm(x + i * dim, dim);
            normed_rows = x;
            normed_count = n;
        }
        // Blocks of queries whose similarity tile stays near 4 MB.
        const size_t block = std::max<size_t>(16, std::min<size_t>(1024, (size_t(1) << 20) / ny));
        std::vector<float> ip(block * ny);
        for (size_t i0 = 0; i0 < static_cast<size_t>(n); i0 += block) {
            const size_t rows = std::min(block, static_cast<size_t>(n) - i0);
            cblas_sgemm(101, 111, 112, static_cast<int>(rows), static_cast<int>(ny), static_cast<int>(dim), 1.0f,
                        x + i0 * dim, static_cast<int>(dim), y, static_cast<int>(dim), 0.0f, ip.data(), static_cast<int>(ny));
            for (size_t r = 0; r < rows; r++) {
                const float *line = ip.data() + r * ny;
                const float xn = row_norms[i0 + r];
                float best = HUGE_VALF;
                idx_t best_j = -1;
                for (size_t j = 0; j < ny; j++) {
                    float dis = xn + y_norms[j] - 2 * line[j];
                    if (dis < 0) dis = 0;
                    if (dis < best) {
                        best = dis;
                        best_j = static_cast<idx_t>(j);
                    }
                }
                distances[i0 + r] = best;
                labels[i0 + r] = best_j;
            }
        }
        if (memoise) {
            memo_centroids.assign(y, y + ny * dim);
            memo_distances.assign(distances, distances + n);
            memo_labels.assign(labels, labels + n);
        }
    }
};

}  // namespace

extern "C" {

const char *cfaiss_last_error(void) { return last_error.c_str(); }

int cfaiss_index_flat_ip_new(int64_t dim, cfaiss_index **out) {
    if (out == nullptr) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_flat_ip_new: out is NULL");
    *out = nullptr;
    if (dim <= 0) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_flat_ip_new: dim must be > 0, got " + std::to_string(dim));
    return guarded("index_flat_ip_new", [&] {
        auto *handle = new cfaiss_index{new faiss::IndexFlatIP(dim)};
        *out = handle;
        return CFAISS_OK;
    });
}

void cfaiss_index_free(cfaiss_index *index) {
    if (index == nullptr) return;
    delete index->index;
    delete index;
}

int64_t cfaiss_index_dim(const cfaiss_index *index) {
    if (index == nullptr) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_dim: index is NULL");
    return index->index->d;
}

int64_t cfaiss_index_count(const cfaiss_index *index) {
    if (index == nullptr) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_count: index is NULL");
    return index->index->ntotal;
}

int cfaiss_index_add(cfaiss_index *index, int64_t n, const float *vectors) {
    if (index == nullptr) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_add: index is NULL");
    if (n < 0) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_add: n must be >= 0, got " + std::to_string(n));
    if (n > 0 && vectors == nullptr) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_add: vectors is NULL");
    return guarded("index_add", [&] {
        if (n > 0) index->index->add(n, vectors);
        return CFAISS_OK;
    });
}

int cfaiss_index_search(const cfaiss_index *index, int64_t n, const float *queries, int64_t k,
                        float *scores, int64_t *ids) {
    if (index == nullptr) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_search: index is NULL");
    if (n < 0) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_search: n must be >= 0, got " + std::to_string(n));
    if (k <= 0) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_search: k must be > 0, got " + std::to_string(k));
    if (n > 0 && (queries == nullptr || scores == nullptr || ids == nullptr))
        return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_search: queries, scores and ids must not be NULL");
    return guarded("index_search", [&] {
        if (n > 0) index->index->search(n, queries, k, scores, reinterpret_cast<faiss::Index::idx_t *>(ids));
        return CFAISS_OK;
    });
}

int cfaiss_index_factory(int64_t dim, const char *description, int metric, cfaiss_index **out) {
    if (out == nullptr) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_factory: out is NULL");
    *out = nullptr;
    if (description == nullptr) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_factory: description is NULL");
    if (dim <= 0) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_factory: dim must be > 0, got " + std::to_string(dim));
    if (metric != CFAISS_METRIC_INNER_PRODUCT && metric != CFAISS_METRIC_L2)
        return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_factory: unknown metric " + std::to_string(metric));
    return guarded("index_factory", [&] {
        faiss::Index *index = faiss::index_factory(
            static_cast<int>(dim), description,
            metric == CFAISS_METRIC_L2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT);
        *out = new cfaiss_index{index};
        return CFAISS_OK;
    });
}

int cfaiss_index_read(const char *path, cfaiss_index **out) {
    if (out == nullptr) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_read: out is NULL");
    *out = nullptr;
    if (path == nullptr) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_read: path is NULL");
    return guarded("index_read", [&] {
        faiss::Index *index = faiss::read_index(path);
        *out = new cfaiss_index{index};
        return CFAISS_OK;
    });
}

int cfaiss_index_write(const cfaiss_index *index, const char *path) {
    if (index == nullptr) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_write: index is NULL");
    if (path == nullptr) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_write: path is NULL");
    return guarded("index_write", [&] {
        faiss::write_index(index->index, path);
        return CFAISS_OK;
    });
}

int cfaiss_index_serialize(const cfaiss_index *index, uint8_t **data, size_t *size) {
    if (data == nullptr || size == nullptr) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_serialize: data or size is NULL");
    *data = nullptr;
    *size = 0;
    if (index == nullptr) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_serialize: index is NULL");
    return guarded("index_serialize", [&] {
        faiss::VectorIOWriter writer;
        faiss::write_index(index->index, &writer);
        uint8_t *bytes = static_cast<uint8_t *>(std::malloc(writer.data.empty() ? 1 : writer.data.size()));
        if (bytes == nullptr) throw std::bad_alloc();
        std::memcpy(bytes, writer.data.data(), writer.data.size());
        *data = bytes;
        *size = writer.data.size();
        return CFAISS_OK;
    });
}

void cfaiss_bytes_free(uint8_t *data) { std::free(data); }

int cfaiss_index_deserialize(const uint8_t *data, size_t size, cfaiss_index **out) {
    if (out == nullptr) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_deserialize: out is NULL");
    *out = nullptr;
    if (data == nullptr && size > 0) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_deserialize: data is NULL");
    return guarded("index_deserialize", [&] {
        faiss::VectorIOReader reader;
        reader.data.assign(data, data + size);
        faiss::Index *index = faiss::read_index(&reader);
        *out = new cfaiss_index{index};
        return CFAISS_OK;
    });
}

int cfaiss_index_is_trained(const cfaiss_index *index) {
    if (index == nullptr) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_is_trained: index is NULL");
    return index->index->is_trained ? 1 : 0;
}

int cfaiss_index_metric(const cfaiss_index *index) {
    if (index == nullptr) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_metric: index is NULL");
    return index->index->metric_type == faiss::METRIC_L2 ? CFAISS_METRIC_L2 : CFAISS_METRIC_INNER_PRODUCT;
}

int cfaiss_index_train(cfaiss_index *index, int64_t n, const float *vectors) {
    if (index == nullptr) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_train: index is NULL");
    if (n <= 0 || vectors == nullptr) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_train: need n > 0 vectors");
    return guarded("index_train", [&] {
        index->index->train(n, vectors);
        return CFAISS_OK;
    });
}

int cfaiss_index_reconstruct(const cfaiss_index *index, int64_t key, float *out) {
    if (index == nullptr) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_reconstruct: index is NULL");
    if (out == nullptr) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_reconstruct: out is NULL");
    if (key < 0 || key >= index->index->ntotal)
        return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_reconstruct: key " + std::to_string(key) + " out of range (0..<" +
                                                     std::to_string(index->index->ntotal) + ")");
    return guarded("index_reconstruct", [&] {
        faiss::Index *target = index->index;
        // IVF indexes reconstruct through their direct map, built on demand.
        if (auto *ivf = faiss::ivflib::try_extract_index_ivf(target)) {
            if (ivf->direct_map.no()) ivf->make_direct_map(true);
        }
        target->reconstruct(key, out);
        return CFAISS_OK;
    });
}

int cfaiss_index_set_parameter(cfaiss_index *index, const char *name, double value) {
    if (index == nullptr) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_set_parameter: index is NULL");
    if (name == nullptr) return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_set_parameter: name is NULL");
    const std::string key(name);
    if (value < 1 || value > 1e9)
        return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_set_parameter: " + key + " must be in 1...1e9");
    return guarded("index_set_parameter", [&] {
        if (key != "nprobe" && key != "efSearch" && key != "efConstruction")
            return fail(int(CFAISS_ERR_INVALID_ARGUMENT), "index_set_parameter: unknown parameter '" + key + "'");
        if (key == "nprobe" && faiss::ivflib::try_extract_index_ivf(index->index) == nullptr)
            return fail(CFAISS_ERR_INVALID_ARGUMENT, "index_set_parameter: nprobe needs an IVF index");
        // ParameterSpace accepts efSearch/efConstruction only for HNSW; others throw, which becomes an error.
        faiss::ParameterSpace().set_index_parameter(index->index, key, value);
        return int(CFAISS_OK);
    });
}

int cfaiss_kmeans(int64_t dim, int64_t n, int64_t k, const float *vectors, int niter, int nredo, int seed,
                  int spherical, int max_points_per_centroid, int min_points_per_centroid, int threads,
                  float *centroids, int64_t *assignments, double *objective, int64_t *objective_count) {
    if (dim <= 0 || dim > INT32_MAX) return fail(CFAISS_ERR_INVALID_ARGUMENT, "kmeans: dim must be in 1...2^31-1, got " + std::to_string(dim));
    if (k <= 0 || k > INT32_MAX) return fail(CFAISS_ERR_INVALID_ARGUMENT, "kmeans: k must be in 1...2^31-1, got " + std::to_string(k));
    if (n < k) return fail(CFAISS_ERR_INVALID_ARGUMENT, "kmeans: " + std::to_string(n) + " vectors for " + std::to_string(k) + " clusters");
    if (niter <= 0 || nredo <= 0) return fail(CFAISS_ERR_INVALID_ARGUMENT, "kmeans: niter and nredo must be > 0");
    if (max_points_per_centroid <= 0 || min_points_per_centroid < 0 || threads < 0)
        return fail(CFAISS_ERR_INVALID_ARGUMENT, "kmeans: points per centroid and threads must not be negative");
    if (vectors == nullptr || centroids == nullptr || assignments == nullptr || objective == nullptr || objective_count == nullptr)
        return fail(CFAISS_ERR_INVALID_ARGUMENT, "kmeans: vectors and outputs must not be NULL");
    const int saved_threads = omp_get_max_threads();
    if (threads > 0) omp_set_num_threads(threads);
    const int status = guarded("kmeans", [&] {
        faiss::ClusteringParameters cp;
        cp.niter = niter;
        cp.nredo = nredo;
        cp.seed = seed;
        cp.verbose = false;
        cp.spherical = spherical != 0;
        cp.max_points_per_centroid = max_points_per_centroid;
        cp.min_points_per_centroid = min_points_per_centroid;
        faiss::Clustering clustering(static_cast<int>(dim), static_cast<int>(k), cp);
        // faiss.Kmeans's choice: spherical k-means assigns by inner product.
        NearestL2 l2(dim, true);
        faiss::IndexFlatIP ip(dim);
        faiss::Index &index = cp.spherical ? static_cast<faiss::Index &>(ip) : static_cast<faiss::Index &>(l2);
        clustering.train(n, vectors, index);
        std::copy(clustering.centroids.begin(), clustering.centroids.end(), centroids);

        // The stats of the kept run are the last ones (earlier restarts come before them).
        const size_t total = clustering.iteration_stats.size();
        const size_t kept = std::min(total, static_cast<size_t>(niter));
        for (size_t i = 0; i < kept; i++) objective[i] = clustering.iteration_stats[total - kept + i].obj;
        *objective_count = static_cast<int64_t>(kept);

        NearestL2 nearest(dim, false);
        nearest.add(k, clustering.centroids.data());
        std::vector<float> distances(static_cast<size_t>(n));
        nearest.search(n, vectors, 1, distances.data(), reinterpret_cast<faiss::Index::idx_t *>(assignments));
        return CFAISS_OK;
    });
    if (threads > 0) omp_set_num_threads(saved_threads);
    return status;
}

}  // extern "C"
