// A persistent worker pool for the kernels' parallel loops.
//
// One job at a time: the caller publishes (fn, ctx, count), workers and the
// caller take indices with an atomic counter, and the caller waits for the
// workers to finish. Workers spin briefly for the next job (kernels come in
// quick succession), then sleep on a condition variable. A caller that finds
// the pool busy (another thread's job, or a nested loop) runs its loop inline.

#include "clipcore_kernels.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define CK_MAX_WORKERS 256
#define CK_SPIN_ROUNDS 2000  // about 50 µs of pause instructions

static pthread_mutex_t submit_lock = PTHREAD_MUTEX_INITIALIZER;  // held by the caller for a whole job
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;

static _Atomic int started = 0;              // workers created; every one takes part in every job
static _Atomic int64_t generation = 0;       // bumped for each job
static _Atomic int sleepers = 0;
static _Atomic int64_t next_index = 0;
static _Atomic int finished = 0;
static int64_t job_count = 0;
static ck_task_fn job_fn = 0;
static void *job_ctx = 0;

static _Thread_local int inside_job = 0;

static inline void cpu_relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
}

static void run_indices(void) {
    for (;;) {
        const int64_t i = atomic_fetch_add_explicit(&next_index, 1, memory_order_relaxed);
        if (i >= job_count) break;
        job_fn(job_ctx, i);
    }
}

static void *worker_main(void *arg) {
    int64_t seen = (int64_t)(intptr_t)arg;   // the generation current when it was created
    inside_job = 1;
    for (;;) {
        int64_t g = atomic_load_explicit(&generation, memory_order_acquire);
        for (int spin = 0; g == seen && spin < CK_SPIN_ROUNDS; spin++) {
            cpu_relax();
            g = atomic_load_explicit(&generation, memory_order_acquire);
        }
        if (g == seen) {
            pthread_mutex_lock(&sleep_lock);
            atomic_fetch_add(&sleepers, 1);
            while ((g = atomic_load_explicit(&generation, memory_order_acquire)) == seen)
                pthread_cond_wait(&wake, &sleep_lock);
            atomic_fetch_sub(&sleepers, 1);
            pthread_mutex_unlock(&sleep_lock);
        }
        seen = g;
        // Every worker joins every job, so none decides from state that the
        // next job may be rewriting; one with no index left finishes at once.
        run_indices();
        atomic_fetch_add_explicit(&finished, 1, memory_order_release);
    }
    return 0;
}

void ck_parallel_run(int64_t count, int threads, ck_task_fn fn, void *ctx) {
    if (count <= 0) return;
    if (threads > CK_MAX_WORKERS + 1) threads = CK_MAX_WORKERS + 1;
    if (threads <= 1 || count == 1 || inside_job || pthread_mutex_trylock(&submit_lock) != 0) {
        for (int64_t i = 0; i < count; i++) fn(ctx, i);
        return;
    }
    const int helpers = (int)(count - 1 < threads - 1 ? count - 1 : threads - 1);
    while (atomic_load(&started) < helpers) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        // A new worker must not count a job it never saw: it starts from the
        // current generation (set below, before the caller publishes the job).
        const int64_t current = atomic_load(&generation);
        if (pthread_create(&t, &attr, worker_main, (void *)(intptr_t)current) != 0) {
            pthread_attr_destroy(&attr);
            break;
        }
        pthread_attr_destroy(&attr);
        atomic_fetch_add(&started, 1);
    }
    const int participants = atomic_load(&started);
    job_fn = fn;
    job_ctx = ctx;
    job_count = count;
    atomic_store_explicit(&next_index, 0, memory_order_relaxed);
    atomic_store_explicit(&finished, 0, memory_order_relaxed);
    // Sequentially consistent, so that this store and the load of `sleepers`
    // cannot pass each other: a worker about to sleep either sees the new
    // generation or is counted and woken.
    atomic_fetch_add(&generation, 1);
    if (atomic_load(&sleepers) > 0) {
        pthread_mutex_lock(&sleep_lock);
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&sleep_lock);
    }
    inside_job = 1;
    run_indices();
    inside_job = 0;
    for (int spin = 0; atomic_load_explicit(&finished, memory_order_acquire) < participants; spin++) {
        if (spin < CK_SPIN_ROUNDS) cpu_relax(); else sched_yield();
    }
    pthread_mutex_unlock(&submit_lock);
}
