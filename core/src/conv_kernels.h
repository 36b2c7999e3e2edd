/* conv_kernels.h - the inner loops of the convolutional models (channel-major buffers). */
#ifndef VOX_CONV_KERNELS_H
#define VOX_CONV_KERNELS_H

#include <stddef.h>

#include "internal.h"

/* Depthwise convolution for channels [c0, c1): out[c][t] = sum_j w[c][j] * in[c][t*stride + j*dil].
 * `in` points at the first input frame output 0 needs. */
VOX_HIDDEN void vox__dwconv(const float *in, size_t in_stride, const float *w, int k, int stride, int dil,
                            float *out, size_t out_stride, size_t n_out, int c0, int c1);

/* What the GEMM does to each product before storing it: out[m][t] = acc + bias[m] (bias may be
 * NULL) + res[m][t] (res may be NULL: the block's residual branch), then max(0, .) when relu. */
typedef struct vox_epilogue {
  const float *bias;
  const float *res;
  size_t res_stride;
  int relu;
} vox_epilogue;

/* out[M x N] = W * in[K x N], then the epilogue, rows m in [m0, m1), the weights in the blocked
 * layout (WB, see vox__block_weights), in register tiles over the input copied into `pack`
 * (K x VOX_PANEL_N floats of scratch, one per thread). They replaced OpenBLAS sgemm, which repacked
 * the whole weight matrix on every call and needed further passes for bias, residual and ReLU. m0
 * must be a multiple of VOX_SMALL_MB. */
VOX_HIDDEN void vox__pointwise(const float *WB, int K, const float *in, size_t in_stride, float *out,
                               size_t out_stride, size_t n, int m0, int m1, const vox_epilogue *ep, float *pack);

/* Columns per packed input panel of the large-N path (K x 96 floats: a 512-channel panel is 192 KB,
 * within L2 with the weight block it meets). */
#define VOX_PANEL_N 96

/* Row-block width of the blocked weight layout: a register tile's rows. */
#define VOX_SMALL_MB 16
/* W (M x K, row-major) laid out for the register tiles: for each block of VOX_SMALL_MB output
 * rows, its K x VOX_SMALL_MB weights contiguous (the last block zero-padded), so streaming them is a
 * sequential read. malloc'd; NULL on failure. */
VOX_HIDDEN float *vox__block_weights(const float *W, int K, int M);

/* im2col for a full convolution: col[(c*k + j) x N] = in[c][t*stride + j*dil], channels [c0, c1). */
VOX_HIDDEN void vox__im2col(const float *in, size_t in_stride, int k, int stride, int dil, float *col,
                            size_t col_stride, size_t n, int c0, int c1);

/* A fixed pool of worker threads running one parallel loop at a time. */
typedef struct vox_pool vox_pool;
typedef void (*vox_pool_fn)(void *ctx, int part, int n_parts);
VOX_HIDDEN vox_pool *vox__pool_new(int threads);
VOX_HIDDEN void vox__pool_free(vox_pool *p);
/* Calls fn(ctx, i, n) for i in [0, n) with n = the pool's thread count, and waits for all. */
VOX_HIDDEN void vox__pool_run(vox_pool *p, vox_pool_fn fn, void *ctx);
VOX_HIDDEN int vox__pool_size(const vox_pool *p);

#endif
