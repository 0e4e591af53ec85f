// libpng 1.6, used for image decoding and for writing generated images and plots.
#include <png.h>
