// OpenBLAS's CBLAS interface plus its thread and kernel queries
// (openblas_set_num_threads, openblas_get_num_threads, openblas_get_corename),
// and the few LAPACK routines OpenBLAS also exports (Fortran calling convention:
// every argument by pointer, column-major matrices, each character argument's
// length passed last; Plots' PCA uses them).
#include <cblas.h>
#include <stddef.h>

/// Eigenvalues (ascending) and, with jobz "V", eigenvectors of a symmetric matrix (divide and conquer).
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_len, size_t uplo_len);

/// Singular value decomposition (divide and conquer): A = U · diag(s) · Vᵀ.
void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda, double *s,
             double *u, const int *ldu, double *vt, const int *ldvt, double *work, const int *lwork,
             int *iwork, int *info, size_t jobz_len);
