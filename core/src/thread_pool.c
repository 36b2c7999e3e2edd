/* thread_pool.c - the fixed pool of worker threads that runs the convolutions' parallel loops
 * (vox__pool_*, declared in conv_kernels.h): one loop at a time, each thread a share of its rows. */
#include "conv_kernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

/* Parallel loops come every few microseconds while streaming (three per stage, ~150 per chunk):
 * a condition-variable wake-up per loop made 2 threads 4-5x slower than one. Both sides first
 * spin for about POOL_SPIN pause instructions (tens of microseconds) on the atomics, then block. */
#define POOL_SPIN 20000

struct vox_pool {
  int n;
  pthread_t *threads;
  pthread_mutex_t lock;
  pthread_cond_t start, done;
  vox_pool_fn fn;
  void *ctx;
  atomic_uint generation; /* written under lock, after fn and ctx */
  atomic_int pending;
  atomic_int quit;
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

static void *worker(void *arg) {
  worker_arg *wa = arg;
  vox_pool *p = wa->pool;
  int index = wa->index;
  free(wa);
  unsigned seen = 0;
  for (;;) {
    for (int i = 0; i < POOL_SPIN && atomic_load_explicit(&p->generation, memory_order_acquire) == seen &&
                    !atomic_load_explicit(&p->quit, memory_order_relaxed);
         i++)
      cpu_relax();
    pthread_mutex_lock(&p->lock);
    while (!atomic_load(&p->quit) && atomic_load(&p->generation) == seen)
      pthread_cond_wait(&p->start, &p->lock);
    if (atomic_load(&p->quit)) {
      pthread_mutex_unlock(&p->lock);
      return NULL;
    }
    seen = atomic_load(&p->generation);
    vox_pool_fn fn = p->fn;
    void *ctx = p->ctx;
    pthread_mutex_unlock(&p->lock);
    fn(ctx, index, p->n);
    if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
      pthread_mutex_lock(&p->lock);
      pthread_cond_signal(&p->done);
      pthread_mutex_unlock(&p->lock);
    }
  }
}

vox_pool *vox__pool_new(int threads) {
  vox_pool *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
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
  pthread_mutex_lock(&p->lock);
  p->fn = fn;
  p->ctx = ctx;
  atomic_store(&p->pending, p->n - 1);
  atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
  pthread_cond_broadcast(&p->start);
  pthread_mutex_unlock(&p->lock);
  fn(ctx, 0, p->n);
  for (int i = 0; i < POOL_SPIN && atomic_load_explicit(&p->pending, memory_order_acquire) > 0; i++)
    cpu_relax();
  if (atomic_load(&p->pending) > 0) {
    pthread_mutex_lock(&p->lock);
    while (atomic_load(&p->pending) > 0)
      pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
  }
}
