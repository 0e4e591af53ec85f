/* clipcore.h: the C interface of libclipcore.so.
 *
 * Conventions: every name starts with clip_; strings returned by the library
 * are owned by it and stay valid for the life of the process unless stated.
 */
#ifndef CLIPCORE_H
#define CLIPCORE_H

#include <stdint.h>

#if defined(_WIN32)
#define CLIP_API __declspec(dllimport)
#else
#define CLIP_API __attribute__((visibility("default")))
#endif

#define CLIP_ABI_VERSION 1

#ifdef __cplusplus
extern "C" {
#endif

/* The library version, "MAJOR.MINOR.PATCH". */
CLIP_API const char *clip_version(void);

/* The ABI version of the loaded library; compare with CLIP_ABI_VERSION. */
CLIP_API int32_t clip_abi_version(void);

/* Threads used by clipcore's kernels and OpenBLAS (default: online CPUs,
 * or CLIPCORE_NUM_THREADS). */
CLIP_API int32_t clip_num_threads(void);

/* Sets the thread count (values below 1 mean 1); returns the count in force. */
CLIP_API int32_t clip_set_num_threads(int32_t n);

#ifdef __cplusplus
}
#endif

#endif /* CLIPCORE_H */
