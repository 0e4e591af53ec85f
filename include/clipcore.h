/* clipcore.h: the C interface of libclipcore.so.
 *
 * Conventions: every name starts with clip_; strings returned by the library
 * are owned by it and stay valid for the life of the process unless stated.
 *
 * Sections, by topic: version and errors, models, encoding, losses and mining,
 * ELIP re-ranking, process-wide settings, model introspection, load options.
 *
 * This file is the ABI's one source: the library's Swift code imports it as a
 * C module (Sources/CClipABI) and takes its constants, the layout of
 * clip_load_options and the type of every function from it.
 */
#ifndef CLIPCORE_H
#define CLIPCORE_H

#include <stdint.h>

#if defined(_WIN32)
#define CLIP_API __declspec(dllimport)
#else
#define CLIP_API __attribute__((visibility("default")))
#endif

/* The version of the library this header belongs to: clip_version() returns
 * "CLIP_VERSION_MAJOR.CLIP_VERSION_MINOR.CLIP_VERSION_PATCH" and
 * clip_abi_version() returns CLIP_ABI_VERSION. A program can compare them at
 * start-up to find a header and library that do not belong together.
 * CLIP_VERSION_NUMBER is the same version as one integer that grows with each
 * release, MAJOR * 10000 + MINOR * 100 + PATCH (0.2.0 is 200), for #if tests. */
#define CLIP_VERSION_MAJOR 0
#define CLIP_VERSION_MINOR 2
#define CLIP_VERSION_PATCH 0
#define CLIP_VERSION_NUMBER (CLIP_VERSION_MAJOR * 10000 + CLIP_VERSION_MINOR * 100 + CLIP_VERSION_PATCH)
#define CLIP_ABI_VERSION 1

#ifdef __cplusplus
extern "C" {
#endif

/* ---- The contract (ABI version 1) -------------------------------------
 *
 * Status codes: every fallible function returns CLIP_OK (0) or a negative
 * code, and then clip_last_error() describes the problem. Buffers are owned
 * by the caller; their sizes are given with each function. Embeddings are
 * row-major float32, L2-normalised, in the model's joint space.
 *
 * Threads: a clip_model may be used from several threads at once. Calls on one
 * handle are serialised by a lock inside the handle (each call already uses
 * every core through clipcore's kernels); different handles run in parallel.
 * clip_last_error() is per thread. The process-wide settings (thread count,
 * linear precision) may be read and set from any thread at any time.
 *
 * Counts: every int64_t count (n, n_images, n_texts, dim, k) must lie in
 * 1 ... INT32_MAX (2147483647), and count * dim must fit in memory; anything
 * else is CLIP_ERR_INVALID_ARGUMENT.
 *
 * Files: nothing a file says can stop the process. A model folder, image or
 * mapper whose contents are malformed, or whose sizes are zero, negative, do
 * not fit together or ask for more memory than the file holds, is refused
 * with an error code and a clip_last_error() message naming the file and key.
 *
 * Handles: a clip_model * or clip_elip * is an opaque value, not an address;
 * each handle the library hands out is new (a 64-bit generation number that is
 * never reused), so a freed handle, a handle of the other type, or any value
 * the library did not hand out is refused with CLIP_ERR_INVALID_ARGUMENT and a
 * clip_last_error() message, never dereferenced. Freeing such a value, or a
 * handle twice, does nothing.
 *
 * Enums only grow at the end: a value, once released, never changes.
 */

/* ---- Version and errors ------------------------------------------------- */

/* Status codes (this enum is their one definition; scripts/check-status-codes.py
 * holds python/clipcore/__init__.py and clip_status_string to it). Each error code
 * is one kind of failure: INVALID_ARGUMENT a bad argument or setting, IO a
 * missing or unreadable (or unwritable) file, FORMAT malformed contents (JSON,
 * safetensors header, PNG, JPEG), SHAPE sizes that do not fit together, UNSUPPORTED
 * well-formed input this library does not handle (a model_type, a dtype, a
 * file that is neither PNG nor JPEG, a file over a resource limit: the CLIPCORE_MAX_*
 * environment variables of docs/RELIABILITY.md),
 * OUT_OF_MEMORY, INTERNAL a failure inside the library. */
enum { CLIP_OK = 0, CLIP_ERR_INVALID_ARGUMENT = -1, CLIP_ERR_IO = -2, CLIP_ERR_FORMAT = -3,
       CLIP_ERR_SHAPE = -4, CLIP_ERR_UNSUPPORTED = -5, CLIP_ERR_OUT_OF_MEMORY = -6, CLIP_ERR_INTERNAL = -7 };

/* The library version, "MAJOR.MINOR.PATCH"; static storage. */
CLIP_API const char *clip_version(void);

/* The ABI version of the loaded library; compare with CLIP_ABI_VERSION. */
CLIP_API int32_t clip_abi_version(void);

/* A short English description of a status code, e.g. "ok" for CLIP_OK,
 * "invalid argument" for CLIP_ERR_INVALID_ARGUMENT, "I/O error", "format
 * error", "shape mismatch", "unsupported", "out of memory", "internal error";
 * "unknown status" for any value that is not a CLIP_OK / CLIP_ERR_* code.
 * Static storage, never NULL, the same for every thread; unlike
 * clip_last_error() it names the kind of failure, not its details. */
CLIP_API const char *clip_status_string(int status);

/* This thread's last error message, "" if none. Valid until this thread's
 * next clipcore call. */
CLIP_API const char *clip_last_error(void);

/* ---- Models --------------------------------------------------------------
 * clip_model_load_ex, the load with options, is under "Load options". */

typedef struct clip_model clip_model;

/* Loads a model folder in Hugging Face layout (config.json with model_type
 * "clip" or "siglip", model.safetensors or shards, tokenizer files,
 * preprocessor_config.json), an open_clip folder, a dual encoder, or a text-only
 * folder (model_type "bert", "roberta", "mpnet", sentence-transformers' modules.json):
 * a text-only model encodes texts, and its image calls return CLIP_ERR_UNSUPPORTED. On success *out holds a handle to release with
 * clip_model_free; on failure *out is NULL. The same as clip_model_load_ex
 * with opts NULL: the handle follows the process-wide settings. */
CLIP_API int  clip_model_load(const char *dir, clip_model **out);

/* Releases a model. NULL is fine; an ELIP handle built on it keeps its own
 * reference, so the order of the frees does not matter. */
CLIP_API void clip_model_free(clip_model *model);

/* The joint embedding dimension `dim` (> 0), or a negative error code. Kept
 * for compatibility; clip_model_embedding_dim has the status convention. */
CLIP_API int  clip_model_embed_dim(const clip_model *model);

/* ---- Encoding ------------------------------------------------------------ */

/* Encodes n UTF-8 texts (n > 0, none NULL). out: n * dim floats. A text
 * longer than the model's context length (clip_model_context_length, in
 * tokens, special tokens included) is truncated as transformers' tokenizer
 * does with truncation=True: its first tokens are kept, and the end token
 * where the family has one. Not an error; the empty string is a valid text. */
CLIP_API int  clip_encode_texts(clip_model *model, const char *const *texts, int64_t n, float *out);

/* Encodes n PNG or JPEG files (n > 0; the format is recognised by content, not by
 * extension), decoded as PIL's Image.open(path).convert("RGB") does, preprocessed as preprocessor_config.json says.
 * Images over 178956970 pixels (CLIPCORE_MAX_IMAGE_PIXELS) are refused with CLIP_ERR_UNSUPPORTED
 * before their pixels are allocated.
 * out: n * dim floats. Nothing is written when any file fails. */
CLIP_API int  clip_encode_image_files(clip_model *model, const char *const *paths, int64_t n, float *out);

/* Encodes n RGB8 images of height x width (row-major, interleaved, n * height
 * * width * 3 bytes), preprocessed as the file path does. out: n * dim floats.
 * height and width are positive and height * width is at most 178956970 (CLIPCORE_MAX_IMAGE_PIXELS). */
CLIP_API int  clip_encode_rgb8(clip_model *model, const uint8_t *pixels, int64_t n,
                               int32_t height, int32_t width, float *out);

/* ---- Losses and mining --------------------------------------------------- */

enum { CLIP_LOSS_INFONCE = 0, CLIP_LOSS_SIGMOID = 1 };

/* Contrastive loss of n matching pairs of dim-dimensional embeddings (each
 * n * dim floats, used as given): logits = logit_scale * image . text^T +
 * logit_bias (logit_scale is the multiplier, not its log).
 * CLIP_LOSS_INFONCE: (mean cross-entropy over rows + over columns) / 2.
 * CLIP_LOSS_SIGMOID: -sum_ij log sigmoid(z_ij * logit_ij) / n, z_ii = 1, else -1.
 * *loss receives the loss; grad_image / grad_text (n * dim floats each) receive
 * its gradients and may be NULL. */
CLIP_API int  clip_loss(int kind, const float *image_emb, const float *text_emb, int64_t n, int64_t dim,
                        float logit_scale, float logit_bias, float *loss, float *grad_image, float *grad_text);

/* For each of n_texts texts, the k images (1 <= k <= n_images) with the
 * largest inner product, best first (ties: lower index first).
 * image_emb: n_images * dim floats; text_emb: n_texts * dim floats;
 * out_ids: n_texts * k; out_scores: n_texts * k floats. Nothing is excluded:
 * a text's own image, if present, is ranked like any other (drop it from the
 * results to mine hard negatives). The scores are plain inner products, so
 * pass L2-normalised rows for cosines. */
CLIP_API int  clip_mine(const float *image_emb, int64_t n_images, const float *text_emb, int64_t n_texts,
                        int64_t dim, int64_t k, int64_t *out_ids, float *out_scores);

/* ---- ELIP re-ranking ----------------------------------------------------- */

typedef struct clip_elip clip_elip;

/* Loads an ELIP prompt mapper (safetensors with keys mapper.{0,2,4}.{weight,bias}
 * and metadata prompt_tokens) for a model; its widths must fit the model.
 * Every size in the file is checked before anything is built: a tensor
 * missing or of the wrong shape (a zero size included) is CLIP_ERR_FORMAT, a
 * mapper for another model's widths CLIP_ERR_SHAPE, each naming the file
 * (and the key). Release with clip_elip_free. */
CLIP_API int  clip_elip_load(clip_model *base, const char *mapper_path, clip_elip **out);

/* Releases an ELIP handle. NULL is fine. */
CLIP_API void clip_elip_free(clip_elip *elip);

/* Re-scores n candidate PNG or JPEG files for a text query: out_scores[i] = the query's
 * text embedding . the embedding of image i encoded with the query's visual
 * prompts (n floats). out_order receives the candidate indices by descending
 * score, ties in index order (n int64). Either output may be NULL. */
CLIP_API int  clip_rerank(clip_elip *elip, const char *query, const char *const *image_paths, int64_t n,
                          float *out_scores, int64_t *out_order);

/* ---- Evaluation ----------------------------------------------------------
 * `clip eval`'s tasks from C (docs/EVALUATION.md). */

/* Zero-shot class embeddings: for each of n_classes class names (n_classes > 0,
 * none NULL or empty), the L2-normalised mean of the L2-normalised text
 * embeddings of its prompts (every template with its "{c}" or "{}" replaced by
 * the name), as open_clip and CLIP_benchmark build a zero-shot classifier.
 * templates NULL with n_templates 0: OpenAI's 80 ImageNet templates; else
 * n_templates > 0 strings, each with a "{c}" (or "{}") slot. out:
 * n_classes * dim floats; an image embedding's class scores are its inner
 * products with the rows. A text-only model: CLIP_ERR_UNSUPPORTED. */
CLIP_API int  clip_zeroshot_weights(clip_model *model, const char *const *class_names, int64_t n_classes,
                                    const char *const *templates, int64_t n_templates, float *out);

/* Runs one task of `clip eval` ("zeroshot", "linear-probe", "knn", "cluster"
 * or "retrieval") of the model on a dataset: a classification folder (class
 * folders per split, or labels.txt with train.txt/test.txt lists) or an
 * image-caption dataset (retrieval). options_json: NULL, or a JSON object with
 * any of "templates" ("openai", "one" or a file), "classnames" (a file),
 * "split", "cache" (the feature cache folder), "seed", "dataset_name".
 * Features are encoded once into the cache and reused. *out_json receives the
 * result in CLIP_benchmark's format (UTF-8 JSON, NUL-terminated), in storage
 * of this thread's, valid until its next clip_evaluate; NULL on failure.
 * A task the dataset cannot give (k-NN without a train split, retrieval on a
 * classification folder) is CLIP_ERR_UNSUPPORTED. */
CLIP_API int  clip_evaluate(clip_model *model, const char *task, const char *dataset, const char *options_json,
                            const char **out_json);

/* ---- Process-wide settings -----------------------------------------------
 * Each setting is one atomic value: any thread may read or set it at any time,
 * and calls that start after a setter returns see the new value. A call reads
 * the linear precision once, when it starts (after taking its handle's lock),
 * and runs wholly at it: a precision set while calls run never mixes two
 * precisions within one call. A thread count set while a call runs may change
 * how that call's remaining loops are split among threads, never its result
 * (Tests/capi/concurrency.c checks both, bit for bit, under TSan too).
 * Per-handle settings go into clip_load_options instead. */

/* Threads used by clipcore's kernels and OpenBLAS (default: online CPUs,
 * or CLIPCORE_NUM_THREADS). */
CLIP_API int32_t clip_num_threads(void);

/* Sets the thread count (values below 1 mean 1); returns the count in force.
 * Process-wide, for every handle (clip_load_options.num_threads calls this). */
CLIP_API int32_t clip_set_num_threads(int32_t n);

/* Arithmetic of linear layers where no weight gradient is taken (encoding,
 * re-ranking, a frozen backbone), each also set by CLIPCORE_LINEAR_PRECISION:
 *  CLIP_LINEAR_FLOAT32  transformers' numbers (the default; "float32");
 *  CLIP_LINEAR_INT16    int16 weights and inputs, exact integer sums (fast
 *                       on AVX2); embeddings within cosine 0.9999 ("int16");
 *  CLIP_LINEAR_INT8     int8 weights (per output feature) and inputs (per row),
 *                       exact integer sums (AVX-512 VNNI, else AVX2); needs
 *                       AVX2; the fastest; embeddings within cosine 0.999 ("int8");
 *  CLIP_LINEAR_BF16     bfloat16 weights and inputs, float32 sums; needs
 *                       AVX512_BF16; embeddings within cosine 0.9999 ("bf16").
 * The README lists the measured tolerances. A precision the CPU has no kernel
 * for is CLIP_ERR_UNSUPPORTED where it is asked for (see clip_load_options's
 * precision_fallback); clip_runtime_info names the kernel of each. */
enum { CLIP_LINEAR_FLOAT32 = 0, CLIP_LINEAR_INT16 = 1, CLIP_LINEAR_INT8 = 2, CLIP_LINEAR_BF16 = 3 };

/* The precision in force for this process. */
CLIP_API int32_t clip_linear_precision(void);

/* Sets it for the whole process: CLIP_OK; CLIP_ERR_INVALID_ARGUMENT for a
 * value that is no CLIP_LINEAR_* precision, CLIP_ERR_UNSUPPORTED for one this
 * CPU has no kernel for (nothing changes in either case). Handles loaded with
 * a linear_precision of their own (clip_load_options) keep theirs; the others
 * follow this one. */
CLIP_API int  clip_set_linear_precision(int32_t precision);

/* What computes the numbers, one line: clipcore's kernel path ("avx2+fma",
 * or "baseline" under CLIPCORE_KERNELS=baseline or CLIPCORE_ISA=baseline or
 * on a CPU without AVX2), the OpenBLAS kernel (OPENBLAS_CORETYPE picks
 * another), both thread counts, then the CPU's features and instruction-set
 * level (and the level in use: CLIPCORE_ISA lowers it) and the kernel of each
 * operation. Valid until this thread's next call of clip_runtime_info. */
CLIP_API const char *clip_runtime_info(void);

/* ---- Introspection ------------------------------------------------------
 * Each writes one property of a live model to *out and returns CLIP_OK, or
 * CLIP_ERR_INVALID_ARGUMENT (nothing written) when model is NULL or not a live
 * handle, or out is NULL. */

/* Model kinds (this enum only grows at the end). */
enum { CLIP_MODEL_CLIP = 1, CLIP_MODEL_SIGLIP = 2, CLIP_MODEL_TEXT = 3, CLIP_MODEL_DUAL_ENCODER = 4 };

/* The model kind (config.json's model_type): CLIP_MODEL_CLIP ("clip"; an open_clip
 * folder is CLIP too), CLIP_MODEL_SIGLIP ("siglip"), CLIP_MODEL_TEXT (a text-only
 * encoder: "bert", "roberta", "mpnet", with sentence-transformers' pooling when the
 * folder has modules.json), CLIP_MODEL_DUAL_ENCODER ("vision-text-dual-encoder": a
 * CLIP vision tower with such a text tower). */
CLIP_API int  clip_model_kind(const clip_model *model, int32_t *out_kind);

/* The joint embedding dimension `dim`: the floats per row of every encoder's
 * output (CLIP: projection_dim; SigLIP: the vision hidden_size). */
CLIP_API int  clip_model_embedding_dim(const clip_model *model, int32_t *out);

/* The side of the square images the vision tower takes (vision_config's
 * image_size); any image is resized / cropped to it by the preprocessor.
 * 0 for a text-only model. */
CLIP_API int  clip_model_image_size(const clip_model *model, int32_t *out);

/* The text context length in tokens (text_config's max_position_embeddings);
 * longer texts are truncated to it. */
CLIP_API int  clip_model_context_length(const clip_model *model, int32_t *out);

/* ---- Load options -------------------------------------------------------- */

/* CLIP_LINEAR_DEFAULT: a handle without a precision of its own follows the
 * process-wide one (clip_set_linear_precision) at each call. */
enum { CLIP_LINEAR_DEFAULT = -1 };

/* Options of clip_model_load_ex. A zero-initialised struct asks for the
 * defaults, as sqlite's configuration structs do:
 *
 *     clip_load_options opts = {0};          (every option at its default)
 *
 * struct_size 0 means "the defaults": the library reads no field, and refuses
 * (CLIP_ERR_INVALID_ARGUMENT) a struct whose struct_size is 0 while another
 * field is not, since such a caller meant to set an option. To set options,
 * set struct_size to sizeof(clip_load_options), or start from
 * CLIP_LOAD_OPTIONS_INIT, which holds the defaults: a library reads only the
 * fields that fit in struct_size (an older caller's smaller struct gets the
 * defaults for the rest), and refuses a larger struct whose extra bytes are not
 * all zero (CLIP_ERR_UNSUPPORTED: an option this library does not know).
 * struct_size 1, 2 or 3 is CLIP_ERR_INVALID_ARGUMENT. Note that with
 * struct_size set, linear_precision 0 is CLIP_LINEAR_FLOAT32, not the default.
 *
 *  num_threads       0 (default): leave the thread count as it is; n > 0:
 *                    clip_set_num_threads(n) when the load succeeds. The count
 *                    is PROCESS-WIDE (OpenBLAS and clipcore's pool have one),
 *                    so it is not scoped to the handle: the last setting wins
 *                    for every handle. Negative: CLIP_ERR_INVALID_ARGUMENT.
 *  linear_precision  CLIP_LINEAR_DEFAULT (default): follow the process-wide
 *                    precision; a CLIP_LINEAR_* precision: every call on this
 *                    handle (encoders, and clip_rerank of an ELIP handle built
 *                    on it) runs at that precision, whatever the process-wide
 *                    one is and without changing it; other values:
 *                    CLIP_ERR_INVALID_ARGUMENT. A precision this CPU has no
 *                    kernel for (CLIP_LINEAR_BF16 without AVX512_BF16,
 *                    CLIP_LINEAR_INT8 without AVX2) is CLIP_ERR_UNSUPPORTED, unless
 *                    precision_fallback asks for float32 instead.
 *  preprocessing     CLIP_PREPROCESSING_PIL (0, the default): images are
 *                    resized, cropped and normalised as PIL does (transformers'
 *                    CLIPImageProcessorPil / SiglipImageProcessorPil, and
 *                    transformers 4's default); CLIP_PREPROCESSING_TORCHVISION:
 *                    as transformers 5's default CLIPImageProcessor /
 *                    SiglipImageProcessor do (torchvision's resize of uint8
 *                    tensors, about one 8-bit level from PIL per pixel);
 *                    CLIP_ERR_UNSUPPORTED when the folder's preprocessing has
 *                    no torchvision form (a resample other than bilinear or
 *                    bicubic, an open_clip crop); other values:
 *                    CLIP_ERR_INVALID_ARGUMENT. A caller built with a header
 *                    that lacks this field (struct_size 12) gets PIL.
 *  precision_fallback  CLIP_PRECISION_STRICT (0, the default): a
 *                    linear_precision this CPU cannot run fails the load with
 *                    CLIP_ERR_UNSUPPORTED; CLIP_PRECISION_FALLBACK: the handle
 *                    computes in float32 instead (clip_model_linear_precision
 *                    then says CLIP_LINEAR_FLOAT32); other values:
 *                    CLIP_ERR_INVALID_ARGUMENT. */
enum { CLIP_PREPROCESSING_PIL = 0, CLIP_PREPROCESSING_TORCHVISION = 1 };
enum { CLIP_PRECISION_STRICT = 0, CLIP_PRECISION_FALLBACK = 1 };

typedef struct clip_load_options {
    uint32_t struct_size;
    int32_t num_threads;
    int32_t linear_precision;
    int32_t preprocessing;
    int32_t precision_fallback;
} clip_load_options;

#define CLIP_LOAD_OPTIONS_INIT \
    { (uint32_t)sizeof(clip_load_options), 0, CLIP_LINEAR_DEFAULT, CLIP_PREPROCESSING_PIL, CLIP_PRECISION_STRICT }

/* clip_model_load with options; opts may be NULL or point to a zeroed struct
 * (the defaults, exactly clip_model_load). The options are checked before
 * anything is loaded. */
CLIP_API int  clip_model_load_ex(const char *dir, const clip_load_options *opts, clip_model **out);

/* The linear precision of a handle's calls: a CLIP_LINEAR_* precision when it
 * has its own, else CLIP_LINEAR_DEFAULT. */
CLIP_API int  clip_model_linear_precision(const clip_model *model, int32_t *out);

#ifdef __cplusplus
}
#endif

#endif /* CLIPCORE_H */
