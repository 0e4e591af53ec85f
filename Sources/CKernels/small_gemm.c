// A float32 product for few rows, y = x·Wᵀ + bias, with W (n × k) read in place.
//
// OpenBLAS packs W on every call; with a few dozen rows of x (a batch of one
// image or caption), that packing costs about as much as the product. Here
// each output is a dot product of a row of x with a row of W, both contiguous
// in k: tiles of 4 rows × 4 columns (AVX-512, 16 accumulators) or 4 × 2
// (AVX2) keep 16- or 8-lane partial sums, reduced once at the end. Columns are
// split over the pool in groups of 16; each output is computed by the same code
// whatever the thread count.

#include "clipcore_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define GROUP 16   // columns per task

int ck_small_gemm_available(void) { return ck_isa_level() >= CK_LEVEL_AVX2; }

#if defined(__x86_64__)
/// rows × cols (≤ 4 × 4) outputs with 16-lane sums; rows and columns past the edge repeat the last one
/// and are not stored.
__attribute__((target("avx512f,fma")))
static void tile_avx512(const float *x, int64_t ldx, int rows, const float *w, int64_t ldw, int cols, int64_t k,
                        float *y, int64_t ldy, const float *bias) {
    const float *xr[4], *wr[4];
    for (int i = 0; i < 4; i++) xr[i] = x + (i < rows ? i : rows - 1) * ldx;
    for (int j = 0; j < 4; j++) wr[j] = w + (j < cols ? j : cols - 1) * ldw;
    __m512 acc[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = _mm512_setzero_ps();
    int64_t t = 0;
    for (; t + 16 <= k; t += 16) {
        const __m512 w0 = _mm512_loadu_ps(wr[0] + t), w1 = _mm512_loadu_ps(wr[1] + t);
        const __m512 w2 = _mm512_loadu_ps(wr[2] + t), w3 = _mm512_loadu_ps(wr[3] + t);
        for (int i = 0; i < 4; i++) {
            const __m512 a = _mm512_loadu_ps(xr[i] + t);
            acc[i][0] = _mm512_fmadd_ps(a, w0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(a, w1, acc[i][1]);
            acc[i][2] = _mm512_fmadd_ps(a, w2, acc[i][2]);
            acc[i][3] = _mm512_fmadd_ps(a, w3, acc[i][3]);
        }
    }
    if (t < k) {
        const __mmask16 mask = (__mmask16)((1u << (k - t)) - 1);
        const __m512 w0 = _mm512_maskz_loadu_ps(mask, wr[0] + t), w1 = _mm512_maskz_loadu_ps(mask, wr[1] + t);
        const __m512 w2 = _mm512_maskz_loadu_ps(mask, wr[2] + t), w3 = _mm512_maskz_loadu_ps(mask, wr[3] + t);
        for (int i = 0; i < 4; i++) {
            const __m512 a = _mm512_maskz_loadu_ps(mask, xr[i] + t);
            acc[i][0] = _mm512_fmadd_ps(a, w0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(a, w1, acc[i][1]);
            acc[i][2] = _mm512_fmadd_ps(a, w2, acc[i][2]);
            acc[i][3] = _mm512_fmadd_ps(a, w3, acc[i][3]);
        }
    }
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) y[i * ldy + j] = _mm512_reduce_add_ps(acc[i][j]) + (bias ? bias[j] : 0.0f);
}

__attribute__((target("avx2,fma")))
static float sum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// rows × cols (≤ 4 × 2) outputs with 8-lane sums, as tile_avx512.
__attribute__((target("avx2,fma")))
static void tile_avx2(const float *x, int64_t ldx, int rows, const float *w, int64_t ldw, int cols, int64_t k,
                      float *y, int64_t ldy, const float *bias) {
    const float *xr[4], *wr[2];
    for (int i = 0; i < 4; i++) xr[i] = x + (i < rows ? i : rows - 1) * ldx;
    for (int j = 0; j < 2; j++) wr[j] = w + (j < cols ? j : cols - 1) * ldw;
    __m256 acc[4][2];
    for (int i = 0; i < 4; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    int64_t t = 0;
    for (; t + 8 <= k; t += 8) {
        const __m256 w0 = _mm256_loadu_ps(wr[0] + t), w1 = _mm256_loadu_ps(wr[1] + t);
        for (int i = 0; i < 4; i++) {
            const __m256 a = _mm256_loadu_ps(xr[i] + t);
            acc[i][0] = _mm256_fmadd_ps(a, w0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(a, w1, acc[i][1]);
        }
    }
    if (t < k) {
        int32_t lanes[8];
        for (int l = 0; l < 8; l++) lanes[l] = t + l < k ? -1 : 0;
        const __m256i mask = _mm256_loadu_si256((const __m256i *)lanes);
        const __m256 w0 = _mm256_maskload_ps(wr[0] + t, mask), w1 = _mm256_maskload_ps(wr[1] + t, mask);
        for (int i = 0; i < 4; i++) {
            const __m256 a = _mm256_maskload_ps(xr[i] + t, mask);
            acc[i][0] = _mm256_fmadd_ps(a, w0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(a, w1, acc[i][1]);
        }
    }
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) y[i * ldy + j] = sum8(acc[i][j]) + (bias ? bias[j] : 0.0f);
}
#endif

typedef struct {
    const float *x, *w, *bias;
    float *y;
    int64_t m, k, ldx, n, ldw, ldy;
    int wide;
} small_job;

static void small_task(void *ctx, int64_t index) {
#if defined(__x86_64__)
    const small_job *job = ctx;
    const int64_t c0 = index * GROUP, c1 = c0 + GROUP < job->n ? c0 + GROUP : job->n;
    const int64_t step = job->wide ? 4 : 2;
    for (int64_t j = c0; j < c1; j += step) {
        const int cols = (int)(c1 - j < step ? c1 - j : step);
        for (int64_t i = 0; i < job->m; i += 4) {
            const int rows = (int)(job->m - i < 4 ? job->m - i : 4);
            const float *bias = job->bias ? job->bias + j : NULL;
            if (job->wide)
                tile_avx512(job->x + i * job->ldx, job->ldx, rows, job->w + j * job->ldw, job->ldw, cols, job->k,
                            job->y + i * job->ldy + j, job->ldy, bias);
            else
                tile_avx2(job->x + i * job->ldx, job->ldx, rows, job->w + j * job->ldw, job->ldw, cols, job->k,
                          job->y + i * job->ldy + j, job->ldy, bias);
        }
    }
#else
    (void)ctx;
    (void)index;
#endif
}

int ck_small_gemm(const float *x, int64_t m, int64_t k, int64_t ldx, const float *w, int64_t n, int64_t ldw,
                  const float *bias, float *y, int64_t ldy, int threads) {
    if (!ck_small_gemm_available()) return -1;
    if (m <= 0 || n <= 0) return 0;
    small_job job = {.x = x, .w = w, .bias = bias, .y = y, .m = m, .k = k, .ldx = ldx, .n = n, .ldw = ldw, .ldy = ldy,
                     .wide = ck_isa_level() >= CK_LEVEL_AVX512};
    ck_parallel_run((n + GROUP - 1) / GROUP, threads, small_task, &job);
    return 0;
}
