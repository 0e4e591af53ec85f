// The C surface of clipcore_faiss.h over faiss's C++ API. Each entry point
// validates its arguments and converts every C++ exception into a status and
// a thread-local message.
#include "clipcore_faiss.h"

#include <faiss/Index.h>
#include <faiss/IndexFlat.h>
#include <faiss/impl/FaissException.h>

#include <exception>
#include <new>
#include <string>

struct cfaiss_index {
    faiss::Index *index;
};

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

}  // extern "C"
