#include "clipcore_codecs.h"

#include <stdio.h>   // before jpeglib.h, which uses FILE

#include <png.h>
#include <jpeglib.h>
#include <jerror.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

void cc_free(void *p) { free(p); }

extern const uint8_t cc_clip_vocab_start[];
extern const uint8_t cc_clip_vocab_end[];

const uint8_t *cc_clip_bpe_vocab_gz(size_t *size) {
    *size = (size_t)(cc_clip_vocab_end - cc_clip_vocab_start);
    return cc_clip_vocab_start;
}

extern const uint8_t cc_html5_entities_start[];
extern const uint8_t cc_html5_entities_end[];

const uint8_t *cc_html5_entities_gz(size_t *size) {
    *size = (size_t)(cc_html5_entities_end - cc_html5_entities_start);
    return cc_html5_entities_start;
}

// MARK: - gzip

int cc_gunzip(const uint8_t *data, size_t size, uint8_t **out, size_t *out_size) {
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK) return CC_ERR_FORMAT;
    size_t cap = size * 4 + 1024, len = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) { inflateEnd(&s); return CC_ERR_OOM; }
    s.next_in = (Bytef *)data;
    s.avail_in = (uInt)size;
    int rc;
    do {
        if (len == cap) {
            cap *= 2;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) { free(buf); inflateEnd(&s); return CC_ERR_OOM; }
            buf = nb;
        }
        s.next_out = buf + len;
        s.avail_out = (uInt)(cap - len);
        rc = inflate(&s, Z_NO_FLUSH);
        len = cap - s.avail_out;
    } while (rc == Z_OK);
    inflateEnd(&s);
    if (rc != Z_STREAM_END) { free(buf); return CC_ERR_FORMAT; }
    *out = buf;
    *out_size = len;
    return CC_OK;
}

// MARK: - PNG

typedef struct {
    const uint8_t *data;
    size_t size, pos;
    jmp_buf jump;
    char *error;
    size_t error_size;
} reader_state;

static void on_error(png_structp png, png_const_charp msg) {
    reader_state *st = png_get_error_ptr(png);
    if (st->error && st->error_size) snprintf(st->error, st->error_size, "%s", msg);
    longjmp(st->jump, 1);
}

static void on_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static void on_read(png_structp png, png_bytep out, png_size_t n) {
    reader_state *st = png_get_io_ptr(png);
    if (n > st->size - st->pos) png_error(png, "file is truncated");
    memcpy(out, st->data + st->pos, n);
    st->pos += n;
}

// Refuses an image of w × h pixels over max_pixels (or whose byte size overflows): CC_ERR_TOO_LARGE,
// with the declared size in out (and no pixels) so that the caller can name it.
static int too_large(cc_image *out, uint32_t w, uint32_t h, uint64_t max_pixels, char *error, size_t error_size) {
    out->width = w;
    out->height = h;
    if (error && error_size) snprintf(error, error_size, "image of %ux%u pixels exceeds the limit of %llu",
                                      w, h, (unsigned long long)max_pixels);
    return CC_ERR_TOO_LARGE;
}

int cc_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels, cc_image *out,
                  char *error, size_t error_size) {
    memset(out, 0, sizeof *out);
    if (error && error_size) error[0] = 0;
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        if (error && error_size) snprintf(error, error_size, "not a PNG file (bad signature)");
        return CC_ERR_FORMAT;
    }
    // The IHDR chunk comes first: a declared size over the limit is refused before libpng allocates.
    if (size >= 24 && memcmp(data + 12, "IHDR", 4) == 0) {
        const uint32_t w0 = (uint32_t)data[16] << 24 | (uint32_t)data[17] << 16 | (uint32_t)data[18] << 8 | data[19];
        const uint32_t h0 = (uint32_t)data[20] << 24 | (uint32_t)data[21] << 16 | (uint32_t)data[22] << 8 | data[23];
        if ((uint64_t)w0 * h0 > max_pixels) return too_large(out, w0, h0, max_pixels, error, error_size);
    }
    reader_state st = {data, size, 0, {{0}}, error, error_size};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &st, on_error, on_warning);
    if (!png) return CC_ERR_OOM;
    png_infop info = png_create_info_struct(png);
    if (!info) { png_destroy_read_struct(&png, NULL, NULL); return CC_ERR_OOM; }
    // Volatile: modified between setjmp and a possible longjmp.
    uint8_t *volatile raw = NULL;
    png_bytep *volatile rows = NULL;
    uint8_t *volatile rgb = NULL;
    if (setjmp(st.jump)) {
        free(raw); free(rows); free(rgb);
        png_destroy_read_struct(&png, &info, NULL);
        return CC_ERR_FORMAT;
    }
    png_set_read_fn(png, &st, on_read);
    // Be as lenient as PIL with ancillary CRC errors? No: corrupt data is an error; only skip
    // the benign "known incorrect sRGB profile" style checks.
    png_set_option(png, PNG_SKIP_sRGB_CHECK_PROFILE, PNG_OPTION_ON);
    png_read_info(png, info);
    png_uint_32 w, h;
    int depth, color, interlace;
    png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    if ((uint64_t)w * h > max_pixels) {
        png_destroy_read_struct(&png, &info, NULL);
        return too_large(out, w, h, max_pixels, error, error_size);
    }
    const int gray16 = (color == PNG_COLOR_TYPE_GRAY && depth == 16);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16 && !gray16) png_set_strip_16(png);        // the high byte, as PIL's ;16B unpackers
    if (depth == 16 && !gray16) { /* nothing more */ }
    // tRNS is deliberately not expanded to alpha: convert("RGB") ignores transparency.
    if (interlace != PNG_INTERLACE_NONE) png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    int channels = png_get_channels(png, info);
    if (rowbytes == 0 || h > SIZE_MAX / rowbytes || (size_t)w > SIZE_MAX / 3 / h) {   // any max_pixels
        png_destroy_read_struct(&png, &info, NULL);
        return too_large(out, w, h, max_pixels, error, error_size);
    }
    raw = malloc(rowbytes * h);
    rows = malloc(sizeof(png_bytep) * h);
    rgb = malloc((size_t)w * h * 3 + 1);
    if (!raw || !rows || !rgb) {
        free(raw); free(rows); free(rgb);
        png_destroy_read_struct(&png, &info, NULL);
        return CC_ERR_OOM;
    }
    for (png_uint_32 y = 0; y < h; y++) rows[y] = raw + y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    for (png_uint_32 y = 0; y < h; y++) {
        const uint8_t *r = rows[y];
        uint8_t *d = rgb + (size_t)y * w * 3;
        for (png_uint_32 x = 0; x < w; x++, d += 3) {
            if (gray16) {
                unsigned v = ((unsigned)r[2 * x] << 8) | r[2 * x + 1];
                d[0] = d[1] = d[2] = (uint8_t)(v > 255 ? 255 : v);
            } else if (channels <= 2) {          // gray, gray + alpha
                d[0] = d[1] = d[2] = r[x * channels];
            } else {                             // RGB, RGBA
                d[0] = r[x * channels];
                d[1] = r[x * channels + 1];
                d[2] = r[x * channels + 2];
            }
        }
    }
    free(raw); free(rows);
    out->width = w;
    out->height = h;
    out->rgb = rgb;
    out->color_type = color;
    out->bit_depth = depth;
    out->interlaced = interlace != PNG_INTERLACE_NONE;
    png_destroy_read_struct(&png, &info, NULL);
    return CC_OK;
}

// MARK: - JPEG

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char *error;
    size_t error_size;
} jpeg_error_state;

static void on_jpeg_error(j_common_ptr cinfo) {
    jpeg_error_state *st = (jpeg_error_state *)cinfo->err;
    char msg[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, msg);
    if (st->error && st->error_size) snprintf(st->error, st->error_size, "%s", msg);
    longjmp(st->jump, 1);
}

// Warnings (corrupt-data recoveries such as "extraneous bytes before marker") are not printed;
// like PIL, the decoder carries on.
static void on_jpeg_message(j_common_ptr cinfo) { (void)cinfo; }

// A memory source that fails at the end of the data instead of inventing an EOI marker
// (libjpeg's own jpeg_mem_src pads a truncated file with gray): PIL refuses truncated files.
static void src_init(j_decompress_ptr cinfo) { (void)cinfo; }
static boolean src_fill(j_decompress_ptr cinfo) {
    ERREXIT(cinfo, JERR_INPUT_EOF);
    return FALSE;
}
static void src_skip(j_decompress_ptr cinfo, long n) {
    struct jpeg_source_mgr *src = cinfo->src;
    if (n <= 0) return;
    if ((size_t)n > src->bytes_in_buffer) ERREXIT(cinfo, JERR_INPUT_EOF);
    src->next_input_byte += n;
    src->bytes_in_buffer -= (size_t)n;
}
static void src_term(j_decompress_ptr cinfo) { (void)cinfo; }

int cc_jpeg_decode(const uint8_t *data, size_t size, uint64_t max_pixels, cc_image *out,
                   char *error, size_t error_size) {
    memset(out, 0, sizeof *out);
    if (error && error_size) error[0] = 0;
    if (size < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF) {
        if (error && error_size) snprintf(error, error_size, "not a JPEG file (no SOI marker)");
        return CC_ERR_FORMAT;
    }
    struct jpeg_decompress_struct cinfo;
    jpeg_error_state jerr;
    struct jpeg_source_mgr src;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = on_jpeg_error;
    jerr.pub.output_message = on_jpeg_message;
    jerr.error = error;
    jerr.error_size = error_size;
    // Volatile: modified between setjmp and a possible longjmp.
    uint8_t *volatile row = NULL;
    uint8_t *volatile rgb = NULL;
    if (setjmp(jerr.jump)) {
        free(row); free(rgb);
        jpeg_destroy_decompress(&cinfo);
        return CC_ERR_FORMAT;
    }
    jpeg_create_decompress(&cinfo);
    src.next_input_byte = data;
    src.bytes_in_buffer = size;
    src.init_source = src_init;
    src.fill_input_buffer = src_fill;
    src.skip_input_data = src_skip;
    src.resync_to_restart = jpeg_resync_to_restart;
    src.term_source = src_term;
    cinfo.src = &src;
    jpeg_read_header(&cinfo, TRUE);
    // PIL's modes: 1 component "L", 3 "RGB", 4 "CMYK" (Adobe-inverted, "CMYK;I"); libjpeg converts
    // YCbCr to RGB and YCCK to CMYK. Everything else at libjpeg's defaults (ISLOW IDCT, fancy
    // upsampling), as PIL leaves them when no draft is requested.
    const int nc = cinfo.num_components;
    if (nc == 1) cinfo.out_color_space = JCS_GRAYSCALE;
    else if (nc == 3) cinfo.out_color_space = JCS_RGB;
    else if (nc == 4) cinfo.out_color_space = JCS_CMYK;
    else {
        if (error && error_size) snprintf(error, error_size, "%d-component JPEGs are not supported", nc);
        jpeg_destroy_decompress(&cinfo);
        return CC_ERR_UNSUPPORTED;
    }
    const uint32_t w = cinfo.image_width, h = cinfo.image_height;
    if ((uint64_t)w * h > max_pixels || (size_t)w > SIZE_MAX / 4 / (h ? h : 1)) {
        jpeg_destroy_decompress(&cinfo);
        return too_large(out, w, h, max_pixels, error, error_size);
    }
    jpeg_start_decompress(&cinfo);
    const int oc = cinfo.output_components;
    row = malloc((size_t)w * (size_t)oc + 1);
    rgb = malloc((size_t)w * h * 3 + 1);
    if (!row || !rgb) {
        free(row); free(rgb);
        jpeg_destroy_decompress(&cinfo);
        return CC_ERR_OOM;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *d = rgb + (size_t)cinfo.output_scanline * w * 3;
        JSAMPROW rows[1] = {(JSAMPROW)row};
        if (jpeg_read_scanlines(&cinfo, rows, 1) != 1) ERREXIT(&cinfo, JERR_INPUT_EOF);
        const uint8_t *r = row;
        if (oc == 1) {
            for (uint32_t x = 0; x < w; x++, d += 3) d[0] = d[1] = d[2] = r[x];
        } else if (oc == 3) {
            memcpy(d, r, (size_t)w * 3);
        } else {
            // PIL: unpack "CMYK;I" (each byte inverted), then cmyk2rgb (Convert.c):
            // nk = 255 - k; out = clip(nk - nk * c / 255), the product rounded as MULDIV255.
            for (uint32_t x = 0; x < w; x++, d += 3, r += 4) {
                const int nk = 255 - (255 - r[3]);
                for (int c = 0; c < 3; c++) {
                    const int t = (255 - r[c]) * nk + 128;
                    const int v = nk - (((t >> 8) + t) >> 8);
                    d[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                }
            }
        }
    }
    out->width = w;
    out->height = h;
    out->rgb = rgb;
    out->color_type = nc;
    out->bit_depth = 8;
    out->interlaced = cinfo.progressive_mode ? 1 : 0;
    // Reads up to the EOI marker: PIL refuses a file that ends without one.
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    return CC_OK;
}

// MARK: - PNG writing

typedef struct {
    uint8_t *buf;
    size_t size, cap;
    int failed;
    jmp_buf jump;
} writer_state;

static void on_write_error(png_structp png, png_const_charp msg) {
    (void)msg;
    writer_state *st = (writer_state *)png_get_error_ptr(png);
    longjmp(st->jump, 1);
}

static void on_write(png_structp png, png_bytep data, png_size_t n) {
    writer_state *st = (writer_state *)png_get_io_ptr(png);
    if (st->failed) return;
    if (st->size + n > st->cap) {
        size_t cap = st->cap ? st->cap : 4096;
        while (cap < st->size + n) cap *= 2;
        uint8_t *nb = realloc(st->buf, cap);
        if (!nb) { st->failed = 1; return; }
        st->buf = nb;
        st->cap = cap;
    }
    memcpy(st->buf + st->size, data, n);
    st->size += n;
}

static void on_flush(png_structp png) { (void)png; }

int cc_png_encode_rgb(const uint8_t *rgb, uint32_t width, uint32_t height, uint8_t **out, size_t *out_size) {
    if (!rgb || !out || !out_size || width == 0 || height == 0) return CC_ERR_FORMAT;
    if ((uint64_t)width * height > (1ull << 31)) return CC_ERR_TOO_LARGE;
    // Volatile: read after a possible longjmp.
    writer_state *volatile st = calloc(1, sizeof(writer_state));
    if (!st) return CC_ERR_OOM;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, st, on_write_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, NULL);
        free(st);
        return CC_ERR_OOM;
    }
    if (setjmp(st->jump)) {
        png_destroy_write_struct(&png, &info);
        free(st->buf);
        free(st);
        return CC_ERR_FORMAT;
    }
    png_set_write_fn(png, st, on_write, on_flush);
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (uint32_t y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * width * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    int failed = st->failed;
    if (failed) {
        free(st->buf);
        free(st);
        return CC_ERR_OOM;
    }
    *out = st->buf;
    *out_size = st->size;
    free(st);
    return CC_OK;
}

// MARK: - JPEG encoding (test and benchmark data)

int cc_jpeg_encode_rgb(const uint8_t *rgb, uint32_t width, uint32_t height, int quality,
                       uint8_t **out, size_t *out_size) {
    if (!rgb || !out || !out_size || width == 0 || height == 0 || width > 65500 || height > 65500) return CC_ERR_FORMAT;
    struct jpeg_compress_struct cinfo;
    jpeg_error_state jerr;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = on_jpeg_error;
    jerr.pub.output_message = on_jpeg_message;
    jerr.error = NULL;
    jerr.error_size = 0;
    // Volatile: read after a possible longjmp.
    unsigned char *volatile buf = NULL;
    unsigned long size = 0;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(buf);
        return CC_ERR_OOM;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, (unsigned char **)&buf, &size);
    cinfo.image_width = width;
    cinfo.image_height = height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality < 1 ? 1 : quality > 100 ? 100 : quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)cinfo.next_scanline * width * 3);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = buf;
    *out_size = size;
    return CC_OK;
}
