// Open MPI through dlopen: the prototypes below are MPI's (MPI 3.1), with Open MPI's handle types
// (pointers to its predefined objects, which it exports as ompi_mpi_comm_world, ompi_mpi_float, ...:
// MPI_COMM_WORLD is &ompi_mpi_comm_world) and MPI_IN_PLACE ((void *)1).

#define _GNU_SOURCE
#include "cmpi.h"

#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// MARK: - MPI's ABI (Open MPI)

typedef void *MPI_Comm;
typedef void *MPI_Datatype;
typedef void *MPI_Op;

#define CMPI_IN_PLACE ((void *)1)
#define CMPI_THREAD_SERIALIZED 2
#define CMPI_ERR_THREAD_LEVEL (-2)
#define CMPI_MAX_ERROR_STRING 256

static struct {
    void *library;
    int (*init_thread)(int *, char ***, int, int *);
    int (*initialized)(int *);
    int (*finalized)(int *);
    int (*finalize)(void);
    int (*comm_rank)(MPI_Comm, int *);
    int (*comm_size)(MPI_Comm, int *);
    int (*allreduce)(const void *, void *, int, MPI_Datatype, MPI_Op, MPI_Comm);
    int (*allgather)(const void *, int, MPI_Datatype, void *, int, MPI_Datatype, MPI_Comm);
    int (*allgatherv)(const void *, int, MPI_Datatype, void *, const int *, const int *, MPI_Datatype, MPI_Comm);
    int (*bcast)(void *, int, MPI_Datatype, int, MPI_Comm);
    int (*barrier)(MPI_Comm);
    int (*abort)(MPI_Comm, int);
    int (*error_string)(int, char *, int *);
    MPI_Comm world;
    MPI_Datatype float_type, double_type, int_type;
    MPI_Op sum;
} mpi;

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static int loaded = 0;
static int finalized_here = 0;

// MARK: - Loading

static int resolve(void **slot, const char *name, char *error, size_t length) {
    *slot = dlsym(mpi.library, name);
    if (*slot == NULL) {
        snprintf(error, length, "MPI library has no symbol %s (clipcore's run-time MPI loader expects Open MPI 4 or 5)", name);
        return -1;
    }
    return 0;
}

int cmpi_load(char *error, size_t length) {
    pthread_mutex_lock(&load_lock);
    if (loaded) { pthread_mutex_unlock(&load_lock); return 0; }
    const char *override = getenv("CLIPCORE_MPI_LIBRARY");
    // CLIPCORE_MPI_LIBRARY, when set, is the only library tried.
    int only_override = override != NULL && override[0] != 0;
    const char *candidates[] = {override, "libmpi.so.40", "libmpi.so"};
    char tried[1024] = "";
    for (size_t i = 0; i < (only_override ? 1 : sizeof candidates / sizeof *candidates) && mpi.library == NULL; i++) {
        if (candidates[i] == NULL || candidates[i][0] == 0) continue;
        // RTLD_GLOBAL: Open MPI's own plugins (dlopened by libmpi) resolve libmpi's symbols.
        mpi.library = dlopen(candidates[i], RTLD_NOW | RTLD_GLOBAL);
        if (mpi.library == NULL) {
            const char *why = dlerror();
            size_t used = strlen(tried);
            snprintf(tried + used, sizeof tried - used, "%s%s (%s)", used ? "; " : "", candidates[i], why ? why : "not found");
        }
    }
    if (mpi.library == NULL) {
        snprintf(error, length, "cannot load the MPI library: tried %s; install Open MPI (Debian: openmpi-bin libopenmpi3) or set CLIPCORE_MPI_LIBRARY", tried);
        pthread_mutex_unlock(&load_lock);
        return -1;
    }
    int bad = 0;
    bad |= resolve((void **)&mpi.init_thread, "MPI_Init_thread", error, length);
    bad |= bad ? 0 : resolve((void **)&mpi.initialized, "MPI_Initialized", error, length);
    bad |= bad ? 0 : resolve((void **)&mpi.finalized, "MPI_Finalized", error, length);
    bad |= bad ? 0 : resolve((void **)&mpi.finalize, "MPI_Finalize", error, length);
    bad |= bad ? 0 : resolve((void **)&mpi.comm_rank, "MPI_Comm_rank", error, length);
    bad |= bad ? 0 : resolve((void **)&mpi.comm_size, "MPI_Comm_size", error, length);
    bad |= bad ? 0 : resolve((void **)&mpi.allreduce, "MPI_Allreduce", error, length);
    bad |= bad ? 0 : resolve((void **)&mpi.allgather, "MPI_Allgather", error, length);
    bad |= bad ? 0 : resolve((void **)&mpi.allgatherv, "MPI_Allgatherv", error, length);
    bad |= bad ? 0 : resolve((void **)&mpi.bcast, "MPI_Bcast", error, length);
    bad |= bad ? 0 : resolve((void **)&mpi.barrier, "MPI_Barrier", error, length);
    bad |= bad ? 0 : resolve((void **)&mpi.abort, "MPI_Abort", error, length);
    bad |= bad ? 0 : resolve((void **)&mpi.error_string, "MPI_Error_string", error, length);
    bad |= bad ? 0 : resolve(&mpi.world, "ompi_mpi_comm_world", error, length);
    bad |= bad ? 0 : resolve(&mpi.float_type, "ompi_mpi_float", error, length);
    bad |= bad ? 0 : resolve(&mpi.double_type, "ompi_mpi_double", error, length);
    bad |= bad ? 0 : resolve(&mpi.int_type, "ompi_mpi_int", error, length);
    bad |= bad ? 0 : resolve(&mpi.sum, "ompi_mpi_op_sum", error, length);
    if (bad) {
        dlclose(mpi.library);
        memset(&mpi, 0, sizeof mpi);
        pthread_mutex_unlock(&load_lock);
        return -1;
    }
    loaded = 1;
    pthread_mutex_unlock(&load_lock);
    return 0;
}

// MARK: - Life cycle

static void finalize_at_exit(void) { cmpi_finalize(); }

int cmpi_init(void) {
    if (!loaded) return -1;
    int flag = 0;
    int rc = mpi.initialized(&flag);
    if (rc != 0 || flag) return rc;
    int provided = 0;
    rc = mpi.init_thread(NULL, NULL, CMPI_THREAD_SERIALIZED, &provided);
    if (rc == 0) atexit(finalize_at_exit);
    // The calls come from more than one thread, one at a time: less than SERIALIZED is not enough.
    if (rc == 0 && provided < CMPI_THREAD_SERIALIZED) return CMPI_ERR_THREAD_LEVEL;
    return rc;
}

int cmpi_is_active(void) {
    if (!loaded) return 0;
    int init = 0, fin = 0;
    if (mpi.initialized(&init) != 0 || mpi.finalized(&fin) != 0) return 0;
    return init && !fin;
}

int cmpi_finalize(void) {
    if (!cmpi_is_active() || finalized_here) return 0;
    finalized_here = 1;
    return mpi.finalize();
}

int cmpi_abort(int code) {
    if (!cmpi_is_active()) return -1;
    return mpi.abort(mpi.world, code);
}

void cmpi_error_string(int code, char *text, size_t length) {
    if (length == 0) return;
    char buffer[CMPI_MAX_ERROR_STRING + 1] = "";
    int n = 0;
    if (code == CMPI_ERR_THREAD_LEVEL) {
        snprintf(text, length, "the MPI library does not provide MPI_THREAD_SERIALIZED (calls from more than one thread, one at a time)");
    } else if (loaded && code > 0 && mpi.error_string(code, buffer, &n) == 0) {
        snprintf(text, length, "%s", buffer);
    } else {
        snprintf(text, length, "MPI error %d", code);
    }
}

int cmpi_affinity_cpus(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)online : 1;
}

// MARK: - Communication on MPI_COMM_WORLD

int cmpi_rank(int *rank) { return mpi.comm_rank(mpi.world, rank); }
int cmpi_size(int *size) { return mpi.comm_size(mpi.world, size); }

int cmpi_allreduce_sum_float(float *buffer, int count) {
    return mpi.allreduce(CMPI_IN_PLACE, buffer, count, mpi.float_type, mpi.sum, mpi.world);
}

int cmpi_allreduce_sum_double(double *buffer, int count) {
    return mpi.allreduce(CMPI_IN_PLACE, buffer, count, mpi.double_type, mpi.sum, mpi.world);
}

int cmpi_allgather_int(int value, int *values) {
    return mpi.allgather(&value, 1, mpi.int_type, values, 1, mpi.int_type, mpi.world);
}

int cmpi_allgatherv_float(const float *local, int count, float *gathered, const int *counts, const int *displacements) {
    return mpi.allgatherv(local, count, mpi.float_type, gathered, counts, displacements, mpi.float_type, mpi.world);
}

int cmpi_allgatherv_int(const int *local, int count, int *gathered, const int *counts, const int *displacements) {
    return mpi.allgatherv(local, count, mpi.int_type, gathered, counts, displacements, mpi.int_type, mpi.world);
}

int cmpi_bcast_float(float *buffer, int count, int root) { return mpi.bcast(buffer, count, mpi.float_type, root, mpi.world); }
int cmpi_bcast_int(int *buffer, int count, int root) { return mpi.bcast(buffer, count, mpi.int_type, root, mpi.world); }
int cmpi_barrier(void) { return mpi.barrier(mpi.world); }
