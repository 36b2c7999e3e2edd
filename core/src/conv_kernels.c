/* conv_kernels.c - depthwise/pointwise convolution loops (the thread pool: thread_pool.c).
 *
 * Pointwise convolutions are GEMMs over weights blocked once at load time, in register tiles
 * (our pool splits the rows between threads); depthwise loops sum taps in vector registers over
 * time. */
#include "conv_kernels.h"

#include "voxpipe/vox_model.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The multiply-add kernels (depthwise, GEMM tiles) are built four times, for AVX-512, AVX + FMA,
 * AVX and baseline x86-64, and the best the CPU has is chosen once (vox_kernel_isa), unless
 * VOXPIPE_ISA names a lower one: to compare them, and for valgrind, which runs each fused
 * multiply-add through a helper call (7x slower than a multiply and an add). "fma" rather than
 * GCC's "avx2" target: that one has no FMA (and "arch=haswell" is chosen on Intel CPUs only),
 * while float kernels need nothing of AVX2 beyond AVX and FMA. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VOX_X86_VARIANTS 1
#endif

enum { ISA_AVX512, ISA_FMA, ISA_AVX, ISA_SSE2, ISA_COUNT };
static const char *const isa_names[ISA_COUNT] = {"avx512", "fma", "avx", "sse2"};

/* name_v[level]: the builds of a kernel from its always-inline body name_body, whose last argument
 * is the level (a constant in each build): the SSE2 build uses plain loops for the vectoriser
 * rather than 8-float vectors, which GCC keeps in memory there (25x slower). */
#define VOX_EXPAND(...) __VA_ARGS__
#define VOX_AT_AVX512 __attribute__((target("avx512f")))
#define VOX_AT_FMA __attribute__((target("fma")))
#define VOX_AT_AVX __attribute__((target("avx")))
#ifdef VOX_X86_VARIANTS
#define VOX_ISA_VARIANTS(name, params, args)                                                          \
  VOX_AT_AVX512 static void name##_avx512 params { name##_body(VOX_EXPAND args, ISA_AVX512); }        \
  VOX_AT_FMA static void name##_fma params { name##_body(VOX_EXPAND args, ISA_FMA); }                 \
  VOX_AT_AVX static void name##_avx params { name##_body(VOX_EXPAND args, ISA_AVX); }                 \
  static void name##_sse2 params { name##_body(VOX_EXPAND args, ISA_SSE2); }                          \
  static void (*const name##_v[ISA_COUNT]) params = {name##_avx512, name##_fma, name##_avx, name##_sse2};
#else
#define VOX_ISA_VARIANTS(name, params, args)                                                          \
  static void name##_sse2 params { name##_body(VOX_EXPAND args, ISA_SSE2); }                          \
  static void (*const name##_v[ISA_COUNT]) params = {name##_sse2, name##_sse2, name##_sse2, name##_sse2};
#endif

static pthread_once_t isa_once = PTHREAD_ONCE_INIT;
static int isa_level = ISA_SSE2; /* written once, by isa_pick */

static void isa_pick(void) {
  int best = ISA_SSE2;
#ifdef VOX_X86_VARIANTS
  __builtin_cpu_init();
  best = __builtin_cpu_supports("avx512f") ? ISA_AVX512
         : __builtin_cpu_supports("fma")   ? ISA_FMA
         : __builtin_cpu_supports("avx")   ? ISA_AVX
                                           : ISA_SSE2;
#endif
  const char *want = getenv("VOXPIPE_ISA");
  for (int i = best; want && i < ISA_COUNT; i++)
    if (!strcmp(want, isa_names[i]))
      best = i;
  isa_level = best;
}

static int isa(void) {
  pthread_once(&isa_once, isa_pick);
  return isa_level;
}

const char *vox_kernel_isa(void) { return isa_names[isa()]; }

/* Eight floats in GCC's generic vectors: one AVX register, two SSE ones in the baseline build.
 * Accumulators are named vectors rather than float arrays, which the vectoriser kept in memory for
 * some shapes (the GEMM tile ran 3x slower than OpenBLAS). */
typedef float v8f __attribute__((vector_size(32)));
typedef float v8f_mem __attribute__((vector_size(32), aligned(4), may_alias));

/* A scalar in every lane. Written out, because `vector * scalar` of 32-byte vectors is done one
 * element at a time in the SSE2 build (25x slower), while this becomes a broadcast, or a shuffle. */
#define V8_SPLAT(s) ((v8f){s, s, s, s, s, s, s, s}) /* s: a variable */

/* Sixteen floats: one AVX-512 register, used only by the AVX-512 builds' own kernels. */
typedef float v16f __attribute__((vector_size(64)));
typedef float v16f_mem __attribute__((vector_size(64), aligned(4), may_alias));
#define V16_SPLAT(s) ((v16f){s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s}) /* s: a variable */

/* Outputs per channel of a whole-input depthwise block: 8 vectors of accumulators keep enough
 * multiply-adds in flight for two FMA pipes (32 outputs, 4 vectors, were latency-bound on AVX2). */
#define DW_BLOCK 64
#define DW_SMALL 8
#define DW_GROUP 4

/* The order the taps are summed in, the same in every variant, so that streamed and whole-input
 * results differ at most by rounding (where the compiler fuses a multiply-add in one variant
 * only): ascending; for long kernels (stride 1, dilation 1) by phase instead, taps p, p + 8,
 * p + 16, ... for p = 0..7. Taps 8 apart read input vectors 8 frames apart, the neighbouring
 * output vector's, so the whole-input block loads each input vector once for up to four taps
 * (dw_block64) instead of once per tap: the loads had held QuartzNet 15x5's depthwise
 * convolutions (kernels 33-87) to 50-58 GFLOP/s, 80-87 with the shared loads. Returns the number
 * of phases: 8, or 1 for ascending. */
static inline int dw_phases(int k, int stride, int dil) { return stride == 1 && dil == 1 && k >= 32 ? 8 : 1; }

#define DW_FMA(a, w, v) a += w * v
#define DW_LOAD(q) (*(const v8f_mem *)(xj + 8 * (q)))

/* One channel's DW_BLOCK = 64 outputs y[0, 64) from x (its first input frame), summed in
 * dw_phases order (8 phases): each phase's taps four at a time while four are left, where input
 * vector q serves output vector q - g with tap j + 8 g, then two, then one. */
static inline __attribute__((always_inline)) void dw_block64(const float *x, const float *w, int k, float *y) {
  v8f a0 = {0}, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, v;
  for (int p = 0; p < 8; p++) {
    int j = p;
    for (; j + 24 < k; j += 32) {
      const float *xj = x + j;
      const float s0 = w[j], s1 = w[j + 8], s2 = w[j + 16], s3 = w[j + 24];
      const v8f w0 = V8_SPLAT(s0), w1 = V8_SPLAT(s1), w2 = V8_SPLAT(s2), w3 = V8_SPLAT(s3);
      v = DW_LOAD(0); DW_FMA(a0, w0, v);
      v = DW_LOAD(1); DW_FMA(a1, w0, v); DW_FMA(a0, w1, v);
      v = DW_LOAD(2); DW_FMA(a2, w0, v); DW_FMA(a1, w1, v); DW_FMA(a0, w2, v);
      v = DW_LOAD(3); DW_FMA(a3, w0, v); DW_FMA(a2, w1, v); DW_FMA(a1, w2, v); DW_FMA(a0, w3, v);
      v = DW_LOAD(4); DW_FMA(a4, w0, v); DW_FMA(a3, w1, v); DW_FMA(a2, w2, v); DW_FMA(a1, w3, v);
      v = DW_LOAD(5); DW_FMA(a5, w0, v); DW_FMA(a4, w1, v); DW_FMA(a3, w2, v); DW_FMA(a2, w3, v);
      v = DW_LOAD(6); DW_FMA(a6, w0, v); DW_FMA(a5, w1, v); DW_FMA(a4, w2, v); DW_FMA(a3, w3, v);
      v = DW_LOAD(7); DW_FMA(a7, w0, v); DW_FMA(a6, w1, v); DW_FMA(a5, w2, v); DW_FMA(a4, w3, v);
      v = DW_LOAD(8); DW_FMA(a7, w1, v); DW_FMA(a6, w2, v); DW_FMA(a5, w3, v);
      v = DW_LOAD(9); DW_FMA(a7, w2, v); DW_FMA(a6, w3, v);
      v = DW_LOAD(10); DW_FMA(a7, w3, v);
    }
    if (j + 8 < k) {
      const float *xj = x + j;
      const float s0 = w[j], s1 = w[j + 8];
      const v8f w0 = V8_SPLAT(s0), w1 = V8_SPLAT(s1);
      v = DW_LOAD(0); DW_FMA(a0, w0, v);
      v = DW_LOAD(1); DW_FMA(a1, w0, v); DW_FMA(a0, w1, v);
      v = DW_LOAD(2); DW_FMA(a2, w0, v); DW_FMA(a1, w1, v);
      v = DW_LOAD(3); DW_FMA(a3, w0, v); DW_FMA(a2, w1, v);
      v = DW_LOAD(4); DW_FMA(a4, w0, v); DW_FMA(a3, w1, v);
      v = DW_LOAD(5); DW_FMA(a5, w0, v); DW_FMA(a4, w1, v);
      v = DW_LOAD(6); DW_FMA(a6, w0, v); DW_FMA(a5, w1, v);
      v = DW_LOAD(7); DW_FMA(a7, w0, v); DW_FMA(a6, w1, v);
      v = DW_LOAD(8); DW_FMA(a7, w1, v);
      j += 16;
    }
    if (j < k) {
      const float *xj = x + j;
      const float s0 = w[j];
      const v8f w0 = V8_SPLAT(s0);
      DW_FMA(a0, w0, DW_LOAD(0)); DW_FMA(a1, w0, DW_LOAD(1)); DW_FMA(a2, w0, DW_LOAD(2));
      DW_FMA(a3, w0, DW_LOAD(3)); DW_FMA(a4, w0, DW_LOAD(4)); DW_FMA(a5, w0, DW_LOAD(5));
      DW_FMA(a6, w0, DW_LOAD(6)); DW_FMA(a7, w0, DW_LOAD(7));
    }
  }
  *(v8f_mem *)(y) = a0;
  *(v8f_mem *)(y + 8) = a1;
  *(v8f_mem *)(y + 16) = a2;
  *(v8f_mem *)(y + 24) = a3;
  *(v8f_mem *)(y + 32) = a4;
  *(v8f_mem *)(y + 40) = a5;
  *(v8f_mem *)(y + 48) = a6;
  *(v8f_mem *)(y + 56) = a7;
}

/* y[c][t0, t0 + width) for nc channels (rows x_stride / y_stride apart): taps summed in registers,
 * so each output is stored once instead of once per tap. Inlined with constant nc, width and
 * stride. */
static inline __attribute__((always_inline)) void dw_block(const float *x, size_t x_stride, const float *w, int k,
                                                           int stride, int dil, float *y, size_t y_stride, size_t t0,
                                                           int nc, size_t width, int vec) {
  const int phases = dw_phases(k, stride, dil);
  if (vec && stride == 1 && width % 8 == 0) {
    v8f acc[DW_GROUP][DW_BLOCK / 8] = {{{0}}};
    for (int p = 0; p < phases; p++)
      for (int j = p; j < k; j += phases)
#pragma GCC unroll 4
        for (int c = 0; c < nc; c++) {
          const float ws = w[(size_t)c * (size_t)k + (size_t)j];
          const v8f wj = V8_SPLAT(ws);
          const float *xj = x + (size_t)c * x_stride + t0 + (size_t)j * (size_t)dil;
#pragma GCC unroll 8
          for (size_t i = 0; i < width / 8; i++)
            acc[c][i] += wj * *(const v8f_mem *)(xj + 8 * i);
        }
    for (int c = 0; c < nc; c++)
#pragma GCC unroll 8
      for (size_t i = 0; i < width / 8; i++)
        *(v8f_mem *)(y + (size_t)c * y_stride + t0 + 8 * i) = acc[c][i];
    return;
  }
  float acc[DW_GROUP][DW_BLOCK];
  for (int c = 0; c < nc; c++)
    for (size_t i = 0; i < width; i++)
      acc[c][i] = 0.0f;
  for (int p = 0; p < phases; p++)
    for (int j = p; j < k; j += phases)
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

/* Outputs [t0, n_out) (n_out - t0 >= bw) in blocks of bw, the last one overlapping the one before
 * where bw does not divide the width: those outputs are computed twice, the same way. */
static inline __attribute__((always_inline)) void dw_blocks(const float *x, size_t x_stride, const float *w, int k,
                                                            int stride, int dil, float *y, size_t y_stride, size_t t0,
                                                            size_t n_out, int nc, size_t bw, int vec) {
  for (; t0 < n_out; t0 += bw)
    dw_block(x, x_stride, w, k, stride, dil, y, y_stride, t0 + bw <= n_out ? t0 : n_out - bw, nc, bw, vec);
}

/* Outputs [t0, n_out) (fewer than DW_BLOCK) of nc channels: streaming chunks give pieces of a few
 * frames. One channel's 8 outputs make one dependency chain through the adds (latency-bound:
 * depthwise ran 6x slower per output than offline); DW_GROUP channels keep several in flight, two
 * vectors each where there are 16 outputs. A width that is not a multiple of the block's ends with
 * a block that overlaps the one before: those outputs are computed twice, the same way, instead
 * of by the scalar loop (a 22-frame piece ran at a sixth of the whole-block speed). */
static inline __attribute__((always_inline)) void dw_tail(const float *x, size_t x_stride, const float *w, int k,
                                                          int stride, int dil, float *y, size_t y_stride, size_t t0,
                                                          size_t n_out, int nc, int vec) {
  const size_t bw = n_out - t0 >= 2 * DW_SMALL ? 2 * DW_SMALL : DW_SMALL;
  if (n_out - t0 >= bw) {
    dw_blocks(x, x_stride, w, k, stride, dil, y, y_stride, t0, n_out, nc, bw, vec);
    return;
  }
  if (t0 + DW_SMALL / 2 <= n_out) {
    dw_block(x, x_stride, w, k, stride, dil, y, y_stride, t0, nc, DW_SMALL / 2, vec);
    t0 += DW_SMALL / 2;
  }
  if (t0 < n_out)
    dw_block(x, x_stride, w, k, stride, dil, y, y_stride, t0, nc, n_out - t0, vec);
}

static inline __attribute__((always_inline)) void dwconv(const float *in, size_t in_stride, const float *w, int k,
                                                         int stride, int dil, float *out, size_t out_stride,
                                                         size_t n_out, int c0, int c1, int vec) {
  if (n_out >= DW_BLOCK) { /* the last block overlapping the one before (see dw_tail) */
    for (int c = c0; c < c1; c++)
      dw_blocks(in + (size_t)c * in_stride, in_stride, w + (size_t)c * (size_t)k, k, stride, dil,
                out + (size_t)c * out_stride, out_stride, 0, n_out, 1, DW_BLOCK, vec);
    return;
  }
  /* A stream's cache rows were last read a chunk ago (out of L2 by now) and each is only a few
   * cache lines long, too short for the hardware prefetcher: fetch the next group's rows early. */
  size_t span = (n_out - 1) * (size_t)stride + (size_t)(k - 1) * (size_t)dil + 1;
  int c = c0;
  for (; c + DW_GROUP <= c1; c += DW_GROUP) {
    for (int p = DW_GROUP; p < 2 * DW_GROUP && c + p < c1; p++)
      for (size_t f = 0; f < span; f += 16)
        __builtin_prefetch(in + (size_t)(c + p) * in_stride + f);
    dw_tail(in + (size_t)c * in_stride, in_stride, w + (size_t)c * (size_t)k, k, stride, dil,
            out + (size_t)c * out_stride, out_stride, 0, n_out, DW_GROUP, vec);
  }
  for (; c < c1; c++)
    dw_tail(in + (size_t)c * in_stride, in_stride, w + (size_t)c * (size_t)k, k, stride, dil,
            out + (size_t)c * out_stride, out_stride, 0, n_out, 1, vec);
}

/* One channel's n_out >= DW_BLOCK whole-input outputs by dw_block64, the last block overlapping the one
 * before (see dw_tail). Out of line, one function per level, and as -O3 compiles it: inlined into
 * dwconv, or at the -O2 of the default CFLAGS (whose loop vectoriser reshapes the loops around
 * it), dw_block64's accumulators were spilled to the stack, no faster than one load per tap. */
/* Outputs [t0, n_out) of one channel (n_out >= DW_BLOCK) by dw_block64, the last block overlapping
 * the one before. */
static inline __attribute__((always_inline)) void dw_blocks64(const float *x, const float *w, int k, float *y,
                                                              size_t t0, size_t n_out) {
  for (; t0 < n_out; t0 += DW_BLOCK) {
    const size_t t = t0 + DW_BLOCK <= n_out ? t0 : n_out - DW_BLOCK;
    dw_block64(x + t, w, k, y + t);
  }
}
#define DW_ROW_FN(sfx, attr)                                                                          \
  attr __attribute__((noinline, optimize("O3"))) static void dw_row_##sfx(const float *x, const float *w, int k, float *y,   \
                                                           size_t n_out) {                            \
    dw_blocks64(x, w, k, y, 0, n_out);                                                                \
  }
#ifdef VOX_X86_VARIANTS
/* AVX-512: whole-input rows of at least DW_WIDE outputs in blocks of eight 16-lane accumulators,
 * the taps in dw_phases order (8 phases) as dw_block64 sums them, each tap's input loaded per
 * output vector (taps 8 apart are half a vector apart here, so dw_block64's shared loads do not
 * apply; two 512-bit loads a cycle keep up with the two multiply-adds). */
#define DW_WIDE 128
VOX_AT_AVX512 __attribute__((noinline, optimize("O3"))) static void dw_row_wide(const float *x, const float *w, int k,
                                                                               float *y, size_t n_out) {
  size_t t = 0;
  for (; t + DW_WIDE <= n_out; t += DW_WIDE) {
    v16f a[DW_WIDE / 16] = {{0}};
    for (int p = 0; p < 8; p++)
      for (int j = p; j < k; j += 8) {
        const float wj = w[j];
        const v16f wv = V16_SPLAT(wj);
        const float *xj = x + t + j;
#pragma GCC unroll 8
        for (int i = 0; i < DW_WIDE / 16; i++)
          a[i] += wv * *(const v16f_mem *)(xj + 16 * i);
      }
#pragma GCC unroll 8
    for (int i = 0; i < DW_WIDE / 16; i++)
      *(v16f_mem *)(y + t + 16 * i) = a[i];
  }
  /* the rest in 64-output blocks: an overlapping 128-output block there had recomputed up to 127
   * outputs (a third of a 288-frame piece's depthwise work) */
  dw_blocks64(x, w, k, y, t, n_out);
}
DW_ROW_FN(avx512, VOX_AT_AVX512)
DW_ROW_FN(fma, VOX_AT_FMA)
DW_ROW_FN(avx, VOX_AT_AVX)
typedef void dw_row_fn(const float *x, const float *w, int k, float *y, size_t n_out);
static dw_row_fn *const dw_row_fns[ISA_COUNT] = {dw_row_avx512, dw_row_fma, dw_row_avx, NULL};
#endif

static inline __attribute__((always_inline)) void dwconv_body(const float *in, size_t in_stride, const float *w,
                                                              int k, int stride, int dil, float *out, size_t out_stride,
                                                              size_t n_out, int c0, int c1, int level) {
  const int vec = level != ISA_SSE2;
#ifdef VOX_X86_VARIANTS
  if (vec && n_out >= DW_BLOCK && dw_phases(k, stride, dil) == 8) {
    dw_row_fn *row = level == ISA_AVX512 && n_out >= DW_WIDE ? dw_row_wide : dw_row_fns[level];
    for (int c = c0; c < c1; c++)
      row(in + (size_t)c * in_stride, w + (size_t)c * (size_t)k, k, out + (size_t)c * out_stride, n_out);
    return;
  }
#endif
  if (stride == 1) /* the common case, with contiguous loads */
    dwconv(in, in_stride, w, k, 1, dil, out, out_stride, n_out, c0, c1, vec);
  else
    dwconv(in, in_stride, w, k, stride, dil, out, out_stride, n_out, c0, c1, vec);
}
VOX_ISA_VARIANTS(dwconv,
                 (const float *in, size_t in_stride, const float *w, int k, int stride, int dil, float *out,
                  size_t out_stride, size_t n_out, int c0, int c1),
                 (in, in_stride, w, k, stride, dil, out, out_stride, n_out, c0, c1))

void vox__dwconv(const float *in, size_t in_stride, const float *w, int k, int stride, int dil, float *out,
                 size_t out_stride, size_t n_out, int c0, int c1) {
  dwconv_v[isa()](in, in_stride, w, k, stride, dil, out, out_stride, n_out, c0, c1);
}

#define TILE_V (VOX_SMALL_MB / 8)
/* Columns of a register tile: VOX_SMALL_MB = 16 rows x 6 columns make 12 accumulators, which with
 * the 2 weight vectors and a broadcast fit AVX2's 16 registers (32 x 4 spilled there), keep 12
 * multiply-adds in flight (enough for two FMA pipes of latency 4-5) and load 8 values per 12 FMAs. */
#define TILE_NT 6
/* Weight rows (one cache line each) that the first tile of a weight block fetches ahead. The block
 * comes from L3 or memory in a stream of small chunks, whose 8-frame products the hardware
 * prefetcher (which stops at 4 KB pages) did not keep fed: 15-30 % of the streaming time. */
#define FETCH_AHEAD 32

/* a[t][m] = sum_k W[mb + m][k] * x[k * nt + t] over one weight block and one packed tile of nt
 * columns, m < VOX_SMALL_MB, t < nt. Summed over k ascending with one multiply-add per term for
 * every tile width, so a column's result does not depend on how the columns were tiled: streamed
 * and whole-input products are bit-identical. */
static inline __attribute__((always_inline)) void tile_product(const float *restrict wb, int K, const float *x,
                                                               int nt, float a[][VOX_SMALL_MB], int vec, int fetch) {
  if (!vec) {
    for (int t = 0; t < nt; t++)
      for (int m = 0; m < VOX_SMALL_MB; m++)
        a[t][m] = 0.0f;
    for (int k = 0; k < K; k++) {
      const float *restrict wk = wb + (size_t)k * VOX_SMALL_MB;
      const float *xk = x + (size_t)k * (size_t)nt;
#pragma GCC unroll 8
      for (int t = 0; t < nt; t++) {
        const float v = xk[t];
        for (int m = 0; m < VOX_SMALL_MB; m++)
          a[t][m] += wk[m] * v;
      }
    }
    return;
  }
  v8f acc[TILE_NT][TILE_V] = {{{0}}};
  for (int k = 0; k < K; k++) {
    if (fetch)
      __builtin_prefetch(wb + (size_t)(k + FETCH_AHEAD) * VOX_SMALL_MB);
    v8f w[TILE_V];
#pragma GCC unroll 4
    for (int i = 0; i < TILE_V; i++)
      w[i] = *(const v8f_mem *)(wb + (size_t)k * VOX_SMALL_MB + 8 * i);
    const float *xk = x + (size_t)k * (size_t)nt;
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++) {
      const float xs = xk[t];
      const v8f v = V8_SPLAT(xs);
#pragma GCC unroll 4
      for (int i = 0; i < TILE_V; i++)
        acc[t][i] += w[i] * v;
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < nt; t++)
#pragma GCC unroll 4
    for (int i = 0; i < TILE_V; i++)
      *(v8f_mem *)(a[t] + 8 * i) = acc[t][i];
}

/* The tile loop out of line, one function per width and level: inlined into the panel loop, one
 * accumulator was spilled to the stack or not depending on the code around it (1.5x slower). */
#define TILE_FN(nt, sfx, attr, vec)                                                                   \
  attr __attribute__((noinline)) static void tile##nt##_##sfx(const float *wb, int K, const float *x,  \
                                                              float a[][VOX_SMALL_MB], int fetch) {  \
    if (fetch)                                                                                        \
      tile_product(wb, K, x, nt, a, vec, 1);                                                          \
    else                                                                                              \
      tile_product(wb, K, x, nt, a, vec, 0);                                                          \
  }
#define TILE_FNS(sfx, attr, vec) TILE_FN(2, sfx, attr, vec) TILE_FN(4, sfx, attr, vec) TILE_FN(6, sfx, attr, vec)
typedef void tile_fn(const float *wb, int K, const float *x, float a[][VOX_SMALL_MB], int fetch);
TILE_FNS(sse2, , 0)
#define TILE_ROW(sfx) {tile2_##sfx, tile4_##sfx, tile6_##sfx}
#ifdef VOX_X86_VARIANTS
TILE_FNS(avx512, VOX_AT_AVX512, 1)
TILE_FNS(fma, VOX_AT_FMA, 1)
TILE_FNS(avx, VOX_AT_AVX, 1)
static tile_fn *const tile_fns[ISA_COUNT][3] = {TILE_ROW(avx512), TILE_ROW(fma), TILE_ROW(avx), TILE_ROW(sse2)};
#else
static tile_fn *const tile_fns[ISA_COUNT][3] = {TILE_ROW(sse2), TILE_ROW(sse2), TILE_ROW(sse2), TILE_ROW(sse2)};
#endif

#ifdef VOX_X86_VARIANTS
/* AVX-512 tiles span two weight blocks (32 rows) in 512-bit vectors: 16 accumulators, 2 weight
 * vectors and 8 broadcasts per 16 multiply-adds of 16 lanes. The 16-row tiles above, built for
 * AVX-512 too, still do 8 lanes at a time, half of what a CPU with full-width AVX-512 units does
 * per cycle (QuartzNet 15x5 reached 105-114 GFLOP/s of 280 on such a CPU, 0.88-0.97x ONNX
 * Runtime's speed). Same order of operations per output as tile_product: one multiply-add per
 * term, k ascending, so results are bit-identical whichever tile computes them. */

/* AVX-512 panels are tiled PAIR_NT columns wide (the AVX2 tiles' 6 until session 14): two weight
 * blocks x 8 columns make 16 accumulators of the 32 registers, and an 8-frame streaming product
 * (160 ms chunks) one pass over the weights instead of a 6-wide and a 2-wide one: default model
 * 0.26-0.27 -> 0.19 ms per 160 ms chunk, whole input 2-8 % faster. */
#define PAIR_NT 8

/* a0 / a1[t][m]: rows m of the weight block at wb and (nblk = 2) of the next one, nt columns of x. */
static inline __attribute__((always_inline)) void tile_pair_product(const float *restrict wb, int K, const float *x,
                                                                    int nt, int nblk, float a0[][VOX_SMALL_MB],
                                                                    float a1[][VOX_SMALL_MB], int fetch) {
  const float *restrict wb1 = wb + (size_t)K * VOX_SMALL_MB;
  v16f acc[PAIR_NT][2] = {{{0}}};
  for (int k = 0; k < K; k++) {
    if (fetch) {
      __builtin_prefetch(wb + (size_t)(k + FETCH_AHEAD) * VOX_SMALL_MB);
      if (nblk == 2)
        __builtin_prefetch(wb1 + (size_t)(k + FETCH_AHEAD) * VOX_SMALL_MB);
    }
    const v16f w0 = *(const v16f_mem *)(wb + (size_t)k * VOX_SMALL_MB);
    const v16f w1 = nblk == 2 ? (v16f) * (const v16f_mem *)(wb1 + (size_t)k * VOX_SMALL_MB) : w0;
    const float *xk = x + (size_t)k * (size_t)nt;
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++) {
      const float xs = xk[t];
      const v16f v = V16_SPLAT(xs);
      acc[t][0] += w0 * v;
      if (nblk == 2)
        acc[t][1] += w1 * v;
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < nt; t++) {
    *(v16f_mem *)a0[t] = acc[t][0];
    if (nblk == 2)
      *(v16f_mem *)a1[t] = acc[t][1];
  }
}

#define TILE_PAIR_FN(nt, nblk)                                                                        \
  VOX_AT_AVX512 __attribute__((noinline)) static void tile_pair##nt##_##nblk(                         \
      const float *wb, int K, const float *x, float a0[][VOX_SMALL_MB], float a1[][VOX_SMALL_MB], int fetch) { \
    if (fetch)                                                                                        \
      tile_pair_product(wb, K, x, nt, nblk, a0, a1, 1);                                               \
    else                                                                                              \
      tile_pair_product(wb, K, x, nt, nblk, a0, a1, 0);                                               \
  }
TILE_PAIR_FN(2, 1)
TILE_PAIR_FN(4, 1)
TILE_PAIR_FN(6, 1)
TILE_PAIR_FN(8, 1)
TILE_PAIR_FN(2, 2)
TILE_PAIR_FN(4, 2)
TILE_PAIR_FN(6, 2)
TILE_PAIR_FN(8, 2)
typedef void tile_pair_fn(const float *wb, int K, const float *x, float a0[][VOX_SMALL_MB], float a1[][VOX_SMALL_MB],
                          int fetch);
/* Four weight blocks x 4 columns, an 80 ms chunk's product per stage: 16 accumulators and four
 * weight streams in flight instead of two (the weights come from L3 once per chunk): default model
 * 0.131-0.135 -> 0.126-0.127 ms per 80 ms chunk (3 alternating runs). */
VOX_AT_AVX512 __attribute__((noinline)) static void tile_quad4(const float *restrict wb, int K, const float *x,
                                                              float a[4][4][VOX_SMALL_MB]) {
  const size_t blk = (size_t)K * VOX_SMALL_MB;
  v16f acc[4][4] = {{{0}}};
  for (int k = 0; k < K; k++) {
    v16f w[4];
#pragma GCC unroll 4
    for (int b = 0; b < 4; b++) {
      __builtin_prefetch(wb + b * blk + (size_t)(k + FETCH_AHEAD) * VOX_SMALL_MB);
      w[b] = *(const v16f_mem *)(wb + b * blk + (size_t)k * VOX_SMALL_MB);
    }
    const float *xk = x + (size_t)k * 4;
#pragma GCC unroll 4
    for (int t = 0; t < 4; t++) {
      const float xs = xk[t];
      const v16f v = V16_SPLAT(xs);
#pragma GCC unroll 4
      for (int b = 0; b < 4; b++)
        acc[b][t] += w[b] * v;
    }
  }
#pragma GCC unroll 4
  for (int b = 0; b < 4; b++)
#pragma GCC unroll 4
    for (int t = 0; t < 4; t++)
      *(v16f_mem *)a[b][t] = acc[b][t];
}

/* [blocks - 1][nt / 2 - 1] */
static tile_pair_fn *const tile_pair_fns[2][4] = {{tile_pair2_1, tile_pair4_1, tile_pair6_1, tile_pair8_1},
                                                  {tile_pair2_2, tile_pair4_2, tile_pair6_2, tile_pair8_2}};
#endif

typedef int v8i __attribute__((vector_size(32)));

typedef float v4f __attribute__((vector_size(16)));
typedef float v4f_mem __attribute__((vector_size(16), aligned(4), may_alias));

/* Rows 8 i .. 8 i + 7 of a tile of nt <= 6 columns as vectors over its columns (lanes nt to 7
 * zero): the 8 x 8 transpose in three rounds of shuffles (unpack, shufps, 128-bit halves). */
static inline __attribute__((always_inline)) void tile_rows(float a[][VOX_SMALL_MB], int nt, int i, v8f r[8]) {
  v8f c[8];
#pragma GCC unroll 8
  for (int t = 0; t < 8; t++)
    c[t] = t < nt ? (v8f) * (const v8f_mem *)(a[t] + 8 * i) : (v8f){0};
  v8f u[8], s[8];
#pragma GCC unroll 4
  for (int j = 0; j < 4; j++) {
    u[2 * j] = __builtin_shufflevector(c[2 * j], c[2 * j + 1], 0, 8, 1, 9, 4, 12, 5, 13);
    u[2 * j + 1] = __builtin_shufflevector(c[2 * j], c[2 * j + 1], 2, 10, 3, 11, 6, 14, 7, 15);
  }
#pragma GCC unroll 2
  for (int h = 0; h < 2; h++) { /* columns 0-3, then 4-7 */
    s[4 * h] = __builtin_shufflevector(u[4 * h], u[4 * h + 2], 0, 1, 8, 9, 4, 5, 12, 13);
    s[4 * h + 1] = __builtin_shufflevector(u[4 * h], u[4 * h + 2], 2, 3, 10, 11, 6, 7, 14, 15);
    s[4 * h + 2] = __builtin_shufflevector(u[4 * h + 1], u[4 * h + 3], 0, 1, 8, 9, 4, 5, 12, 13);
    s[4 * h + 3] = __builtin_shufflevector(u[4 * h + 1], u[4 * h + 3], 2, 3, 10, 11, 6, 7, 14, 15);
  }
#pragma GCC unroll 4
  for (int j = 0; j < 4; j++) {
    r[j] = __builtin_shufflevector(s[j], s[4 + j], 0, 1, 2, 3, 8, 9, 10, 11);
    r[4 + j] = __builtin_shufflevector(s[j], s[4 + j], 4, 5, 6, 7, 12, 13, 14, 15);
  }
}

/* tile_store in vectors, rows transposed in registers: a full tile (nt = TILE_NT) at least 8
 * columns before the end of the output is stored 8 columns wide (the 2 beyond the tile are
 * rewritten by the next tile), a 4-wide tile (nt = 4: a streaming chunk's last, often only, tile)
 * 4 wide. The same operations in the same order as tile_store. Scalar, these stores were 10 % of
 * the whole-input time, and half of the product's time outside the tile loop at 4-frame chunks. */
static inline __attribute__((always_inline)) void tile_store_vec(float a[][VOX_SMALL_MB], int nt, int bw,
                                                                 const vox_epilogue *ep, int mb, float *y,
                                                                 size_t out_stride, size_t t0) {
  const float *bias = ep->bias, *res = ep->res;
  const size_t res_stride = ep->res_stride;
  const int relu = ep->relu;
  const v8f zero = {0};
  for (int i = 0; i * 8 < bw; i++) {
    v8f r[8];
    tile_rows(a, nt, i, r);
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) {
      const int m = 8 * i + j;
      if (m >= bw)
        break;
      const float b = bias ? bias[mb + m] : 0.0f;
      v8f v = r[j] + V8_SPLAT(b);
      const float *rm = res ? res + (size_t)(mb + m) * res_stride + t0 : NULL;
      float *ym = y + (size_t)m * out_stride + t0;
      if (rm && nt == 4) {
        const v4f r4 = *(const v4f_mem *)rm;
        v += __builtin_shufflevector(r4, r4, 0, 1, 2, 3, 0, 1, 2, 3);
      } else if (rm) {
        v += *(const v8f_mem *)rm;
      }
      if (relu) /* keeps NaN and -0, as the scalar test v < 0 does */
        v = (v8f)((v8i)v & ~(v < zero));
      if (nt == 4)
        *(v4f_mem *)ym = __builtin_shufflevector(v, v, 0, 1, 2, 3);
      else
        *(v8f_mem *)ym = v;
    }
  }
}

/* Stores columns [0, w) of a tile (rows [0, bw) of block mb) at y[m][t0 + t], the epilogue applied
 * in the order of the unfused passes (bias, then residual, then ReLU). */
static inline __attribute__((always_inline)) void tile_store(float a[][VOX_SMALL_MB], int bw, size_t w,
                                                             const vox_epilogue *ep, int mb, float *y,
                                                             size_t out_stride, size_t t0) {
  const float *bias = ep->bias, *res = ep->res;
  const size_t res_stride = ep->res_stride;
  const int relu = ep->relu;
  for (int m = 0; m < bw; m++) {
    const float b = bias ? bias[mb + m] : 0.0f;
    const float *r = res ? res + (size_t)(mb + m) * res_stride + t0 : NULL;
    float *ym = y + (size_t)m * out_stride + t0;
    if (r)
      for (size_t t = 0; t < w; t++) {
        const float v = a[t][m] + b + r[t];
        ym[t] = relu && v < 0.0f ? 0.0f : v;
      }
    else
      for (size_t t = 0; t < w; t++) {
        const float v = a[t][m] + b;
        ym[t] = relu && v < 0.0f ? 0.0f : v;
      }
  }
}

/* Stores a full (TILE_NT-wide) tile starting at column t0 of n. */
static inline __attribute__((always_inline)) void tile_store_full(float a[][VOX_SMALL_MB], int bw,
                                                                  const vox_epilogue *ep, int mb, float *y,
                                                                  size_t out_stride, size_t t0, size_t n, int vec) {
  if (vec && t0 + 8 <= n)
    tile_store_vec(a, TILE_NT, bw, ep, mb, y, out_stride, t0);
  else
    tile_store(a, bw, TILE_NT, ep, mb, y, out_stride, t0);
}

/* Stores the w columns of a panel's last tile, starting at column t0. */
static inline __attribute__((always_inline)) void tile_store_last(float a[][VOX_SMALL_MB], size_t w, int bw,
                                                                  const vox_epilogue *ep, int mb, float *y,
                                                                  size_t out_stride, size_t t0, int vec) {
  if (vec && w == 4)
    tile_store_vec(a, 4, bw, ep, mb, y, out_stride, t0);
  else
    tile_store(a, bw, w, ep, mb, y, out_stride, t0);
}

/* One row of a panel's last tile: w values, zeros up to nt. */
static inline __attribute__((always_inline)) void pack_last(float *dst, const float *src, size_t w, size_t nt) {
  for (size_t t = 0; t < w; t++)
    dst[t] = src[t];
  for (size_t t = w; t < nt; t++)
    dst[t] = 0.0f;
}

/* Copies the panel of columns [c0, c0 + VOX_PANEL_N) of n into tiles of tile_nt columns, k-major and
 * contiguous, the last one *last_nt = 2, 4, ... wide (zero-padded past *last_w); returns it. */
static inline __attribute__((always_inline)) float *pack_panel(float *pack, const float *in, size_t in_stride,
                                                               size_t c0, size_t n, int K, size_t tile_nt,
                                                               size_t *full_ret, size_t *last_w_ret,
                                                               size_t *last_nt_ret) {
  const size_t nc = n - c0 < VOX_PANEL_N ? n - c0 : VOX_PANEL_N, full = (nc - 1) / tile_nt;
  const size_t last_w = nc - full * tile_nt, last_nt = (last_w + 1) / 2 * 2;
  float *last = pack + full * (size_t)K * tile_nt;
  for (int k = 0; k < K; k++) {
    const float *src = in + (size_t)k * in_stride + c0;
    for (size_t tl = 0; tl < full; tl++)
      memcpy(pack + (tl * (size_t)K + (size_t)k) * tile_nt, src + tl * tile_nt, tile_nt * sizeof(float));
    if (last_w == 4) /* a streaming chunk's (only) tile, most often: one vector per row */
      *(v4f_mem *)(last + (size_t)k * 4) = *(const v4f_mem *)(src + full * tile_nt);
    else if (last_w == tile_nt)
      memcpy(last + (size_t)k * tile_nt, src + full * tile_nt, tile_nt * sizeof(float));
    else
      pack_last(last + (size_t)k * last_nt, src + full * tile_nt, last_w, last_nt);
  }
  *full_ret = full;
  *last_w_ret = last_w;
  *last_nt_ret = last_nt;
  return last;
}

#ifdef VOX_X86_VARIANTS
/* panel_gemm_body for AVX-512: PAIR_NT-wide tiles (the last one 2, 4, 6 or 8 wide, zero-padded) over
 * pairs of weight blocks (one block for an odd last one). */
static inline __attribute__((always_inline)) void panel_pairs(const float *WB, int K, const float *in,
                                                              size_t in_stride, size_t n, int m0, int m1, float *out,
                                                              size_t out_stride, const vox_epilogue *ep, float *pack) {
  for (size_t c0 = 0; c0 < n; c0 += VOX_PANEL_N) {
    size_t full, last_w, last_nt;
    float *last = pack_panel(pack, in, in_stride, c0, n, K, PAIR_NT, &full, &last_w, &last_nt);
    for (int mb = m0; mb < m1;) {
      if (!full && last_w == 4 && mb + 4 * VOX_SMALL_MB <= m1) { /* 4 frames: four blocks at a time */
        float aq[4][4][VOX_SMALL_MB];
        tile_quad4(WB + (size_t)(mb / VOX_SMALL_MB) * (size_t)K * VOX_SMALL_MB, K, last, aq);
        for (int b = 0; b < 4; b++) {
          const int mq = mb + b * VOX_SMALL_MB;
          tile_store_vec(aq[b], 4, VOX_SMALL_MB, ep, mq, out + (size_t)mq * out_stride, out_stride, c0);
        }
        mb += 4 * VOX_SMALL_MB;
        continue;
      }
      const int nblk = mb + VOX_SMALL_MB < m1 ? 2 : 1, mb1 = mb + VOX_SMALL_MB;
      const int bw = m1 - mb < VOX_SMALL_MB ? m1 - mb : VOX_SMALL_MB;
      const int bw1 = m1 - mb1 < VOX_SMALL_MB ? m1 - mb1 : VOX_SMALL_MB;
      const float *wb = WB + (size_t)(mb / VOX_SMALL_MB) * (size_t)K * VOX_SMALL_MB;
      float *y = out + (size_t)mb * out_stride, *y1 = out + (size_t)mb1 * out_stride;
      float a0[PAIR_NT][VOX_SMALL_MB], a1[PAIR_NT][VOX_SMALL_MB];
      tile_pair_fn *const full_fn = tile_pair_fns[nblk - 1][PAIR_NT / 2 - 1];
      for (size_t tl = 0; tl < full; tl++) {
        const size_t t0 = c0 + tl * PAIR_NT;
        full_fn(wb, K, pack + tl * (size_t)K * PAIR_NT, a0, a1, tl == 0);
        tile_store_vec(a0, PAIR_NT, bw, ep, mb, y, out_stride, t0);
        if (nblk == 2)
          tile_store_vec(a1, PAIR_NT, bw1, ep, mb1, y1, out_stride, t0);
      }
      tile_pair_fns[nblk - 1][last_nt / 2 - 1](wb, K, last, a0, a1, full == 0);
      const size_t t0 = c0 + full * PAIR_NT;
      for (int b = 0; b < nblk; b++) { /* an 8-wide last tile in vectors too */
        float(*a)[VOX_SMALL_MB] = b ? a1 : a0;
        if (last_w == PAIR_NT)
          tile_store_vec(a, PAIR_NT, b ? bw1 : bw, ep, b ? mb1 : mb, b ? y1 : y, out_stride, t0);
        else
          tile_store_last(a, last_w, b ? bw1 : bw, ep, b ? mb1 : mb, b ? y1 : y, out_stride, t0, 1);
      }
      mb += nblk * VOX_SMALL_MB;
    }
  }
}
#endif

/* The product over the blocked weights. The input is copied VOX_PANEL_N columns at a time into
 * TILE_NT-wide tiles (k-major, contiguous; the last one 2, 4 or 6 wide, zero-padded): read in
 * place, a tile took 24 bytes from each of K rows a piece apart, K cache lines that with the weight
 * block overflowed L1 (2x slower even for streaming chunks of 4 frames). Each weight block then
 * serves the whole panel from cache. OpenBLAS instead repacked the weights on every call (8 % of
 * the whole-input time) and needed a second pass for bias and ReLU. */
static inline __attribute__((always_inline)) void panel_gemm_body(const float *WB, int K, const float *in,
                                                                  size_t in_stride, size_t n, int m0, int m1,
                                                                  float *out, size_t out_stride,
                                                                  const vox_epilogue *ep, float *pack, int level) {
#ifdef VOX_X86_VARIANTS
  if (level == ISA_AVX512) {
    panel_pairs(WB, K, in, in_stride, n, m0, m1, out, out_stride, ep, pack);
    return;
  }
#endif
  const int vec = level != ISA_SSE2;
  tile_fn *const tile6 = tile_fns[level][2], *const tile_last[3] = {tile_fns[level][0], tile_fns[level][1], tile6};
  for (size_t c0 = 0; c0 < n; c0 += VOX_PANEL_N) {
    size_t full, last_w, last_nt;
    float *last = pack_panel(pack, in, in_stride, c0, n, K, TILE_NT, &full, &last_w, &last_nt);
    for (int mb = m0; mb < m1; mb += VOX_SMALL_MB) {
      int bw = m1 - mb < VOX_SMALL_MB ? m1 - mb : VOX_SMALL_MB;
      const float *wb = WB + (size_t)(mb / VOX_SMALL_MB) * (size_t)K * VOX_SMALL_MB;
      float *y = out + (size_t)mb * out_stride;
      float a[TILE_NT][VOX_SMALL_MB];
      for (size_t tl = 0; tl < full; tl++) {
        const size_t t0 = c0 + tl * TILE_NT;
        tile6(wb, K, pack + tl * (size_t)K * TILE_NT, a, tl == 0);
        tile_store_full(a, bw, ep, mb, y, out_stride, t0, n, vec);
      }
      tile_last[last_nt / 2 - 1](wb, K, last, a, full == 0);
      tile_store_last(a, last_w, bw, ep, mb, y, out_stride, c0 + full * TILE_NT, vec);
    }
  }
}

VOX_ISA_VARIANTS(panel_gemm,
                 (const float *WB, int K, const float *in, size_t in_stride, size_t n, int m0, int m1, float *out,
                  size_t out_stride, const vox_epilogue *ep, float *pack),
                 (WB, K, in, in_stride, n, m0, m1, out, out_stride, ep, pack))

float *vox__block_weights(const float *W, int K, int M) {
  int nb = (M + VOX_SMALL_MB - 1) / VOX_SMALL_MB;
  float *b = calloc((size_t)nb * (size_t)K * VOX_SMALL_MB, sizeof(float));
  if (!b)
    return NULL;
  for (int m = 0; m < M; m++)
    for (int k = 0; k < K; k++)
      b[((size_t)(m / VOX_SMALL_MB) * (size_t)K + (size_t)k) * VOX_SMALL_MB + (size_t)(m % VOX_SMALL_MB)] =
          W[(size_t)m * (size_t)K + k];
  return b;
}

void vox__pointwise(const float *WB, int K, const float *in, size_t in_stride, float *out, size_t out_stride,
                    size_t n, int m0, int m1, const vox_epilogue *ep, float *pack) {
  if (m1 <= m0 || n == 0)
    return;
  panel_gemm_v[isa()](WB, K, in, in_stride, n, m0, m1, out, out_stride, ep, pack);
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
