// clipcore_kernels.h: the vectorisable math and row kernels under Tensor.
//
// Scalar functions are static inline, written without calls or branches so
// that loops over them vectorise (Swift inlines them too). Batch kernels are
// compiled twice, for AVX2+FMA and for baseline x86-64, and the right one is
// chosen once per process from the CPU's features.
//
// Accuracy: ck_expf within 2 ulp on [-87.3, 88.37] (0 below, +inf above,
// NaN kept); ck_erff within 2e-7 absolute; ck_tanhf within a few ulp.
#ifndef CLIPCORE_KERNELS_H
#define CLIPCORE_KERNELS_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - Scalar math

static inline float ck_bits_to_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t ck_float_to_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/// e^x (Cephes' expf polynomial on |r| <= ln2/2, 2^n applied as two factors).
static inline float ck_expf(float x) {
    // Clamp to where 2^n is one normal float (n in [-126, 127]); NaN passes the
    // clamps and propagates through the arithmetic.
    float xc = x < -87.336544f ? -87.336544f : x;
    xc = xc > 88.376262f ? 88.376262f : xc;
    const float shifted = xc * 1.44269504f + 12582912.0f;   // round(x / ln2) in the low mantissa bits
    const float n = shifted - 12582912.0f;
    const float r = (xc - n * 0.693359375f) + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float er = p * r * r + r + 1.0f;
    float y = er * ck_bits_to_float((ck_float_to_bits(shifted) - 0x4B400000u + 127u) << 23);
    y = x < -87.336544f ? 0.0f : y;
    return x > 88.376262f ? INFINITY : y;
}

static inline float ck_sigmoidf(float x) { return 1.0f / (1.0f + ck_expf(-x)); }

/// tanh: Cephes' odd polynomial below 0.625, 1 − 2/(e^{2|x|} + 1) above.
static inline float ck_tanhf(float x) {
    const float a = fabsf(x);
    const float z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    const float small = p * z * x + x;
    const float big = 1.0f - 2.0f / (ck_expf(2.0f * a) + 1.0f);
    const float signed_big = ck_bits_to_float(ck_float_to_bits(big) | (ck_float_to_bits(x) & 0x80000000u));
    return a < 0.625f ? small : signed_big;
}

/// erf as an odd/even rational function on [-4, 4] (±1 beyond).
static inline float ck_erff(float x) {
    float c = x > 4.0f ? 4.0f : x;
    c = c < -4.0f ? -4.0f : c;
    const float x2 = c * c;
    float p = -2.72614225801306e-10f;
    p = p * x2 + 2.77068142495902e-08f;
    p = p * x2 - 2.10102402082508e-06f;
    p = p * x2 - 5.69250639462346e-05f;
    p = p * x2 - 7.34990630326855e-04f;
    p = p * x2 - 2.95459980854025e-03f;
    p = p * x2 - 1.60960333262415e-02f;
    float q = -1.45660718464996e-05f;
    q = q * x2 - 2.13374055278905e-04f;
    q = q * x2 - 1.68282697438203e-03f;
    q = q * x2 - 7.37332916720468e-03f;
    q = q * x2 - 1.42647390514189e-02f;
    return c * p / q;
}

/// GELU, exact form: x·Φ(x) = ½x(1 + erf(x/√2)).
static inline float ck_geluf(float x) { return 0.5f * x * (1.0f + ck_erff(x * 0.70710678118654752f)); }

/// d/dx GELU = Φ(x) + x·φ(x).
static inline float ck_gelu_gradf(float x) {
    const float cdf = 0.5f * (1.0f + ck_erff(x * 0.70710678118654752f));
    const float pdf = 0.39894228040143268f * ck_expf(-0.5f * x * x);
    return cdf + x * pdf;
}

/// PyTorch's gelu(approximate="tanh").
static inline float ck_gelu_tanhf(float x) {
    const float u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
    return 0.5f * x * (1.0f + ck_tanhf(u));
}

static inline float ck_gelu_tanh_gradf(float x) {
    const float u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
    const float t = ck_tanhf(u);
    const float du = 0.79788456080286536f * (1.0f + 3.0f * 0.044715f * x * x);
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
}

/// CLIP's quick_gelu: x·σ(1.702x).
static inline float ck_quick_geluf(float x) { return x * ck_sigmoidf(1.702f * x); }

static inline float ck_quick_gelu_gradf(float x) {
    const float s = ck_sigmoidf(1.702f * x);
    return s + 1.702f * x * s * (1.0f - s);
}

/// log σ(x) = min(x, 0) − log1p(e^{−|x|}), stable for any x.
static inline float ck_log_sigmoidf(float x) { return (x < 0.0f ? x : 0.0f) - log1pf(ck_expf(-fabsf(x))); }

// MARK: - Batch kernels (dense arrays)

/// Unary functions for ck_unary / ck_unary_grad.
enum {
    CK_EXP = 0, CK_SIGMOID = 1, CK_TANH = 2, CK_GELU = 3, CK_GELU_TANH = 4, CK_QUICK_GELU = 5,
};

/// y[i] = f(x[i]) for i < n.
void ck_unary(int op, const float *x, float *y, int64_t n);

/// dx[i] = g[i] · f'(x[i]) for GELU, GELU-tanh and quick-GELU (inputs x);
/// for sigmoid and tanh `x` holds the forward outputs y.
void ck_unary_grad(int op, const float *g, const float *x, float *dx, int64_t n);

float ck_row_sum(const float *x, int64_t n);
float ck_row_dot(const float *a, const float *b, int64_t n);
/// Max of n >= 1 values; NaN if any is NaN.
float ck_row_max(const float *x, int64_t n);

/// Running top-k per row: for each of `rows` rows of `tile` (`cols` scores each), merges the scores
/// into that row's sorted list `best[r*k ..]` (descending) with ids `best_ids` (= column + id_offset),
/// keeping earlier entries first among equals and skipping the column whose id is `skip[r]` (NULL: none).
void ck_topk_rows(const float *tile, int64_t rows, int64_t cols, int64_t k, float *best, int64_t *best_ids,
                  int64_t id_offset, const int64_t *skip);

/// Softmax of each of `rows` dense rows of length n.
void ck_softmax_rows(const float *x, float *y, int64_t rows, int64_t n);
/// Log-softmax of each row.
void ck_log_softmax_rows(const float *x, float *y, int64_t rows, int64_t n);
/// log Σ exp of each row, written to out[r] (±inf rows give their max).
void ck_log_sum_exp_rows(const float *x, float *out, int64_t rows, int64_t n);
/// Layer norm of each row with optional weight/bias (length n); writes each row's mean and 1/σ.
void ck_layer_norm_rows(const float *x, float *y, int64_t rows, int64_t n, const float *weight,
                        const float *bias, float eps, float *mean, float *rstd);

/// AdamW (PyTorch's formula, float32) over n values in place:
/// m = b1·m + c1·g, v = b2·v + c2·g², w = w·decay − step·m / (√v / bc2_root + eps).
/// No fused multiply-adds, so both paths give the same bits.
void ck_adamw(float *w, const float *g, float *m, float *v, int64_t n, float b1, float c1, float b2, float c2,
              float decay, float step, float bc2_root, float eps);

// MARK: - Int16 GEMM (q16.c)

/// Inputs summed in int32 before a float add, and the quantisation levels on
/// each side of zero for inputs (per row of x) and weights (per row of W).
#define CK_Q16_CHUNK 256
#define CK_Q16_INPUT_LEVELS 8191
#define CK_Q16_WEIGHT_LEVELS 1023

/// int16 elements of a packed n × k weight matrix (its scales take n rounded up to 16 floats).
int64_t ck_q16_packed_count(int64_t n, int64_t k);
/// Quantises and packs W (n × k, element (r, c) at w[r·row_stride + c·col_stride])
/// into `packed` (64-byte aligned, ck_q16_packed_count elements) and `scales`.
/// Returns 0, or -1 when W holds a NaN or an infinity (its packing is unusable).
int ck_q16_pack(const float *w, int64_t n, int64_t k, int64_t row_stride, int64_t col_stride,
                int16_t *packed, float *scales);
/// Bytes of 64-byte-aligned scratch memory ck_q16_gemm needs for these sizes.
int64_t ck_q16_scratch_bytes(int64_t m, int64_t k, int64_t n);
/// The int16 kernels (all give the same bits): portable, AVX2 (vpmaddwd), AVX-512 VNNI (vpdpwssd).
enum { CK_Q16_PORTABLE = 0, CK_Q16_AVX2 = 1, CK_Q16_AVX512_VNNI = 2 };
/// The best int16 kernel at the level in use (ck_isa_level).
int ck_q16_best_kernel(void);
/// y (m × n, row stride ldy) = x (m × k, row stride ldx, dense rows) · Wᵀ + bias
/// (bias may be NULL), with W packed by ck_q16_pack, on up to `threads` threads, through
/// `kernel` (a CK_Q16_*, or -1 for the best). Returns 0, or -1 (nothing written) when the kernel is
/// above the level in use.
int ck_q16_gemm(const float *x, int64_t m, int64_t k, int64_t ldx, const int16_t *w, const float *w_scales,
                int64_t n, const float *bias, float *y, int64_t ldy, void *scratch, int threads, int kernel);

// MARK: - Int8 GEMM (q8.c)

/// The int8 kernels: the portable reference, AVX2 (vpmaddubsw) and AVX-512 VNNI (vpdpbusd).
enum { CK_Q8_PORTABLE = 0, CK_Q8_AVX2 = 1, CK_Q8_AVX512_VNNI = 2 };
/// The weight levels on each side of zero, and the inputs per quantisation block: each row of W and
/// of x has its own scale per block. Rows of x take 255 steps over [min(x, 0), max(x, 0)] of the
/// block (u8 with a zero point). Every kernel gives the same bits.
#define CK_Q8_LEVELS 127
#define CK_Q8_BLOCK 128

/// Whether `kernel` runs at the level in use (ck_isa_level); the best one that does.
int ck_q8_kernel_available(int kernel);
int ck_q8_best_kernel(void);
/// The kernel's name.
const char *ck_q8_kernel_name(int kernel);
/// Bytes of a packed n × k weight matrix, the rows it pads n to, and the count of its scales (and of
/// its sums): one per padded row and block.
int64_t ck_q8_packed_bytes(int64_t n, int64_t k);
int64_t ck_q8_padded_rows(int64_t n);
int64_t ck_q8_scale_count(int64_t n, int64_t k);
/// Quantises W (n × k, element (r, c) at w[r·row_stride + c·col_stride]) to ±CK_Q8_LEVELS per row into
/// `packed` (64-byte aligned), `scales` and `sums` (of each row's levels in each block; ck_q8_scale_count each).
/// Returns 0, or -1 when W holds a NaN or an infinity (its rows quantise to zero).
int ck_q8_pack(const float *w, int64_t n, int64_t k, int64_t row_stride, int64_t col_stride,
               int8_t *packed, float *scales, int32_t *sums);
/// Bytes of 64-byte-aligned scratch memory ck_q8_gemm needs for these sizes.
int64_t ck_q8_scratch_bytes(int64_t m, int64_t k, int64_t n);
/// y (m × n, row stride ldy) = x (m × k, row stride ldx, dense rows) · Wᵀ + bias (bias may be NULL), W
/// packed by ck_q8_pack, through `kernel`, on up to `threads` threads. Returns 0, or -1 (nothing
/// written) when `kernel` is not available.
int ck_q8_gemm(const float *x, int64_t m, int64_t k, int64_t ldx, const int8_t *w, const float *w_scales,
               const int32_t *w_sums, int64_t n, const float *bias, float *y, int64_t ldy, void *scratch,
               int threads, int kernel);

// MARK: - Bfloat16 GEMM (bf16.c)

/// Whether the AVX-512 BF16 kernel runs at the level in use.
int ck_bf16_available(void);
/// float32 → bfloat16, rounded to nearest even, denormals to signed zero, NaN kept (quiet).
uint16_t ck_bf16_from_float(float f);
/// bfloat16 elements of a packed n × k weight matrix.
int64_t ck_bf16_packed_count(int64_t n, int64_t k);
int64_t ck_bf16_padded_rows(int64_t n);
/// Rounds W (n × k, strided) to bfloat16 into `packed` (64-byte aligned, ck_bf16_packed_count elements).
/// Returns 0, or -1 when W holds a NaN or an infinity.
int ck_bf16_pack(const float *w, int64_t n, int64_t k, int64_t row_stride, int64_t col_stride, uint16_t *packed);
/// Bytes of 64-byte-aligned scratch memory ck_bf16_gemm needs.
int64_t ck_bf16_scratch_bytes(int64_t m, int64_t k, int64_t n);
/// y = x · Wᵀ + bias as ck_q8_gemm, with W packed by ck_bf16_pack, through the AVX-512 BF16 kernel or
/// (portable = 1) its portable reference. Returns 0, or -1 when the kernel is not available.
int ck_bf16_gemm(const float *x, int64_t m, int64_t k, int64_t ldx, const uint16_t *w, int64_t n, const float *bias,
                 float *y, int64_t ldy, void *scratch, int threads, int portable);

/// A parallel loop body: called once for each index in [0, count).
typedef void (*ck_task_fn)(void *ctx, int64_t index);

/// Runs fn(ctx, i) for every i < count on up to `threads` threads (the caller
/// included) from a persistent pool; returns when all are done. Runs inline
/// when threads <= 1, when called from inside a pool job, or while another
/// thread's job holds the pool.
void ck_parallel_run(int64_t count, int threads, ck_task_fn fn, void *ctx);

/// CPU features, as detected at run time (by the CPU and the OS's saved register state).
enum {
    CK_CPU_AVX2 = 1u << 0,
    CK_CPU_FMA = 1u << 1,
    CK_CPU_AVX512F = 1u << 2,
    CK_CPU_AVX512BW = 1u << 3,
    CK_CPU_AVX512VNNI = 1u << 4,
    CK_CPU_AVXVNNI = 1u << 5,
    CK_CPU_AVX512BF16 = 1u << 6,
};
/// Instruction-set levels, each including the ones below: baseline x86-64; AVX2 + FMA; AVX-512 F + BW;
/// + AVX512_VNNI; + AVX512_BF16.
enum {
    CK_LEVEL_BASELINE = 0,
    CK_LEVEL_AVX2 = 1,
    CK_LEVEL_AVX512 = 2,
    CK_LEVEL_AVX512_VNNI = 3,
    CK_LEVEL_AVX512_BF16 = 4,
};
/// The CK_CPU_* features of this CPU.
uint32_t ck_cpu_features(void);
/// The highest CK_LEVEL_* that `features` allow.
int ck_cpu_level(uint32_t features);
/// "baseline", "avx2", "avx512", "avx512_vnni", "avx512_bf16" ("unknown" out of range).
const char *ck_isa_level_name(int level);
/// The level a name above stands for; -1 for any other string or NULL.
int ck_isa_parse(const char *name);
/// `detected` lowered to the level `request` names (NULL, "" or "native": unchanged); -1 when
/// `request` is no level name. A request can only lower the level, never raise it.
int ck_isa_cap(int detected, const char *request);
/// The level clipcore's kernels may use: the CPU's, lowered by CLIPCORE_ISA and forced to baseline by
/// CLIPCORE_KERNELS=baseline (both read at the first call) or ck_force_baseline.
int ck_isa_level(void);
/// Which code path the batch kernels use: 1 = AVX2+FMA, 0 = baseline (ck_isa_level() ≥ AVX2).
/// The environment variable CLIPCORE_KERNELS=baseline (or CLIPCORE_ISA=baseline), read at the first
/// call, forces the baseline path on any CPU (the test suite runs the C-ABI checks so).
int ck_isa(void);
/// "avx2+fma" or "baseline": the path ck_isa() selects.
const char *ck_isa_name(void);
/// Forces the baseline path (1) or returns to automatic selection (0); for tests.
void ck_force_baseline(int on);

// MARK: - Float32 product for few rows (small_gemm.c)

/// Rows of x up to which Variable.linear takes ck_small_gemm instead of OpenBLAS (whose packing of W
/// per call dominates a product this small).
#define CK_SMALL_GEMM_MAX_ROWS 96
/// Whether ck_small_gemm runs at the level in use (AVX2 and up).
int ck_small_gemm_available(void);
/// y (m × n, row stride ldy) = x (m × k, dense rows, stride ldx) · Wᵀ + bias (NULL: none), W (n × k, dense
/// rows, stride ldw) read in place, on up to `threads` threads. Returns 0, or -1 (nothing written) when
/// the CPU lacks AVX2.
int ck_small_gemm(const float *x, int64_t m, int64_t k, int64_t ldx, const float *w, int64_t n, int64_t ldw,
                  const float *bias, float *y, int64_t ldy, int threads);

// MARK: - Attention (attention.c)

/// Scaled dot-product attention of `batch` items × `heads` heads, one pool task per (item, head), for
/// inference on short sequences. Head h of item b reads its query rows at q + b·q_batch + i·q_row + h·head_dim
/// (i < sq), its key and value rows at k (v) + b·kv_batch + j·kv_row + h·head_dim (j < sk), and writes
/// out + b·out_batch + i·out_row + h·head_dim: softmax((q_i·scale)·kᵀ)·v over the head's columns.
/// `blocked` (NULL: none) holds sq × sk floats per item at b·blocked_batch (0: one shared), nonzero where
/// a pair is hidden (its score set to −FLT_MAX, as a masked fill). Each row is computed by the same code
/// whatever the batch size or thread; runs on up to `threads` threads.
void ck_attention(const float *q, int64_t q_row, int64_t q_batch, const float *k, const float *v, int64_t kv_row,
                  int64_t kv_batch, const float *blocked, int64_t blocked_batch, float *out, int64_t out_row,
                  int64_t out_batch, int64_t batch, int64_t heads, int64_t head_dim, int64_t sq, int64_t sk,
                  float scale, int threads);

#ifdef __cplusplus
}
#endif

#endif
