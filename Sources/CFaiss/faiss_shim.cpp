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

#include <algorithm>
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
        faiss::IndexFlatL2 l2(dim);
        faiss::IndexFlatIP ip(dim);
        faiss::Index &index = cp.spherical ? static_cast<faiss::Index &>(ip) : static_cast<faiss::Index &>(l2);
        clustering.train(n, vectors, index);
        std::copy(clustering.centroids.begin(), clustering.centroids.end(), centroids);

        // The stats of the kept run are the last ones (earlier restarts come before them).
        const size_t total = clustering.iteration_stats.size();
        const size_t kept = std::min(total, static_cast<size_t>(niter));
        for (size_t i = 0; i < kept; i++) objective[i] = clustering.iteration_stats[total - kept + i].obj;
        *objective_count = static_cast<int64_t>(kept);

        faiss::IndexFlatL2 nearest(dim);
        nearest.add(k, clustering.centroids.data());
        std::vector<float> distances(static_cast<size_t>(n));
        nearest.search(n, vectors, 1, distances.data(), reinterpret_cast<faiss::Index::idx_t *>(assignments));
        return CFAISS_OK;
    });
    if (threads > 0) omp_set_num_threads(saved_threads);
    return status;
}

}  // extern "C"
