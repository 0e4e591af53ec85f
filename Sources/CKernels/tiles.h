// The tiling shared by the int8 (q8.c) and bfloat16 (bf16.c) GEMMs: y is cut into blocks of 8 rows
// × 32 columns (two micro-panels of 4 rows of x, two panels of 16 rows of W), grouped into tasks of
// CK_TILE_ROW_BLOCK × CK_TILE_COL_BLOCK blocks for the worker pool. A partial block (the edge of y)
// is computed into a full-size buffer and copied out, so every kernel writes whole blocks.

#ifndef CLIPCORE_TILES_H
#define CLIPCORE_TILES_H

#include <stdint.h>
#include <string.h>

#define CK_TILE_ROWS 8
#define CK_TILE_COLS 32
#define CK_TILE_ROW_BLOCK 8   // blocks of rows per task (64 rows)
#define CK_TILE_COL_BLOCK 4   // blocks of columns per task (128 outputs)

/// Computes block (mp2, pp), rows mp2·8…, columns pp·32…, into t (row stride ldt).
typedef void (*ck_block_fn)(const void *job, int64_t mp2, int64_t pp, float *t, int64_t ldt);

/// One GEMM's tiling: the first member of each kernel's job, so that the job is its context.
typedef struct {
    float *y;
    int64_t m, n, ldy;
    int64_t row_blocks, col_blocks, col_tasks;
    ck_block_fn block;
} ck_tiling;

static inline ck_tiling ck_tiling_make(float *y, int64_t m, int64_t n, int64_t ldy, int64_t padded_cols,
                                       ck_block_fn block) {
    const int64_t col_blocks = padded_cols / CK_TILE_COLS;
    return (ck_tiling){.y = y, .m = m, .n = n, .ldy = ldy, .row_blocks = (m + CK_TILE_ROWS - 1) / CK_TILE_ROWS,
                       .col_blocks = col_blocks, .col_tasks = (col_blocks + CK_TILE_COL_BLOCK - 1) / CK_TILE_COL_BLOCK,
                       .block = block};
}

/// The number of tasks of a tiling.
static inline int64_t ck_tiling_tasks(const ck_tiling *t) {
    return (t->row_blocks + CK_TILE_ROW_BLOCK - 1) / CK_TILE_ROW_BLOCK * t->col_tasks;
}

/// A ck_task_fn over the tasks of the tiling that starts `ctx`.
static inline void ck_tiling_task(void *ctx, int64_t index) {
    const ck_tiling *t = ctx;
    const int64_t r0 = (index / t->col_tasks) * CK_TILE_ROW_BLOCK, p0 = (index % t->col_tasks) * CK_TILE_COL_BLOCK;
    const int64_t r1 = r0 + CK_TILE_ROW_BLOCK < t->row_blocks ? r0 + CK_TILE_ROW_BLOCK : t->row_blocks;
    const int64_t p1 = p0 + CK_TILE_COL_BLOCK < t->col_blocks ? p0 + CK_TILE_COL_BLOCK : t->col_blocks;
    for (int64_t pp = p0; pp < p1; pp++)
        for (int64_t mp2 = r0; mp2 < r1; mp2++) {
            const int64_t row = mp2 * CK_TILE_ROWS, col = pp * CK_TILE_COLS;
            const int64_t rows = t->m - row < CK_TILE_ROWS ? t->m - row : CK_TILE_ROWS;
            const int64_t cols = t->n - col < CK_TILE_COLS ? t->n - col : CK_TILE_COLS;
            float *c = t->y + row * t->ldy + col;
            if (rows == CK_TILE_ROWS && cols == CK_TILE_COLS) {
                t->block(ctx, mp2, pp, c, t->ldy);
                continue;
            }
            float edge[CK_TILE_ROWS * CK_TILE_COLS];
            t->block(ctx, mp2, pp, edge, CK_TILE_COLS);
            for (int64_t i = 0; i < rows; i++) memcpy(c + i * t->ldy, edge + i * CK_TILE_COLS, (size_t)cols * sizeof(float));
        }
}

#endif
