// Int16 GEMM for y = x·Wᵀ + b, the opt-in fast path of linear layers.
//
// W (n × k) is quantised once, symmetrically per row (per output feature), to
// ±CK_Q16_WEIGHT_LEVELS; x is quantised per row at call time to
// ±CK_Q16_INPUT_LEVELS. Products of pairs are summed exactly in int32
// (vpmaddwd) over chunks of CK_Q16_CHUNK inputs, and the chunk sums are added
// in float: CK_Q16_CHUNK · levels_x · levels_w < 2³¹, so no chunk overflows.
//
// Layouts. Packed W: panels of 16 rows; in a panel, for each pair of inputs
// (2p, 2p+1), 16 int16 pairs [w(r, 2p), w(r, 2p+1)] for r = 0…15 (two 256-bit
// vectors). Packed x: micro-panels of 6 rows; for each pair p, 6 int16 pairs.
// Odd k and partial panels are padded with zeros, and padded rows' scales are 0.
//
// The AVX-512 VNNI (vpdpwssd), AVX2 and portable kernels do the same integer
// sums and the same float operations in the same order, so all give
// bit-identical results.

#include "clipcore_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define MR 6
#define CK_Q16_TINY 1e-30f   // below this a row's levels/max would overflow float; it quantises to 0
#define NR 16
#define CHUNK_PAIRS (CK_Q16_CHUNK / 2)
#define ROW_BLOCK 8     // micro-panels of x per task (48 rows)
#define COL_BLOCK 8     // panels of W per task (128 outputs)

_Static_assert((int64_t)CK_Q16_CHUNK * CK_Q16_INPUT_LEVELS * CK_Q16_WEIGHT_LEVELS < 2147483647LL,
               "a chunk's int32 sum could overflow");

int ck_q16_best_kernel(void) {
    const int level = ck_isa_level();
    return level >= CK_LEVEL_AVX512_VNNI ? CK_Q16_AVX512_VNNI : (level >= CK_LEVEL_AVX2 ? CK_Q16_AVX2 : CK_Q16_PORTABLE);
}

int64_t ck_q16_packed_count(int64_t n, int64_t k) {
    return (n + NR - 1) / NR * NR * ((k + 1) / 2 * 2);
}

/// Zeros `pairs` int16 pairs, `step` int16 apart (padding rows, and rows that quantise to nothing).
static void zero_pairs(int16_t *out, int64_t pairs, int64_t step) {
    for (int64_t p = 0; p < pairs; p++) { out[p * step] = 0; out[p * step + 1] = 0; }
}

/// Quantises x[j]·inv (0 past `len`, the padding of an odd row) into the pair layout.
static inline void store_quantized(const float *x, int64_t j, int64_t len, int64_t stride, float inv,
                                   int levels, int16_t *out, int64_t step) {
    const float v = j < len ? x[j * stride] * inv : 0.0f;
    long q = lrintf(v);
    q = q > levels ? levels : (q < -levels ? -levels : q);
    out[(j / 2) * step + (j & 1)] = (int16_t)q;
}

/// Quantises one row of `len` values (stride `stride`) into `out[2·p·step + h]`
/// (p = pair, h = half) and returns its scale; NaN when the row is not finite.
static float quantize_row(const float *x, int64_t len, int64_t stride, int levels,
                          int16_t *out, int64_t step) {
    float maxabs = 0;
    for (int64_t j = 0; j < len; j++) {
        const float a = fabsf(x[j * stride]);
        maxabs = a > maxabs ? a : maxabs;
        if (!(a <= 3.40282347e38f)) maxabs = INFINITY;   // NaN or infinite
    }
    const int64_t pairs = (len + 1) / 2;
    if (maxabs < CK_Q16_TINY || maxabs == INFINITY) {   // a row this small counts as zero
        zero_pairs(out, pairs, step);
        return maxabs == INFINITY ? NAN : 0.0f;
    }
    const float inv = (float)levels / maxabs;
    for (int64_t j = 0; j < pairs * 2; j++) store_quantized(x, j, len, stride, inv, levels, out, step);
    return maxabs / (float)levels;
}

#if defined(__x86_64__)
/// quantize_row for a dense row, 8 values at a time; the same arithmetic
/// (cvtps rounds half to even, as lrintf does), so the same numbers.
__attribute__((target("avx2,fma")))
static float quantize_dense_row_avx2(const float *x, int64_t len, int levels, int16_t *out, int64_t step) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 vmax = _mm256_setzero_ps(), vbad = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 8 <= len; j += 8) {
        const __m256 v = _mm256_loadu_ps(x + j);
        vmax = _mm256_max_ps(vmax, _mm256_andnot_ps(sign, v));
        vbad = _mm256_add_ps(vbad, _mm256_mul_ps(v, _mm256_setzero_ps()));   // NaN if v holds ±inf or NaN
    }
    float lanes[8], bad[8];
    _mm256_storeu_ps(lanes, vmax);
    _mm256_storeu_ps(bad, vbad);
    float maxabs = 0;
    int finite = 1;
    for (int i = 0; i < 8; i++) {
        maxabs = lanes[i] > maxabs ? lanes[i] : maxabs;
        finite &= bad[i] == 0;
    }
    for (; j < len; j++) {
        const float a = fabsf(x[j]);
        maxabs = a > maxabs ? a : maxabs;
        finite &= a <= 3.40282347e38f;
    }
    const int64_t pairs = (len + 1) / 2;
    if (maxabs < CK_Q16_TINY || !finite) {
        zero_pairs(out, pairs, step);
        return finite ? 0.0f : NAN;
    }
    const float inv = (float)levels / maxabs;
    const __m256 vinv = _mm256_set1_ps(inv);
    const __m256i hi = _mm256_set1_epi32(levels), lo = _mm256_set1_epi32(-levels);
    int32_t *dst = (int32_t *)out;   // one int32 per pair; pairs are `step` int16 apart
    const int64_t step32 = step / 2;
    j = 0;
    for (; j + 8 <= len; j += 8) {
        __m256i q = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j), vinv));
        q = _mm256_min_epi32(_mm256_max_epi32(q, lo), hi);
        const __m128i packed = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
        int32_t four[4];
        _mm_storeu_si128((__m128i *)four, packed);
        const int64_t p = j / 2;
        dst[p * step32] = four[0];
        dst[(p + 1) * step32] = four[1];
        dst[(p + 2) * step32] = four[2];
        dst[(p + 3) * step32] = four[3];
    }
    for (; j < pairs * 2; j++) store_quantized(x, j, len, 1, inv, levels, out, step);
    return maxabs / (float)levels;
}
#endif

int ck_q16_pack(const float *w, int64_t n, int64_t k, int64_t row_stride, int64_t col_stride,
                int16_t *packed, float *scales) {
    const int64_t pairs = (k + 1) / 2, panels = (n + NR - 1) / NR;
    int finite = 1;
    for (int64_t r = 0; r < panels * NR; r++) {
        int16_t *dst = packed + (r / NR) * pairs * 2 * NR + (r % NR) * 2;
        if (r >= n) {
            zero_pairs(dst, pairs, 2 * NR);
            scales[r] = 0;
            continue;
        }
        scales[r] = quantize_row(w + r * row_stride, k, col_stride, CK_Q16_WEIGHT_LEVELS, dst, 2 * NR);
        if (scales[r] != scales[r]) finite = 0;
    }
    return finite ? 0 : -1;
}

// MARK: - Micro-kernels: a 6 × 16 tile over `pairs` pairs of inputs

/// Finishes one tile row: t = acc (+ c when not first); when last, t·(sx·sw) + bias.
static inline float finish(int32_t acc, const float *c, int first, int last, float sx, float sw, float bias) {
    float t = (float)acc;
    if (!first) t += *c;
    if (last) t = fmaf(t, sx * sw, bias);
    return t;
}

static void tile_portable(int64_t pairs, const int16_t *a, const int16_t *b, float *c, int64_t ldc,
                          int first, int last, const float *sx, const float *sw, const float *bias) {
    int32_t acc[MR][NR] = {{0}};
    for (int64_t p = 0; p < pairs; p++) {
        const int16_t *ap = a + p * 2 * MR, *bp = b + p * 2 * NR;
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
                acc[i][j] += (int32_t)ap[2 * i] * bp[2 * j] + (int32_t)ap[2 * i + 1] * bp[2 * j + 1];
    }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++)
            c[i * ldc + j] = finish(acc[i][j], &c[i * ldc + j], first, last, sx[i], sw[j], bias[j]);
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma")))
static void tile_avx2(int64_t pairs, const int16_t *a, const int16_t *b, float *c, int64_t ldc,
                      int first, int last, const float *sx, const float *sw, const float *bias) {
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256i c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    const int32_t *ap = (const int32_t *)a;
    for (int64_t p = 0; p < pairs; p++, ap += MR, b += 2 * NR) {
        const __m256i b0 = _mm256_load_si256((const __m256i *)b);
        const __m256i b1 = _mm256_load_si256((const __m256i *)(b + NR));
        __m256i x;
#define ROW(i, lo, hi)                                            \
        x = _mm256_set1_epi32(ap[i]);                             \
        lo = _mm256_add_epi32(lo, _mm256_madd_epi16(x, b0));      \
        hi = _mm256_add_epi32(hi, _mm256_madd_epi16(x, b1));
        ROW(0, c00, c01) ROW(1, c10, c11) ROW(2, c20, c21)
        ROW(3, c30, c31) ROW(4, c40, c41) ROW(5, c50, c51)
#undef ROW
    }
    const __m256 w0 = _mm256_loadu_ps(sw), w1 = _mm256_loadu_ps(sw + 8);
    const __m256 bias0 = _mm256_loadu_ps(bias), bias1 = _mm256_loadu_ps(bias + 8);
#define STORE(i, acc, off, wv, bv) {                                                     \
        float *q = c + (i) * ldc + (off);                                               \
        __m256 t = _mm256_cvtepi32_ps(acc);                                             \
        if (!first) t = _mm256_add_ps(t, _mm256_loadu_ps(q));                           \
        if (last) t = _mm256_fmadd_ps(t, _mm256_mul_ps(_mm256_set1_ps(sx[i]), wv), bv); \
        _mm256_storeu_ps(q, t); }
    STORE(0, c00, 0, w0, bias0) STORE(0, c01, 8, w1, bias1)
    STORE(1, c10, 0, w0, bias0) STORE(1, c11, 8, w1, bias1)
    STORE(2, c20, 0, w0, bias0) STORE(2, c21, 8, w1, bias1)
    STORE(3, c30, 0, w0, bias0) STORE(3, c31, 8, w1, bias1)
    STORE(4, c40, 0, w0, bias0) STORE(4, c41, 8, w1, bias1)
    STORE(5, c50, 0, w0, bias0) STORE(5, c51, 8, w1, bias1)
#undef STORE
}

/// 6 × 16 (one panel) or 6 × 32 (two panels, `b1` non-NULL) with vpdpwssd, the epilogue of tile_avx2.
__attribute__((target("avx512f,avx512bw,avx512vnni,fma")))
static void tile_vnni(int64_t pairs, const int16_t *a, const int16_t *b0, const int16_t *b1, float *c, int64_t ldc,
                      int first, int last, const float *sx, const float *sw, const float *bias) {
    __m512i r0 = _mm512_setzero_si512(), r1 = r0, r2 = r0, r3 = r0, r4 = r0, r5 = r0;
    __m512i s0 = r0, s1 = r0, s2 = r0, s3 = r0, s4 = r0, s5 = r0;
    const int32_t *ap = (const int32_t *)a;
    if (b1) {
        for (int64_t p = 0; p < pairs; p++, ap += MR, b0 += 2 * NR, b1 += 2 * NR) {
            const __m512i v0 = _mm512_load_si512((const void *)b0), v1 = _mm512_load_si512((const void *)b1);
            __m512i x;
#define ROW(i, lo, hi)                               \
            x = _mm512_set1_epi32(ap[i]);            \
            lo = _mm512_dpwssd_epi32(lo, x, v0);     \
            hi = _mm512_dpwssd_epi32(hi, x, v1);
            ROW(0, r0, s0) ROW(1, r1, s1) ROW(2, r2, s2) ROW(3, r3, s3) ROW(4, r4, s4) ROW(5, r5, s5)
#undef ROW
        }
    } else {
        for (int64_t p = 0; p < pairs; p++, ap += MR, b0 += 2 * NR) {
            const __m512i v0 = _mm512_load_si512((const void *)b0);
            r0 = _mm512_dpwssd_epi32(r0, _mm512_set1_epi32(ap[0]), v0);
            r1 = _mm512_dpwssd_epi32(r1, _mm512_set1_epi32(ap[1]), v0);
            r2 = _mm512_dpwssd_epi32(r2, _mm512_set1_epi32(ap[2]), v0);
            r3 = _mm512_dpwssd_epi32(r3, _mm512_set1_epi32(ap[3]), v0);
            r4 = _mm512_dpwssd_epi32(r4, _mm512_set1_epi32(ap[4]), v0);
            r5 = _mm512_dpwssd_epi32(r5, _mm512_set1_epi32(ap[5]), v0);
        }
    }
#define STORE(i, acc, off) {                                                                             \
        float *q = c + (i) * ldc + (off);                                                               \
        __m512 t = _mm512_cvtepi32_ps(acc);                                                             \
        if (!first) t = _mm512_add_ps(t, _mm512_loadu_ps(q));                                           \
        if (last) t = _mm512_fmadd_ps(t, _mm512_mul_ps(_mm512_set1_ps(sx[i]), _mm512_loadu_ps(sw + (off))), \
                                      _mm512_loadu_ps(bias + (off)));                                   \
        _mm512_storeu_ps(q, t); }
    STORE(0, r0, 0) STORE(1, r1, 0) STORE(2, r2, 0) STORE(3, r3, 0) STORE(4, r4, 0) STORE(5, r5, 0)
    if (b1) { STORE(0, s0, NR) STORE(1, s1, NR) STORE(2, s2, NR) STORE(3, s3, NR) STORE(4, s4, NR) STORE(5, s5, NR) }
#undef STORE
}
#endif

// MARK: - Driver

typedef struct {
    const float *x;
    int64_t m, k, ldx, n, ldy;
    const int16_t *w;
    const float *sw, *bias;
    float *y;
    int16_t *xq;      // packed x
    float *sx;        // x's row scales, padded to whole micro-panels
    int64_t pairs, micro_panels, panels, col_tasks;
    int fast;   // 0 portable, 1 AVX2, 2 AVX-512 VNNI
} q16_job;

static void quantize_task(void *ctx, int64_t mp) {
    q16_job *job = ctx;
    for (int i = 0; i < MR; i++) {
        const int64_t r = mp * MR + i;
        int16_t *dst = job->xq + mp * job->pairs * 2 * MR + 2 * i;
        if (r >= job->m) {
            zero_pairs(dst, job->pairs, 2 * MR);
            job->sx[r] = 0;
            continue;
        }
#if defined(__x86_64__)
        if (job->fast) {
            job->sx[r] = quantize_dense_row_avx2(job->x + r * job->ldx, job->k, CK_Q16_INPUT_LEVELS, dst, 2 * MR);
            continue;
        }
#endif
        job->sx[r] = quantize_row(job->x + r * job->ldx, job->k, 1, CK_Q16_INPUT_LEVELS, dst, 2 * MR);
    }
}

static void gemm_task(void *ctx, int64_t index) {
    q16_job *job = ctx;
    const int64_t mp0 = (index / job->col_tasks) * ROW_BLOCK, pn0 = (index % job->col_tasks) * COL_BLOCK;
    const int64_t mp1 = mp0 + ROW_BLOCK < job->micro_panels ? mp0 + ROW_BLOCK : job->micro_panels;
    const int64_t pn1 = pn0 + COL_BLOCK < job->panels ? pn0 + COL_BLOCK : job->panels;
    float edge[MR * NR];
    for (int64_t p0 = 0; p0 < job->pairs; p0 += CHUNK_PAIRS) {
        const int64_t pairs = job->pairs - p0 < CHUNK_PAIRS ? job->pairs - p0 : CHUNK_PAIRS;
        const int first = p0 == 0, last = p0 + pairs == job->pairs;
        for (int64_t pn = pn0; pn < pn1; pn++) {
            const int16_t *b = job->w + (pn * job->pairs + p0) * 2 * NR;
            const int64_t col = pn * NR, cols = job->n - col < NR ? job->n - col : NR;
#if defined(__x86_64__)
            // AVX-512: two whole panels at once where they are (the same sums and epilogue as one at a time)
            const int pair = job->fast == 2 && pn + 1 < pn1 && col + 2 * NR <= job->n;
#endif
            for (int64_t mp = mp0; mp < mp1; mp++) {
                const int16_t *a = job->xq + (mp * job->pairs + p0) * 2 * MR;
                const int64_t row = mp * MR, rows = job->m - row < MR ? job->m - row : MR;
                float *c = job->y + row * job->ldy + col;
#if defined(__x86_64__)
                if (pair && rows == MR) {
                    tile_vnni(pairs, a, b, b + job->pairs * 2 * NR, c, job->ldy, first, last, job->sx + row,
                              job->sw + col, job->bias + col);
                    continue;
                }
#endif
                float *t = c;
                int64_t ldt = job->ldy;
                if (rows < MR || cols < NR) {   // a partial tile goes through a full-size one
                    t = edge;
                    ldt = NR;
                    if (!first)
                        for (int64_t i = 0; i < rows; i++)
                            for (int64_t j = 0; j < cols; j++) edge[i * NR + j] = c[i * job->ldy + j];
                }
#if defined(__x86_64__)
                if (job->fast == 2)
                    tile_vnni(pairs, a, b, NULL, t, ldt, first, last, job->sx + row, job->sw + col, job->bias + col);
                else if (job->fast)
                    tile_avx2(pairs, a, b, t, ldt, first, last, job->sx + row, job->sw + col, job->bias + col);
                else
#endif
                    tile_portable(pairs, a, b, t, ldt, first, last, job->sx + row, job->sw + col, job->bias + col);
                if (t == edge)
                    for (int64_t i = 0; i < rows; i++)
                        for (int64_t j = 0; j < cols; j++) c[i * job->ldy + j] = edge[i * NR + j];
            }
#if defined(__x86_64__)
            if (pair) {   // the second panel's partial row tiles (if any) are left: do them one panel at a time
                const int64_t pn2 = pn + 1, col2 = pn2 * NR;
                const int16_t *b2 = job->w + (pn2 * job->pairs + p0) * 2 * NR;
                for (int64_t mp = mp0; mp < mp1; mp++) {
                    const int64_t row = mp * MR, rows = job->m - row < MR ? job->m - row : MR;
                    if (rows == MR) continue;
                    const int16_t *a = job->xq + (mp * job->pairs + p0) * 2 * MR;
                    float *c = job->y + row * job->ldy + col2;
                    if (!first)
                        for (int64_t i = 0; i < rows; i++)
                            for (int64_t j = 0; j < NR; j++) edge[i * NR + j] = c[i * job->ldy + j];
                    tile_vnni(pairs, a, b2, NULL, edge, NR, first, last, job->sx + row, job->sw + col2, job->bias + col2);
                    for (int64_t i = 0; i < rows; i++)
                        for (int64_t j = 0; j < NR; j++) c[i * job->ldy + j] = edge[i * NR + j];
                }
                pn++;
            }
#endif
        }
    }
}

/// Rows are quantised and multiplied in slabs of this many micro-panels (384 rows),
/// so the scratch memory stays bounded whatever the batch.
#define SLAB 64

/// The scratch layout: packed x of one slab, then its row scales, then the padded bias.
static int64_t scratch_layout(int64_t m, int64_t k, int64_t n, int64_t *xq_bytes, int64_t *sx_bytes) {
    const int64_t micro_panels = (m + MR - 1) / MR < SLAB ? (m + MR - 1) / MR : SLAB;
    *xq_bytes = (micro_panels * ((k + 1) / 2) * 2 * MR * (int64_t)sizeof(int16_t) + 63) / 64 * 64;
    *sx_bytes = (micro_panels * MR * (int64_t)sizeof(float) + 63) / 64 * 64;
    return *xq_bytes + *sx_bytes + (n + NR - 1) / NR * NR * (int64_t)sizeof(float);
}

int64_t ck_q16_scratch_bytes(int64_t m, int64_t k, int64_t n) {
    int64_t xq_bytes, sx_bytes;
    return scratch_layout(m, k, n, &xq_bytes, &sx_bytes);
}

int ck_q16_gemm(const float *x, int64_t m, int64_t k, int64_t ldx, const int16_t *w, const float *w_scales,
                int64_t n, const float *bias, float *y, int64_t ldy, void *scratch, int threads, int kernel) {
    const int best = ck_q16_best_kernel();
    if (kernel < 0) kernel = best;
    if (kernel > best) return -1;
    if (m <= 0 || n <= 0) return 0;
    const int64_t pairs = (k + 1) / 2, panels = (n + NR - 1) / NR;
    if (pairs == 0) {   // an empty sum: y = bias
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) y[i * ldy + j] = bias ? bias[j] : 0.0f;
        return 0;
    }
    int64_t xq_bytes, sx_bytes;
    scratch_layout(m, k, n, &xq_bytes, &sx_bytes);
    const int fast = kernel;
    float *padded_bias = (float *)((char *)scratch + xq_bytes + sx_bytes);
    for (int64_t j = 0; j < panels * NR; j++) padded_bias[j] = bias && j < n ? bias[j] : 0.0f;
    // Each output depends only on its own row, so slabs of rows are independent GEMMs.
    for (int64_t row0 = 0; row0 < m; row0 += SLAB * MR) {
        const int64_t rows = m - row0 < SLAB * MR ? m - row0 : SLAB * MR;
        q16_job job = {
            .x = x + row0 * ldx, .m = rows, .k = k, .ldx = ldx, .n = n, .ldy = ldy, .w = w, .sw = w_scales,
            .bias = padded_bias, .y = y + row0 * ldy, .xq = scratch, .sx = (float *)((char *)scratch + xq_bytes),
            .pairs = pairs, .micro_panels = (rows + MR - 1) / MR, .panels = panels,
            .col_tasks = (panels + COL_BLOCK - 1) / COL_BLOCK, .fast = fast,
        };
        ck_parallel_run(job.micro_panels, threads, quantize_task, &job);
        const int64_t row_tasks = (job.micro_panels + ROW_BLOCK - 1) / ROW_BLOCK;
        ck_parallel_run(row_tasks * job.col_tasks, threads, gemm_task, &job);
    }
    return 0;
}
