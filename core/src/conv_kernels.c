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
#define DW_SMALL 8
#define DW_GROUP 4

/* y[c][t0, t0 + width) for nc channels (rows x_stride / y_stride apart): taps summed in registers,
 * so each output is stored once instead of once per tap. Inlined with constant nc, width and
 * stride. Taps are summed in ascending order in every variant, so streamed and whole-input results
 * differ at most by rounding (where the compiler fuses a multiply-add in one variant only). */
static inline __attribute__((always_inline)) void dw_block(const float *x, size_t x_stride, const float *w, int k,
                                                           int stride, int dil, float *y, size_t y_stride, size_t t0,
                                                           int nc, size_t width) {
  float acc[DW_GROUP][DW_BLOCK];
  for (int c = 0; c < nc; c++)
    for (size_t i = 0; i < width; i++)
      acc[c][i] = 0.0f;
  for (int j = 0; j < k; j++)
#pragma GCC unroll 4
    for (int c = 0; c < nc; c++) {
      const float wj = w[(size_t)c * (size_t)k + (size_t)j];
      const float *xj = x + (size_t)c * x_stride + t0 * (size_t)stride + (size_t)j * (size_t)dil;
      for (size_t i = 0; i < width; i++)
        acc[c][i] += wj * xj[i * (size_t)stride];
    }
  for (int c = 0; c < nc; c++)
    memcpy(y + (size_t)c * y_stride + t0, acc[c], width * sizeof(float));
}

/* Outputs [t0, n_out) (fewer than DW_BLOCK) of nc channels: streaming chunks give pieces of a few
 * frames. One channel's 8 outputs make one dependency chain through the adds (latency-bound:
 * depthwise ran 6x slower per output than offline); DW_GROUP channels keep several in flight. */
static inline __attribute__((always_inline)) void dw_tail(const float *x, size_t x_stride, const float *w, int k,
                                                          int stride, int dil, float *y, size_t y_stride, size_t t0,
                                                          size_t n_out, int nc) {
  for (; t0 + DW_SMALL <= n_out; t0 += DW_SMALL)
    dw_block(x, x_stride, w, k, stride, dil, y, y_stride, t0, nc, DW_SMALL);
  if (t0 + DW_SMALL / 2 <= n_out) {
    dw_block(x, x_stride, w, k, stride, dil, y, y_stride, t0, nc, DW_SMALL / 2);
    t0 += DW_SMALL / 2;
  }
  if (t0 < n_out)
    dw_block(x, x_stride, w, k, stride, dil, y, y_stride, t0, nc, n_out - t0);
}

static inline __attribute__((always_inline)) void dwconv(const float *in, size_t in_stride, const float *w, int k,
                                                         int stride, int dil, float *out, size_t out_stride,
                                                         size_t n_out, int c0, int c1) {
  size_t full = n_out / DW_BLOCK * DW_BLOCK;
  for (int c = c0; c < c1; c++)
    for (size_t t0 = 0; t0 < full; t0 += DW_BLOCK)
      dw_block(in + (size_t)c * in_stride, in_stride, w + (size_t)c * (size_t)k, k, stride, dil,
               out + (size_t)c * out_stride, out_stride, t0, 1, DW_BLOCK);
  if (full == n_out)
    return;
  /* A stream's cache rows were last read a chunk ago (out of L2 by now) and each is only a few
   * cache lines long, too short for the hardware prefetcher: fetch the next group's rows early. */
  size_t span = ((n_out - 1) * (size_t)stride + (size_t)(k - 1) * (size_t)dil + 1) - full * (size_t)stride;
  int c = c0;
  for (; c + DW_GROUP <= c1; c += DW_GROUP) {
    for (int p = DW_GROUP; p < 2 * DW_GROUP && c + p < c1; p++)
      for (size_t f = 0; f < span; f += 16)
        __builtin_prefetch(in + (size_t)(c + p) * in_stride + full * (size_t)stride + f);
    dw_tail(in + (size_t)c * in_stride, in_stride, w + (size_t)c * (size_t)k, k, stride, dil,
            out + (size_t)c * out_stride, out_stride, full, n_out, DW_GROUP);
  }
  for (; c < c1; c++)
    dw_tail(in + (size_t)c * in_stride, in_stride, w + (size_t)c * (size_t)k, k, stride, dil,
            out + (size_t)c * out_stride, out_stride, full, n_out, 1);
}

VOX_MULTIVERSION
void vox__dwconv(const float *in, size_t in_stride, const float *w, int k, int stride, int dil, float *out,
                 size_t out_stride, size_t n_out, int c0, int c1) {
  if (stride == 1) /* the common case, with contiguous loads */
    dwconv(in, in_stride, w, k, 1, dil, out, out_stride, n_out, c0, c1);
  else
    dwconv(in, in_stride, w, k, stride, dil, out, out_stride, n_out, c0, c1);
}

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

/* Columns per register tile of the small-N product. With VOX_SMALL_MB = 32 rows, a tile's
 * 4 x 32 accumulators fit in registers for AVX-512 (8) and AVX2 (16), and each weight load feeds
 * 4 multiply-adds: 2.6x the previous one-column-at-a-time loop on AVX-512, 1.9x on AVX2 (measured
 * with K = M = 256, N = 8). */
#define SMALL_NT 4

static inline float epilogue(float v, const float *bias, int m, int relu) {
  v += bias ? bias[m] : 0.0f;
  return relu && v < 0.0f ? 0.0f : v;
}

/* small-N product, bias and ReLU applied as each tile is stored: out[m][t] = sum_k W[m][k] *
 * in[k][t], one block of VOX_SMALL_MB rows at a time, SMALL_NT columns per register tile, weights
 * read sequentially. Summation runs over k ascending in tiles and in the single-column tail alike,
 * so a column's result does not depend on its tile beyond rounding. */
VOX_MULTIVERSION
static void small_gemm(const float *WB, int K, const float *bias, int relu, const float *in, size_t in_stride,
                       size_t n, int m0, int m1, float *out, size_t out_stride) {
  for (int mb = m0; mb < m1; mb += VOX_SMALL_MB) {
    int bw = m1 - mb < VOX_SMALL_MB ? m1 - mb : VOX_SMALL_MB;
    const float *wb = WB + (size_t)(mb / VOX_SMALL_MB) * (size_t)K * VOX_SMALL_MB;
    float *y = out + (size_t)mb * out_stride;
    size_t t0 = 0;
    for (; t0 + SMALL_NT <= n; t0 += SMALL_NT) {
      float a[SMALL_NT][VOX_SMALL_MB] = {{0}};
      for (int k = 0; k < K; k++) {
        const float *restrict wk = wb + (size_t)k * VOX_SMALL_MB;
        const float *xk = in + (size_t)k * in_stride + t0;
#pragma GCC unroll 4
        for (int t = 0; t < SMALL_NT; t++) {
          const float x = xk[t];
          for (int m = 0; m < VOX_SMALL_MB; m++)
            a[t][m] += wk[m] * x;
        }
      }
      for (int m = 0; m < bw; m++)
        for (int t = 0; t < SMALL_NT; t++)
          y[(size_t)m * out_stride + t0 + (size_t)t] = epilogue(a[t][m], bias, mb + m, relu);
    }
    for (; t0 < n; t0++) {
      float a[VOX_SMALL_MB] = {0};
      for (int k = 0; k < K; k++) {
        const float *restrict wk = wb + (size_t)k * VOX_SMALL_MB;
        const float x = in[(size_t)k * in_stride + t0];
        for (int m = 0; m < VOX_SMALL_MB; m++)
          a[m] += wk[m] * x;
      }
      for (int m = 0; m < bw; m++)
        y[(size_t)m * out_stride + t0] = epilogue(a[m], bias, mb + m, relu);
    }
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
                    size_t in_stride, float *out, size_t out_stride, size_t n, int m0, int m1, int relu) {
  if (m1 <= m0 || n == 0)
    return;
  if (n <= VOX_SMALL_N && WB) {
    small_gemm(WB, K, bias, relu, in, in_stride, n, m0, m1, out, out_stride);
    return;
  }
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m1 - m0, (int)n, K, 1.0f, WT + m0, M, in, (int)in_stride, 0.0f,
              out + (size_t)m0 * out_stride, (int)out_stride);
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
