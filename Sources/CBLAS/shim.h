// OpenBLAS's CBLAS interface plus its thread and kernel queries
// (openblas_set_num_threads, openblas_get_num_threads, openblas_get_corename).
#include <cblas.h>
