/* conv_encoder.c - ConvASREncoder as a chain of streaming convolution stages.
 *
 * Each stage is one convolution of a JasperBlock repeat (depthwise+pointwise or a full conv)
 * with its BatchNorm folded in, an optional residual addition and ReLU. A stage keeps the input
 * frames later outputs still need (its cache), with the left 'same' padding as leading zeros and
 * the right padding appended as zeros when the input ends, so streamed and whole-input results
 * are identical. Data moves stage to stage in pieces of at most `piece` frames; a stage runs
 * downstream stages as soon as it has output, so buffers stay small and are sized once. */
#include "voxpipe/vox_conv_encoder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_kernels.h"

/* Stream buffers grow with the piece size; larger pieces make larger GEMMs (each pass over a
 * stage's weights serves more frames). The piece is the largest that keeps a stream's buffers
 * within this budget, between 64 and 1024 frames. */
#define STREAM_BUDGET_BYTES ((size_t)96 << 20)
#define BN_EPS 1e-3f
/* A stream starts with buffers for pieces this small and grows them (once, to at most the budget's
 * piece) when a call brings more frames: a live stream's chunks of a few frames then touch short
 * rows (80 ms chunks of the default model: 0.136-0.142 -> 0.127-0.128 ms against 96 MB-budget rows). */
#define FIRST_PIECE 64

typedef struct stage {
  int cin, cout, k, stride, dil, padl, padr;
  int separable, direct; /* direct: 1x1, stride 1, no padding: no cache needed */
  float *dw;             /* cin x k */
  float *w;              /* while loading: cout x cin*k (full) or cout x cin (pointwise); then NULL */
  float *wb, *res_wb;    /* the weights in the kernels' block layout (vox__block_weights) */
  float *bias;           /* cout, folded BatchNorm */
  int relu;
  int block, res_push, res_add;
  float *res_w, *res_b;  /* res_push: block residual 1x1 conv, folded (res_w while loading only) */
  int res_cout;
} stage;

struct vox_conv_encoder {
  stage *st;
  int n_stages, n_blocks;
  int feat_in, feat_out, subsampling, lookahead;
  size_t params;
  double macs;
  int max_c, max_ck;
};

typedef struct stage_state {
  float *buf; /* cin x cap */
  size_t cap, len;
  long long base, next_out;
  int finished;
} stage_state;

typedef struct res_queue {
  float *q; /* cout x cap; frames [head, len) are pending */
  size_t cap, head, len;
} res_queue;

struct vox_conv_encoder_stream {
  const vox_conv_encoder *enc;
  stage_state *ss;
  res_queue *rq;
  size_t piece;    /* most frames a stage handles per call */
  size_t max_piece; /* what the piece may grow to (the buffer budget) */
  size_t row;      /* row stride of a and b (row_floats(piece)) */
  float *a, *b[2]; /* scratch: A (max_ck x row), B ping-pong (max_c x row) */
  float *pack;     /* per thread: a packed input panel of the large-N GEMM (pack_floats) */
  size_t pack_floats;
  vox_pool *pool;
  /* output sink of the current call */
  float *out;
  size_t out_stride, out_cap, n_out;
  int overflow;
  /* During the final flush, the stage being flushed; buffered stages after it only collect
   * input until piece/2 outputs are ready, so the flush moves through the network in large pieces
   * rather than a cascade of look-ahead-sized ones (each GEMM call reads all its weights). */
  int flush_at;
};

static void stage_free_weights(stage *s) {
  free(s->dw);
  free(s->w);
  free(s->bias);
  free(s->res_w);
  free(s->wb);
  free(s->res_wb);
  free(s->res_b);
}

void vox_conv_encoder_free(vox_conv_encoder *e) {
  if (!e)
    return;
  for (int i = 0; i < e->n_stages; i++)
    stage_free_weights(&e->st[i]);
  free(e->st);
  free(e);
}

/* Folds BatchNorm `<bn>.{weight,bias,running_mean,running_var}` into rows of W (cout x cols). */
static vox_status fold_bn(const vox_checkpoint *ck, const char *bn, int cout, float *W, int cols, float *bias,
                          vox_error *err) {
  const char *names[4] = {"weight", "bias", "running_mean", "running_var"};
  const vox_tensor *t[4];
  int64_t shape[1] = {cout};
  char key[512];
  for (int i = 0; i < 4; i++) {
    snprintf(key, sizeof key, "%s.%s", bn, names[i]);
    if (!(t[i] = vox_checkpoint_expect(ck, key, 1, shape, err)))
      return err ? err->code : VOX_ERR_FORMAT;
  }
  for (int c = 0; c < cout; c++) {
    float g = t[0]->data[c] / sqrtf(t[3]->data[c] + BN_EPS);
    for (int j = 0; j < cols; j++)
      W[(size_t)c * cols + j] *= g;
    bias[c] = t[1]->data[c] - t[2]->data[c] * g;
  }
  return VOX_OK;
}

static vox_status copy_tensor(const vox_checkpoint *ck, const char *name, int ndim, const int64_t *shape,
                              float **dst, vox_error *err) {
  const vox_tensor *t = vox_checkpoint_expect(ck, name, ndim, shape, err);
  if (!t)
    return err ? err->code : VOX_ERR_FORMAT;
  *dst = malloc(t->numel * sizeof(float));
  if (!*dst)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  memcpy(*dst, t->data, t->numel * sizeof(float));
  return VOX_OK;
}

/* NeMo's padding for a block convolution (jasper.py get_same_padding / get_asymtric_padding). */
static void block_padding(int k, int dil, int fc, int *l, int *r) {
  if (fc < 0 || k <= fc) {
    *l = *r = dil * (k - 1) / 2;
  } else if (dil > 1) {
    *l = dil * k - 1 - dil * fc;
    *r = dil * fc;
  } else {
    *l = k - 1 - fc;
    *r = fc;
  }
}

typedef struct block_cfg {
  long filters, repeat, kernel, stride, dilation, fc;
  int residual, separable, stride_last;
} block_cfg;

static vox_status read_block(const vox_config_node *b, int idx, block_cfg *c, vox_error *err) {
  long one = 1, minus1 = -1;
  int no = 0;
  vox_status st;
  char ctx[64];
  snprintf(ctx, sizeof ctx, "encoder.jasper.%d: ", idx);
  if ((st = vox_config_int(b, "filters", NULL, &c->filters, err)) ||
      (st = vox_config_int(b, "repeat", &one, &c->repeat, err)) ||
      (st = vox_config_int(b, "kernel", NULL, &c->kernel, err)) ||
      (st = vox_config_int(b, "stride", &one, &c->stride, err)) ||
      (st = vox_config_int(b, "dilation", &one, &c->dilation, err)) ||
      (st = vox_config_int(b, "future_context", &minus1, &c->fc, err)) ||
      (st = vox_config_bool(b, "residual", &no, &c->residual, err)) ||
      (st = vox_config_bool(b, "separable", &no, &c->separable, err)) ||
      (st = vox_config_bool(b, "stride_last", &no, &c->stride_last, err)))
    return vox_error_prefix(err, "%s", ctx);
  int se = 0, dense = 0;
  long groups = 1;
  if ((st = vox_config_bool(b, "se", &no, &se, err)) || (st = vox_config_bool(b, "residual_dense", &no, &dense, err)) ||
      (st = vox_config_int(b, "groups", &one, &groups, err)))
    return vox_error_prefix(err, "%s", ctx);
  const char *mode = vox_config_string(b, "residual_mode", "add");
  if (se)
    return vox_error_set(err, VOX_ERR_UNSUPPORTED, "%ssqueeze-excite blocks (se: true) are not supported", ctx);
  if (dense)
    return vox_error_set(err, VOX_ERR_UNSUPPORTED, "%sdense residual blocks (residual_dense: true) are not supported",
                         ctx);
  if (groups != 1)
    return vox_error_set(err, VOX_ERR_UNSUPPORTED, "%sgrouped convolutions (groups: %ld) are not supported", ctx,
                         groups);
  if (strcmp(mode, "add"))
    return vox_error_set(err, VOX_ERR_UNSUPPORTED, "%sresidual_mode '%s' is not supported (only add)", ctx, mode);
  if (c->filters < 1 || c->filters > 8192 || c->repeat < 1 || c->repeat > 64 || c->kernel < 1 || c->kernel > 1024 ||
      c->stride < 1 || c->stride > 16 || c->dilation < 1 || c->dilation > 64 || c->fc < -1 || c->fc > 1024)
    return vox_error_set(err, VOX_ERR_FORMAT, "%sout-of-range block settings (filters %ld, repeat %ld, kernel %ld, "
                         "stride %ld, dilation %ld)", ctx, c->filters, c->repeat, c->kernel, c->stride, c->dilation);
  if (c->stride > 1 && c->dilation > 1)
    return vox_error_set(err, VOX_ERR_FORMAT, "%sstride and dilation cannot both exceed 1", ctx);
  return VOX_OK;
}

static vox_status build_block(vox_conv_encoder *e, const vox_checkpoint *ck, const char *prefix, int bi,
                              const block_cfg *c, int cin, vox_error *err) {
  int mi = 0, first = e->n_stages;
  int ci = cin;
  char key[512], bn[512];
  for (int r = 0; r < c->repeat; r++) {
    /* counted before it is built: vox_conv_encoder_free then frees what a failed stage allocated */
    stage *s = &e->st[e->n_stages++];
    memset(s, 0, sizeof *s);
    s->cin = ci;
    s->cout = (int)c->filters;
    s->k = (int)c->kernel;
    s->stride = c->stride_last && r < c->repeat - 1 ? 1 : (int)c->stride;
    s->dil = (int)c->dilation;
    block_padding(s->k, s->dil, (int)c->fc, &s->padl, &s->padr);
    s->separable = c->separable && s->k > 1;
    s->block = bi;
    s->relu = 1;
    vox_status st;
    if (s->separable) {
      int64_t dws[3] = {ci, 1, s->k}, pws[3] = {s->cout, ci, 1};
      snprintf(key, sizeof key, "%s.%d.mconv.%d.conv.weight", prefix, bi, mi);
      if ((st = copy_tensor(ck, key, 3, dws, &s->dw, err)))
        return st;
      snprintf(key, sizeof key, "%s.%d.mconv.%d.conv.weight", prefix, bi, mi + 1);
      if ((st = copy_tensor(ck, key, 3, pws, &s->w, err)))
        return st;
      snprintf(bn, sizeof bn, "%s.%d.mconv.%d", prefix, bi, mi + 2);
      mi += 3;
      e->params += (size_t)ci * (size_t)s->k + (size_t)s->cout * (size_t)ci;
    } else {
      /* a separable block with kernel 1 is stored as dw + pw too in NeMo; handled by the shapes */
      int64_t fs[3] = {s->cout, ci, s->k};
      if (c->separable) {
        int64_t dws[3] = {ci, 1, 1};
        snprintf(key, sizeof key, "%s.%d.mconv.%d.conv.weight", prefix, bi, mi);
        if ((st = copy_tensor(ck, key, 3, dws, &s->dw, err)))
          return st;
        s->separable = 1;
        int64_t pws[3] = {s->cout, ci, 1};
        snprintf(key, sizeof key, "%s.%d.mconv.%d.conv.weight", prefix, bi, mi + 1);
        if ((st = copy_tensor(ck, key, 3, pws, &s->w, err)))
          return st;
        snprintf(bn, sizeof bn, "%s.%d.mconv.%d", prefix, bi, mi + 2);
        mi += 3;
        e->params += (size_t)ci + (size_t)s->cout * (size_t)ci;
      } else {
        snprintf(key, sizeof key, "%s.%d.mconv.%d.conv.weight", prefix, bi, mi);
        if ((st = copy_tensor(ck, key, 3, fs, &s->w, err)))
          return st;
        snprintf(bn, sizeof bn, "%s.%d.mconv.%d", prefix, bi, mi + 1);
        mi += 2;
        e->params += (size_t)s->cout * (size_t)ci * (size_t)s->k;
      }
    }
    s->bias = malloc(sizeof(float) * (size_t)s->cout);
    if (!s->bias)
      return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
    int cols = s->separable ? ci : ci * s->k;
    if ((st = fold_bn(ck, bn, s->cout, s->w, cols, s->bias, err)))
      return st;
    if (!(s->wb = vox__block_weights(s->w, cols, s->cout)))
      return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
    free(s->w); /* the kernels read only the blocked copy */
    s->w = NULL;
    e->params += 2 * (size_t)s->cout;
    s->direct = !s->separable && s->k == 1 && s->stride == 1 && s->padl == 0 && s->padr == 0;
    if (r < c->repeat - 1)
      mi += 2; /* ReLU and Dropout take list indices */
    ci = s->cout;
  }
  stage *last = &e->st[e->n_stages - 1];
  if (c->residual) {
    for (int i = first; i < e->n_stages; i++)
      if (e->st[i].stride != 1 || e->st[i].padl + e->st[i].padr != e->st[i].dil * (e->st[i].k - 1))
        return vox_error_set(err, VOX_ERR_UNSUPPORTED,
                             "encoder.jasper.%d: residual blocks whose convolutions change the sequence length "
                             "(stride or asymmetric dilated padding) are not supported", bi);
    stage *s0 = &e->st[first];
    s0->res_push = 1;
    s0->res_cout = (int)c->filters;
    int64_t rs[3] = {c->filters, cin, 1};
    snprintf(key, sizeof key, "%s.%d.res.0.0.conv.weight", prefix, bi);
    vox_status st = copy_tensor(ck, key, 3, rs, &s0->res_w, err);
    if (st)
      return st;
    s0->res_b = malloc(sizeof(float) * (size_t)c->filters);
    if (!s0->res_b)
      return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
    snprintf(bn, sizeof bn, "%s.%d.res.0.1", prefix, bi);
    if ((st = fold_bn(ck, bn, (int)c->filters, s0->res_w, cin, s0->res_b, err)))
      return st;
    if (!(s0->res_wb = vox__block_weights(s0->res_w, cin, (int)c->filters)))
      return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
    free(s0->res_w);
    s0->res_w = NULL;
    e->params += (size_t)c->filters * (size_t)cin + 2 * (size_t)c->filters;
    last->res_add = 1;
  }
  last->relu = 1;
  return VOX_OK;
}

vox_status vox_conv_encoder_new(const vox_config_node *cfg, const vox_checkpoint *ck, const char *prefix,
                                vox_conv_encoder **out, vox_error *err) {
  *out = NULL;
  long feat_in;
  vox_status st = vox_config_int(cfg, "feat_in", NULL, &feat_in, err);
  if (st)
    return vox_error_prefix(err, "encoder: ");
  if (feat_in < 1 || feat_in > 8192)
    return vox_error_set(err, VOX_ERR_FORMAT, "encoder.feat_in %ld is out of range", feat_in);
  const char *act = vox_config_string(cfg, "activation", "relu");
  if (strcmp(act, "relu"))
    return vox_error_set(err, VOX_ERR_UNSUPPORTED, "encoder.activation '%s' is not supported (only relu)", act);
  const vox_config_node *jasper = vox_config_get(cfg, "jasper");
  if (!jasper || vox_config_node_kind(jasper) != VOX_CONFIG_SEQUENCE || vox_config_size(jasper) == 0)
    return vox_error_set(err, VOX_ERR_FORMAT, "encoder.jasper is missing or not a list of blocks");
  size_t nb = vox_config_size(jasper);
  if (nb > 256)
    return vox_error_set(err, VOX_ERR_FORMAT, "encoder.jasper has %zu blocks, more than 256", nb);
  block_cfg *bc = calloc(nb, sizeof *bc);
  vox_conv_encoder *e = calloc(1, sizeof *e);
  if (!bc || !e) {
    free(bc);
    free(e);
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  }
  size_t n_stages = 0;
  for (size_t i = 0; i < nb && st == VOX_OK; i++) {
    st = read_block(vox_config_at(jasper, i), (int)i, &bc[i], err);
    n_stages += (size_t)bc[i].repeat;
  }
  if (st == VOX_OK && !(e->st = calloc(n_stages, sizeof *e->st)))
    st = vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  e->feat_in = (int)feat_in;
  int cin = (int)feat_in;
  for (size_t i = 0; i < nb && st == VOX_OK; i++) {
    st = build_block(e, ck, prefix, (int)i, &bc[i], cin, err);
    cin = (int)bc[i].filters;
  }
  free(bc);
  if (st != VOX_OK) {
    vox_conv_encoder_free(e);
    return st;
  }
  e->n_blocks = (int)nb;
  e->feat_out = cin;
  e->subsampling = 1;
  e->max_c = e->feat_in;
  for (int i = 0; i < e->n_stages; i++) {
    stage *s = &e->st[i];
    e->lookahead += s->padr * e->subsampling;
    e->subsampling *= s->stride;
    if (s->cout > e->max_c)
      e->max_c = s->cout;
    if (s->cin > e->max_c)
      e->max_c = s->cin;
    int ck_rows = s->separable ? s->cin : s->cin * s->k;
    if (ck_rows > e->max_ck)
      e->max_ck = ck_rows;
  }
  /* multiply-adds per output frame: each stage's per-frame cost times its frames per output */
  double frames = e->subsampling;
  for (int i = 0; i < e->n_stages; i++) {
    stage *s = &e->st[i];
    frames /= s->stride;
    double per = s->separable ? (double)s->cin * s->k + (double)s->cout * s->cin : (double)s->cout * s->cin * s->k;
    if (s->res_push)
      per += (double)s->res_cout * s->cin;
    e->macs += per * frames;
  }
  *out = e;
  return VOX_OK;
}

int vox_conv_encoder_in_channels(const vox_conv_encoder *e) { return e->feat_in; }
int vox_conv_encoder_out_channels(const vox_conv_encoder *e) { return e->feat_out; }
int vox_conv_encoder_subsampling(const vox_conv_encoder *e) { return e->subsampling; }
int vox_conv_encoder_lookahead_frames(const vox_conv_encoder *e) { return e->lookahead; }
size_t vox_conv_encoder_param_count(const vox_conv_encoder *e) { return e->params; }
double vox_conv_encoder_macs_per_output_frame(const vox_conv_encoder *e) { return e->macs; }

size_t vox_conv_encoder_output_frames(const vox_conv_encoder *e, size_t n) {
  for (int i = 0; i < e->n_stages; i++) {
    const stage *s = &e->st[i];
    long long span = (long long)n + s->padl + s->padr - (long long)s->dil * (s->k - 1) - 1;
    n = span < 0 ? 0 : (size_t)(span / s->stride) + 1;
  }
  return n;
}

/* ------------------------------------------------------------------ streams */

/* Row stride for n frames: whole 64-byte lines, and never a multiple of 4 KB, where the rows of a
 * column would all fall into one L1 set (the depthwise and GEMM kernels read across rows). */
static size_t row_floats(size_t n) {
  size_t r = (n + 15) / 16 * 16;
  return r % 1024 ? r : r + 16;
}

static size_t keep_frames(const stage *s) {
  size_t span = (size_t)s->dil * (size_t)(s->k - 1);
  return (span > (size_t)s->padl ? span : (size_t)s->padl) + (size_t)s->stride;
}

void vox_conv_encoder_stream_free(vox_conv_encoder_stream *s) {
  if (!s)
    return;
  if (s->ss)
    for (int i = 0; i < s->enc->n_stages; i++)
      free(s->ss[i].buf);
  if (s->rq)
    for (int i = 0; i < s->enc->n_blocks; i++)
      free(s->rq[i].q);
  free(s->ss);
  free(s->rq);
  free(s->a);
  free(s->pack);
  free(s->b[0]);
  free(s->b[1]);
  vox__pool_free(s->pool);
  free(s);
}

void vox_conv_encoder_stream_reset(vox_conv_encoder_stream *s) {
  const vox_conv_encoder *e = s->enc;
  for (int i = 0; i < e->n_stages; i++) {
    stage_state *t = &s->ss[i];
    const stage *g = &e->st[i];
    t->finished = 0;
    t->next_out = 0;
    s->flush_at = -1;
    if (g->direct)
      continue;
    for (int c = 0; c < g->cin; c++)
      memset(t->buf + (size_t)c * t->cap, 0, (size_t)g->padl * sizeof(float));
    t->len = (size_t)g->padl;
    t->base = -(long long)g->padl;
  }
  for (int b = 0; b < e->n_blocks; b++)
    s->rq[b].len = s->rq[b].head = 0;
}

/* Sizes a stream's buffers for pieces of `piece` frames, keeping what its caches and residual
 * queues hold; 0, or -1 when memory ran out (the old buffers stay, still consistent). */
static int set_piece(vox_conv_encoder_stream *s, size_t piece) {
  const vox_conv_encoder *e = s->enc;
  size_t row = row_floats(piece), arows = (size_t)(e->max_ck > e->max_c ? e->max_ck : e->max_c);
  float *a = malloc(sizeof(float) * arows * row), *b0 = malloc(sizeof(float) * (size_t)e->max_c * row),
        *b1 = malloc(sizeof(float) * (size_t)e->max_c * row);
  float **bufs = calloc((size_t)e->n_stages, sizeof *bufs), **qs = calloc((size_t)e->n_blocks, sizeof *qs);
  size_t *caps = calloc((size_t)e->n_stages, sizeof *caps), *qcaps = calloc((size_t)e->n_blocks, sizeof *qcaps);
  int ok = a && b0 && b1 && bufs && qs && caps && qcaps;
  size_t in_flight[256] = {0};
  for (int i = 0; ok && i < e->n_stages; i++) {
    const stage *g = &e->st[i];
    in_flight[g->block] += keep_frames(g) + (size_t)g->padr;
    if (g->direct)
      continue;
    /* retained frames + right padding + what a deferred stage collects + one incoming piece */
    caps[i] = row_floats(keep_frames(g) + (size_t)g->padr + piece / 2 * (size_t)g->stride + piece + 1);
    ok = (bufs[i] = malloc(sizeof(float) * (size_t)g->cin * caps[i])) != NULL;
  }
  for (int i = 0; ok && i < e->n_stages; i++) {
    const stage *g = &e->st[i];
    if (!g->res_push)
      continue;
    qcaps[g->block] = row_floats(in_flight[g->block] + 3 * piece);
    ok = (qs[g->block] = malloc(sizeof(float) * (size_t)g->res_cout * qcaps[g->block])) != NULL;
  }
  for (int i = 0; i < e->n_stages; i++) { /* move the contents over, or undo */
    const stage *g = &e->st[i];
    stage_state *t = &s->ss[i];
    res_queue *q = &s->rq[g->block];
    if (!ok) {
      free(bufs ? bufs[i] : NULL);
      free(g->res_push && qs ? qs[g->block] : NULL);
      continue;
    }
    if (!g->direct) {
      for (int c = 0; t->buf && c < g->cin; c++)
        memcpy(bufs[i] + (size_t)c * caps[i], t->buf + (size_t)c * t->cap, t->len * sizeof(float));
      free(t->buf);
      t->buf = bufs[i];
      t->cap = caps[i];
    }
    if (g->res_push) {
      for (int c = 0; q->q && c < g->res_cout; c++)
        memcpy(qs[g->block] + (size_t)c * qcaps[g->block], q->q + (size_t)c * q->cap + q->head,
               (q->len - q->head) * sizeof(float));
      q->len -= q->head;
      q->head = 0;
      free(q->q);
      q->q = qs[g->block];
      q->cap = qcaps[g->block];
    }
  }
  free(bufs);
  free(qs);
  free(caps);
  free(qcaps);
  if (!ok) {
    free(a);
    free(b0);
    free(b1);
    return -1;
  }
  free(s->a);
  free(s->b[0]);
  free(s->b[1]);
  s->a = a;
  s->b[0] = b0;
  s->b[1] = b1;
  s->piece = piece;
  s->row = row;
  return 0;
}

vox_status vox_conv_encoder_stream_new(const vox_conv_encoder *e, int threads, vox_conv_encoder_stream **out,
                                       vox_error *err) {
  *out = NULL;
  vox_conv_encoder_stream *s = calloc(1, sizeof *s);
  if (!s)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  vox__blas_init();
  s->enc = e;
  s->ss = calloc((size_t)e->n_stages, sizeof *s->ss);
  s->rq = calloc((size_t)e->n_blocks, sizeof *s->rq);
  size_t per_frame = (size_t)(e->max_ck > e->max_c ? e->max_ck : e->max_c) + 2 * (size_t)e->max_c;
  for (int i = 0; i < e->n_stages; i++)
    per_frame += (e->st[i].direct ? 0 : 2 * (size_t)e->st[i].cin) + (e->st[i].res_push ? 3 * (size_t)e->st[i].res_cout : 0);
  size_t piece = STREAM_BUDGET_BYTES / (per_frame * sizeof(float));
  s->max_piece = piece > 1024 ? 1024 : piece < FIRST_PIECE ? FIRST_PIECE : piece / 32 * 32;
  s->pool = vox__pool_new(threads);
  s->pack_floats = (size_t)(e->max_ck > e->max_c ? e->max_ck : e->max_c) * VOX_PANEL_N;
  s->pack = s->pool ? malloc(sizeof(float) * s->pack_floats * (size_t)vox__pool_size(s->pool)) : NULL;
  if (!s->ss || !s->rq || !s->pool || !s->pack || set_piece(s, FIRST_PIECE) != 0) {
    vox_conv_encoder_stream_free(s);
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory for encoder stream buffers");
  }
  vox_conv_encoder_stream_reset(s);
  *out = s;
  return VOX_OK;
}

size_t vox_conv_encoder_stream_max_output(const vox_conv_encoder_stream *s, size_t n_in) {
  const vox_conv_encoder *e = s->enc;
  size_t pending = 0, scale = 1;
  for (int i = 0; i < e->n_stages; i++) {
    pending += (keep_frames(&e->st[i]) + (size_t)e->st[i].padr + 1) * scale;
    scale *= (size_t)e->st[i].stride;
  }
  return (n_in + pending) / (size_t)e->subsampling + (size_t)e->n_stages + 2;
}

/* Work of one stage on n frames, split over the pool's threads by channel rows. */
typedef struct job {
  size_t row; /* row stride of the scratch buffer a */
  const stage *g;
  const float *in;
  size_t in_stride;
  float *a, *out;
  size_t out_stride;
  size_t n;
  const float *res;
  size_t res_stride;
  int phase;
  float *pack; /* the stream's panels: part p uses pack + p * pack_floats */
  size_t pack_floats;
} job;

static void split(int total, int part, int parts, int *lo, int *hi) {
  *lo = (int)((long long)total * part / parts);
  *hi = (int)((long long)total * (part + 1) / parts);
}

/* Output rows split on VOX_SMALL_MB boundaries (the small-N weight blocks). */
static void split_rows(int total, int part, int parts, int *lo, int *hi) {
  int blocks = (total + VOX_SMALL_MB - 1) / VOX_SMALL_MB;
  split(blocks, part, parts, lo, hi);
  *lo *= VOX_SMALL_MB;
  *hi = *hi * VOX_SMALL_MB > total ? total : *hi * VOX_SMALL_MB;
}

static void job_run(void *ctx, int part, int parts) {
  job *j = ctx;
  const stage *g = j->g;
  int lo, hi;
  float *pack = j->pack + (size_t)part * j->pack_floats;
  if (j->phase == 0) { /* depthwise or im2col, split by input channels */
    split(g->cin, part, parts, &lo, &hi);
    if (g->separable)
      vox__dwconv(j->in, j->in_stride, g->dw, g->k, g->stride, g->dil, j->a, j->row, j->n, lo, hi);
    else
      vox__im2col(j->in, j->in_stride, g->k, g->stride, g->dil, j->a, j->row, j->n, lo, hi);
  } else if (j->phase == 1) { /* pointwise GEMM + bias (+ residual) + ReLU, split by output rows */
    split_rows(g->cout, part, parts, &lo, &hi);
    int K = g->separable ? g->cin : g->cin * g->k;
    const vox_epilogue ep = {g->bias, j->res, j->res_stride, g->relu};
    vox__pointwise(g->wb, K, j->in, j->in_stride, j->out, j->out_stride, j->n, lo, hi, &ep, pack);
  } else { /* residual branch 1x1 conv into the queue */
    split_rows(g->res_cout, part, parts, &lo, &hi);
    const vox_epilogue ep = {g->res_b, NULL, 0, 0};
    vox__pointwise(g->res_wb, g->cin, j->in, j->in_stride, j->out, j->out_stride, j->n, lo, hi, &ep, pack);
  }
}

static void run_stage(vox_conv_encoder_stream *s, int i, const float *in, size_t in_stride, size_t n);

static void sink(vox_conv_encoder_stream *s, const float *in, size_t in_stride, size_t n) {
  int c_out = s->enc->feat_out;
  if (s->n_out + n > s->out_cap) {
    s->overflow = 1;
    return;
  }
  for (int c = 0; c < c_out; c++)
    memcpy(s->out + (size_t)c * s->out_stride + s->n_out, in + (size_t)c * in_stride, n * sizeof(float));
  s->n_out += n;
}

static void make_room(const stage *g, stage_state *t, size_t need);

/* Computes n output frames of stage i from `in` (first needed frame) and passes them on: straight
 * into the next stage's cache where it has one (a copy of every activation was 4 % of the time). */
static void compute(vox_conv_encoder_stream *s, int i, const float *in, size_t in_stride, size_t n) {
  const vox_conv_encoder *e = s->enc;
  const stage *g = &e->st[i];
  float *out = s->b[i & 1];
  size_t out_stride = s->row;
  if (i + 1 < e->n_stages && !e->st[i + 1].direct) {
    stage_state *t = &s->ss[i + 1];
    make_room(&e->st[i + 1], t, n + (size_t)e->st[i + 1].padr);
    out = t->buf + t->len;
    out_stride = t->cap;
  }
  job j = {s->row, g, in, in_stride, s->a, out, out_stride, n, NULL, 0, 0, s->pack, s->pack_floats};
  if (!g->direct) {
    vox__pool_run(s->pool, job_run, &j);
    j.in = s->a;
    j.in_stride = s->row;
  }
  res_queue *q = g->res_add ? &s->rq[g->block] : NULL;
  if (q) {
    j.res = q->q + q->head;
    j.res_stride = q->cap;
  }
  j.phase = 1;
  vox__pool_run(s->pool, job_run, &j);
  if (q)
    q->head += n;
  run_stage(s, i + 1, out, out_stride, n);
}

/* Outputs of a buffered stage computable from what it holds. */
static long long available(const stage *g, const stage_state *t) {
  long long end = t->base + (long long)t->len;
  long long last = end - 1 + g->padl - (long long)g->dil * (g->k - 1);
  if (last < 0)
    return 0;
  return last / g->stride + 1 - t->next_out;
}

static void drain(vox_conv_encoder_stream *s, int i) {
  const stage *g = &s->enc->st[i];
  stage_state *t = &s->ss[i];
  long long n;
  while ((n = available(g, t)) > 0) {
    if (n > (long long)s->piece)
      n = (long long)s->piece;
    long long first = t->next_out * g->stride - g->padl;
    t->next_out += n;
    compute(s, i, t->buf + (first - t->base), t->cap, (size_t)n);
  }
}

/* Drops the frames no later output needs, only when `need` more frames would not fit: moving the
 * cache once per buffer-full instead of after every piece. */
static void make_room(const stage *g, stage_state *t, size_t need) {
  if (t->len + need <= t->cap)
    return;
  long long keep_from = t->next_out * g->stride - g->padl;
  if (keep_from <= t->base)
    return;
  size_t drop = (size_t)(keep_from - t->base);
  if (drop > t->len)
    drop = t->len;
  for (int c = 0; c < g->cin; c++) {
    float *row = t->buf + (size_t)c * t->cap;
    memmove(row, row + drop, (t->len - drop) * sizeof(float));
  }
  t->len -= drop;
  t->base += (long long)drop;
}

static void run_stage(vox_conv_encoder_stream *s, int i, const float *in, size_t in_stride, size_t n) {
  if (n == 0)
    return;
  if (i == s->enc->n_stages) {
    sink(s, in, in_stride, n);
    return;
  }
  const stage *g = &s->enc->st[i];
  if (g->res_push) {
    res_queue *q = &s->rq[g->block];
    if (q->len + n > q->cap) {
      for (int c = 0; c < g->res_cout; c++)
        memmove(q->q + (size_t)c * q->cap, q->q + (size_t)c * q->cap + q->head, (q->len - q->head) * sizeof(float));
      q->len -= q->head;
      q->head = 0;
    }
    job j = {s->row, g, in, in_stride, NULL, q->q + q->len, q->cap, n, NULL, 0, 2, s->pack, s->pack_floats};
    vox__pool_run(s->pool, job_run, &j);
    q->len += n;
  }
  if (g->direct) {
    s->ss[i].next_out += (long long)n;
    compute(s, i, in, in_stride, n);
    return;
  }
  stage_state *t = &s->ss[i];
  if (in != t->buf + t->len) { /* not written in place by the stage before (compute) */
    make_room(g, t, n + (size_t)g->padr);
    for (int c = 0; c < g->cin; c++)
      memcpy(t->buf + (size_t)c * t->cap + t->len, in + (size_t)c * in_stride, n * sizeof(float));
  }
  t->len += n;
  if (s->flush_at >= 0 && i > s->flush_at && available(g, t) < (long long)s->piece / 2)
    return; /* collect a larger piece first (drained at the latest when its turn comes) */
  drain(s, i);
}

vox_status vox_conv_encoder_stream_process(vox_conv_encoder_stream *s, const float *in, size_t in_stride,
                                           size_t n_in, int final, float *out, size_t out_stride, size_t out_cap,
                                           size_t *n_out, vox_error *err) {
  *n_out = 0;
  const vox_conv_encoder *e = s->enc;
  if (e->n_stages && s->ss[0].finished)
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT, "encoder stream already finished: reset it first");
  if (n_in > s->piece && s->piece < s->max_piece) {
    size_t want = (n_in + 31) / 32 * 32;
    want = want < 2 * s->piece ? 2 * s->piece : want;
    (void)set_piece(s, want < s->max_piece ? want : s->max_piece); /* else: on in smaller pieces */
  }
  s->out = out;
  s->out_stride = out_stride;
  s->out_cap = out_cap;
  s->n_out = 0;
  s->overflow = 0;
  for (size_t done = 0; done < n_in;) {
    size_t n = n_in - done < s->piece ? n_in - done : s->piece;
    run_stage(s, 0, in + done, in_stride, n);
    done += n;
  }
  if (final) {
    for (int i = 0; i < e->n_stages; i++) {
      const stage *g = &e->st[i];
      stage_state *t = &s->ss[i];
      t->finished = 1;
      if (g->direct)
        continue;
      s->flush_at = i;
      make_room(g, t, (size_t)g->padr);
      for (int c = 0; c < g->cin; c++)
        memset(t->buf + (size_t)c * t->cap + t->len, 0, (size_t)g->padr * sizeof(float));
      t->len += (size_t)g->padr;
      drain(s, i);
    }
    s->flush_at = -1;
  }
  *n_out = s->n_out;
  if (s->overflow)
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT, "encoder output buffer of %zu frames is too small", out_cap);
  return VOX_OK;
}
