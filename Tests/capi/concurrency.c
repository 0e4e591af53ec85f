/* Concurrency of libclipcore.so through include/clipcore.h, against the fixture models:
 *
 *   concurrency FIXTURES_DIR
 *
 * Every call (text and image encoding, ELIP re-ranking, both losses with their gradients, mining)
 * runs first serially; then
 *   1. 8 threads on one handle,
 *   2. 8 threads on 8 handles (CLIP and SigLIP fixtures, each thread its own model and mapper),
 *   3. handles loaded, used and freed on one thread while other threads use their own handles, and
 *      a handle freed while another thread calls it (each call is then whole or refused),
 *   4. the process-wide settings changed while calls run: clip_set_num_threads between 1 and the
 *      default, clip_set_linear_precision between float32 and int16,
 * and every result must be bitwise identical to the serial run's (in 4, to the serial run at the
 * precision the call started with: a call never mixes the two). Exit status 1 on a mismatch.
 * scripts/test-capi.sh runs it, and scripts/test.sh --sanitize thread / address runs it under TSan / ASan.
 */
#include "clipcore.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 16
#define THREADS 8
#define ROUNDS 4

static int failures = 0;

static void expect(int ok, const char *what) {
    printf("%s  %s\n", ok ? "ok  " : "FAIL", what);
    fflush(stdout);
    if (!ok) failures++;
}

/* ---- a fixture: the model folder, mapper, texts, images and query of Tests/Fixtures/capi/KIND ---- */
typedef struct {
    char model[512], mapper[512], query[256];
    char text_store[MAX_ITEMS][256], image_store[MAX_ITEMS][512];
    const char *texts[MAX_ITEMS], *images[MAX_ITEMS];
    int n_texts, n_images, dim;
} fixture;

static int read_fixture(const char *fixtures, const char *kind, fixture *f) {
    char path[512];
    snprintf(path, sizeof path, "%s/capi/%s/expected.txt", fixtures, kind);
    FILE *in = fopen(path, "r");
    if (!in) { fprintf(stderr, "%s: cannot open\n", path); return -1; }
    memset(f, 0, sizeof *f);
    snprintf(f->mapper, sizeof f->mapper, "%s/capi/%s/mapper.safetensors", fixtures, kind);
    static char line[1 << 16];
    char model[256] = "";
    while (fgets(line, sizeof line, in)) {
        line[strcspn(line, "\n")] = 0;
        char *sp = strchr(line, ' ');
        if (!sp) continue;
        *sp = 0;
        const char *k = line, *v = sp + 1;
        if (!strcmp(k, "model")) snprintf(model, sizeof model, "%s", v);
        else if (!strcmp(k, "query")) snprintf(f->query, sizeof f->query, "%s", v);
        else if (!strcmp(k, "text") && f->n_texts < MAX_ITEMS) snprintf(f->text_store[f->n_texts++], 256, "%s", v);
        else if (!strcmp(k, "image") && f->n_images < MAX_ITEMS) snprintf(f->image_store[f->n_images++], 512, "%s", v);
    }
    fclose(in);
    int too_long = snprintf(f->model, sizeof f->model, "%s/%s", fixtures, model) >= (int)sizeof f->model;
    for (int i = 0; i < f->n_images; i++) {
        char name[256];
        snprintf(name, sizeof name, "%s", f->image_store[i]);
        too_long |= snprintf(f->image_store[i], sizeof f->image_store[i], "%s/%s", f->model, name) >= (int)sizeof f->image_store[i];
        f->images[i] = f->image_store[i];
    }
    if (too_long) { fprintf(stderr, "%s: paths too long\n", path); return -1; }
    for (int i = 0; i < f->n_texts; i++) f->texts[i] = f->text_store[i];
    if (!model[0] || !f->n_texts || f->n_images < 2) { fprintf(stderr, "%s: incomplete\n", path); return -1; }
    return 0;
}

/* ---- every output of one round of calls ---- */
typedef struct {
    float text[MAX_ITEMS * 128], image[MAX_ITEMS * 128], rerank[MAX_ITEMS];
    int64_t order[MAX_ITEMS], ids[MAX_ITEMS * MAX_ITEMS];
    float scores[MAX_ITEMS * MAX_ITEMS];
    float loss[2], grad_image[2][MAX_ITEMS * 128], grad_text[2][MAX_ITEMS * 128];
} results;

/* One round: encode texts and images, re-rank, both losses (on the round's own embeddings, so a
 * wrong embedding shows twice), mining. The first failing status, or CLIP_OK. */
static int run_round(clip_model *m, clip_elip *e, const fixture *f, results *r) {
    memset(r, 0, sizeof *r);
    int n = f->n_images < f->n_texts ? f->n_images : f->n_texts, d = f->dim;
    int rc = clip_encode_texts(m, f->texts, f->n_texts, r->text);
    if (rc == CLIP_OK) rc = clip_encode_image_files(m, f->images, f->n_images, r->image);
    if (rc == CLIP_OK && e) rc = clip_rerank(e, f->query, f->images, f->n_images, r->rerank, r->order);
    for (int kind = 0; rc == CLIP_OK && kind < 2; kind++)
        rc = clip_loss(kind, r->image, r->text, n, d, 10.0f, kind ? -10.0f : 0.0f, &r->loss[kind],
                       r->grad_image[kind], r->grad_text[kind]);
    if (rc == CLIP_OK) rc = clip_mine(r->image, f->n_images, r->text, f->n_texts, d, f->n_images, r->ids, r->scores);
    return rc;
}

static int same(const results *a, const results *b) { return memcmp(a, b, sizeof *a) == 0; }

static int load(const fixture *f, const clip_load_options *opts, clip_model **m, clip_elip **e) {
    int rc = clip_model_load_ex(f->model, opts, m);
    if (rc == CLIP_OK && e) rc = clip_elip_load(*m, f->mapper, e);
    if (rc != CLIP_OK) fprintf(stderr, "load %s: %s\n", f->model, clip_last_error());
    return rc;
}

/* ---- 1 and 2: workers that run rounds on a handle (their own when `own`) ---- */
typedef struct {
    const fixture *f;
    const results *want;
    clip_model *model;
    clip_elip *elip;
    int own, rounds;
    int bad;   /* rounds that failed or differed */
} worker;

static void *work(void *arg) {
    worker *w = arg;
    results *r = malloc(sizeof *r);
    if (w->own && load(w->f, NULL, &w->model, &w->elip) != CLIP_OK) { w->bad = w->rounds; free(r); return NULL; }
    for (int i = 0; i < w->rounds; i++)
        if (run_round(w->model, w->elip, w->f, r) != CLIP_OK || !same(r, w->want)) w->bad++;
    if (w->own) { clip_elip_free(w->elip); clip_model_free(w->model); }
    free(r);
    return NULL;
}

static int run_workers(worker *ws, int n) {
    pthread_t th[THREADS * 2];
    for (int i = 0; i < n; i++) pthread_create(&th[i], NULL, work, &ws[i]);
    int bad = 0;
    for (int i = 0; i < n; i++) { pthread_join(th[i], NULL); bad += ws[i].bad; }
    return bad;
}

/* ---- 3: load, use and free on one thread; free a handle under another thread's calls ---- */
typedef struct {
    const fixture *f;
    const results *want;
    int cycles, bad;
} cycler;

static void *load_use_free(void *arg) {
    cycler *c = arg;
    results *r = malloc(sizeof *r);
    for (int i = 0; i < c->cycles; i++) {
        clip_model *m = NULL;
        clip_elip *e = NULL;
        if (load(c->f, NULL, &m, &e) != CLIP_OK) { c->bad++; continue; }
        if (run_round(m, e, c->f, r) != CLIP_OK || !same(r, c->want)) c->bad++;
        clip_model_free(m);   /* the model first: the ELIP handle keeps its own reference */
        if (clip_rerank(e, c->f->query, c->f->images, c->f->n_images, r->rerank, r->order) != CLIP_OK) c->bad++;
        clip_elip_free(e);
        /* freed handles are refused, not dereferenced */
        if (clip_encode_texts(m, c->f->texts, c->f->n_texts, r->text) != CLIP_ERR_INVALID_ARGUMENT
            || clip_rerank(e, c->f->query, c->f->images, c->f->n_images, r->rerank, r->order) != CLIP_ERR_INVALID_ARGUMENT)
            c->bad++;
    }
    free(r);
    return NULL;
}

typedef struct {
    const fixture *f;
    const results *want;
    clip_model *model;
    atomic_int freed, whole, bad;
    int refused;
} victim;

/* Calls on a handle that another thread frees: each is either whole (CLIP_OK, the serial result)
 * or refused (CLIP_ERR_INVALID_ARGUMENT); once the free has returned, every call is refused. */
static void *call_until_refused(void *arg) {
    victim *v = arg;
    results *r = calloc(1, sizeof *r);
    for (int i = 0; i < 10000; i++) {
        int freed_before = atomic_load(&v->freed);
        int rc = clip_encode_texts(v->model, v->f->texts, v->f->n_texts, r->text);
        if (rc == CLIP_OK && !freed_before && memcmp(r->text, v->want->text, sizeof r->text) == 0) atomic_fetch_add(&v->whole, 1);
        else if (rc == CLIP_ERR_INVALID_ARGUMENT) { v->refused++; break; }
        else atomic_fetch_add(&v->bad, 1);
        memset(r->text, 0, sizeof r->text);
    }
    free(r);
    return NULL;
}

static void *free_after_calls(void *arg) {
    victim *v = arg;
    while (atomic_load(&v->whole) < 3 && atomic_load(&v->bad) == 0) sched_yield();
    clip_model_free(v->model);
    atomic_store(&v->freed, 1);
    return NULL;
}

/* ---- 4: settings changed while calls run ---- */
typedef struct {
    const fixture *f;
    const results *want, *want_alt;   /* the serial results at float32 and at the other precision */
    clip_model *model;
    clip_elip *elip;
    int rounds, fixed;                /* fixed: the handle has its own precision (float32) */
    int at_want, at_alt, bad;
} flipper_worker;

static atomic_int stop_flipping;

static void *settings_worker(void *arg) {
    flipper_worker *w = arg;
    float *out = malloc(sizeof(float) * MAX_ITEMS * 128);
    for (int i = 0; i < w->rounds; i++) {
        size_t bytes = sizeof(float) * (size_t)w->f->n_texts * (size_t)w->f->dim;
        memset(out, 0, bytes);
        if (clip_encode_texts(w->model, w->f->texts, w->f->n_texts, out) != CLIP_OK) { w->bad++; continue; }
        if (!memcmp(out, w->want->text, bytes)) w->at_want++;
        else if (!w->fixed && !memcmp(out, w->want_alt->text, bytes)) w->at_alt++;
        else w->bad++;
        float scores[MAX_ITEMS];
        size_t n = (size_t)w->f->n_images;
        if (clip_rerank(w->elip, w->f->query, w->f->images, w->f->n_images, scores, NULL) != CLIP_OK) { w->bad++; continue; }
        if (!memcmp(scores, w->want->rerank, n * sizeof(float))) w->at_want++;
        else if (!w->fixed && !memcmp(scores, w->want_alt->rerank, n * sizeof(float))) w->at_alt++;
        else w->bad++;
    }
    free(out);
    return NULL;
}

typedef struct { int32_t alt, threads; long flips; } flipper;

static void *flip_settings(void *arg) {
    flipper *s = arg;
    while (!atomic_load(&stop_flipping)) {
        clip_set_linear_precision(s->flips % 2 ? s->alt : CLIP_LINEAR_FLOAT32);
        clip_set_num_threads(s->flips % 3 ? s->threads : 1);
        (void)clip_linear_precision();
        (void)clip_num_threads();
        s->flips++;
        sched_yield();
    }
    return NULL;
}

static int check(const char *fixtures) {
    fixture fx[2];
    const char *kinds[2] = {"clip", "siglip"};
    static results want[2];
    clip_model *model[2] = {NULL, NULL};
    clip_elip *elip[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        int32_t d = 0;
        if (read_fixture(fixtures, kinds[k], &fx[k]) || load(&fx[k], NULL, &model[k], &elip[k]) != CLIP_OK
            || clip_model_embedding_dim(model[k], &d) != CLIP_OK || d <= 0 || d > 128) {
            expect(0, "the fixtures load");
            return 1;
        }
        fx[k].dim = d;
        expect(run_round(model[k], elip[k], &fx[k], &want[k]) == CLIP_OK, "the serial round runs");
    }
    int32_t threads = clip_num_threads();
    printf("clipcore %s; %s\n", clip_version(), clip_runtime_info());

    /* the serial round again, and at one thread: the same bits (the settings test relies on it) */
    static results again;
    int repeat_same = 1;
    for (int k = 0; k < 2; k++) {
        repeat_same = repeat_same && run_round(model[k], elip[k], &fx[k], &again) == CLIP_OK && same(&again, &want[k]);
        clip_set_num_threads(1);
        repeat_same = repeat_same && run_round(model[k], elip[k], &fx[k], &again) == CLIP_OK && same(&again, &want[k]);
        clip_set_num_threads(threads);
    }
    expect(repeat_same, "a serial round gives the same bits again, and at 1 thread");

    /* 1. eight threads, one handle */
    worker ws[THREADS * 2];
    for (int i = 0; i < THREADS; i++) ws[i] = (worker){&fx[0], &want[0], model[0], elip[0], 0, ROUNDS, 0};
    expect(run_workers(ws, THREADS) == 0, "8 threads on one handle: every round bitwise equal to the serial run");

    /* 2. eight threads, eight handles (four CLIP, four SigLIP) */
    for (int i = 0; i < THREADS; i++) ws[i] = (worker){&fx[i % 2], &want[i % 2], NULL, NULL, 1, ROUNDS, 0};
    expect(run_workers(ws, THREADS) == 0, "8 threads on 8 handles: every round bitwise equal to the serial run");

    /* 3. handles loaded, used and freed on two threads while six threads use the long-lived handles */
    {
        pthread_t th[2];
        cycler cs[2] = {{&fx[0], &want[0], 6, 0}, {&fx[1], &want[1], 6, 0}};
        for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, load_use_free, &cs[i]);
        for (int i = 0; i < THREADS - 2; i++) ws[i] = (worker){&fx[i % 2], &want[i % 2], model[i % 2], elip[i % 2], 0, ROUNDS, 0};
        int bad = run_workers(ws, THREADS - 2);
        for (int i = 0; i < 2; i++) { pthread_join(th[i], NULL); bad += cs[i].bad; }
        expect(bad == 0, "handles freed on one thread while others use theirs: results unchanged, freed handles refused");
    }
    {
        victim v = {.f = &fx[0], .want = &want[0]};
        if (load(&fx[0], NULL, &v.model, NULL) == CLIP_OK) {
            pthread_t caller, freer;
            pthread_create(&caller, NULL, call_until_refused, &v);
            pthread_create(&freer, NULL, free_after_calls, &v);
            pthread_join(caller, NULL);
            pthread_join(freer, NULL);
            printf("      (%d whole calls, then refused: %d)\n", atomic_load(&v.whole), v.refused);
        }
        expect(atomic_load(&v.bad) == 0 && atomic_load(&v.whole) >= 3 && v.refused == 1,
               "a handle freed while another thread calls it: each call whole or refused, refused once freed");
    }

    /* 4. settings changed while calls run */
    int32_t alt = CLIP_LINEAR_INT16;
    if (clip_set_linear_precision(alt) != CLIP_OK) {
        printf("skip  int16 has no kernel here: the precision flips use float32 only\n");
        alt = CLIP_LINEAR_FLOAT32;
    }
    static results want_alt;
    expect(run_round(model[0], elip[0], &fx[0], &want_alt) == CLIP_OK, "the serial round at the second precision runs");
    clip_set_linear_precision(CLIP_LINEAR_FLOAT32);
    {
        clip_load_options opts = CLIP_LOAD_OPTIONS_INIT;
        opts.linear_precision = CLIP_LINEAR_FLOAT32;
        clip_model *fixed_model = NULL;
        clip_elip *fixed_elip = NULL;
        int loaded = clip_model_load_ex(fx[0].model, &opts, &fixed_model) == CLIP_OK
                     && clip_elip_load(fixed_model, fx[0].mapper, &fixed_elip) == CLIP_OK;
        flipper_worker fw[4];
        for (int i = 0; i < 3; i++) fw[i] = (flipper_worker){&fx[0], &want[0], &want_alt, model[0], elip[0], 3 * ROUNDS, 0, 0, 0, 0};
        fw[3] = (flipper_worker){&fx[0], &want[0], &want_alt, fixed_model, fixed_elip, 3 * ROUNDS, 1, 0, 0, 0};
        flipper s = {alt, threads, 0};
        atomic_store(&stop_flipping, 0);
        pthread_t fth, wth[4];
        pthread_create(&fth, NULL, flip_settings, &s);
        for (int i = 0; i < 4; i++) pthread_create(&wth[i], NULL, settings_worker, &fw[i]);
        int bad = loaded ? 0 : 1, at_want = 0, at_alt = 0;
        for (int i = 0; i < 4; i++) { pthread_join(wth[i], NULL); bad += fw[i].bad; at_want += fw[i].at_want; at_alt += fw[i].at_alt; }
        atomic_store(&stop_flipping, 1);
        pthread_join(fth, NULL);
        clip_set_linear_precision(CLIP_LINEAR_FLOAT32);
        clip_set_num_threads(threads);
        printf("      (%ld setting changes; calls at float32: %d, at the second precision: %d)\n", s.flips, at_want, at_alt);
        expect(bad == 0, "settings changed while calls run: every call wholly at one precision (bitwise), "
                         "a handle with its own precision unaffected");
        expect(clip_linear_precision() == CLIP_LINEAR_FLOAT32 && clip_num_threads() == threads,
               "the settings read back as last set");
        clip_elip_free(fixed_elip);
        clip_model_free(fixed_model);
    }

    for (int k = 0; k < 2; k++) { clip_elip_free(elip[k]); clip_model_free(model[k]); }
    return failures ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FIXTURES_DIR\n", argv[0]);
        return 2;
    }
    int rc = check(argv[1]);
    printf("concurrency: %d failure(s)\n", failures);
    return rc;
}
