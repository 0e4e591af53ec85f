// libjpeg-turbo (the libjpeg 6.2 API), used for JPEG decoding. jpeglib.h needs stdio.h first.
#include <stdio.h>
#include <jpeglib.h>
