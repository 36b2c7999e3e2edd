/* thread_pool.c - the fixed pool of worker threads that runs the convolutions' parallel loops
 * (vox__pool_*, declared in conv_kernels.h): one loop at a time, each thread a share of its rows. */
#include "conv_kernels.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Parallel loops come every few microseconds while streaming (three per stage, ~150 per chunk):
 * a condition-variable wake-up per loop made 2 threads 4-5x slower than one. Both sides first
 * spin for about POOL_SPIN pause instructions (tens of microseconds) on the atomics, then block.
 * While the other side spins, a loop's hand-over is lock-free: the mutex and condition variables
 * are touched only when a counter says somebody sleeps (a lock and a signal per loop cost the
 * streamed default model 2 threads 10 % of its chunk time). */
#define POOL_SPIN 20000

struct vox_pool {
  int n;
  pthread_t *threads;
  pthread_mutex_t lock;
  pthread_cond_t start, done;
  vox_pool_fn fn; /* written before generation's increment, read after it is seen */
  void *ctx;
  atomic_uint generation;
  atomic_int quit;
  atomic_int sleeping_workers; /* workers in (or about to enter) the wait on start */
  atomic_int caller_sleeps;    /* the caller of vox__pool_run waits on done */
  /* the one field both sides write on every loop, on a cache line of its own */
  alignas(64) atomic_int pending;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

typedef struct worker_arg {
  vox_pool *pool;
  int index;
} worker_arg;

/* The generation after `seen`, spinning and then sleeping until it comes; seen itself on quit.
 * The counters are seq_cst: a waker that reads no sleeper comes after a sleeper's increment in the
 * total order, so that sleeper's re-check under the lock reads the new value. */
static unsigned next_generation(vox_pool *p, unsigned seen) {
  unsigned g;
  for (int i = 0; i < POOL_SPIN; i++) {
    if ((g = atomic_load(&p->generation)) != seen || atomic_load_explicit(&p->quit, memory_order_relaxed))
      return g;
    cpu_relax();
  }
  pthread_mutex_lock(&p->lock);
  atomic_fetch_add(&p->sleeping_workers, 1);
  while (!atomic_load(&p->quit) && (g = atomic_load(&p->generation)) == seen)
    pthread_cond_wait(&p->start, &p->lock);
  atomic_fetch_sub(&p->sleeping_workers, 1);
  pthread_mutex_unlock(&p->lock);
  return atomic_load(&p->generation);
}

static void *worker(void *arg) {
  worker_arg *wa = arg;
  vox_pool *p = wa->pool;
  int index = wa->index;
  free(wa);
  unsigned seen = 0;
  for (;;) {
    seen = next_generation(p, seen);
    if (atomic_load(&p->quit))
      return NULL;
    p->fn(p->ctx, index, p->n);
    if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->caller_sleeps)) {
      pthread_mutex_lock(&p->lock);
      pthread_cond_signal(&p->done);
      pthread_mutex_unlock(&p->lock);
    }
  }
}

vox_pool *vox__pool_new(int threads) {
  vox_pool *p = aligned_alloc(alignof(vox_pool), sizeof *p); /* sizeof is a multiple of the alignment */
  if (!p)
    return NULL;
  memset(p, 0, sizeof *p);
  p->n = threads < 1 ? 1 : threads;
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->start, NULL);
  pthread_cond_init(&p->done, NULL);
  if (p->n > 1) {
    p->threads = calloc((size_t)p->n - 1, sizeof *p->threads);
    if (!p->threads) {
      vox__pool_free(p);
      return NULL;
    }
    for (int i = 1; i < p->n; i++) {
      worker_arg *wa = malloc(sizeof *wa);
      if (!wa || (wa->pool = p, wa->index = i, pthread_create(&p->threads[i - 1], NULL, worker, wa) != 0)) {
        free(wa);
        p->n = i; /* threads [1, i) exist */
        vox__pool_free(p);
        return NULL;
      }
    }
  }
  return p;
}

void vox__pool_free(vox_pool *p) {
  if (!p)
    return;
  pthread_mutex_lock(&p->lock);
  atomic_store(&p->quit, 1);
  pthread_cond_broadcast(&p->start);
  pthread_mutex_unlock(&p->lock);
  for (int i = 1; i < p->n && p->threads; i++)
    pthread_join(p->threads[i - 1], NULL);
  free(p->threads);
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->start);
  pthread_cond_destroy(&p->done);
  free(p);
}

int vox__pool_size(const vox_pool *p) { return p->n; }

void vox__pool_run(vox_pool *p, vox_pool_fn fn, void *ctx) {
  if (p->n == 1) {
    fn(ctx, 0, 1);
    return;
  }
  p->fn = fn;
  p->ctx = ctx;
  atomic_store(&p->pending, p->n - 1);
  atomic_fetch_add(&p->generation, 1);
  if (atomic_load(&p->sleeping_workers)) {
    pthread_mutex_lock(&p->lock);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->lock);
  }
  fn(ctx, 0, p->n);
  for (int i = 0; i < POOL_SPIN && atomic_load(&p->pending) > 0; i++)
    cpu_relax();
  if (atomic_load(&p->pending) > 0) {
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->caller_sleeps, 1);
    while (atomic_load(&p->pending) > 0)
      pthread_cond_wait(&p->done, &p->lock);
    atomic_store(&p->caller_sleeps, 0);
    pthread_mutex_unlock(&p->lock);
  }
}
