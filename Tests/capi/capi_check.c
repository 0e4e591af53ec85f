/* The C test of libclipcore.so: load a model, encode texts and images, mine,
 * compute the losses, re-rank with ELIP, feed bad handles, options and files,
 * all through include/clipcore.h.
 *
 *   capi_check --check EXPECTED.txt FIXTURES_DIR
 *
 * runs the calls on a fixture and compares every output with the reference
 * values (|diff| <= 1e-4), also from four threads sharing one model handle;
 * exit status 1 on a mismatch. examples/c/rerank.c is the example program.
 */
#include "clipcore.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ITEMS 16
#define TOL 1e-4f

static int failures = 0;

static void expect(int ok, const char *what) {
    printf("%s  %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok) failures++;
}

static float max_diff(const float *a, const float *b, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= m)) m = d; /* NaN counts as a mismatch */
    }
    return m;
}

/* ---- the expected-values file: "key value" lines ---- */
typedef struct {
    char model[512];
    int dim, n_texts, n_images;
    char texts[MAX_ITEMS][256];
    char images[MAX_ITEMS][256];
    char query[256];
    float *text_embeds, *image_embeds, *rerank_scores;
} expected;

static float *floats(const char *s, size_t n) {
    float *v = calloc(n, sizeof(float));
    char *end;
    for (size_t i = 0; v && i < n; i++) {
        v[i] = strtof(s, &end);
        if (end == s) { free(v); return NULL; }
        s = end;
    }
    return v;
}

static int read_expected(const char *path, expected *e) {
    FILE *f = fopen(path, "r");
    if (!f) { fprintf(stderr, "%s: cannot open\n", path); return -1; }
    memset(e, 0, sizeof *e);
    static char line[1 << 16];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *sp = strchr(line, ' ');
        if (!sp) continue;
        *sp = 0;
        const char *k = line, *v = sp + 1;
        if (!strcmp(k, "model")) snprintf(e->model, sizeof e->model, "%s", v);
        else if (!strcmp(k, "dim")) e->dim = atoi(v);
        else if (!strcmp(k, "text") && e->n_texts < MAX_ITEMS) snprintf(e->texts[e->n_texts++], 256, "%s", v);
        else if (!strcmp(k, "image") && e->n_images < MAX_ITEMS) snprintf(e->images[e->n_images++], 256, "%s", v);
        else if (!strcmp(k, "query")) snprintf(e->query, sizeof e->query, "%s", v);
        else if (!strcmp(k, "text_embeds")) e->text_embeds = floats(v, (size_t)e->n_texts * e->dim);
        else if (!strcmp(k, "image_embeds")) e->image_embeds = floats(v, (size_t)e->n_images * e->dim);
        else if (!strcmp(k, "rerank_scores")) e->rerank_scores = floats(v, (size_t)e->n_images);
    }
    fclose(f);
    if (!e->dim || !e->text_embeds || !e->image_embeds || !e->rerank_scores) {
        fprintf(stderr, "%s: incomplete\n", path);
        return -1;
    }
    return 0;
}

static void free_expected(expected *e) {
    free(e->text_embeds);
    free(e->image_embeds);
    free(e->rerank_scores);
}

/* ---- four threads, one handle ---- */
typedef struct {
    clip_model *model;
    const char *const *texts;
    int n;
    float *out;
    int status;
} job;

static void *encode_job(void *arg) {
    job *j = arg;
    for (int round = 0; round < 3 && j->status == CLIP_OK; round++)
        j->status = clip_encode_texts(j->model, j->texts, j->n, j->out);
    return NULL;
}

/* clip_status_string: a fixed text for every code of the header, "unknown status" otherwise, never NULL */
static void check_status_strings(void) {
    static const struct { int code; const char *text; } known[] = {
        {CLIP_OK, "ok"}, {CLIP_ERR_INVALID_ARGUMENT, "invalid argument"}, {CLIP_ERR_IO, "I/O error"},
        {CLIP_ERR_FORMAT, "format error"}, {CLIP_ERR_SHAPE, "shape mismatch"}, {CLIP_ERR_UNSUPPORTED, "unsupported"},
        {CLIP_ERR_OUT_OF_MEMORY, "out of memory"}, {CLIP_ERR_INTERNAL, "internal error"},
    };
    int ok = 1;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        const char *s = clip_status_string(known[i].code);
        if (!s || strcmp(s, known[i].text) || s != clip_status_string(known[i].code)) {
            fprintf(stderr, "clip_status_string(%d) = \"%s\", expected \"%s\"\n", known[i].code, s ? s : "(null)", known[i].text);
            ok = 0;
        }
    }
    expect(ok, "clip_status_string names every status code of the header (static storage)");
    static const int unknown[] = {1, 2, -8, 100, -1000, INT32_MAX, INT32_MIN};
    ok = 1;
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = clip_status_string(unknown[i]);
        if (!s || strcmp(s, "unknown status")) ok = 0;
    }
    expect(ok, "clip_status_string is \"unknown status\" for any other value, never NULL");
}

/* the library is the one the header describes */
static void check_versions(void) {
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", CLIP_VERSION_MAJOR, CLIP_VERSION_MINOR, CLIP_VERSION_PATCH);
    const char *got = clip_version();
    if (!got || strcmp(got, want)) fprintf(stderr, "clip_version() = \"%s\", the header says \"%s\"\n", got ? got : "(null)", want);
    expect(got && !strcmp(got, want), "clip_version() equals CLIP_VERSION_MAJOR.MINOR.PATCH of the header");
    int abi = clip_abi_version();
    if (abi != CLIP_ABI_VERSION) fprintf(stderr, "clip_abi_version() = %d, the header says %d\n", abi, CLIP_ABI_VERSION);
    expect(abi == CLIP_ABI_VERSION, "clip_abi_version() equals CLIP_ABI_VERSION of the header");
    /* CLIP_VERSION_NUMBER: the same version as one integer, usable in #if */
#if CLIP_VERSION_NUMBER < 200
#error "this program needs clipcore 0.2.0 or later"
#endif
    int major = -1, minor = -1, patch = -1;
    int parsed = got && sscanf(got, "%d.%d.%d", &major, &minor, &patch) == 3;
    int number = major * 10000 + minor * 100 + patch;
    if (!parsed || number != CLIP_VERSION_NUMBER)
        fprintf(stderr, "clip_version() = \"%s\" is %d, CLIP_VERSION_NUMBER is %d\n", got ? got : "(null)", number, CLIP_VERSION_NUMBER);
    expect(parsed && number == CLIP_VERSION_NUMBER && minor < 100 && patch < 100,
           "CLIP_VERSION_NUMBER is MAJOR * 10000 + MINOR * 100 + PATCH of clip_version()");
}


/* ---- handles, introspection, load options ---- */

/* The integer after "key": in text, searching from the first occurrence of section (NULL: the start). */
static int json_int(const char *text, const char *section, const char *key) {
    const char *p = section ? strstr(text, section) : text;
    char quoted[128];
    snprintf(quoted, sizeof quoted, "\"%s\"", key);
    p = p ? strstr(p, quoted) : NULL;
    if (!p) return -1;
    p = strchr(p + strlen(quoted), ':');
    return p ? atoi(p + 1) : -1;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static int refused(int rc, const char *needle) {
    const char *msg = clip_last_error();
    if (rc != CLIP_ERR_INVALID_ARGUMENT || !strstr(msg, needle)) {
        fprintf(stderr, "  got status %d, message \"%s\" (wanted %d and \"%s\")\n", rc, msg, CLIP_ERR_INVALID_ARGUMENT, needle);
        return 0;
    }
    return 1;
}

static float min_cosine(const float *a, const float *b, int rows, int d) {
    float worst = 1;
    for (int r = 0; r < rows; r++) {
        double ab = 0, aa = 0, bb = 0;
        for (int c = 0; c < d; c++) {
            ab += (double)a[r * d + c] * b[r * d + c];
            aa += (double)a[r * d + c] * a[r * d + c];
            bb += (double)b[r * d + c] * b[r * d + c];
        }
        float cos = (float)(ab / sqrt(aa * bb));
        if (!(cos >= worst)) worst = cos;
    }
    return worst;
}

static void check_handles(const char *dir, const char *mapper, const expected *e, const char *const *texts) {
    int d = e->dim;
    float *out = calloc((size_t)e->n_texts * d, sizeof(float));
    /* a freed handle stays refused, whatever address the next handle gets */
    clip_model *old = NULL, *fresh = NULL;
    int rc = clip_model_load(dir, &old);
    clip_model_free(old);
    if (rc == CLIP_OK) rc = clip_model_load(dir, &fresh);
    expect(rc == CLIP_OK && fresh && fresh != old, "a new handle never equals a freed one");
    int32_t v = -5;
    expect(refused(clip_encode_texts(old, texts, e->n_texts, out), "not a live handle"), "a freed model handle is refused (encode)");
    expect(refused(clip_model_embedding_dim(old, &v), "not a live handle") && v == -5, "a freed model handle is refused (introspection)");
    expect(refused(clip_model_embed_dim(old), "not a live handle"), "a freed model handle is refused (embed_dim)");
    clip_model_free(old); /* a second free of a freed handle does nothing */
    rc = clip_encode_texts(fresh, texts, e->n_texts, out);
    expect(rc == CLIP_OK && max_diff(out, e->text_embeds, (size_t)e->n_texts * d) <= TOL, "the new handle works after the old one's refusals");
    /* many handles in a row: none repeats a freed one */
    int distinct = 1;
    for (int i = 0; i < 8 && distinct; i++) {
        clip_model *again = NULL;
        if (clip_model_load(dir, &again) != CLIP_OK || again == old || again == fresh) distinct = 0;
        clip_model_free(again);
        if (distinct && clip_model_embed_dim(again) != CLIP_ERR_INVALID_ARGUMENT) distinct = 0;
    }
    expect(distinct, "eight load/free rounds: every handle is new and refused once freed");
    /* handle types are checked */
    clip_elip *elip = NULL;
    rc = clip_elip_load(fresh, mapper, &elip);
    float s[MAX_ITEMS];
    expect(rc == CLIP_OK && refused(clip_model_embed_dim((clip_model *)elip), "another kind"), "an ELIP handle is refused as a model");
    expect(refused(clip_rerank((clip_elip *)fresh, e->query, texts, 1, s, NULL), "another kind"), "a model handle is refused as an ELIP");
    clip_elip_free(elip);
    expect(refused(clip_rerank(elip, e->query, texts, 1, s, NULL), "not a live handle"), "a freed ELIP handle is refused");
    expect(refused(clip_model_embed_dim((clip_model *)(uintptr_t)0x1234), "not a live handle"), "a made-up handle is refused");
    clip_model_free(fresh);
    free(out);
}

static void check_introspection(const char *dir, const char *model_name, const expected *e) {
    char path[1100];
    snprintf(path, sizeof path, "%s/config.json", dir);
    const char *config = read_file(path);
    int want_kind = !strncmp(model_name, "siglip/", 7) ? CLIP_MODEL_SIGLIP : CLIP_MODEL_CLIP;
    int want_image = config ? json_int(config, "\"vision_config\"", "image_size") : -1;
    int want_context = config ? json_int(config, "\"text_config\"", "max_position_embeddings") : -1;
    clip_model *m = NULL;
    if (clip_model_load(dir, &m) != CLIP_OK) { expect(0, "introspection: load"); return; }
    int32_t kind = 0, dim = 0, image = 0, context = 0;
    expect(clip_model_kind(m, &kind) == CLIP_OK && kind == want_kind, "clip_model_kind is the config's model_type");
    expect(clip_model_embedding_dim(m, &dim) == CLIP_OK && dim == e->dim && dim == clip_model_embed_dim(m),
           "clip_model_embedding_dim = clip_model_embed_dim = the reference dim");
    expect(want_image > 0 && clip_model_image_size(m, &image) == CLIP_OK && image == want_image,
           "clip_model_image_size is vision_config.image_size");
    expect(want_context > 0 && clip_model_context_length(m, &context) == CLIP_OK && context == want_context,
           "clip_model_context_length is text_config.max_position_embeddings");
    printf("      kind %d, dim %d, image %d, context %d\n", kind, dim, image, context);
    int32_t v = -5;
    expect(refused(clip_model_kind(m, NULL), "out is NULL") && refused(clip_model_image_size(m, NULL), "out is NULL")
           && refused(clip_model_context_length(m, NULL), "out is NULL") && refused(clip_model_embedding_dim(m, NULL), "out is NULL"),
           "introspection refuses a NULL out");
    expect(refused(clip_model_kind(NULL, &v), "model is NULL") && refused(clip_model_context_length(NULL, &v), "model is NULL") && v == -5,
           "introspection refuses a NULL model and writes nothing");
    clip_model_free(m);
}

static void check_load_options(const char *dir, const expected *e, const char *const *texts) {
    int d = e->dim, n = e->n_texts;
    size_t count = (size_t)n * d;
    float *f32 = calloc(count, sizeof(float)), *q16 = calloc(count, sizeof(float)), *dflt = calloc(count, sizeof(float));
    clip_model *m = NULL;
    int32_t p = 99;
    /* NULL options: clip_model_load */
    int rc = clip_model_load_ex(dir, NULL, &m);
    expect(rc == CLIP_OK && m && clip_model_linear_precision(m, &p) == CLIP_OK && p == CLIP_LINEAR_DEFAULT,
           "clip_model_load_ex(NULL opts) loads a handle that follows the process");
    clip_model_free(m);
    /* a zero-initialised struct asks for the defaults (struct_size 0: no field is read) */
    int32_t threads_at_start = clip_num_threads();
    clip_load_options zeroed = {0};
    m = NULL;
    rc = clip_model_load_ex(dir, &zeroed, &m);
    p = 99;
    expect(rc == CLIP_OK && m && clip_model_linear_precision(m, &p) == CLIP_OK && p == CLIP_LINEAR_DEFAULT
           && clip_num_threads() == threads_at_start, "a zeroed clip_load_options loads with every default");
    rc = clip_encode_texts(m, texts, n, dflt);
    expect(rc == CLIP_OK && max_diff(dflt, e->text_embeds, count) <= TOL, "the zeroed-options handle encodes the reference");
    clip_model_free(m);
    /* bad struct sizes and values: refused before loading, *out NULL */
    struct { uint32_t size; int32_t threads, precision; const char *needle, *what; } bad[] = {
        {0, 0, CLIP_LINEAR_DEFAULT, "struct_size is 0", "struct_size 0 with linear_precision set is refused (not ignored)"},
        {0, 2, 0, "struct_size is 0", "struct_size 0 with num_threads set is refused (not ignored)"},
        {3, 0, CLIP_LINEAR_DEFAULT, "struct_size", "struct_size 3 (cannot hold struct_size) is refused"},
        {sizeof(clip_load_options), -2, CLIP_LINEAR_DEFAULT, "num_threads", "negative num_threads is refused"},
        {sizeof(clip_load_options), 0, 7, "linear_precision", "an unknown linear_precision is refused"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        clip_load_options o = {bad[i].size, bad[i].threads, bad[i].precision, CLIP_PREPROCESSING_PIL, CLIP_PRECISION_STRICT};
        m = (clip_model *)(uintptr_t)0x1;
        expect(refused(clip_model_load_ex(dir, &o, &m), bad[i].needle) && m == NULL, bad[i].what);
    }
    /* an older caller's struct: only struct_size (4 bytes), or struct_size + num_threads (8) */
    clip_load_options old4 = {4, 12345, 12345, 12345, 12345};   /* the fields past 4 bytes must not be read */
    rc = clip_model_load_ex(dir, &old4, &m);
    expect(rc == CLIP_OK && clip_model_linear_precision(m, &p) == CLIP_OK && p == CLIP_LINEAR_DEFAULT,
           "struct_size 4: the rest take their defaults (fields beyond it unread)");
    clip_model_free(m);
    int32_t threads_before = clip_num_threads();
    clip_load_options old8 = {8, 2, 12345, 12345, 12345};
    rc = clip_model_load_ex(dir, &old8, &m);
    expect(rc == CLIP_OK && clip_num_threads() == 2 && clip_model_linear_precision(m, &p) == CLIP_OK && p == CLIP_LINEAR_DEFAULT,
           "struct_size 8: num_threads applies (process-wide), linear_precision keeps its default");
    clip_model_free(m);
    clip_set_num_threads(threads_before);
    /* a newer caller's larger struct: zero tail accepted, a set unknown field refused */
    struct { clip_load_options base; int32_t future; } bigger = {CLIP_LOAD_OPTIONS_INIT, 0};
    bigger.base.struct_size = sizeof bigger;
    rc = clip_model_load_ex(dir, &bigger.base, &m);
    expect(rc == CLIP_OK, "a larger struct with a zero tail is accepted");
    clip_model_free(m);
    bigger.future = 1;
    m = NULL;
    rc = clip_model_load_ex(dir, &bigger.base, &m);
    expect(rc == CLIP_ERR_UNSUPPORTED && m == NULL && strstr(clip_last_error(), "struct_size"), "a larger struct with an unknown field set is refused");
    /* a per-handle precision: int16 on one handle, the process default (float32) on another, interleaved */
    clip_load_options o16 = CLIP_LOAD_OPTIONS_INIT;
    o16.linear_precision = CLIP_LINEAR_INT16;
    clip_load_options o32 = CLIP_LOAD_OPTIONS_INIT;
    o32.linear_precision = CLIP_LINEAR_FLOAT32;
    clip_model *h16 = NULL, *h32 = NULL, *hd = NULL;
    rc = clip_model_load_ex(dir, &o16, &h16);
    if (rc == CLIP_OK) rc = clip_model_load_ex(dir, &o32, &h32);
    if (rc == CLIP_OK) rc = clip_model_load_ex(dir, NULL, &hd);
    expect(rc == CLIP_OK && clip_model_linear_precision(h16, &p) == CLIP_OK && p == CLIP_LINEAR_INT16,
           "clip_model_linear_precision reports the handle's own precision");
    int ok = clip_encode_texts(h16, texts, n, q16) == CLIP_OK && clip_encode_texts(hd, texts, n, dflt) == CLIP_OK;
    expect(ok && clip_linear_precision() == CLIP_LINEAR_FLOAT32, "the handle's int16 leaves the process precision alone");
    float cos = min_cosine(q16, e->text_embeds, n, d);
    expect(ok && cos >= 0.9999f && max_diff(q16, e->text_embeds, count) > 1e-6f, "an int16 handle encodes at int16 (cosine >= 0.9999, not float32's numbers)");
    expect(ok && max_diff(dflt, e->text_embeds, count) <= TOL, "a default handle beside it stays at float32");
    /* the process switches to int16: the float32 handle keeps float32, the default handle follows */
    clip_set_linear_precision(CLIP_LINEAR_INT16);
    ok = clip_encode_texts(h32, texts, n, f32) == CLIP_OK && clip_encode_texts(hd, texts, n, dflt) == CLIP_OK;
    clip_set_linear_precision(CLIP_LINEAR_FLOAT32);
    expect(ok && max_diff(f32, e->text_embeds, count) <= TOL, "a float32 handle stays float32 under a process-wide int16");
    expect(ok && max_diff(dflt, q16, count) <= 1e-6f, "a default handle follows the process-wide int16");
    clip_model_free(h16);
    clip_model_free(h32);
    clip_model_free(hd);
    /* int8 and bf16: where this CPU (or CLIPCORE_ISA / CLIPCORE_KERNELS) has the kernel, a handle encodes within
     * the path's tolerance; where it has not, the load and the process-wide setter say CLIP_ERR_UNSUPPORTED and
     * change nothing, and CLIP_PRECISION_FALLBACK loads a float32 handle instead */
    struct { int32_t precision; float min_cos; const char *name; } reduced[] = {
        {CLIP_LINEAR_INT8, 0.999f, "int8"}, {CLIP_LINEAR_BF16, 0.9999f, "bf16"},
    };
    for (size_t i = 0; i < sizeof reduced / sizeof reduced[0]; i++) {
        char what[160];
        clip_load_options o = CLIP_LOAD_OPTIONS_INIT;
        o.linear_precision = reduced[i].precision;
        clip_model *h = (clip_model *)(uintptr_t)0x1;
        rc = clip_model_load_ex(dir, &o, &h);
        if (rc == CLIP_OK) {
            ok = clip_encode_texts(h, texts, n, q16) == CLIP_OK;
            cos = min_cosine(q16, e->text_embeds, n, d);
            snprintf(what, sizeof what, "a %s handle encodes at %s (cosine %.6f >= %.4f, not float32's numbers)",
                     reduced[i].name, reduced[i].name, cos, reduced[i].min_cos);
            expect(ok && cos >= reduced[i].min_cos && max_diff(q16, e->text_embeds, count) > 1e-6f, what);
            clip_model_free(h);
            snprintf(what, sizeof what, "%s is accepted process-wide where the CPU runs it", reduced[i].name);
            expect(clip_set_linear_precision(reduced[i].precision) == CLIP_OK
                   && clip_linear_precision() == reduced[i].precision, what);
            clip_set_linear_precision(CLIP_LINEAR_FLOAT32);
        } else {
            snprintf(what, sizeof what, "%s where the CPU has no kernel: CLIP_ERR_UNSUPPORTED, naming what it needs",
                     reduced[i].name);
            expect(rc == CLIP_ERR_UNSUPPORTED && h == NULL && strstr(clip_last_error(), "needs"), what);
            o.precision_fallback = CLIP_PRECISION_FALLBACK;
            rc = clip_model_load_ex(dir, &o, &h);
            ok = rc == CLIP_OK && clip_encode_texts(h, texts, n, f32) == CLIP_OK;
            snprintf(what, sizeof what, "%s with CLIP_PRECISION_FALLBACK loads a float32 handle", reduced[i].name);
            expect(ok && clip_model_linear_precision(h, &p) == CLIP_OK && p == CLIP_LINEAR_FLOAT32
                   && max_diff(f32, e->text_embeds, count) <= TOL, what);
            clip_model_free(h);
            snprintf(what, sizeof what, "clip_set_linear_precision(%s) without its kernel: refused, nothing changes",
                     reduced[i].name);
            expect(clip_set_linear_precision(reduced[i].precision) == CLIP_ERR_UNSUPPORTED
                   && clip_linear_precision() == CLIP_LINEAR_FLOAT32, what);
        }
    }
    clip_load_options badfb = CLIP_LOAD_OPTIONS_INIT;
    badfb.precision_fallback = 5;
    h16 = (clip_model *)(uintptr_t)0x1;
    expect(refused(clip_model_load_ex(dir, &badfb, &h16), "precision_fallback") && h16 == NULL,
           "an unknown precision_fallback is refused");
    free(f32); free(q16); free(dflt);
}

/* preprocessing: CLIP_PREPROCESSING_TORCHVISION against transformers 5's default image processors
 * (Tests/Fixtures/torchvision/embeddings.txt: "<case> <model> <image> <dim> <floats>" per line), PIL beside it */
static void check_preprocessing(const char *dir, const char *fixtures, const expected *e) {
    clip_model *tv = NULL, *pil = NULL, *old = NULL;
    clip_load_options o = CLIP_LOAD_OPTIONS_INIT;
    expect(o.preprocessing == CLIP_PREPROCESSING_PIL, "CLIP_LOAD_OPTIONS_INIT holds CLIP_PREPROCESSING_PIL");
    o.preprocessing = CLIP_PREPROCESSING_TORCHVISION;
    int rc = clip_model_load_ex(dir, &o, &tv);
    if (rc == CLIP_OK) rc = clip_model_load_ex(dir, NULL, &pil);
    /* a caller built before the field (struct_size 12): whatever follows is not read, PIL it is */
    clip_load_options older = CLIP_LOAD_OPTIONS_INIT;
    older.struct_size = 12;
    older.preprocessing = 12345;
    if (rc == CLIP_OK) rc = clip_model_load_ex(dir, &older, &old);
    expect(rc == CLIP_OK && tv && pil && old, "loads with CLIP_PREPROCESSING_TORCHVISION, NULL options and struct_size 12");
    char path[1024];
    snprintf(path, sizeof path, "%s/torchvision/embeddings.txt", fixtures);
    FILE *f = fopen(path, "r");
    expect(f != NULL, "Tests/Fixtures/torchvision/embeddings.txt opens");
    int cases = 0, within = 0, differs = 0, old_is_pil = 1;
    char name[128], model[256], image[256];
    int dim;
    while (f && rc == CLIP_OK && fscanf(f, "%127s %255s %255s %d", name, model, image, &dim) == 4) {
        float ref[1024], a[1024], b[1024], c[1024];
        if (dim <= 0 || dim > 1024) break;
        for (int i = 0; i < dim; i++) if (fscanf(f, "%f", &ref[i]) != 1) dim = -1;
        if (dim < 0 || strcmp(model, e->model) != 0 || dim != e->dim) continue;
        char file[1400];
        snprintf(file, sizeof file, "%s/%s", fixtures, image);
        const char *files[1] = {file};
        int ok = clip_encode_image_files(tv, files, 1, a) == CLIP_OK && clip_encode_image_files(pil, files, 1, b) == CLIP_OK
                 && clip_encode_image_files(old, files, 1, c) == CLIP_OK;
        cases++;
        within += ok && max_diff(a, ref, (size_t)dim) <= TOL;
        differs += ok && max_diff(a, b, (size_t)dim) > 1e-6f;
        old_is_pil = old_is_pil && ok && max_diff(b, c, (size_t)dim) == 0;
        printf("      %s (%s): torchvision %.2g from transformers 5, PIL %.2g\n", name, image,
               (double)max_diff(a, ref, (size_t)dim), (double)max_diff(b, ref, (size_t)dim));
    }
    if (f) fclose(f);
    expect(cases >= 1 && within == cases, "a torchvision handle encodes image files as transformers 5's default processor (<= 1e-4)");
    expect(differs >= 1, "a PIL handle beside it gives other numbers");
    expect(cases >= 1 && old_is_pil, "struct_size 12 leaves preprocessing at PIL");
    o.preprocessing = 2;
    clip_model *m = (clip_model *)(uintptr_t)0x1;
    expect(refused(clip_model_load_ex(dir, &o, &m), "preprocessing") && m == NULL, "an unknown preprocessing is refused");
    clip_model_free(tv);
    clip_model_free(pil);
    clip_model_free(old);
}

/* ---- files that must be refused, never abort the process ---- */

/* Writes a safetensors file of zero-filled F32 tensors: names[i] of shape dims[i] (rank[i] sizes), with
 * metadata prompt_tokens; with no_data, the header alone (every data_offsets [0, 0], whatever the
 * shapes say). Returns 0 on success. */
static int write_safetensors(const char *path, int count, const char *const *names, const int64_t (*dims)[3],
                             const int *rank, int prompt_tokens, int no_data) {
    char header[4096];
    int64_t offset = 0;
    int len = snprintf(header, sizeof header, "{\"__metadata__\": {\"prompt_tokens\": \"%d\"}", prompt_tokens);
    for (int i = 0; i < count && len < (int)sizeof header - 256; i++) {
        int64_t n = 1;
        len += snprintf(header + len, sizeof header - (size_t)len, ", \"%s\": {\"dtype\": \"F32\", \"shape\": [", names[i]);
        for (int j = 0; j < rank[i]; j++) {
            if (!no_data) n *= dims[i][j];
            len += snprintf(header + len, sizeof header - (size_t)len, "%s%lld", j ? ", " : "", (long long)dims[i][j]);
        }
        if (no_data) n = 0;
        len += snprintf(header + len, sizeof header - (size_t)len, "], \"data_offsets\": [%lld, %lld]}",
                        (long long)offset, (long long)(offset + 4 * n));
        offset += 4 * n;
    }
    len += snprintf(header + len, sizeof header - (size_t)len, "}");
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    uint64_t hl = (uint64_t)len;
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(hl >> (8 * i));
    int ok = fwrite(le, 1, 8, f) == 8 && fwrite(header, 1, (size_t)len, f) == (size_t)len;
    for (int64_t i = 0; ok && i < offset; i++) ok = fputc(0, f) != EOF;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* An ELIP mapper d_in -> hidden -> hidden -> out of zeros. */
static int write_mapper(const char *path, int64_t d_in, int64_t hidden, int64_t out, int prompt_tokens) {
    static const char *const names[] = {"mapper.0.weight", "mapper.0.bias", "mapper.2.weight", "mapper.2.bias",
                                        "mapper.4.weight", "mapper.4.bias"};
    const int64_t dims[6][3] = {{hidden, d_in}, {hidden}, {hidden, hidden}, {hidden}, {out, hidden}, {out}};
    static const int rank[] = {2, 1, 2, 1, 2, 1};
    return write_safetensors(path, 6, names, dims, rank, prompt_tokens, 0);
}

static int refused_with(int rc, int want, const char *path, const char *needle) {
    const char *msg = clip_last_error();
    if (rc != want || !strstr(msg, path) || !strstr(msg, needle)) {
        fprintf(stderr, "  got status %d, message \"%s\" (wanted %d naming %s and \"%s\")\n", rc, msg, want, path, needle);
        return 0;
    }
    return 1;
}

static void check_bad_files(const char *dir, const expected *e) {
    char path[] = "/tmp/capi_check_mapper_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) { expect(0, "bad files: a temporary file"); return; }
    close(fd);
    clip_model *m = NULL;
    if (clip_model_load(dir, &m) != CLIP_OK) { expect(0, "bad files: load"); unlink(path); return; }
    char cfg[1100];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    const char *config = read_file(cfg);
    int width = config ? json_int(config, "\"vision_config\"", "hidden_size") : -1;
    clip_elip *elip = (clip_elip *)(uintptr_t)0x1;
    int rc = write_mapper(path, e->dim, 0, 3 * width, 3) ? -100 : clip_elip_load(m, path, &elip);
    expect(refused_with(rc, CLIP_ERR_FORMAT, path, "mapper.0.weight") && elip == NULL,
           "a mapper whose hidden width is 0 is refused (FORMAT, naming the file and key)");
    rc = write_mapper(path, e->dim, 8, 3 * width, 0) ? -100 : clip_elip_load(m, path, &elip);
    expect(refused_with(rc, CLIP_ERR_FORMAT, path, "prompt_tokens") && elip == NULL, "a mapper with prompt_tokens 0 is refused");
    rc = write_mapper(path, e->dim + 1, 8, 3 * width, 3) ? -100 : clip_elip_load(m, path, &elip);
    expect(refused_with(rc, CLIP_ERR_SHAPE, path, "mapper maps") && elip == NULL, "a mapper for another text width is refused (SHAPE)");
    static const char *const absurd[] = {"mapper.0.weight"};
    const int64_t absurd_dims[1][3] = {{(int64_t)1 << 40, (int64_t)1 << 40}};
    static const int absurd_rank[] = {2};
    /* the header says 2^80 floats and the data section holds none */
    rc = write_safetensors(path, 1, absurd, absurd_dims, absurd_rank, 3, 1) ? -100 : clip_elip_load(m, path, &elip);
    expect(refused_with(rc, CLIP_ERR_FORMAT, path, "mapper.0.weight") && elip == NULL,
           "a mapper header with shape [2^40, 2^40] is refused (FORMAT)");
    rc = write_mapper(path, e->dim, 8, 3 * width, 3) ? -100 : clip_elip_load(m, path, &elip);
    expect(rc == CLIP_OK && elip, "a well-formed mapper of zeros written here loads");
    clip_elip_free(elip);
    int32_t dim = 0;
    expect(clip_model_embedding_dim(m, &dim) == CLIP_OK && dim == e->dim, "the process and the model are alive after the bad files");
    clip_model_free(m);
    unlink(path);
}

/* A text-only folder (sentence-transformers layout): it encodes texts to unit rows; image calls are
 * CLIP_ERR_UNSUPPORTED, name the reason and write nothing. */
static void check_text_only(const char *fixtures) {
    char dir[1024], png[1100];
    snprintf(dir, sizeof dir, "%s/text_only/tiny-st", fixtures);
    snprintf(png, sizeof png, "%s/clip/gelu_vocab/image0.png", fixtures);
    clip_model *m = NULL;
    if (clip_model_load(dir, &m) != CLIP_OK) { expect(0, "text-only: load"); fprintf(stderr, "%s\n", clip_last_error()); return; }
    int32_t kind = 0, size = -1, dim = 0;
    expect(clip_model_kind(m, &kind) == CLIP_OK && kind == CLIP_MODEL_TEXT, "text-only: the kind is CLIP_MODEL_TEXT");
    expect(clip_model_image_size(m, &size) == CLIP_OK && size == 0, "text-only: the image size is 0");
    expect(clip_model_embedding_dim(m, &dim) == CLIP_OK && dim == 32, "text-only: 32-wide embeddings");
    const char *texts[2] = {"a small red circle", ""};
    float out[64], sentinel[32];
    int ok = clip_encode_texts(m, texts, 2, out) == CLIP_OK;
    for (int r = 0; ok && r < 2; r++) {
        double n = 0;
        for (int k = 0; k < 32; k++) n += (double)out[r * 32 + k] * out[r * 32 + k];
        ok = fabs(n - 1) <= 1e-5;
    }
    expect(ok, "text-only: clip_encode_texts gives unit rows");
    for (int k = 0; k < 32; k++) sentinel[k] = 7;
    const char *paths[1] = {png};
    int rc = clip_encode_image_files(m, paths, 1, sentinel);
    int untouched = 1;
    for (int k = 0; k < 32; k++) untouched &= sentinel[k] == 7;
    expect(rc == CLIP_ERR_UNSUPPORTED && strstr(clip_last_error(), "text-only") && untouched,
           "text-only: clip_encode_image_files is CLIP_ERR_UNSUPPORTED and writes nothing");
    uint8_t pixels[8 * 8 * 3] = {0};
    rc = clip_encode_rgb8(m, pixels, 1, 8, 8, sentinel);
    expect(rc == CLIP_ERR_UNSUPPORTED && sentinel[0] == 7, "text-only: clip_encode_rgb8 is CLIP_ERR_UNSUPPORTED");
    clip_model_free(m);
}

static int check(const char *expected_path, const char *fixtures) {
    check_versions();
    check_status_strings();
    expected e;
    if (read_expected(expected_path, &e)) return 2;
    char dir[1024], mapper[1024], paths[MAX_ITEMS][1300];
    snprintf(dir, sizeof dir, "%s/%s", fixtures, e.model);
    snprintf(mapper, sizeof mapper, "%s", expected_path);
    char *slash = strrchr(mapper, '/');
    snprintf(slash ? slash + 1 : mapper, sizeof mapper - (size_t)(slash ? slash + 1 - mapper : 0), "mapper.safetensors");
    const char *texts[MAX_ITEMS], *images[MAX_ITEMS];
    for (int i = 0; i < e.n_texts; i++) texts[i] = e.texts[i];
    for (int i = 0; i < e.n_images; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%s", dir, e.images[i]);
        images[i] = paths[i];
    }

    clip_model *model = NULL;
    int rc = clip_model_load(dir, &model);
    expect(rc == CLIP_OK && model, "clip_model_load");
    if (rc != CLIP_OK) { fprintf(stderr, "%s\n", clip_last_error()); free_expected(&e); return 1; }
    expect(clip_model_embed_dim(model) == e.dim, "clip_model_embed_dim");
    int d = e.dim;

    float *t = calloc((size_t)e.n_texts * d, sizeof(float));
    rc = clip_encode_texts(model, texts, e.n_texts, t);
    expect(rc == CLIP_OK && max_diff(t, e.text_embeds, (size_t)e.n_texts * d) <= TOL, "clip_encode_texts matches the reference");

    float *im = calloc((size_t)e.n_images * d, sizeof(float));
    rc = clip_encode_image_files(model, images, e.n_images, im);
    expect(rc == CLIP_OK && max_diff(im, e.image_embeds, (size_t)e.n_images * d) <= TOL, "clip_encode_image_files matches the reference");

    /* mining: texts against images, best first, scores are inner products */
    int k = e.n_images;
    int64_t *ids = calloc((size_t)e.n_texts * k, sizeof(int64_t));
    float *scores = calloc((size_t)e.n_texts * k, sizeof(float));
    rc = clip_mine(im, e.n_images, t, e.n_texts, d, k, ids, scores);
    int mine_ok = rc == CLIP_OK;
    for (int q = 0; mine_ok && q < e.n_texts; q++) {
        for (int r = 0; r < k; r++) {
            int64_t id = ids[q * k + r];
            if (id < 0 || id >= e.n_images) { mine_ok = 0; break; }
            float dot = 0;
            for (int c = 0; c < d; c++) dot += t[q * d + c] * im[id * d + c];
            if (fabsf(dot - scores[q * k + r]) > TOL) mine_ok = 0;
            if (r > 0 && scores[q * k + r] > scores[q * k + r - 1]) mine_ok = 0;
        }
    }
    expect(mine_ok, "clip_mine returns the best images first with their inner products");

    /* InfoNCE over the first min(n_texts, n_images) pairs, against a direct computation */
    int n = e.n_texts < e.n_images ? e.n_texts : e.n_images;
    float loss = 0, scale = 10.0f, direct = 0;
    rc = clip_loss(CLIP_LOSS_INFONCE, im, t, n, d, scale, 0, &loss, NULL, NULL);
    for (int dir2 = 0; dir2 < 2; dir2++) {
        for (int i = 0; i < n; i++) {
            double mx = -1e30, sum = 0, own = 0;
            for (int j = 0; j < n; j++) {
                float dot = 0;
                for (int c = 0; c < d; c++) dot += dir2 ? t[i * d + c] * im[j * d + c] : im[i * d + c] * t[j * d + c];
                double z = scale * dot;
                if (z > mx) mx = z;
                if (j == i) own = z;
            }
            for (int j = 0; j < n; j++) {
                float dot = 0;
                for (int c = 0; c < d; c++) dot += dir2 ? t[i * d + c] * im[j * d + c] : im[i * d + c] * t[j * d + c];
                sum += exp(scale * dot - mx);
            }
            direct += (float)((mx + log(sum) - own) / n / 2);
        }
    }
    expect(rc == CLIP_OK && fabsf(loss - direct) <= TOL, "clip_loss (InfoNCE) matches a direct computation");

    /* ELIP re-ranking */
    clip_elip *elip = NULL;
    rc = clip_elip_load(model, mapper, &elip);
    expect(rc == CLIP_OK && elip, "clip_elip_load");
    if (rc != CLIP_OK) fprintf(stderr, "%s\n", clip_last_error());
    float rs[MAX_ITEMS];
    int64_t order[MAX_ITEMS];
    rc = clip_rerank(elip, e.query, images, e.n_images, rs, order);
    int order_ok = rc == CLIP_OK;
    for (int r = 1; order_ok && r < e.n_images; r++) order_ok = rs[order[r - 1]] >= rs[order[r]];
    expect(rc == CLIP_OK && max_diff(rs, e.rerank_scores, (size_t)e.n_images) <= TOL, "clip_rerank scores match the reference");
    expect(order_ok, "clip_rerank orders candidates by descending score");

    /* four threads sharing the handle get the single-thread result, within 1e-6: concurrent calls
     * may share OpenBLAS's threads differently, and a row computed by another kernel path can differ
     * in its last bits; a data race would differ by far more */
    pthread_t th[4];
    job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (job){model, texts, e.n_texts, calloc((size_t)e.n_texts * d, sizeof(float)), CLIP_OK};
        pthread_create(&th[i], NULL, encode_job, &jobs[i]);
    }
    int same = 1;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        same = same && jobs[i].status == CLIP_OK && max_diff(jobs[i].out, t, (size_t)e.n_texts * d) <= 1e-6f;
        free(jobs[i].out);
    }
    expect(same, "four threads on one handle give the single-thread embeddings");

    clip_elip_free(elip);
    clip_model_free(model);
    check_handles(dir, mapper, &e, texts);
    check_introspection(dir, e.model, &e);
    check_load_options(dir, &e, texts);
    check_preprocessing(dir, fixtures, &e);
    check_text_only(fixtures);
    check_bad_files(dir, &e);
    free(t); free(im); free(ids); free(scores);
    free_expected(&e);
    return failures ? 1 : 0;
}

int main(int argc, char **argv) {
    printf("clipcore %s (ABI %d); %s\n", clip_version(), clip_abi_version(), clip_runtime_info());
    if (argc == 4 && !strcmp(argv[1], "--check")) {
        int rc = check(argv[2], argv[3]);
        printf("%s: %d failure(s)\n", argv[2], failures);
        return rc;
    }
    fprintf(stderr, "usage: %s --check EXPECTED.txt FIXTURES_DIR\n", argv[0]);
    return 2;
}
