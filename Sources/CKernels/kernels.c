// Batch kernels of clipcore_kernels.h. Each is written once as an inline body
// and compiled twice: for AVX2+FMA and for baseline x86-64; ck_isa() picks.

#include "clipcore_kernels.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CK_INLINE static inline __attribute__((always_inline))

// The 8-lane vector helpers below are static and always inlined, so passing
// vectors by value never crosses an ABI boundary; the baseline path's
// "AVX vector changes the ABI" warning does not apply.
#pragma clang diagnostic ignored "-Wpsabi"

// MARK: - Path selection

static _Atomic int forced_baseline = 0;

uint32_t ck_cpu_features(void) {
#if defined(__x86_64__)
    // compiler-rt's CPU model checks the OS saves the YMM / ZMM state (XGETBV) before it reports
    // the AVX2 and AVX-512 features.
    __builtin_cpu_init();
    uint32_t f = 0;
    if (__builtin_cpu_supports("avx2")) f |= CK_CPU_AVX2;
    if (__builtin_cpu_supports("fma")) f |= CK_CPU_FMA;
    if (__builtin_cpu_supports("avx512f")) f |= CK_CPU_AVX512F;
    if (__builtin_cpu_supports("avx512bw")) f |= CK_CPU_AVX512BW;
    if (__builtin_cpu_supports("avx512vnni")) f |= CK_CPU_AVX512VNNI;
    if (__builtin_cpu_supports("avxvnni")) f |= CK_CPU_AVXVNNI;
    if (__builtin_cpu_supports("avx512bf16")) f |= CK_CPU_AVX512BF16;
    return f;
#else
    return 0;
#endif
}

int ck_cpu_level(uint32_t f) {
    if (!(f & CK_CPU_AVX2) || !(f & CK_CPU_FMA)) return CK_LEVEL_BASELINE;
    if (!(f & CK_CPU_AVX512F) || !(f & CK_CPU_AVX512BW)) return CK_LEVEL_AVX2;
    if (!(f & CK_CPU_AVX512VNNI)) return CK_LEVEL_AVX512;
    if (!(f & CK_CPU_AVX512BF16)) return CK_LEVEL_AVX512_VNNI;
    return CK_LEVEL_AVX512_BF16;
}

static const char *const level_names[] = {"baseline", "avx2", "avx512", "avx512_vnni", "avx512_bf16"};

const char *ck_isa_level_name(int level) {
    return level >= CK_LEVEL_BASELINE && level <= CK_LEVEL_AVX512_BF16 ? level_names[level] : "unknown";
}

int ck_isa_parse(const char *name) {
    if (!name) return -1;
    for (int level = CK_LEVEL_BASELINE; level <= CK_LEVEL_AVX512_BF16; level++) {
        if (strcmp(name, level_names[level]) == 0) return level;
    }
    return -1;
}

int ck_isa_cap(int detected, const char *request) {
    if (!request || !*request || strcmp(request, "native") == 0) return detected;
    int want = ck_isa_parse(request);
    if (want < 0) return -1;
    return want < detected ? want : detected;
}

/// The level the CPU allows, lowered by CLIPCORE_ISA (an unknown value is reported on stderr and
/// ignored) and by CLIPCORE_KERNELS=baseline. Read once; racing first calls compute the same value.
static int detect_level(void) {
    int level = ck_cpu_level(ck_cpu_features());
    const char *want = getenv("CLIPCORE_KERNELS");
    if (want && strcmp(want, "baseline") == 0) return CK_LEVEL_BASELINE;
    const char *isa = getenv("CLIPCORE_ISA");
    int capped = ck_isa_cap(level, isa);
    if (capped < 0) {
        fprintf(stderr, "clipcore: CLIPCORE_ISA=%s is none of native, baseline, avx2, avx512, avx512_vnni, "
                        "avx512_bf16; using %s\n", isa, level_names[level]);
        return level;
    }
    return capped;
}

int ck_isa_level(void) {
    static _Atomic int cached = -1;
    int level = atomic_load_explicit(&cached, memory_order_relaxed);
    if (level < 0) {
        level = detect_level();
        atomic_store_explicit(&cached, level, memory_order_relaxed);
    }
    return atomic_load_explicit(&forced_baseline, memory_order_relaxed) ? CK_LEVEL_BASELINE : level;
}

int ck_isa(void) { return ck_isa_level() >= CK_LEVEL_AVX2; }

const char *ck_isa_name(void) { return ck_isa() ? "avx2+fma" : "baseline"; }

void ck_force_baseline(int on) { atomic_store_explicit(&forced_baseline, on != 0, memory_order_relaxed); }

#if defined(__x86_64__)
#define CK_FAST __attribute__((target("avx2,fma")))
#else
#define CK_FAST
#endif

/// Defines `name` dispatching between an AVX2+FMA and a baseline copy of `name##_body`.
#define CK_DISPATCH(ret, name, params, args)                          \
    CK_FAST static ret name##_fast params { return name##_body args; } \
    static ret name##_base params { return name##_body args; }         \
    ret name params { return ck_isa() ? name##_fast args : name##_base args; }

// MARK: - Reductions over a row
//
// Explicit 8-lane vectors (one AVX register, or two SSE ones on the baseline
// path): four accumulators for long rows, since one add chain would be
// latency-bound, folded before one horizontal sum; a scalar tail.

typedef float ck_v8 __attribute__((vector_size(32)));
typedef int ck_m8 __attribute__((vector_size(32)));

CK_INLINE ck_v8 ck_load8(const float *p) {
    ck_v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}

CK_INLINE float ck_hsum8(ck_v8 v) {
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

CK_INLINE ck_v8 ck_splat8(float x) { return (ck_v8){x, x, x, x, x, x, x, x}; }

CK_INLINE void ck_store8(float *p, ck_v8 v) { memcpy(p, &v, sizeof v); }

/// d[i] = s[i] · a + b over a row, eight lanes at a time (short rows keep a
/// tail of at most 7, where an auto-vectorised loop would leave up to 31).
CK_INLINE void ck_row_affine(const float *s, float *d, int64_t n, float a, float b) {
    const ck_v8 a8 = ck_splat8(a), b8 = ck_splat8(b);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) ck_store8(d + i, ck_load8(s + i) * a8 + b8);
    for (; i < n; i++) d[i] = s[i] * a + b;
}

CK_INLINE float ck_row_sum_body(const float *x, int64_t n) {
    ck_v8 a0 = ck_splat8(0), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 += ck_load8(x + i);
        a1 += ck_load8(x + i + 8);
        a2 += ck_load8(x + i + 16);
        a3 += ck_load8(x + i + 24);
    }
    a0 = (a0 + a1) + (a2 + a3);
    for (; i + 8 <= n; i += 8) a0 += ck_load8(x + i);
    float s = ck_hsum8(a0);
    for (; i < n; i++) s += x[i];
    return s;
}

CK_INLINE float ck_row_dot_body(const float *a, const float *b, int64_t n) {
    ck_v8 a0 = ck_splat8(0), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 += ck_load8(a + i) * ck_load8(b + i);
        a1 += ck_load8(a + i + 8) * ck_load8(b + i + 8);
        a2 += ck_load8(a + i + 16) * ck_load8(b + i + 16);
        a3 += ck_load8(a + i + 24) * ck_load8(b + i + 24);
    }
    a0 = (a0 + a1) + (a2 + a3);
    for (; i + 8 <= n; i += 8) a0 += ck_load8(a + i) * ck_load8(b + i);
    float s = ck_hsum8(a0);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/// Max of n >= 1 values; NaN if any is NaN.
CK_INLINE float ck_row_max_body(const float *x, int64_t n) {
    ck_v8 m8 = ck_splat8(x[0]);
    ck_m8 nan8 = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const ck_v8 v = ck_load8(x + i);
        nan8 |= v != v;
        m8 = __builtin_elementwise_max(m8, v);
    }
    float m = m8[0];
    int nan = 0;
    for (int j = 0; j < 8; j++) {
        m = m8[j] > m ? m8[j] : m;
        nan |= nan8[j];
    }
    for (; i < n; i++) {
        nan |= x[i] != x[i];
        m = x[i] > m ? x[i] : m;
    }
    return nan ? NAN : m;
}

/// Σ (x[i] − c)²
CK_INLINE float ck_row_sq_dev_body(const float *x, int64_t n, float c) {
    const ck_v8 c8 = ck_splat8(c);
    ck_v8 a0 = ck_splat8(0), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const ck_v8 d0 = ck_load8(x + i) - c8, d1 = ck_load8(x + i + 8) - c8;
        const ck_v8 d2 = ck_load8(x + i + 16) - c8, d3 = ck_load8(x + i + 24) - c8;
        a0 += d0 * d0;
        a1 += d1 * d1;
        a2 += d2 * d2;
        a3 += d3 * d3;
    }
    a0 = (a0 + a1) + (a2 + a3);
    for (; i + 8 <= n; i += 8) {
        const ck_v8 d = ck_load8(x + i) - c8;
        a0 += d * d;
    }
    float s = ck_hsum8(a0);
    for (; i < n; i++) s += (x[i] - c) * (x[i] - c);
    return s;
}

CK_DISPATCH(float, ck_row_sum, (const float *x, int64_t n), (x, n))
CK_DISPATCH(float, ck_row_dot, (const float *a, const float *b, int64_t n), (a, b, n))
CK_DISPATCH(float, ck_row_max, (const float *x, int64_t n), (x, n))

// MARK: - Top-k

CK_INLINE void ck_topk_rows_body(const float *tile, int64_t rows, int64_t cols, int64_t k, float *best,
                                 int64_t *best_ids, int64_t id_offset, const int64_t *skip) {
    for (int64_t r = 0; r < rows; r++) {
        const float *x = tile + r * cols;
        float *s = best + r * k;
        int64_t *id = best_ids + r * k;
        const int64_t own = skip ? skip[r] - id_offset : -1;
        float t = s[k - 1];
        int64_t i = 0;
        while (i < cols) {
            // Most scores lose: test 16 at a time against the current k-th best.
            if (i + 16 <= cols) {
                const ck_v8 t8 = ck_splat8(t);
                const ck_m8 hit = (ck_load8(x + i) > t8) | (ck_load8(x + i + 8) > t8);
                if (!__builtin_reduce_or(hit)) { i += 16; continue; }
            }
            const int64_t end = i + 16 < cols ? i + 16 : cols;
            for (; i < end; i++) {
                const float v = x[i];
                if (!(v > t) || i == own) continue;
                int64_t p = k - 1;
                while (p > 0 && s[p - 1] < v) {       // after every kept score >= v
                    s[p] = s[p - 1];
                    id[p] = id[p - 1];
                    p--;
                }
                s[p] = v;
                id[p] = i + id_offset;
                t = s[k - 1];
            }
        }
    }
}
CK_DISPATCH(void, ck_topk_rows,
            (const float *tile, int64_t rows, int64_t cols, int64_t k, float *best, int64_t *best_ids,
             int64_t id_offset, const int64_t *skip),
            (tile, rows, cols, k, best, best_ids, id_offset, skip))

// MARK: - Elementwise

// The activations are long dependent chains (range reduction, polynomial,
// scaling): four interleaved vectors per iteration keep the FMA pipes busy.
#define CK_MAP _Pragma("clang loop vectorize_width(8) interleave_count(4)") for

CK_INLINE void ck_unary_body(int op, const float *x, float *y, int64_t n) {
    switch (op) {
    case CK_EXP: CK_MAP (int64_t i = 0; i < n; i++) y[i] = ck_expf(x[i]); break;
    case CK_SIGMOID: CK_MAP (int64_t i = 0; i < n; i++) y[i] = ck_sigmoidf(x[i]); break;
    case CK_TANH: CK_MAP (int64_t i = 0; i < n; i++) y[i] = ck_tanhf(x[i]); break;
    case CK_GELU: CK_MAP (int64_t i = 0; i < n; i++) y[i] = ck_geluf(x[i]); break;
    case CK_GELU_TANH: CK_MAP (int64_t i = 0; i < n; i++) y[i] = ck_gelu_tanhf(x[i]); break;
    case CK_QUICK_GELU: CK_MAP (int64_t i = 0; i < n; i++) y[i] = ck_quick_geluf(x[i]); break;
    default: break;
    }
}

CK_INLINE void ck_unary_grad_body(int op, const float *g, const float *x, float *dx, int64_t n) {
    switch (op) {
    case CK_EXP: CK_MAP (int64_t i = 0; i < n; i++) dx[i] = g[i] * x[i]; break;  // x holds e^x
    case CK_SIGMOID: CK_MAP (int64_t i = 0; i < n; i++) dx[i] = g[i] * x[i] * (1.0f - x[i]); break;
    case CK_TANH: CK_MAP (int64_t i = 0; i < n; i++) dx[i] = g[i] * (1.0f - x[i] * x[i]); break;
    case CK_GELU: CK_MAP (int64_t i = 0; i < n; i++) dx[i] = g[i] * ck_gelu_gradf(x[i]); break;
    case CK_GELU_TANH: CK_MAP (int64_t i = 0; i < n; i++) dx[i] = g[i] * ck_gelu_tanh_gradf(x[i]); break;
    case CK_QUICK_GELU: CK_MAP (int64_t i = 0; i < n; i++) dx[i] = g[i] * ck_quick_gelu_gradf(x[i]); break;
    default: break;
    }
}

CK_DISPATCH(void, ck_unary, (int op, const float *x, float *y, int64_t n), (op, x, y, n))
CK_DISPATCH(void, ck_unary_grad, (int op, const float *g, const float *x, float *dx, int64_t n), (op, g, x, dx, n))

// MARK: - Row kernels

// Rows are handled in blocks of about 4k elements: per row, subtract the max;
// then one flat exp pass over the block (so short rows vectorise as well as
// long ones); then per row, the sum and the final scale or shift.
#define CK_BLOCK 4096

/// y = x − max(x) for rows r0 ..< r0 + nr.
CK_INLINE void ck_subtract_row_max(const float *x, float *y, int64_t r0, int64_t nr, int64_t n) {
    for (int64_t r = r0; r < r0 + nr; r++) {
        const float *s = x + r * n;
        float *d = y + r * n;
        ck_row_affine(s, d, n, 1.0f, -ck_row_max_body(s, n));
    }
}

/// Σ exp(d[i]), through `tmp` (CK_BLOCK floats) so that the exp loop vectorises.
CK_INLINE float ck_sum_exp(const float *d, int64_t n, float *tmp) {
    float sum = 0.0f;
    for (int64_t i0 = 0; i0 < n; i0 += CK_BLOCK) {
        const int64_t len = n - i0 < CK_BLOCK ? n - i0 : CK_BLOCK;
        ck_unary_body(CK_EXP, d + i0, tmp, len);
        sum += ck_row_sum_body(tmp, len);
    }
    return sum;
}

CK_INLINE void ck_softmax_rows_body(const float *x, float *y, int64_t rows, int64_t n) {
    if (n >= 256) {
        // Long rows: exp(x − max) in one pass.
        for (int64_t r = 0; r < rows; r++) {
            const float *s = x + r * n;
            float *d = y + r * n;
            const float m = ck_row_max_body(s, n);
            CK_MAP (int64_t i = 0; i < n; i++) d[i] = ck_expf(s[i] - m);
            ck_row_affine(d, d, n, 1.0f / ck_row_sum_body(d, n), 0.0f);
        }
        return;
    }
    const int64_t block = CK_BLOCK / (n > 0 ? n : 1);
    for (int64_t r0 = 0; r0 < rows; r0 += block) {
        const int64_t nr = rows - r0 < block ? rows - r0 : block;
        ck_subtract_row_max(x, y, r0, nr, n);
        ck_unary_body(CK_EXP, y + r0 * n, y + r0 * n, nr * n);
        for (int64_t r = r0; r < r0 + nr; r++) {
            float *d = y + r * n;
            ck_row_affine(d, d, n, 1.0f / ck_row_sum_body(d, n), 0.0f);
        }
    }
}

CK_INLINE void ck_log_softmax_rows_body(const float *x, float *y, int64_t rows, int64_t n) {
    float tmp[CK_BLOCK];
    for (int64_t r = 0; r < rows; r++) {
        // Keep x − m: it is exact near the maximum, so large logits keep their precision.
        ck_subtract_row_max(x, y, r, 1, n);
        float *d = y + r * n;
        ck_row_affine(d, d, n, 1.0f, -logf(ck_sum_exp(d, n, tmp)));
    }
}

CK_INLINE void ck_log_sum_exp_rows_body(const float *x, float *out, int64_t rows, int64_t n) {
    float tmp[CK_BLOCK];
    for (int64_t r = 0; r < rows; r++) {
        const float *s = x + r * n;
        const float m = ck_row_max_body(s, n);
        if (isinf(m)) {  // all −inf, or a +inf present: the result is m
            out[r] = m;
            continue;
        }
        float sum = 0.0f;
        for (int64_t i0 = 0; i0 < n; i0 += CK_BLOCK) {
            const int64_t len = n - i0 < CK_BLOCK ? n - i0 : CK_BLOCK;
            ck_row_affine(s + i0, tmp, len, 1.0f, -m);
            ck_unary_body(CK_EXP, tmp, tmp, len);
            sum += ck_row_sum_body(tmp, len);
        }
        out[r] = m + logf(sum);
    }
}

CK_INLINE void ck_layer_norm_rows_body(const float *x, float *y, int64_t rows, int64_t n, const float *w,
                                       const float *b, float eps, float *mean_out, float *rstd_out) {
    const float inv_n = 1.0f / (float)(n > 0 ? n : 1);
    for (int64_t r = 0; r < rows; r++) {
        const float *s = x + r * n;
        float *d = y + r * n;
        const float mean = ck_row_sum_body(s, n) * inv_n;
        const float var = ck_row_sq_dev_body(s, n, mean) * inv_n;
        const float rstd = 1.0f / sqrtf(var + eps);
        if (mean_out) mean_out[r] = mean;
        if (rstd_out) rstd_out[r] = rstd;
        // (x − mean)·rstd, subtracting first so that a large mean does not cancel,
        // then the optional affine (absent weight or bias act as ×1 and +0,
        // both exact) in the same pass.
        const ck_v8 m8 = ck_splat8(mean), r8 = ck_splat8(rstd), one8 = ck_splat8(1.0f), zero8 = ck_splat8(0.0f);
        int64_t i = 0;
        for (; i + 8 <= n; i += 8) {
            const ck_v8 w8 = w ? ck_load8(w + i) : one8, b8 = b ? ck_load8(b + i) : zero8;
            ck_store8(d + i, (ck_load8(s + i) - m8) * r8 * w8 + b8);
        }
        for (; i < n; i++) d[i] = (s[i] - mean) * rstd * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f);
    }
}

// MARK: - Optimizer

CK_INLINE void ck_adamw_body(float *w, const float *g, float *m, float *v, int64_t n, float b1, float c1, float b2,
                             float c2, float decay, float step, float bc2_root, float eps) {
#pragma clang fp contract(off)
    const ck_v8 b18 = ck_splat8(b1), c18 = ck_splat8(c1), b28 = ck_splat8(b2), c28 = ck_splat8(c2);
    const ck_v8 d8 = ck_splat8(decay), s8 = ck_splat8(step), r8 = ck_splat8(bc2_root), e8 = ck_splat8(eps);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const ck_v8 g8 = ck_load8(g + i);
        const ck_v8 m8 = b18 * ck_load8(m + i) + c18 * g8;
        const ck_v8 v8 = b28 * ck_load8(v + i) + c28 * g8 * g8;
        ck_store8(m + i, m8);
        ck_store8(v + i, v8);
        ck_store8(w + i, ck_load8(w + i) * d8 - s8 * m8 / (__builtin_elementwise_sqrt(v8) / r8 + e8));
    }
    for (; i < n; i++) {
        const float mi = b1 * m[i] + c1 * g[i];
        const float vi = b2 * v[i] + c2 * g[i] * g[i];
        m[i] = mi;
        v[i] = vi;
        w[i] = w[i] * decay - step * mi / (sqrtf(vi) / bc2_root + eps);
    }
}

CK_DISPATCH(void, ck_softmax_rows, (const float *x, float *y, int64_t rows, int64_t n), (x, y, rows, n))
CK_DISPATCH(void, ck_log_softmax_rows, (const float *x, float *y, int64_t rows, int64_t n), (x, y, rows, n))
CK_DISPATCH(void, ck_log_sum_exp_rows, (const float *x, float *out, int64_t rows, int64_t n), (x, out, rows, n))
CK_DISPATCH(void, ck_layer_norm_rows,
            (const float *x, float *y, int64_t rows, int64_t n, const float *w, const float *b, float eps,
             float *mean, float *rstd),
            (x, y, rows, n, w, b, eps, mean, rstd))
CK_DISPATCH(void, ck_adamw,
            (float *w, const float *g, float *m, float *v, int64_t n, float b1, float c1, float b2, float c2,
             float decay, float step, float bc2_root, float eps),
            (w, g, m, v, n, b1, c1, b2, c2, decay, step, bc2_root, eps))
