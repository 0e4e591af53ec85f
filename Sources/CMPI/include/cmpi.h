// MPI loaded at run time: dlopen of Open MPI's libmpi and dlsym of the few functions and predefined
// handles clipcore uses. Nothing links MPI at build time and no mpi.h is needed, so libclipcore.so and
// the plain `clip` binary run where MPI is not installed; the Distributed layer calls these functions
// only when the process was launched by mpirun.
#ifndef CMPI_H
#define CMPI_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Loads libmpi (CLIPCORE_MPI_LIBRARY alone if set, else libmpi.so.40, then libmpi.so) and resolves the
/// symbols. Returns 0, or -1 with a message naming the library or symbol in `error`.
int cmpi_load(char *error, size_t error_length);

/// MPI_Init_thread (MPI_THREAD_SERIALIZED) unless MPI is already initialised, and an atexit handler
/// that finalises it. Returns an MPI error code (0: success).
int cmpi_init(void);

/// Whether MPI_Init ran and MPI_Finalize did not.
int cmpi_is_active(void);

int cmpi_rank(int *rank);
int cmpi_size(int *size);

/// In-place sum over MPI_COMM_WORLD.
int cmpi_allreduce_sum_float(float *buffer, int count);
int cmpi_allreduce_sum_double(double *buffer, int count);
/// Each rank's `value` gathered into `values` (size entries).
int cmpi_allgather_int(int value, int *values);
/// Variable-size gathers: `counts` and `displacements` hold one entry per rank.
int cmpi_allgatherv_float(const float *local, int count, float *gathered, const int *counts, const int *displacements);
int cmpi_allgatherv_int(const int *local, int count, int *gathered, const int *counts, const int *displacements);
int cmpi_bcast_float(float *buffer, int count, int root);
int cmpi_bcast_int(int *buffer, int count, int root);
int cmpi_barrier(void);
/// MPI_Abort on MPI_COMM_WORLD: ends every rank of the job.
int cmpi_abort(int code);
/// MPI_Finalize (once; also run at exit after cmpi_init).
int cmpi_finalize(void);
/// The processors this process may run on (sched_getaffinity; mpirun binds ranks to cores), or the
/// online processors when that fails.
int cmpi_affinity_cpus(void);

/// The MPI error string of `code` into `text`.
void cmpi_error_string(int code, char *text, size_t length);

#ifdef __cplusplus
}
#endif

#endif
