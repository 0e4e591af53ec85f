// Bfloat16 GEMM for y = x·Wᵀ + b with float32 accumulation (vdpbf16ps), a
// reduced-precision path of linear layers.
//
// W (n × k) is rounded to bfloat16 once; x is rounded per call. Both round to
// nearest even with denormal inputs read as zero, as vcvtne2ps2bf16 does. Each
// output accumulates, pair by pair of inputs (2p, 2p+1), acc += x₂ₚ₊₁·w₂ₚ₊₁
// then acc += x₂ₚ·w₂ₚ in float32 (each product of two bfloat16 values is exact
// in float32; each sum is rounded to nearest even and denormal results flush to
// zero), the order and rounding of vdpbf16ps; then y = acc + bias. The
// portable kernel does the same operations, so both give the same bits.
//
// Layouts. Packed W: panels of 16 rows (their count even); in a panel, for each
// pair p, 16 pairs [w(r, 2p), w(r, 2p+1)] (64 bytes). Packed x: micro-panels of
// 4 rows (their count even); for each pair, 4 pairs. Padding is zero.

#include "clipcore_kernels.h"
#include "tiles.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define MR 4
#define NR 16
#define SLAB 48

static int64_t pairs_of(int64_t k) { return (k + 1) / 2; }
static int64_t panels_of(int64_t n) { return ((n + NR - 1) / NR + 1) / 2 * 2; }

int ck_bf16_available(void) { return ck_isa_level() >= CK_LEVEL_AVX512_BF16; }

uint16_t ck_bf16_from_float(float f) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    if ((bits & 0x7f800000u) == 0) return (uint16_t)((bits >> 16) & 0x8000u);   // zero or denormal: signed zero
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x0040u);   // NaN, made quiet
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}

static inline float bf16_to_float(uint16_t h) {
    const uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    if ((bits & 0x7f800000u) == 0) f = 0.0f * f;   // a denormal input reads as (signed) zero
    return f;
}

/// A float32 result with denormals flushed to (signed) zero.
static inline float flush(float f) { return fabsf(f) < 1.17549435e-38f ? 0.0f * f : f; }

int64_t ck_bf16_packed_count(int64_t n, int64_t k) { return panels_of(n) * NR * pairs_of(k) * 2; }
int64_t ck_bf16_padded_rows(int64_t n) { return panels_of(n) * NR; }

int ck_bf16_pack(const float *w, int64_t n, int64_t k, int64_t row_stride, int64_t col_stride, uint16_t *packed) {
    const int64_t pairs = pairs_of(k), rows = panels_of(n) * NR;
    int finite = 1;
    for (int64_t r = 0; r < rows; r++) {
        uint16_t *dst = packed + (r / NR) * pairs * 2 * NR + (r % NR) * 2;
        for (int64_t j = 0; j < pairs * 2; j++) {
            const float v = r < n && j < k ? w[r * row_stride + j * col_stride] : 0.0f;
            if (!(fabsf(v) <= 3.40282347e38f)) finite = 0;
            dst[(j / 2) * 2 * NR + (j & 1)] = ck_bf16_from_float(v);
        }
    }
    return finite ? 0 : -1;
}

// MARK: - Micro-kernels

static void tile_portable(int64_t pairs, const uint16_t *a, const uint16_t *b, float *c, int64_t ldc,
                          const float *bias) {
    float acc[MR][NR] = {{0}};
    for (int64_t p = 0; p < pairs; p++) {
        const uint16_t *ap = a + p * 2 * MR, *bp = b + p * 2 * NR;
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++) {
                const float hi = flush(bf16_to_float(ap[2 * i + 1]) * bf16_to_float(bp[2 * j + 1]));
                const float lo = flush(bf16_to_float(ap[2 * i]) * bf16_to_float(bp[2 * j]));
                acc[i][j] = flush(flush(acc[i][j] + hi) + lo);
            }
    }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) c[i * ldc + j] = acc[i][j] + bias[j];
}

#if defined(__x86_64__)
/// 8 × 32 (two micro-panels of x, two panels of W): 16 accumulators.
__attribute__((target("avx512f,avx512bw,avx512bf16")))
static void tile_avx512(int64_t pairs, const uint16_t *a0, const uint16_t *a1, const uint16_t *b0, const uint16_t *b1,
                        float *c, int64_t ldc, const float *bias) {
    __m512 r0 = _mm512_setzero_ps(), s0 = r0, r1 = r0, s1 = r0, r2 = r0, s2 = r0, r3 = r0, s3 = r0;
    __m512 r4 = r0, s4 = r0, r5 = r0, s5 = r0, r6 = r0, s6 = r0, r7 = r0, s7 = r0;
    const int32_t *p0 = (const int32_t *)a0, *p1 = (const int32_t *)a1;
    for (int64_t p = 0; p < pairs; p++, p0 += MR, p1 += MR, b0 += 2 * NR, b1 += 2 * NR) {
        const __m512bh v0 = (__m512bh)_mm512_load_si512((const void *)b0);
        const __m512bh v1 = (__m512bh)_mm512_load_si512((const void *)b1);
        __m512bh x;
#define ROW(src, i, lo, hi)                                 \
        x = (__m512bh)_mm512_set1_epi32(src[i]);            \
        lo = _mm512_dpbf16_ps(lo, x, v0);                   \
        hi = _mm512_dpbf16_ps(hi, x, v1);
        ROW(p0, 0, r0, s0) ROW(p0, 1, r1, s1) ROW(p0, 2, r2, s2) ROW(p0, 3, r3, s3)
        ROW(p1, 0, r4, s4) ROW(p1, 1, r5, s5) ROW(p1, 2, r6, s6) ROW(p1, 3, r7, s7)
#undef ROW
    }
    const __m512 bias0 = _mm512_loadu_ps(bias), bias1 = _mm512_loadu_ps(bias + 16);
#define STORE(i, acc, off, bv) _mm512_storeu_ps(c + (i) * ldc + (off), _mm512_add_ps(acc, bv));
    STORE(0, r0, 0, bias0) STORE(0, s0, 16, bias1) STORE(1, r1, 0, bias0) STORE(1, s1, 16, bias1)
    STORE(2, r2, 0, bias0) STORE(2, s2, 16, bias1) STORE(3, r3, 0, bias0) STORE(3, s3, 16, bias1)
    STORE(4, r4, 0, bias0) STORE(4, s4, 16, bias1) STORE(5, r5, 0, bias0) STORE(5, s5, 16, bias1)
    STORE(6, r6, 0, bias0) STORE(6, s6, 16, bias1) STORE(7, r7, 0, bias0) STORE(7, s7, 16, bias1)
#undef STORE
}

/// One dense row rounded to bfloat16 into pairs `step` int32 apart, 32 values at a time.
__attribute__((target("avx512f,avx512bw,avx512bf16")))
static void convert_row_avx512(const float *x, int64_t len, int64_t pairs, uint16_t *out, int64_t step) {
    int32_t *dst = (int32_t *)out;
    int64_t j = 0;
    for (; j + 32 <= len; j += 32) {
        const __m512i v = (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + j + 16), _mm512_loadu_ps(x + j));
        int32_t lanes[16];
        _mm512_storeu_si512((void *)lanes, v);
        for (int t = 0; t < 16; t++) dst[(j / 2 + t) * step] = lanes[t];
    }
    for (; j < pairs * 2; j++) out[(j / 2) * step * 2 + (j & 1)] = j < len ? ck_bf16_from_float(x[j]) : 0;
}
#endif

// MARK: - Driver

typedef struct {
    ck_tiling tiling;   // first: the job is the tiling's context
    const float *x;
    int64_t m, k, ldx;
    const uint16_t *w;
    const float *bias;
    uint16_t *xq;
    int64_t pairs;
    int fast;
} bf16_job;

static void convert_task(void *ctx, int64_t mp) {
    bf16_job *job = ctx;
    for (int i = 0; i < MR; i++) {
        const int64_t r = mp * MR + i;
        uint16_t *dst = job->xq + mp * job->pairs * 2 * MR + 2 * i;
        if (r >= job->m) {
            for (int64_t p = 0; p < job->pairs; p++) dst[p * 2 * MR] = dst[p * 2 * MR + 1] = 0;
            continue;
        }
        const float *x = job->x + r * job->ldx;
#if defined(__x86_64__)
        if (job->fast) {
            convert_row_avx512(x, job->k, job->pairs, dst, MR);
            continue;
        }
#endif
        for (int64_t j = 0; j < job->pairs * 2; j++)
            dst[(j / 2) * 2 * MR + (j & 1)] = j < job->k ? ck_bf16_from_float(x[j]) : 0;
    }
}

/// One 8 × 32 block (rows mp2·8…, columns pp·32…) into t.
static void block(const void *ctx, int64_t mp2, int64_t pp, float *t, int64_t ldt) {
    const bf16_job *job = ctx;
    const int64_t ps = job->pairs;
    const uint16_t *a0 = job->xq + (2 * mp2) * ps * 2 * MR, *a1 = a0 + ps * 2 * MR;
    const uint16_t *b0 = job->w + (2 * pp) * ps * 2 * NR, *b1 = b0 + ps * 2 * NR;
    const float *bias = job->bias + pp * 2 * NR;
#if defined(__x86_64__)
    if (job->fast) {
        tile_avx512(ps, a0, a1, b0, b1, t, ldt, bias);
        return;
    }
#endif
    tile_portable(ps, a0, b0, t, ldt, bias);
    tile_portable(ps, a0, b1, t + NR, ldt, bias + NR);
    tile_portable(ps, a1, b0, t + MR * ldt, ldt, bias);
    tile_portable(ps, a1, b1, t + MR * ldt + NR, ldt, bias + NR);
}

static int64_t xq_bytes_of(int64_t m, int64_t k) {
    int64_t pairs = (m + 2 * MR - 1) / (2 * MR);
    if (pairs > SLAB) pairs = SLAB;
    return (pairs * 2 * MR * pairs_of(k) * 2 * (int64_t)sizeof(uint16_t) + 63) / 64 * 64;
}

int64_t ck_bf16_scratch_bytes(int64_t m, int64_t k, int64_t n) {
    return xq_bytes_of(m, k) + panels_of(n) * NR * (int64_t)sizeof(float);
}

int ck_bf16_gemm(const float *x, int64_t m, int64_t k, int64_t ldx, const uint16_t *w, int64_t n, const float *bias,
                 float *y, int64_t ldy, void *scratch, int threads, int portable) {
    if (!portable && !ck_bf16_available()) return -1;
    if (m <= 0 || n <= 0) return 0;
    const int64_t panels = panels_of(n);
    float *padded_bias = (float *)((char *)scratch + xq_bytes_of(m, k));
    for (int64_t j = 0; j < panels * NR; j++) padded_bias[j] = bias && j < n ? bias[j] : 0.0f;
    for (int64_t row0 = 0; row0 < m; row0 += SLAB * 2 * MR) {
        const int64_t rows = m - row0 < SLAB * 2 * MR ? m - row0 : SLAB * 2 * MR;
        bf16_job job = {
            .tiling = ck_tiling_make(y + row0 * ldy, rows, n, ldy, panels * NR, block),
            .x = x + row0 * ldx, .m = rows, .k = k, .ldx = ldx, .w = w, .bias = padded_bias,
            .xq = scratch, .pairs = pairs_of(k), .fast = !portable,
        };
        ck_parallel_run(job.tiling.row_blocks * 2, threads, convert_task, &job);
        ck_parallel_run(ck_tiling_tasks(&job.tiling), threads, ck_tiling_task, &job);
    }
    return 0;
}
