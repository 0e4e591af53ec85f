// Attention of short sequences, one task per (batch item, head): softmax(q·scale·kᵀ, blocked pairs at
// −FLT_MAX)·v, read straight from strided projections (the fused [batch, seq, 3·dim] QKV buffer) and
// written into the merged-heads layout [batch, seq, dim], so no head is split or merged by a copy.
// Each query row is computed by the same code whatever the batch size or the thread that runs it.

#include "clipcore_kernels.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#define CK_INLINE static inline __attribute__((always_inline))
#pragma clang diagnostic ignored "-Wpsabi"

#if defined(__x86_64__)
#define CK_FAST __attribute__((target("avx2,fma")))
#else
#define CK_FAST
#endif

typedef float ck_av8 __attribute__((vector_size(32)));

CK_INLINE ck_av8 av_load(const float *p) {
    ck_av8 v;
    memcpy(&v, p, sizeof v);
    return v;
}

CK_INLINE void av_store(float *p, ck_av8 v) { memcpy(p, &v, sizeof v); }

CK_INLINE ck_av8 av_splat(float x) { return (ck_av8){x, x, x, x, x, x, x, x}; }

CK_INLINE float av_hsum(ck_av8 v) {
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

typedef struct {
    const float *q, *k, *v;
    int64_t q_row, q_batch, kv_row, kv_batch;
    const float *blocked;
    int64_t blocked_batch;
    float *out;
    int64_t out_row, out_batch;
    int64_t heads, head_dim, sq, sk;
    float scale;
    int fast;
} attention_job;

/// One (batch item, head), four query rows at a time: for each row i, s = (q_i·scale)·kᵀ, blocked s at
/// −FLT_MAX, p = softmax(s), out_i = p·v. Keys are first transposed into kT (head_dim × skp, skp = sk
/// rounded up to 8, zero-padded) so that scores come eight keys to a vector, with no horizontal sums.
/// `scratch` holds head_dim·skp + 4·skp + 4·head_dim floats.
CK_INLINE void attention_head_body(const attention_job *job, int64_t b, int64_t h, float *scratch) {
    const int64_t hd = job->head_dim, sk = job->sk, skp = (sk + 7) & ~(int64_t)7;
    const float *q0 = job->q + b * job->q_batch + h * hd;
    const float *k0 = job->k + b * job->kv_batch + h * hd;
    const float *v0 = job->v + b * job->kv_batch + h * hd;
    const float *mask0 = job->blocked ? job->blocked + b * job->blocked_batch : 0;
    float *o0 = job->out + b * job->out_batch + h * hd;
    float *kT = scratch, *s = kT + hd * skp, *qs = s + 4 * skp;
    for (int64_t j = 0; j < skp; j++) {
        const float *kj = k0 + j * job->kv_row;
        for (int64_t c = 0; c < hd; c++) kT[c * skp + j] = j < sk ? kj[c] : 0.0f;
    }
    for (int64_t i0 = 0; i0 < job->sq; i0 += 4) {
        const int64_t nr = job->sq - i0 < 4 ? job->sq - i0 : 4;
        // q scaled first (as the unfused path scales the projection); rows past the end are zeros.
        for (int64_t r = 0; r < 4; r++) {
            float *qr = qs + r * hd;
            if (r < nr) {
                const float *qi = q0 + (i0 + r) * job->q_row;
                for (int64_t c = 0; c < hd; c++) qr[c] = qi[c] * job->scale;
            } else {
                for (int64_t c = 0; c < hd; c++) qr[c] = 0.0f;
            }
        }
        // Keys past the last one any of the four rows may see (a causal mask's future) are blocked for
        // all four: their weights are exact zeros, so they are neither scored nor summed. A row that
        // sees no key at all takes every key, as a fully masked row's softmax does.
        int64_t ke = sk;
        if (mask0) {
            ke = 0;
            for (int64_t r = 0; r < nr && ke < sk; r++) {
                const float *mi = mask0 + (i0 + r) * sk;
                int64_t last = sk - 1;
                while (last >= 0 && mi[last] != 0.0f) last--;
                ke = last < 0 ? sk : (last + 1 > ke ? last + 1 : ke);
            }
        }
        const int64_t kep = (ke + 7) & ~(int64_t)7;
        // Scores of four rows and sixteen (then eight) keys at a time, each summed over the head's
        // columns in order: eight independent accumulators keep both FMA pipes busy.
        int64_t j = 0;
        for (; j + 16 <= kep; j += 16) {
            ck_av8 a0 = av_splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            for (int64_t c = 0; c < hd; c++) {
                const ck_av8 ka = av_load(kT + c * skp + j), kb = av_load(kT + c * skp + j + 8);
                const ck_av8 x0 = av_splat(qs[c]), x1 = av_splat(qs[hd + c]);
                const ck_av8 x2 = av_splat(qs[2 * hd + c]), x3 = av_splat(qs[3 * hd + c]);
                a0 += x0 * ka, b0 += x0 * kb;
                a1 += x1 * ka, b1 += x1 * kb;
                a2 += x2 * ka, b2 += x2 * kb;
                a3 += x3 * ka, b3 += x3 * kb;
            }
            av_store(s + j, a0), av_store(s + j + 8, b0);
            av_store(s + skp + j, a1), av_store(s + skp + j + 8, b1);
            av_store(s + 2 * skp + j, a2), av_store(s + 2 * skp + j + 8, b2);
            av_store(s + 3 * skp + j, a3), av_store(s + 3 * skp + j + 8, b3);
        }
        for (; j < kep; j += 8) {
            ck_av8 a0 = av_splat(0), a1 = a0, a2 = a0, a3 = a0;
            for (int64_t c = 0; c < hd; c++) {
                const ck_av8 kv = av_load(kT + c * skp + j);
                a0 += av_splat(qs[c]) * kv;
                a1 += av_splat(qs[hd + c]) * kv;
                a2 += av_splat(qs[2 * hd + c]) * kv;
                a3 += av_splat(qs[3 * hd + c]) * kv;
            }
            av_store(s + j, a0);
            av_store(s + skp + j, a1);
            av_store(s + 2 * skp + j, a2);
            av_store(s + 3 * skp + j, a3);
        }
        // Softmax of each row as ck_softmax_rows: subtract the max, exp, scale by 1 / Σ (the sum over
        // eight lanes, then the lanes, then the tail). Padding rows get zeros.
        for (int64_t r = 0; r < 4; r++) {
            float *sr = s + r * skp;
            if (r >= nr) {
                for (int64_t j = 0; j < skp; j++) sr[j] = 0.0f;
                continue;
            }
            if (mask0) {
                const float *mi = mask0 + (i0 + r) * sk;
                for (int64_t j = 0; j < ke; j++) sr[j] = mi[j] != 0.0f ? -FLT_MAX : sr[j];
            }
            // The max over eight lanes, then the lanes and the tail (scores are finite or NaN; a NaN
            // makes every weight NaN either way).
            float m = sr[0];
            int64_t jm = 0;
            if (ke >= 8) {
                ck_av8 m8 = av_load(sr);
                for (jm = 8; jm + 8 <= ke; jm += 8) m8 = __builtin_elementwise_max(m8, av_load(sr + jm));
                for (int l = 0; l < 8; l++) m = m8[l] > m ? m8[l] : m;
            }
            for (; jm < ke; jm++) m = sr[jm] > m ? sr[jm] : m;
            _Pragma("clang loop vectorize_width(8) interleave_count(2)")
            for (int64_t j = 0; j < ke; j++) sr[j] = ck_expf(sr[j] - m);
            ck_av8 sum8 = av_splat(0);
            int64_t j = 0;
            for (; j + 8 <= ke; j += 8) sum8 += av_load(sr + j);
            float sum = av_hsum(sum8);
            for (; j < ke; j++) sum += sr[j];
            const float inv = 1.0f / sum;
            for (j = 0; j < ke; j++) sr[j] *= inv;
        }
        // out_i = Σ_j p_ij · v_j: sixteen (then eight) of the head's columns of four rows at a time, over
        // the keys in order.
        int64_t c = 0;
        for (; c + 16 <= hd; c += 16) {
            ck_av8 a0 = av_splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            for (int64_t jj = 0; jj < ke; jj++) {
                const float *vj = v0 + jj * job->kv_row + c;
                const ck_av8 va = av_load(vj), vb = av_load(vj + 8);
                const ck_av8 p0 = av_splat(s[jj]), p1 = av_splat(s[skp + jj]);
                const ck_av8 p2 = av_splat(s[2 * skp + jj]), p3 = av_splat(s[3 * skp + jj]);
                a0 += p0 * va, b0 += p0 * vb;
                a1 += p1 * va, b1 += p1 * vb;
                a2 += p2 * va, b2 += p2 * vb;
                a3 += p3 * va, b3 += p3 * vb;
            }
            const ck_av8 lo[4] = {a0, a1, a2, a3}, hi[4] = {b0, b1, b2, b3};
            for (int64_t r = 0; r < nr; r++) {
                av_store(o0 + (i0 + r) * job->out_row + c, lo[r]);
                av_store(o0 + (i0 + r) * job->out_row + c + 8, hi[r]);
            }
        }
        for (; c + 8 <= hd; c += 8) {
            ck_av8 a0 = av_splat(0), a1 = a0, a2 = a0, a3 = a0;
            for (int64_t jj = 0; jj < ke; jj++) {
                const ck_av8 vv = av_load(v0 + jj * job->kv_row + c);
                a0 += av_splat(s[jj]) * vv;
                a1 += av_splat(s[skp + jj]) * vv;
                a2 += av_splat(s[2 * skp + jj]) * vv;
                a3 += av_splat(s[3 * skp + jj]) * vv;
            }
            const ck_av8 rows[4] = {a0, a1, a2, a3};
            for (int64_t r = 0; r < nr; r++) av_store(o0 + (i0 + r) * job->out_row + c, rows[r]);
        }
        for (; c < hd; c++) {
            for (int64_t r = 0; r < nr; r++) {
                float a = 0.0f;
                for (int64_t j = 0; j < ke; j++) a += s[r * skp + j] * v0[j * job->kv_row + c];
                o0[(i0 + r) * job->out_row + c] = a;
            }
        }
    }
}

CK_FAST static void attention_head_fast(const attention_job *job, int64_t b, int64_t h, float *scratch) {
    attention_head_body(job, b, h, scratch);
}

static void attention_head_base(const attention_job *job, int64_t b, int64_t h, float *scratch) {
    attention_head_body(job, b, h, scratch);
}

static void attention_task(void *ctx, int64_t index) {
    const attention_job *job = (const attention_job *)ctx;
    const int64_t b = index / job->heads, h = index % job->heads;
    const int64_t skp = (job->sk + 7) & ~(int64_t)7;
    const int64_t n = job->head_dim * skp + 4 * skp + 4 * job->head_dim;
    float stack[8192];
    float *scratch = n <= 8192 ? stack : (float *)malloc((size_t)n * sizeof(float));
    if (!scratch) return;
    if (job->fast) attention_head_fast(job, b, h, scratch); else attention_head_base(job, b, h, scratch);
    if (scratch != stack) free(scratch);
}

void ck_attention(const float *q, int64_t q_row, int64_t q_batch, const float *k, const float *v, int64_t kv_row,
                  int64_t kv_batch, const float *blocked, int64_t blocked_batch, float *out, int64_t out_row,
                  int64_t out_batch, int64_t batch, int64_t heads, int64_t head_dim, int64_t sq, int64_t sk,
                  float scale, int threads) {
    if (batch <= 0 || heads <= 0 || head_dim <= 0 || sq <= 0 || sk <= 0) return;
    attention_job job = {q, k, v, q_row, q_batch, kv_row, kv_batch, blocked, blocked_batch, out, out_row,
                         out_batch, heads, head_dim, sq, sk, scale, ck_isa()};
    ck_parallel_run(batch * heads, threads, attention_task, &job);
}
