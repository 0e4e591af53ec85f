/* Encode, mine and re-rank with clipcore from C: the same job as
 * examples/python/rerank.py, through include/clipcore.h.
 *
 *   rerank MODEL_DIR MAPPER "a query" a.png b.png ...
 *
 * Prints the base ranking of the images for the query (inner products of the
 * embeddings), then ELIP's re-ranking with the mapper's prompts. Exit status 0
 * on success, 1 with clip_last_error() on stderr on failure, 2 on bad usage.
 * Build (scripts/build-lib.sh first):
 *   cc -Iinclude examples/c/rerank.c -L.build-lib/release -lclipcore \
 *      -Wl,-rpath,$PWD/.build-lib/release -o rerank
 */
#include "clipcore.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s MODEL_DIR MAPPER QUERY IMAGE [IMAGE ...]\n", argv[0]);
        return 2;
    }
    printf("clipcore %s; %s\n", clip_version(), clip_runtime_info());
    clip_model *model = NULL;
    clip_elip *elip = NULL;
    if (clip_model_load(argv[1], &model) != CLIP_OK || clip_elip_load(model, argv[2], &elip) != CLIP_OK) {
        fprintf(stderr, "error: %s\n", clip_last_error());
        clip_model_free(model);   /* accepts NULL */
        return 1;
    }
    const char *query = argv[3];
    const char *const *images = (const char *const *)(argv + 4);
    int64_t n = argc - 4;
    int32_t d = 0;
    clip_model_embedding_dim(model, &d);
    /* caller-owned buffers of the sizes the header states: n * dim floats, n ids */
    float *q = calloc((size_t)d, sizeof(float)), *im = calloc((size_t)(n * d), sizeof(float));
    float *scores = calloc((size_t)n, sizeof(float));
    int64_t *ids = calloc((size_t)n, sizeof(int64_t)), *order = calloc((size_t)n, sizeof(int64_t));
    int rc = q && im && scores && ids && order ? CLIP_OK : CLIP_ERR_OUT_OF_MEMORY;
    if (rc == CLIP_OK) rc = clip_encode_texts(model, &query, 1, q);
    if (rc == CLIP_OK) rc = clip_encode_image_files(model, images, n, im);
    if (rc == CLIP_OK) rc = clip_mine(im, n, q, 1, d, n, ids, scores);
    if (rc == CLIP_OK) {
        printf("base ranking for \"%s\":\n", query);
        for (int64_t r = 0; r < n; r++) printf("  %lld. %s  %.4f\n", (long long)r + 1, images[ids[r]], scores[r]);
        rc = clip_rerank(elip, query, images, n, scores, order);
    }
    if (rc == CLIP_OK) {
        printf("ELIP re-ranking:\n");
        for (int64_t r = 0; r < n; r++) printf("  %lld. %s  %.4f\n", (long long)r + 1, images[order[r]], scores[order[r]]);
    } else {
        fprintf(stderr, "error: %s [%s]\n", clip_last_error(), clip_status_string(rc));
    }
    free(q); free(im); free(scores); free(ids); free(order);
    clip_elip_free(elip);
    clip_model_free(model);
    return rc == CLIP_OK ? 0 : 1;
}
