// Int8 GEMM for y = x·Wᵀ + b, a reduced-precision path of linear layers.
//
// Quantisation is by blocks of CK_Q8_BLOCK inputs, each with its own scales.
// W (n × k) is quantised once, symmetrically per row (per output feature) and
// block, to ±CK_Q8_LEVELS. Each row and block of x is quantised at call time
// to u8 over its own range [min(x, 0), max(x, 0)] (255 steps of sx, zero point
// zx: x ≈ sx·(u − zx)), as ONNX Runtime's dynamic quantisation does per
// tensor; Σ u·w − zx·Σw = Σ (u − zx)·w, with Σw (the row sums of W) computed
// at packing. Every block's sum is exact in int32, and the float epilogue is
// one fused multiply-add per output and block, from the bias on:
// y = fma((float)(acc − zx·Σw), sx·sw, y). So the portable, AVX2 and AVX-512
// VNNI kernels give bit-identical results.
//
// Layouts. Packed W: panels of 16 rows (their count rounded up to an even
// number); in a panel, for each quad of inputs (4q … 4q+3), 16 groups of 4 s8
// [w(r, 4q) … w(r, 4q+3)] for r = 0…15 (64 bytes). Packed x: micro-panels of 4
// rows (their count even); for each quad, 4 groups of 4 u8. Padding is zero in
// W (so any x padding multiplies to nothing) and the zero point in x; padded
// rows and columns have scale 0.

#include "clipcore_kernels.h"
#include "tiles.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define MR 4
#define NR 16
#define SLAB 48         // micro-panel pairs quantised and multiplied at once (384 rows)
#define CK_Q8_TINY 1e-30f
#define BQ (CK_Q8_BLOCK / 4)   // quads per block

_Static_assert((int64_t)CK_Q8_BLOCK * 255 * 127 * 2 < 2147483647LL, "a block's int32 sum could overflow");
_Static_assert(CK_Q8_BLOCK % 4 == 0, "blocks are whole quads");

static int64_t quads_of(int64_t k) { return (k + 3) / 4; }
static int64_t panels_of(int64_t n) { return ((n + NR - 1) / NR + 1) / 2 * 2; }
static int64_t blocks_of(int64_t k) { return (k + CK_Q8_BLOCK - 1) / CK_Q8_BLOCK; }

int ck_q8_kernel_available(int kernel) {
    switch (kernel) {
    case CK_Q8_PORTABLE: return 1;
    case CK_Q8_AVX2: return ck_isa_level() >= CK_LEVEL_AVX2;
    case CK_Q8_AVX512_VNNI: return ck_isa_level() >= CK_LEVEL_AVX512_VNNI;
    default: return 0;
    }
}

int ck_q8_best_kernel(void) {
    const int level = ck_isa_level();
    return level >= CK_LEVEL_AVX512_VNNI ? CK_Q8_AVX512_VNNI : (level >= CK_LEVEL_AVX2 ? CK_Q8_AVX2 : CK_Q8_PORTABLE);
}

const char *ck_q8_kernel_name(int kernel) {
    switch (kernel) {
    case CK_Q8_PORTABLE: return "portable";
    case CK_Q8_AVX2: return "avx2 (vpmaddubsw)";
    case CK_Q8_AVX512_VNNI: return "avx512_vnni (vpdpbusd)";
    default: return "unknown";
    }
}

int64_t ck_q8_packed_bytes(int64_t n, int64_t k) { return panels_of(n) * NR * quads_of(k) * 4; }
int64_t ck_q8_padded_rows(int64_t n) { return panels_of(n) * NR; }
int64_t ck_q8_scale_count(int64_t n, int64_t k) { return blocks_of(k) * panels_of(n) * NR; }

int ck_q8_pack(const float *w, int64_t n, int64_t k, int64_t row_stride, int64_t col_stride,
               int8_t *packed, float *scales, int32_t *sums) {
    const int levels = CK_Q8_LEVELS;
    const int64_t quads = quads_of(k), rows = panels_of(n) * NR, blocks = blocks_of(k);
    int finite = 1;
    for (int64_t r = 0; r < rows; r++) {
        int8_t *dst = packed + (r / NR) * quads * 4 * NR + (r % NR) * 4;
        int row_finite = 1;
        if (r < n)
            for (int64_t j = 0; j < k; j++) row_finite &= fabsf(w[r * row_stride + j * col_stride]) <= 3.40282347e38f;
        finite &= row_finite;
        for (int64_t blk = 0; blk < blocks; blk++) {
            const int64_t j0 = blk * CK_Q8_BLOCK, j1 = j0 + CK_Q8_BLOCK < quads * 4 ? j0 + CK_Q8_BLOCK : quads * 4;
            float maxabs = 0;
            if (r < n && row_finite)
                for (int64_t j = j0; j < j1 && j < k; j++) {
                    const float a = fabsf(w[r * row_stride + j * col_stride]);
                    maxabs = a > maxabs ? a : maxabs;
                }
            const int zero = r >= n || !row_finite || maxabs < CK_Q8_TINY;
            const float inv = zero ? 0.0f : (float)levels / maxabs;
            int32_t sum = 0;
            for (int64_t j = j0; j < j1; j++) {
                long q = 0;
                if (!zero && j < k) {
                    q = lrintf(w[r * row_stride + j * col_stride] * inv);
                    q = q > levels ? levels : (q < -levels ? -levels : q);
                }
                dst[(j / 4) * 4 * NR + (j & 3)] = (int8_t)q;
                sum += (int32_t)q;
            }
            scales[blk * rows + r] = zero ? 0.0f : maxabs / (float)levels;
            sums[blk * rows + r] = sum;
        }
    }
    return finite ? 0 : -1;
}

// MARK: - Quantising x

/// A row's scale and zero point from its extremes (taken with 0): NaN scale for a non-finite row, 0 for an
/// empty range (every u8 is then the zero point 0).
static inline float row_scale(float lo, float hi, int finite, int32_t *zero_point, float *inv) {
    lo = lo < 0 ? lo : 0;
    hi = hi > 0 ? hi : 0;
    *zero_point = 0;
    *inv = 0;
    if (!finite) return NAN;
    const float range = hi - lo;
    if (!(range >= CK_Q8_TINY) || range > 3.40282347e38f) return range > 3.40282347e38f ? NAN : 0.0f;
    *inv = 255.0f / range;
    long z = lrintf(-lo * *inv);
    *zero_point = (int32_t)(z < 0 ? 0 : (z > 255 ? 255 : z));
    return range / 255.0f;
}

static inline uint8_t quantize_value(float v, float inv, int32_t zero_point) {
    long q = lrintf(v * inv) + zero_point;
    return (uint8_t)(q < 0 ? 0 : (q > 255 ? 255 : q));
}

/// Quantises one row of `len` values into 4-byte groups `step` int32 apart (padding: the zero point) and
/// returns its scale (NaN, and u8 0, when the row is not finite), its zero point in *zero_point.
static float quantize_row(const float *x, int64_t len, int64_t quads, uint8_t *out, int64_t step, int32_t *zero_point) {
    float lo = 0, hi = 0;
    int finite = 1;
    for (int64_t j = 0; j < len; j++) {
        lo = x[j] < lo ? x[j] : lo;
        hi = x[j] > hi ? x[j] : hi;
        if (!(fabsf(x[j]) <= 3.40282347e38f)) finite = 0;
    }
    float inv;
    const float scale = row_scale(lo, hi, finite, zero_point, &inv);
    for (int64_t j = 0; j < quads * 4; j++)
        out[(j / 4) * step * 4 + (j & 3)] = j < len && inv > 0 ? quantize_value(x[j], inv, *zero_point) : (uint8_t)*zero_point;
    return scale;
}

#if defined(__x86_64__)
/// quantize_row, 8 values at a time: the same arithmetic (cvtps rounds half to even, as lrintf).
__attribute__((target("avx2,fma")))
static float quantize_row_avx2(const float *x, int64_t len, int64_t quads, uint8_t *out, int64_t step,
                               int32_t *zero_point) {
    __m256 vlo = _mm256_setzero_ps(), vhi = _mm256_setzero_ps(), vbad = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 8 <= len; j += 8) {
        const __m256 v = _mm256_loadu_ps(x + j);
        vlo = _mm256_min_ps(vlo, v);
        vhi = _mm256_max_ps(vhi, v);
        vbad = _mm256_add_ps(vbad, _mm256_mul_ps(v, _mm256_setzero_ps()));   // NaN if v holds ±inf or NaN
    }
    float los[8], his[8], bad[8];
    _mm256_storeu_ps(los, vlo);
    _mm256_storeu_ps(his, vhi);
    _mm256_storeu_ps(bad, vbad);
    float lo = 0, hi = 0;
    int finite = 1;
    for (int i = 0; i < 8; i++) {
        lo = los[i] < lo ? los[i] : lo;
        hi = his[i] > hi ? his[i] : hi;
        finite &= bad[i] == 0;
    }
    for (int64_t t = j; t < len; t++) {
        lo = x[t] < lo ? x[t] : lo;
        hi = x[t] > hi ? x[t] : hi;
        finite &= fabsf(x[t]) <= 3.40282347e38f;
    }
    float inv;
    const float scale = row_scale(lo, hi, finite, zero_point, &inv);
    if (!(inv > 0)) return quantize_row(x, len, quads, out, step, zero_point);
    const __m256 vinv = _mm256_set1_ps(inv);
    const __m256i zp = _mm256_set1_epi32(*zero_point), top = _mm256_set1_epi32(255), bottom = _mm256_setzero_si256();
    const __m256i gather = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                            0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    int32_t *dst = (int32_t *)out;
    for (j = 0; j + 8 <= len; j += 8) {
        __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j), vinv)), zp);
        q = _mm256_min_epi32(_mm256_max_epi32(q, bottom), top);   // 0…255, one per int32
        q = _mm256_shuffle_epi8(q, gather);   // each half's 4 bytes in its low int32
        dst[(j / 4) * step] = _mm256_extract_epi32(q, 0);
        dst[(j / 4 + 1) * step] = _mm256_extract_epi32(q, 4);
    }
    for (; j < quads * 4; j++)
        out[(j / 4) * step * 4 + (j & 3)] = j < len ? quantize_value(x[j], inv, *zero_point) : (uint8_t)*zero_point;
    return scale;
}
#endif

// MARK: - Micro-kernels
//
// Each tile runs block by block (CK_Q8_BLOCK inputs): exact int32 sums over the block, then per output
// c = fma((float)(acc − zx·Σw), sx·sw, c), starting from the bias. `xs` and `ws` are the strides between
// one block's row scales (zero points) and the next's, for x and for W.

/// A 4 × 16 tile: the portable reference of every kernel.
static void tile_portable(int64_t quads, const uint8_t *a, const int8_t *b, float *c, int64_t ldc,
                          const float *sx, const int32_t *zx, int64_t xs, const float *sw, const int32_t *wsum,
                          int64_t ws, const float *bias) {
    for (int64_t q0 = 0, blk = 0; q0 < quads; q0 += BQ, blk++) {
        const int64_t q1 = q0 + BQ < quads ? q0 + BQ : quads;
        int32_t acc[MR][NR] = {{0}};
        for (int64_t q = q0; q < q1; q++) {
            const uint8_t *ap = a + q * 4 * MR;
            const int8_t *bp = b + q * 4 * NR;
            for (int i = 0; i < MR; i++)
                for (int j = 0; j < NR; j++)
                    for (int t = 0; t < 4; t++) acc[i][j] += (int32_t)ap[4 * i + t] * (int32_t)bp[4 * j + t];
        }
        const float *bsx = sx + blk * xs, *bsw = sw + blk * ws;
        const int32_t *bzx = zx + blk * xs, *bws = wsum + blk * ws;
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
                c[i * ldc + j] = fmaf((float)(acc[i][j] - bzx[i] * bws[j]), bsx[i] * bsw[j], blk == 0 ? bias[j] : c[i * ldc + j]);
    }
}

#if defined(__x86_64__)
/// 4 × 16 with vpmaddubsw and vpmaddwd against ones. vpmaddubsw adds pairs of u8·s8 products in
/// saturating int16, and 2·255·127 overflows it, so each input goes in as s = u − 128 by the sign trick:
/// |s| (at most 128, read as u8) times w with the sign of s (|w| ≤ 127) gives s·w, and a pair of them
/// fits int16 (2·128·127 < 2¹⁵). Σ s·w = Σ u·w − 128·Σw exactly, so the epilogue's acc − (zx − 128)·Σw
/// is the other kernels' acc − zx·Σw, bit for bit.
__attribute__((target("avx2,fma")))
static void tile_avx2(int64_t quads, const uint8_t *a, const int8_t *b, float *c, int64_t ldc,
                      const float *sx, const int32_t *zx, int64_t xs, const float *sw, const int32_t *wsum,
                      int64_t ws, const float *bias) {
    const __m256i ones = _mm256_set1_epi16(1), flip = _mm256_set1_epi8((char)0x80);
    const int32_t *ap = (const int32_t *)a;
    for (int64_t q0 = 0, blk = 0; q0 < quads; q0 += BQ, blk++) {
        const int64_t q1 = q0 + BQ < quads ? q0 + BQ : quads;
        __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        for (int64_t q = q0; q < q1; q++, ap += MR, b += 4 * NR) {
            const __m256i b0 = _mm256_load_si256((const __m256i *)b);
            const __m256i b1 = _mm256_load_si256((const __m256i *)(b + 32));
            __m256i x, ax;
#define ROW(i, lo, hi)                                                                                         \
            x = _mm256_xor_si256(_mm256_set1_epi32(ap[i]), flip);                                              \
            ax = _mm256_abs_epi8(x);                                                                           \
            lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(b0, x)), ones)); \
            hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(b1, x)), ones));
            ROW(0, c00, c01) ROW(1, c10, c11) ROW(2, c20, c21) ROW(3, c30, c31)
#undef ROW
        }
        const float *bsx = sx + blk * xs, *bsw = sw + blk * ws;
        const int32_t *bzx = zx + blk * xs, *bws = wsum + blk * ws;
        const __m256 w0 = _mm256_loadu_ps(bsw), w1 = _mm256_loadu_ps(bsw + 8);
        const __m256i k0 = _mm256_loadu_si256((const __m256i *)bws), k1 = _mm256_loadu_si256((const __m256i *)(bws + 8));
#define STORE(i, acc, off, wv, kv) {                                                                             \
            float *o = c + (i) * ldc + (off);                                                                    \
            const __m256 prev = blk == 0 ? _mm256_loadu_ps(bias + (off)) : _mm256_loadu_ps(o);                 \
            const __m256i t = _mm256_sub_epi32(acc, _mm256_mullo_epi32(kv, _mm256_set1_epi32(bzx[i] - 128)));  \
            _mm256_storeu_ps(o, _mm256_fmadd_ps(_mm256_cvtepi32_ps(t), _mm256_mul_ps(_mm256_set1_ps(bsx[i]), wv), prev)); }
        STORE(0, c00, 0, w0, k0) STORE(0, c01, 8, w1, k1)
        STORE(1, c10, 0, w0, k0) STORE(1, c11, 8, w1, k1)
        STORE(2, c20, 0, w0, k0) STORE(2, c21, 8, w1, k1)
        STORE(3, c30, 0, w0, k0) STORE(3, c31, 8, w1, k1)
#undef STORE
    }
}

/// 8 × 32 (two micro-panels of x, two panels of W) with vpdpbusd: 16 accumulators.
__attribute__((target("avx512f,avx512bw,avx512vnni,fma")))
static void tile_vnni(int64_t quads, const uint8_t *a0, const uint8_t *a1, const int8_t *b0, const int8_t *b1,
                      float *c, int64_t ldc, const float *sx, const int32_t *zx, int64_t xs, const float *sw,
                      const int32_t *wsum, int64_t ws, const float *bias) {
    const int32_t *p0 = (const int32_t *)a0, *p1 = (const int32_t *)a1;
    for (int64_t q0 = 0, blk = 0; q0 < quads; q0 += BQ, blk++) {
        const int64_t q1 = q0 + BQ < quads ? q0 + BQ : quads;
        __m512i r0 = _mm512_setzero_si512(), s0 = r0, r1 = r0, s1 = r0, r2 = r0, s2 = r0, r3 = r0, s3 = r0;
        __m512i r4 = r0, s4 = r0, r5 = r0, s5 = r0, r6 = r0, s6 = r0, r7 = r0, s7 = r0;
        for (int64_t q = q0; q < q1; q++, p0 += MR, p1 += MR, b0 += 4 * NR, b1 += 4 * NR) {
            const __m512i v0 = _mm512_load_si512((const void *)b0), v1 = _mm512_load_si512((const void *)b1);
            __m512i x;
#define ROW(src, i, lo, hi)                          \
            x = _mm512_set1_epi32(src[i]);           \
            lo = _mm512_dpbusd_epi32(lo, x, v0);     \
            hi = _mm512_dpbusd_epi32(hi, x, v1);
            ROW(p0, 0, r0, s0) ROW(p0, 1, r1, s1) ROW(p0, 2, r2, s2) ROW(p0, 3, r3, s3)
            ROW(p1, 0, r4, s4) ROW(p1, 1, r5, s5) ROW(p1, 2, r6, s6) ROW(p1, 3, r7, s7)
#undef ROW
        }
        const float *bsx = sx + blk * xs, *bsw = sw + blk * ws;
        const int32_t *bzx = zx + blk * xs, *bws = wsum + blk * ws;
        const __m512 w0 = _mm512_loadu_ps(bsw), w1 = _mm512_loadu_ps(bsw + 16);
        const __m512i k0 = _mm512_loadu_si512((const void *)bws), k1 = _mm512_loadu_si512((const void *)(bws + 16));
#define STORE(i, acc, off, wv, kv) {                                                                        \
            float *o = c + (i) * ldc + (off);                                                               \
            const __m512 prev = blk == 0 ? _mm512_loadu_ps(bias + (off)) : _mm512_loadu_ps(o);            \
            const __m512i t = _mm512_sub_epi32(acc, _mm512_mullo_epi32(kv, _mm512_set1_epi32(bzx[i])));   \
            _mm512_storeu_ps(o, _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), _mm512_mul_ps(_mm512_set1_ps(bsx[i]), wv), prev)); }
        STORE(0, r0, 0, w0, k0) STORE(0, s0, 16, w1, k1)
        STORE(1, r1, 0, w0, k0) STORE(1, s1, 16, w1, k1)
        STORE(2, r2, 0, w0, k0) STORE(2, s2, 16, w1, k1)
        STORE(3, r3, 0, w0, k0) STORE(3, s3, 16, w1, k1)
        STORE(4, r4, 0, w0, k0) STORE(4, s4, 16, w1, k1)
        STORE(5, r5, 0, w0, k0) STORE(5, s5, 16, w1, k1)
        STORE(6, r6, 0, w0, k0) STORE(6, s6, 16, w1, k1)
        STORE(7, r7, 0, w0, k0) STORE(7, s7, 16, w1, k1)
#undef STORE
    }
}
#endif

// MARK: - Driver

typedef struct {
    ck_tiling tiling;   // first: the job is the tiling's context
    const float *x;
    int64_t m, k, ldx;
    const int8_t *w;
    const float *sw, *bias;
    const int32_t *wsum;
    uint8_t *xq;      // packed x
    float *sx;        // x's scales and zero points, block by block (`xs` rows each, whole micro-panel pairs)
    int32_t *zx;
    int64_t quads, blocks, xs, ws;
    int kernel;
} q8_job;

static void quantize_task(void *ctx, int64_t mp) {
    q8_job *job = ctx;
    for (int i = 0; i < MR; i++) {
        const int64_t r = mp * MR + i;
        uint8_t *dst = job->xq + mp * job->quads * 4 * MR + 4 * i;
        const float *x = job->x + r * job->ldx;
        for (int64_t blk = 0; blk < job->blocks; blk++) {
            const int64_t q0 = blk * BQ, quads = job->quads - q0 < BQ ? job->quads - q0 : BQ;
            const int64_t j0 = q0 * 4, len = r >= job->m ? 0 : (job->k - j0 < CK_Q8_BLOCK ? job->k - j0 : CK_Q8_BLOCK);
            uint8_t *out = dst + q0 * 4 * MR;
            float *sx = job->sx + blk * job->xs + r;
            int32_t *zx = job->zx + blk * job->xs + r;
#if defined(__x86_64__)
            if (job->kernel != CK_Q8_PORTABLE) {
                *sx = quantize_row_avx2(x + j0, len, quads, out, MR, zx);
                continue;
            }
#endif
            *sx = quantize_row(x + j0, len, quads, out, MR, zx);
        }
    }
}

/// One 8 × 32 block (rows mp2·8…, columns pp·32…) through the job's kernel, into t.
static void block(const void *ctx, int64_t mp2, int64_t pp, float *t, int64_t ldt) {
    const q8_job *job = ctx;
    const int64_t row = mp2 * 2 * MR, col = pp * 2 * NR, qs = job->quads;
    const uint8_t *a0 = job->xq + (2 * mp2) * qs * 4 * MR, *a1 = a0 + qs * 4 * MR;
    const int8_t *b0 = job->w + (2 * pp) * qs * 4 * NR, *b1 = b0 + qs * 4 * NR;
    const float *sx = job->sx + row, *sw = job->sw + col, *bias = job->bias + col;
    const int32_t *zx = job->zx + row, *wsum = job->wsum + col;
    const int64_t xs = job->xs, ws = job->ws;
#if defined(__x86_64__)
    if (job->kernel == CK_Q8_AVX512_VNNI) {
        tile_vnni(qs, a0, a1, b0, b1, t, ldt, sx, zx, xs, sw, wsum, ws, bias);
    } else if (job->kernel == CK_Q8_AVX2) {
        tile_avx2(qs, a0, b0, t, ldt, sx, zx, xs, sw, wsum, ws, bias);
        tile_avx2(qs, a0, b1, t + NR, ldt, sx, zx, xs, sw + NR, wsum + NR, ws, bias + NR);
        tile_avx2(qs, a1, b0, t + MR * ldt, ldt, sx + MR, zx + MR, xs, sw, wsum, ws, bias);
        tile_avx2(qs, a1, b1, t + MR * ldt + NR, ldt, sx + MR, zx + MR, xs, sw + NR, wsum + NR, ws, bias + NR);
    } else
#endif
    {
        tile_portable(qs, a0, b0, t, ldt, sx, zx, xs, sw, wsum, ws, bias);
        tile_portable(qs, a0, b1, t + NR, ldt, sx, zx, xs, sw + NR, wsum + NR, ws, bias + NR);
        tile_portable(qs, a1, b0, t + MR * ldt, ldt, sx + MR, zx + MR, xs, sw, wsum, ws, bias);
        tile_portable(qs, a1, b1, t + MR * ldt + NR, ldt, sx + MR, zx + MR, xs, sw + NR, wsum + NR, ws, bias + NR);
    }
}

static void scratch_layout(int64_t m, int64_t k, int64_t n, int64_t *xq_bytes, int64_t *sx_bytes, int64_t *total) {
    int64_t pairs = (m + 2 * MR - 1) / (2 * MR);
    if (pairs > SLAB) pairs = SLAB;
    *xq_bytes = (pairs * 2 * MR * quads_of(k) * 4 + 63) / 64 * 64;
    *sx_bytes = 2 * ((blocks_of(k) * pairs * 2 * MR * (int64_t)sizeof(float) + 63) / 64 * 64);   // scales, zero points
    *total = *xq_bytes + *sx_bytes + panels_of(n) * NR * (int64_t)sizeof(float);
}

int64_t ck_q8_scratch_bytes(int64_t m, int64_t k, int64_t n) {
    int64_t a, b, total;
    scratch_layout(m, k, n, &a, &b, &total);
    return total;
}

int ck_q8_gemm(const float *x, int64_t m, int64_t k, int64_t ldx, const int8_t *w, const float *w_scales,
               const int32_t *w_sums, int64_t n, const float *bias, float *y, int64_t ldy, void *scratch,
               int threads, int kernel) {
    if (!ck_q8_kernel_available(kernel)) return -1;
    if (m <= 0 || n <= 0) return 0;
    const int64_t quads = quads_of(k), panels = panels_of(n);
    int64_t xq_bytes, sx_bytes, total;
    scratch_layout(m, k, n, &xq_bytes, &sx_bytes, &total);
    float *padded_bias = (float *)((char *)scratch + xq_bytes + sx_bytes);
    for (int64_t j = 0; j < panels * NR; j++) padded_bias[j] = bias && j < n ? bias[j] : 0.0f;
    if (quads == 0) {   // an empty sum: y = bias
        for (int64_t i = 0; i < m; i++) memcpy(y + i * ldy, padded_bias, (size_t)n * sizeof(float));
        return 0;
    }
    for (int64_t row0 = 0; row0 < m; row0 += SLAB * 2 * MR) {   // slabs of rows are independent GEMMs
        const int64_t rows = m - row0 < SLAB * 2 * MR ? m - row0 : SLAB * 2 * MR;
        q8_job job = {
            .tiling = ck_tiling_make(y + row0 * ldy, rows, n, ldy, panels * NR, block),
            .x = x + row0 * ldx, .m = rows, .k = k, .ldx = ldx, .w = w, .sw = w_scales,
            .bias = padded_bias, .wsum = w_sums, .xq = scratch,
            .sx = (float *)((char *)scratch + xq_bytes), .zx = (int32_t *)((char *)scratch + xq_bytes + sx_bytes / 2),
            .quads = quads, .blocks = blocks_of(k), .xs = (rows + 2 * MR - 1) / (2 * MR) * 2 * MR, .ws = panels * NR,
            .kernel = kernel,
        };
        ck_parallel_run(job.tiling.row_blocks * 2, threads, quantize_task, &job);
        ck_parallel_run(ck_tiling_tasks(&job.tiling), threads, ck_tiling_task, &job);
    }
    return 0;
}
