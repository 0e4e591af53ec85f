// Writes JPEGs Pillow cannot: YCCK (Adobe transform 2) and unusual chroma sampling.
// Used by Tools/gen_fixtures.py (jpeg); built with: cc Tools/jpeg_writer.c -ljpeg
//   jpeg_writer WIDTH HEIGHT COMPONENTS COLORSPACE H0 V0 QUALITY < pixels > out.jpg
// pixels: WIDTH*HEIGHT*COMPONENTS bytes (RGB, or Adobe-inverted CMYK as Pillow stores it);
// COLORSPACE: ycbcr or ycck; H0 V0: the first component's sampling factors (others 1x1).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

int main(int argc, char **argv) {
    if (argc != 8) { fprintf(stderr, "usage: %s W H C ycbcr|ycck H0 V0 QUALITY\n", argv[0]); return 2; }
    int w = atoi(argv[1]), h = atoi(argv[2]), c = atoi(argv[3]), h0 = atoi(argv[5]), v0 = atoi(argv[6]);
    size_t n = (size_t)w * h * c;
    unsigned char *px = malloc(n);
    if (!px || fread(px, 1, n, stdin) != n) { fprintf(stderr, "short input\n"); return 1; }
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, stdout);
    cinfo.image_width = w;
    cinfo.image_height = h;
    cinfo.input_components = c;
    cinfo.in_color_space = c == 4 ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_colorspace(&cinfo, strcmp(argv[4], "ycck") == 0 ? JCS_YCCK : JCS_YCbCr);
    jpeg_set_quality(&cinfo, atoi(argv[7]), TRUE);
    for (int i = 0; i < cinfo.num_components; i++)
        cinfo.comp_info[i].h_samp_factor = cinfo.comp_info[i].v_samp_factor = 1;
    cinfo.comp_info[0].h_samp_factor = h0;
    cinfo.comp_info[0].v_samp_factor = v0;
    if (c == 4) cinfo.comp_info[3].h_samp_factor = h0, cinfo.comp_info[3].v_samp_factor = v0;
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = px + (size_t)cinfo.next_scanline * w * c;
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    free(px);
    return 0;
}
