// clipcore_faiss.h: a small extern "C" surface over Debian's static libfaiss.a.
//
// Every function returns 0 on success or a negative status; on failure the
// message is available from cfaiss_last_error() (thread-local, valid until the
// next call on the same thread). No C++ exception ever leaves this library.
#ifndef CLIPCORE_FAISS_H
#define CLIPCORE_FAISS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Status codes.
enum {
    CFAISS_OK = 0,
    CFAISS_ERR_INVALID_ARGUMENT = -1,
    CFAISS_ERR_FAISS = -2,          ///< faiss threw an exception; see cfaiss_last_error()
    CFAISS_ERR_OUT_OF_MEMORY = -3,
    CFAISS_ERR_INTERNAL = -4,
};

/// Opaque FAISS index.
typedef struct cfaiss_index cfaiss_index;

/// The message of this thread's last failure, "" if none.
const char *cfaiss_last_error(void);

/// Similarity used by an index.
enum {
    CFAISS_METRIC_INNER_PRODUCT = 0,
    CFAISS_METRIC_L2 = 1,
};

/// A flat (exact) inner-product index over `dim`-dimensional vectors.
int cfaiss_index_flat_ip_new(int64_t dim, cfaiss_index **out);

/// Any index that faiss::index_factory builds from `description`
/// ("Flat", "HNSW32", "IVF1024,Flat", "IVF1024,PQ64", …) with `metric`.
int cfaiss_index_factory(int64_t dim, const char *description, int metric, cfaiss_index **out);

/// Reads an index written by cfaiss_index_write (or faiss::write_index).
int cfaiss_index_read(const char *path, cfaiss_index **out);

/// Writes the index to `path`.
int cfaiss_index_write(const cfaiss_index *index, const char *path);

/// Serialises the index into a malloc'd buffer (`*data`, `*size` bytes; free it with cfaiss_bytes_free).
int cfaiss_index_serialize(const cfaiss_index *index, uint8_t **data, size_t *size);

/// Frees a buffer from cfaiss_index_serialize.
void cfaiss_bytes_free(uint8_t *data);

/// Reads an index from the `size` bytes at `data` (as cfaiss_index_serialize wrote them). faiss's
/// reader trusts its input: callers check the bytes are ones they wrote (Search's IndexFile trailer).
int cfaiss_index_deserialize(const uint8_t *data, size_t size, cfaiss_index **out);

/// 1 when the index is trained (or needs no training), 0 when not, or a negative status.
int cfaiss_index_is_trained(const cfaiss_index *index);

/// The index's metric (CFAISS_METRIC_*), or a negative status.
int cfaiss_index_metric(const cfaiss_index *index);

/// Trains on `n` vectors (IVF coarse quantizer, PQ codebooks); a no-op for flat and HNSW.
int cfaiss_index_train(cfaiss_index *index, int64_t n, const float *vectors);

/// Stores vector `key` (`dim` floats) in `out`; PQ indexes give the decoded approximation.
int cfaiss_index_reconstruct(const cfaiss_index *index, int64_t key, float *out);

/// Sets a search or build parameter: "nprobe" (IVF), "efSearch" / "efConstruction" (HNSW).
/// CFAISS_ERR_INVALID_ARGUMENT when the index has no such parameter.
int cfaiss_index_set_parameter(cfaiss_index *index, const char *name, double value);

/// Releases an index; NULL is fine.
void cfaiss_index_free(cfaiss_index *index);

/// Dimension of the vectors, or a negative status.
int64_t cfaiss_index_dim(const cfaiss_index *index);

/// Number of vectors stored, or a negative status.
int64_t cfaiss_index_count(const cfaiss_index *index);

/// Adds `n` vectors (`n * dim` floats, row-major).
int cfaiss_index_add(cfaiss_index *index, int64_t n, const float *vectors);

/// For each of `n` queries (`n * dim` floats), the `k` best matches, best first:
/// `n * k` scores and `n * k` ids (-1 where fewer than k vectors exist).
int cfaiss_index_search(const cfaiss_index *index, int64_t n, const float *queries, int64_t k,
                        float *scores, int64_t *ids);

/// k-means through faiss::Clustering on `n` vectors (`n * dim` floats, row-major), as faiss.Kmeans runs it:
/// random initial centroids drawn with `seed`, `niter` iterations, `nredo` restarts keeping the lowest
/// objective (the highest for `spherical`, which assigns by inner product and renormalises the centroids),
/// at most `max_points_per_centroid * k` points sampled for training (`min_points_per_centroid` only
/// governs faiss's stderr warning about small training sets; 0 silences it), no logging.
/// Writes `k * dim` centroids, the nearest centroid of every input vector (an L2 search over the
/// centroids; `n` ids) and the objective of each iteration of the kept run (`*objective_count` values,
/// at most `niter`, into `objective` of room `niter`). `threads` > 0 sets OpenMP's thread count for
/// the call (restored after); 0 keeps the current one. The L2 assignments (training and final) go
/// through the shim's own flat index: one GEMM per block, vectorised norms kept across iterations,
/// and no search when the centroids are bit-identical to the previous iteration's (converged).
int cfaiss_kmeans(int64_t dim, int64_t n, int64_t k, const float *vectors, int niter, int nredo, int seed,
                  int spherical, int max_points_per_centroid, int min_points_per_centroid, int threads,
                  float *centroids, int64_t *assignments, double *objective, int64_t *objective_count);

#ifdef __cplusplus
}
#endif

#endif
