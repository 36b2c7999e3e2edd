/* thread_pool_stress.c - drives the convolution thread pool (core/src/thread_pool.c, built into
 * this program) through every hand-over it has: back-to-back loops (the lock-free spin path),
 * pauses long enough for the workers to sleep (the wake-up path), workers slower than the caller
 * (the caller's sleep) and pools freed with workers spinning or asleep. Each loop checks that
 * every part ran once and saw the loop's own arguments. tests/core/test_thread_pool.py runs it as
 * built and under ThreadSanitizer.
 *
 *   thread_pool_stress THREADS LOOPS */
#include "conv_kernels.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct loop {
  long id;
  int parts;
  int slow_part;   /* this part busy-waits, -1 none */
  long seen[64];   /* per part: the loop id it ran with */
  int calls[64];   /* per part: times it ran */
  atomic_int bad;  /* a part saw a wrong part count */
} loop;

static void spin_us(long us) {
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  do
    clock_gettime(CLOCK_MONOTONIC, &t);
  while ((t.tv_sec - t0.tv_sec) * 1000000L + (t.tv_nsec - t0.tv_nsec) / 1000 < us);
}

static void part_fn(void *ctx, int part, int parts) {
  loop *l = ctx;
  if (parts != l->parts || part < 0 || part >= parts)
    atomic_store(&l->bad, 1);
  else {
    if (part == l->slow_part)
      spin_us(300);
    l->seen[part] = l->id;
    l->calls[part]++;
  }
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 2;
  long loops = argc > 2 ? atol(argv[2]) : 20000;
  if (threads < 1 || threads > 64 || loops < 1) {
    fprintf(stderr, "usage: thread_pool_stress THREADS(1-64) LOOPS\n");
    return 2;
  }
  long failures = 0, pools = 0;
  struct timespec nap = {0, 2000000}; /* 2 ms: past the spin, the workers block */
  for (long done = 0; done < loops; pools++) {
    vox_pool *p = vox__pool_new(threads);
    if (!p || vox__pool_size(p) != threads) {
      fprintf(stderr, "pool of %d threads not made\n", threads);
      return 1;
    }
    long n = loops - done < 5000 ? loops - done : 5000;
    for (long i = 0; i < n; i++, done++) {
      loop l = {.id = done, .parts = threads, .slow_part = -1};
      if (done % 101 == 7)
        nanosleep(&nap, NULL);
      if (done % 53 == 11)
        l.slow_part = (int)(done % threads);
      vox__pool_run(p, part_fn, &l);
      int ok = !atomic_load(&l.bad);
      for (int k = 0; k < threads; k++)
        ok &= l.calls[k] == 1 && l.seen[k] == done;
      failures += !ok;
    }
    if (pools % 2)
      nanosleep(&nap, NULL); /* freed with its workers asleep; else while they spin */
    vox__pool_free(p);
  }
  printf("%s %d threads: %ld loops in %ld pools, %ld wrong\n", failures ? "FAIL" : "ok  ", threads, loops, pools,
         failures);
  return failures != 0;
}
