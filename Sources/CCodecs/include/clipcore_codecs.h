// C helpers for the Models layer: PNG decoding through libpng and JPEG decoding
// through libjpeg(-turbo) (whose errors longjmp, so they are caught here in C), gzip inflation through zlib, and
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
    CC_ERR_FORMAT = -1,     ///< not a PNG / JPEG, or corrupt / truncated data (message in `error`)
    CC_ERR_TOO_LARGE = -2,  ///< dimensions beyond the limit (a decoder leaves them in out->width, out->height)
    CC_ERR_OOM = -3,
    CC_ERR_UNSUPPORTED = -4, ///< a valid file of a kind not decoded (e.g. a 2-component JPEG)
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
    int color_type;          ///< PNG: the file's colour type (0, 2, 3, 4, 6); JPEG: its component count
    int bit_depth;           ///< the file's bit depth
    int interlaced;          ///< PNG: Adam7 interlaced; JPEG: progressive
} cc_image;

/// Decodes `size` bytes of PNG. On failure returns a negative status and
/// writes a message of at most `error_size` bytes (NUL-terminated) to `error`.
int cc_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels, cc_image *out,
                  char *error, size_t error_size);

/// Decodes `size` bytes of JPEG (baseline or progressive, any subsampling, restart markers)
/// to RGB as PIL's `Image.open(...).convert("RGB")` does with the same libjpeg-turbo: ISLOW
/// IDCT and fancy upsampling (libjpeg's defaults); gray replicated; 4-component files read as
/// Adobe-inverted CMYK (YCCK converted by libjpeg) and converted with PIL's cmyk2rgb. No EXIF
/// orientation is applied. Truncated data, even a missing EOI marker, is an error (CC_ERR_FORMAT)
/// as in PIL, never gray padding.
/// On failure returns a negative status and writes a message to `error`, as cc_png_decode.
int cc_jpeg_decode(const uint8_t *data, size_t size, uint64_t max_pixels, cc_image *out,
                   char *error, size_t error_size);

/// Inflates gzip data into a malloc'ed buffer (free with cc_free). Returns CC_OK or CC_ERR_FORMAT.
int cc_gunzip(const uint8_t *data, size_t size, uint8_t **out, size_t *out_size);

/// Encodes 8-bit RGB pixels (`width * height * 3` bytes, row-major) as a PNG in a malloc'ed
/// buffer (free with cc_free). Returns CC_OK, CC_ERR_TOO_LARGE or CC_ERR_OOM.
int cc_png_encode_rgb(const uint8_t *rgb, uint32_t width, uint32_t height, uint8_t **out, size_t *out_size);

/// Encodes 8-bit RGB pixels as a baseline 4:2:0 JPEG of `quality` (1–100) in a malloc'ed buffer
/// (free with cc_free): test and benchmark data. Returns CC_OK, CC_ERR_FORMAT or CC_ERR_OOM.
int cc_jpeg_encode_rgb(const uint8_t *rgb, uint32_t width, uint32_t height, int quality,
                       uint8_t **out, size_t *out_size);

void cc_free(void *p);

/// open_clip's bpe_simple_vocab_16e6.txt.gz (MIT licence, see resources/LICENSE-open_clip).
const uint8_t *cc_clip_bpe_vocab_gz(size_t *size);

/// The HTML entity tables of Python's html.unescape (resources/html5_entities.txt.gz, written by
/// Tools/gen_html_entities.py): named references, remapped and dropped numeric references.
const uint8_t *cc_html5_entities_gz(size_t *size);

#ifdef __cplusplus
}
#endif
#endif
