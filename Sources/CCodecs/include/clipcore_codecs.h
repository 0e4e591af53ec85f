// C helpers for the Models layer: PNG decoding through libpng (whose errors
// longjmp, so they are caught here in C), gzip inflation through zlib, and
// the standard CLIP BPE vocabulary embedded in the binary.
#ifndef CLIPCORE_CODECS_H
#define CLIPCORE_CODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Statuses.
enum {
    CC_OK = 0,
    CC_ERR_FORMAT = -1,     ///< not a PNG, or corrupt / truncated data (message in `error`)
    CC_ERR_TOO_LARGE = -2,  ///< dimensions beyond the limit
    CC_ERR_OOM = -3,
};

/// A decoded PNG converted to 8-bit RGB as PIL's `convert("RGB")` does:
/// alpha dropped (never blended), palette expanded (its transparency ignored),
/// gray replicated, 1/2/4-bit gray scaled to 0–255, 16-bit samples reduced to
/// their high byte except 16-bit gray, which PIL reads as 32-bit integers and
/// clips to 0–255; interlaced images de-interlaced.
typedef struct {
    uint32_t width;
    uint32_t height;
    uint8_t *rgb;            ///< width * height * 3 bytes, row-major; free with cc_free
    int color_type;          ///< the file's PNG colour type (0, 2, 3, 4, 6)
    int bit_depth;           ///< the file's bit depth
    int interlaced;
} cc_image;

/// Decodes `size` bytes of PNG. On failure returns a negative status and
/// writes a message of at most `error_size` bytes (NUL-terminated) to `error`.
int cc_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels, cc_image *out,
                  char *error, size_t error_size);

/// Inflates gzip data into a malloc'ed buffer (free with cc_free). Returns CC_OK or CC_ERR_FORMAT.
int cc_gunzip(const uint8_t *data, size_t size, uint8_t **out, size_t *out_size);

/// Encodes 8-bit RGB pixels (`width * height * 3` bytes, row-major) as a PNG in a malloc'ed
/// buffer (free with cc_free). Returns CC_OK, CC_ERR_TOO_LARGE or CC_ERR_OOM.
int cc_png_encode_rgb(const uint8_t *rgb, uint32_t width, uint32_t height, uint8_t **out, size_t *out_size);

void cc_free(void *p);

/// open_clip's bpe_simple_vocab_16e6.txt.gz (MIT licence, see resources/LICENSE-open_clip).
const uint8_t *cc_clip_bpe_vocab_gz(size_t *size);

#ifdef __cplusplus
}
#endif
#endif
