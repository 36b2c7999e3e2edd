/* conv_kernels.c - depthwise/pointwise convolution loops and a tiny thread pool.
 *
 * Pointwise convolutions are GEMMs through OpenBLAS (called single-threaded: our pool splits
 * rows); depthwise loops are written so GCC vectorises the inner loop over time. */
#include "conv_kernels.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Built for AVX-512, AVX2 and baseline x86-64; the loader picks the best the CPU has. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VOX_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VOX_MULTIVERSION
#endif

#define DW_BLOCK 32

/* Outputs are computed DW_BLOCK at a time with all taps accumulated in registers, so each output
 * is stored once instead of once per tap. */
VOX_MULTIVERSION
void vox__dwconv(const float *in, size_t in_stride, const float *w, int k, int stride, int dil, float *out,
                 size_t out_stride, size_t n_out, int c0, int c1) {
  for (int c = c0; c < c1; c++) {
    const float *x = in + (size_t)c * in_stride;
    const float *wc = w + (size_t)c * (size_t)k;
    float *restrict y = out + (size_t)c * out_stride;
    for (size_t t0 = 0; t0 < n_out; t0 += DW_BLOCK) {
      size_t m = n_out - t0 < DW_BLOCK ? n_out - t0 : DW_BLOCK;
      float acc[DW_BLOCK] = {0};
      if (stride == 1 && m == DW_BLOCK) {
        for (int j = 0; j < k; j++) {
          const float wj = wc[j];
          const float *xj = x + t0 + (size_t)j * (size_t)dil;
          for (int i = 0; i < DW_BLOCK; i++)
            acc[i] += wj * xj[i];
        }
      } else if (stride == 1) {
        for (int j = 0; j < k; j++) {
          const float wj = wc[j];
          const float *xj = x + t0 + (size_t)j * (size_t)dil;
          for (size_t i = 0; i < m; i++)
            acc[i] += wj * xj[i];
        }
      } else {
        for (int j = 0; j < k; j++) {
          const float wj = wc[j];
          const float *xj = x + t0 * (size_t)stride + (size_t)j * (size_t)dil;
          for (size_t i = 0; i < m; i++)
            acc[i] += wj * xj[i * (size_t)stride];
        }
      }
      memcpy(y + t0, acc, m * sizeof(float));
    }
  }
}

/* OpenBLAS's own threads busy-wait between calls; with our small per-piece GEMMs and any other
 * load on the machine they stall for whole scheduler slices (seen: 35 s wall for 2 s of CPU).
 * voxpipe parallelises itself (vox_pool), so OpenBLAS runs single-threaded: set once per process,
 * the documented exception to "no global state", since OpenBLAS offers only a global setting. */
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_single_thread(void) { openblas_set_num_threads(1); }
void vox__blas_init(void) { pthread_once(&blas_once, blas_single_thread); }

/* bias + ReLU epilogue of a GEMM */
VOX_MULTIVERSION
static void bias_relu(float *out, size_t out_stride, const float *bias, size_t n, int m0, int m1, int relu) {
  for (int m = m0; m < m1; m++) {
    float *restrict y = out + (size_t)m * out_stride;
    const float b = bias ? bias[m] : 0.0f;
    if (relu)
      for (size_t t = 0; t < n; t++) {
        float v = y[t] + b;
        y[t] = v > 0.0f ? v : 0.0f;
      }
    else if (bias)
      for (size_t t = 0; t < n; t++)
        y[t] += b;
  }
}

/* small-N product: acc[t][m] = sum_k W[m][k] * in[k][t], one block of VOX_SMALL_MB output rows at
 * a time with its accumulators in L1 (registers with AVX-512) and its weights read sequentially */
VOX_MULTIVERSION
static void small_gemm(const float *WB, int K, const float *in, size_t in_stride, size_t n, int m0, int m1,
                       float *acc) {
  size_t w = (size_t)(m1 - m0);
  for (int mb = m0; mb < m1; mb += VOX_SMALL_MB) {
    int bw = m1 - mb < VOX_SMALL_MB ? m1 - mb : VOX_SMALL_MB;
    const float *wb = WB + (size_t)(mb / VOX_SMALL_MB) * (size_t)K * VOX_SMALL_MB;
    float blk[VOX_SMALL_N][VOX_SMALL_MB];
    memset(blk, 0, sizeof blk);
    for (int k = 0; k < K; k++) {
      const float *restrict wk = wb + (size_t)k * VOX_SMALL_MB;
      const float *xk = in + (size_t)k * in_stride;
      for (size_t t = 0; t < n; t++) {
        const float x = xk[t];
        for (int m = 0; m < VOX_SMALL_MB; m++)
          blk[t][m] += wk[m] * x;
      }
    }
    for (size_t t = 0; t < n; t++)
      memcpy(acc + t * w + (size_t)(mb - m0), blk[t], (size_t)bw * sizeof(float));
  }
}

float *vox__block_weights(const float *WT, int K, int M) {
  int nb = (M + VOX_SMALL_MB - 1) / VOX_SMALL_MB;
  float *b = calloc((size_t)nb * (size_t)K * VOX_SMALL_MB, sizeof(float));
  if (!b)
    return NULL;
  for (int k = 0; k < K; k++)
    for (int m = 0; m < M; m++)
      b[((size_t)(m / VOX_SMALL_MB) * (size_t)K + (size_t)k) * VOX_SMALL_MB + (size_t)(m % VOX_SMALL_MB)] =
          WT[(size_t)k * (size_t)M + m];
  return b;
}

void vox__pointwise(const float *WT, const float *WB, int M, const float *bias, int K, const float *in,
                    size_t in_stride, float *out, size_t out_stride, size_t n, int m0, int m1, int relu, float *scratch) {
  if (m1 <= m0 || n == 0)
    return;
  if (n <= VOX_SMALL_N && scratch && WB) {
    small_gemm(WB, K, in, in_stride, n, m0, m1, scratch);
    size_t w = (size_t)(m1 - m0);
    for (int m = m0; m < m1; m++)
      for (size_t t = 0; t < n; t++)
        out[(size_t)m * out_stride + t] = scratch[t * w + (size_t)(m - m0)];
  } else {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m1 - m0, (int)n, K, 1.0f, WT + m0, M, in, (int)in_stride,
                0.0f, out + (size_t)m0 * out_stride, (int)out_stride);
  }
  bias_relu(out, out_stride, bias, n, m0, m1, relu);
}

float *vox__transpose(const float *a, int rows, int cols) {
  float *t = malloc(sizeof(float) * (size_t)rows * (size_t)cols);
  if (!t)
    return NULL;
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++)
      t[(size_t)c * rows + r] = a[(size_t)r * cols + c];
  return t;
}

VOX_MULTIVERSION
void vox__add_relu(float *out, size_t out_stride, const float *add, size_t add_stride, size_t n, int m0, int m1,
                   int relu) {
  for (int m = m0; m < m1; m++) {
    float *restrict y = out + (size_t)m * out_stride;
    const float *restrict a = add + (size_t)m * add_stride;
    if (relu)
      for (size_t t = 0; t < n; t++) {
        float v = y[t] + a[t];
        y[t] = v > 0.0f ? v : 0.0f;
      }
    else
      for (size_t t = 0; t < n; t++)
        y[t] += a[t];
  }
}

void vox__im2col(const float *in, size_t in_stride, int k, int stride, int dil, float *col, size_t col_stride,
                 size_t n, int c0, int c1) {
  for (int c = c0; c < c1; c++)
    for (int j = 0; j < k; j++) {
      const float *x = in + (size_t)c * in_stride + (size_t)j * (size_t)dil;
      float *restrict y = col + ((size_t)c * (size_t)k + (size_t)j) * col_stride;
      for (size_t t = 0; t < n; t++)
        y[t] = x[t * (size_t)stride];
    }
}

struct vox_pool {
  int n;
  pthread_t *threads;
  pthread_mutex_t lock;
  pthread_cond_t start, done;
  vox_pool_fn fn;
  void *ctx;
  unsigned generation;
  int pending;
  int quit;
};

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
    pthread_mutex_lock(&p->lock);
    while (!p->quit && p->generation == seen)
      pthread_cond_wait(&p->start, &p->lock);
    if (p->quit) {
      pthread_mutex_unlock(&p->lock);
      return NULL;
    }
    seen = p->generation;
    vox_pool_fn fn = p->fn;
    void *ctx = p->ctx;
    pthread_mutex_unlock(&p->lock);
    fn(ctx, index, p->n);
    pthread_mutex_lock(&p->lock);
    if (--p->pending == 0)
      pthread_cond_signal(&p->done);
    pthread_mutex_unlock(&p->lock);
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
  p->quit = 1;
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
  p->pending = p->n - 1;
  p->generation++;
  pthread_cond_broadcast(&p->start);
  pthread_mutex_unlock(&p->lock);
  fn(ctx, 0, p->n);
  pthread_mutex_lock(&p->lock);
  while (p->pending > 0)
    pthread_cond_wait(&p->done, &p->lock);
  pthread_mutex_unlock(&p->lock);
}
