/* frcrn_unet_run.c - processing a block of frames through one FRCRN UNet, level by level, with the
 * state (previous/held frames, FSMN history, SE sums, skip FIFOs) that lets blocks stream. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frcrn_net.h"

#define NB 8 /* frames per GEMM */
#define HIST (FR_LORDER - 1)

static const int SE_SKIP = 0, SE_DEC = 6; /* indices into the state's SE sums */

struct fr_unet_state {
  const fr_unet *u;
  float *enc_prev[FR_LEVELS]; /* last input frame of each encoder (zeros: the time padding) */
  float *dec_held[FR_LEVELS]; /* last input frame of each decoder, waiting for its successor */
  int dec_has[FR_LEVELS];
  float *thist;               /* temporal FSMN: [2 levels][4 evaluations][C][HIST] past p */
  double *se_sum;             /* [11][2][C] cumulative SE sums */
  long se_count[11];
  fr_fifo skip[6];
  float *enc_out[FR_LEVELS], *dec_out[FR_LEVELS], *cat, *out;
  size_t enc_cap[FR_LEVELS], dec_cap[FR_LEVELS], cat_cap, out_cap;
  float *gb, *gy, *fs; /* GEMM input, GEMM output, FSMN scratch */
};

static size_t fsize(int c, int f) { return (size_t)2 * (size_t)c * (size_t)f; }

static int grow(float **p, size_t *cap, size_t need) {
  if (need <= *cap)
    return 0;
  float *q = realloc(*p, need * sizeof(float));
  if (!q)
    return -1;
  *p = q;
  *cap = need;
  return 0;
}

static size_t gemm_scratch(int c) { return (size_t)20 * c * NB * 160 + 64; }

vox_status fr_unet_state_new(const fr_unet *u, fr_unet_state **out, vox_error *err) {
  *out = NULL;
  fr_unet_state *s = calloc(1, sizeof *s);
  if (!s)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  s->u = u;
  int c = u->c, ok = 1;
  for (int i = 0; i < FR_LEVELS; i++) {
    ok &= (s->enc_prev[i] = calloc(fsize(u->enc[i].cin, u->enc[i].fin), sizeof(float))) != NULL;
    ok &= (s->dec_held[i] = calloc(fsize(u->dec[i].cin, u->dec[i].fin), sizeof(float))) != NULL;
  }
  ok &= (s->thist = calloc((size_t)2 * 4 * c * HIST, sizeof(float))) != NULL;
  ok &= (s->se_sum = calloc((size_t)11 * 2 * c, sizeof(double))) != NULL;
  ok &= (s->gb = malloc(gemm_scratch(c) * sizeof(float))) != NULL;
  ok &= (s->gy = malloc(gemm_scratch(c) * sizeof(float))) != NULL;
  ok &= (s->fs = malloc((size_t)12 * c * NB * 160 * sizeof(float))) != NULL;
  if (!ok) {
    fr_unet_state_free(s);
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  }
  *out = s;
  return VOX_OK;
}

void fr_unet_state_free(fr_unet_state *s) {
  if (!s)
    return;
  for (int i = 0; i < FR_LEVELS; i++) {
    free(s->enc_prev[i]);
    free(s->dec_held[i]);
    free(s->enc_out[i]);
    free(s->dec_out[i]);
  }
  for (int k = 0; k < 6; k++)
    free(s->skip[k].data);
  free(s->thist);
  free(s->se_sum);
  free(s->cat);
  free(s->out);
  free(s->gb);
  free(s->gy);
  free(s->fs);
  free(s);
}

void fr_unet_state_reset(fr_unet_state *s) {
  const fr_unet *u = s->u;
  for (int i = 0; i < FR_LEVELS; i++) {
    memset(s->enc_prev[i], 0, fsize(u->enc[i].cin, u->enc[i].fin) * sizeof(float));
    s->dec_has[i] = 0;
  }
  memset(s->thist, 0, (size_t)2 * 4 * u->c * HIST * sizeof(float));
  memset(s->se_sum, 0, (size_t)11 * 2 * u->c * sizeof(double));
  memset(s->se_count, 0, sizeof s->se_count);
  for (int k = 0; k < 6; k++)
    s->skip[k].n = 0;
}

static inline float lrelu(float x) { return x > 0 ? x : 0.01f * x; }

static void gemm(int m, int n, int k, const float *a, const float *b, float *c) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
}

/* Encoder: out[t] = W0 x[t-1] + W1 x[t] (+ BN, LeakyReLU); n inputs -> n (+1 at final) outputs. */
static void encoder(fr_unet_state *s, int lv, const float *in, size_t n, int final, float *out) {
  const fr_conv *cv = &s->u->enc[lv];
  int ci = cv->cin, co = cv->cout, kf = cv->kf, fi = cv->fin, fo = cv->fout;
  size_t fin_sz = fsize(ci, fi), fout_sz = fsize(co, fo), m = n + (final ? 1 : 0);
  size_t K = (size_t)4 * ci * kf;
  for (size_t t0 = 0; t0 < m; t0 += NB) {
    size_t nb = m - t0 < NB ? m - t0 : NB, cols = nb * (size_t)fo;
    for (size_t tb = 0; tb < nb; tb++) {
      size_t t = t0 + tb;
      const float *x[2] = {t == 0 ? s->enc_prev[lv] : in + (t - 1) * fin_sz, t < n ? in + t * fin_sz : NULL};
      for (int tap = 0; tap < 2; tap++)
        for (int pin = 0; pin < 2; pin++)
          for (int i = 0; i < ci; i++)
            for (int a = 0; a < kf; a++) {
              float *row = s->gb + ((((size_t)tap * 2 + pin) * ci + i) * kf + a) * cols + tb * fo;
              const float *src = x[tap] ? x[tap] + ((size_t)pin * ci + i) * fi + a : NULL;
              for (int f = 0; f < fo; f++)
                row[f] = src ? src[2 * f] : 0.0f;
            }
    }
    gemm(2 * co, (int)cols, (int)K, cv->w, s->gb, s->gy);
    for (size_t tb = 0; tb < nb; tb++)
      for (int r = 0; r < 2 * co; r++) {
        const float *y = s->gy + (size_t)r * cols + tb * fo;
        float *o = out + (t0 + tb) * fout_sz + (size_t)r * fo;
        for (int f = 0; f < fo; f++)
          o[f] = lrelu(y[f] + cv->bias[r]);
      }
  }
  if (n)
    memcpy(s->enc_prev[lv], in + (n - 1) * fin_sz, fin_sz * sizeof(float));
}

/* Decoder: out[t] = W1 z[t] + W0 z[t+1] over z = (held frame, inputs); returns the output count. */
static size_t decoder(fr_unet_state *s, int lv, const float *in, size_t n, float *out) {
  const fr_conv *cv = &s->u->dec[lv];
  int ci = cv->cin, co = cv->cout, kf = cv->kf, fi = cv->fin, fo = cv->fout;
  size_t fin_sz = fsize(ci, fi), fout_sz = fsize(co, fo);
  size_t len = (size_t)s->dec_has[lv] + n, m = len ? len - 1 : 0;
#define ZF(t) ((t) == 0 && s->dec_has[lv] ? s->dec_held[lv] : in + ((t) - (size_t)s->dec_has[lv]) * fin_sz)
  for (size_t t0 = 0; t0 < m; t0 += NB) {
    size_t nb = m - t0 < NB ? m - t0 : NB, cols = nb * (size_t)fi;
    for (size_t tb = 0; tb < nb; tb++) {
      size_t t = t0 + tb;
      const float *z[2] = {ZF(t + 1), ZF(t)}; /* tap 0 weights the next frame, tap 1 the current */
      for (int tap = 0; tap < 2; tap++)
        for (int pin = 0; pin < 2; pin++)
          for (int i = 0; i < ci; i++)
            memcpy(s->gb + (((size_t)tap * 2 + pin) * ci + i) * cols + tb * fi, z[tap] + ((size_t)pin * ci + i) * fi,
                   (size_t)fi * sizeof(float));
    }
    gemm(2 * co * kf, (int)cols, 4 * ci, cv->w, s->gb, s->gy);
    for (size_t tb = 0; tb < nb; tb++) {
      float *o = out + (t0 + tb) * fout_sz;
      for (int r = 0; r < 2 * co; r++) {
        float *orow = o + (size_t)r * fo;
        for (int f = 0; f < fo; f++)
          orow[f] = 0.0f;
        for (int a = 0; a < kf; a++) {
          const float *y = s->gy + ((size_t)r * kf + a) * cols + tb * fi;
          for (int f = 0; f < fi; f++)
            orow[2 * f + a] += y[f];
        }
        for (int f = 0; f < fo; f++)
          orow[f] = lrelu(orow[f] + cv->bias[r]);
      }
    }
  }
  if (len)
    memcpy(s->dec_held[lv], ZF(len - 1), fin_sz * sizeof(float));
#undef ZF
  s->dec_has[lv] = len > 0;
  return m;
}

/* One FSMN block on z [C][cols]: out = z + p + memory(p), p = W2 relu(W1 z + b1). The memory runs
 * along segments of `seg` columns; `hist` ([C][HIST] past p, or NULL) continues a time sequence. */
static void fsmn_block(const fr_fsmn_block *b, int c, const float *z, size_t cols, size_t seg, float *hist,
                       float *h, float *p, float *out) {
  gemm(c, (int)cols, c, b->w1, z, h);
  for (int i = 0; i < c; i++)
    for (size_t j = 0; j < cols; j++) {
      float v = h[(size_t)i * cols + j] + b->b1[i];
      h[(size_t)i * cols + j] = v > 0 ? v : 0;
    }
  gemm(c, (int)cols, c, b->w2, h, p);
  for (int i = 0; i < c; i++) {
    const float *tp = b->taps + (size_t)i * FR_LORDER, *pr = p + (size_t)i * cols;
    const float *hr = hist ? hist + (size_t)i * HIST : NULL;
    float *o = out + (size_t)i * cols;
    const float *zr = z + (size_t)i * cols;
    for (size_t j = 0; j < cols; j++) {
      size_t s0 = j - j % seg;
      float acc = zr[j] + pr[j];
      for (int k = 0; k < FR_LORDER; k++) {
        long src = (long)j - HIST + k;
        if (src >= (long)s0)
          acc += tp[k] * pr[src];
        else if (hr && src >= (long)s0 - HIST)
          acc += tp[k] * hr[HIST + (src - (long)s0)];
      }
      o[j] = acc;
    }
    if (hr) { /* keep the last HIST values of p (older history first when cols < HIST) */
      float keep[HIST];
      for (int k = 0; k < HIST; k++) {
        long src = (long)cols - HIST + k;
        keep[k] = src >= 0 ? pr[src] : hr[HIST + src];
      }
      memcpy(hist + (size_t)i * HIST, keep, sizeof keep);
    }
  }
}

/* Complex FSMN on (re, im) [C][cols]: re' = Fre(re) - Fim(im), im' = Fre(im) + Fim(re). */
static void cfsmn(fr_unet_state *s, const fr_cfsmn *f, float *re, float *im, size_t cols, size_t seg, float *hist) {
  int c = s->u->c;
  size_t mat = (size_t)c * cols;
  float *h = s->fs, *p = h + mat, *o[4] = {p + mat, p + 2 * mat, p + 3 * mat, p + 4 * mat};
  size_t hs = (size_t)c * HIST;
  fsmn_block(&f->re, c, re, cols, seg, hist ? hist : NULL, h, p, o[0]);
  fsmn_block(&f->re, c, im, cols, seg, hist ? hist + hs : NULL, h, p, o[1]);
  fsmn_block(&f->im, c, re, cols, seg, hist ? hist + 2 * hs : NULL, h, p, o[2]);
  fsmn_block(&f->im, c, im, cols, seg, hist ? hist + 3 * hs : NULL, h, p, o[3]);
  for (size_t k = 0; k < mat; k++) {
    re[k] = o[0][k] - o[3][k];
    im[k] = o[1][k] + o[2][k];
  }
}

/* Frequency FSMN on frames [n][2][C][F] in place (each frame's bins are one sequence). */
static void freq_fsmn(fr_unet_state *s, const fr_cfsmn *f, float *frames, size_t n, int nf) {
  int c = s->u->c;
  size_t fsz = fsize(c, nf);
  for (size_t t0 = 0; t0 < n; t0 += NB) {
    size_t nb = n - t0 < NB ? n - t0 : NB, cols = nb * (size_t)nf;
    float *re = s->gb, *im = s->gb + (size_t)c * cols;
    for (size_t tb = 0; tb < nb; tb++)
      for (int p = 0; p < 2; p++)
        for (int i = 0; i < c; i++)
          memcpy((p ? im : re) + (size_t)i * cols + tb * nf, frames + (t0 + tb) * fsz + ((size_t)p * c + i) * nf,
                 (size_t)nf * sizeof(float));
    cfsmn(s, f, re, im, cols, (size_t)nf, NULL);
    for (size_t tb = 0; tb < nb; tb++)
      for (int p = 0; p < 2; p++)
        for (int i = 0; i < c; i++)
          memcpy(frames + (t0 + tb) * fsz + ((size_t)p * c + i) * nf, (p ? im : re) + (size_t)i * cols + tb * nf,
                 (size_t)nf * sizeof(float));
  }
}

/* Temporal FSMN (2 levels) on bottleneck frames [n][2][C][1] in place. */
static void time_fsmn(fr_unet_state *s, float *frames, size_t n) {
  int c = s->u->c;
  for (size_t t0 = 0; t0 < n; t0 += NB) {
    size_t nb = n - t0 < NB ? n - t0 : NB;
    float *re = s->gb, *im = s->gb + (size_t)c * nb;
    for (size_t tb = 0; tb < nb; tb++)
      for (int i = 0; i < c; i++) {
        re[(size_t)i * nb + tb] = frames[(t0 + tb) * 2 * c + i];
        im[(size_t)i * nb + tb] = frames[(t0 + tb) * 2 * c + c + i];
      }
    for (int l = 0; l < 2; l++)
      cfsmn(s, &s->u->tfsmn[l], re, im, nb, nb, s->thist + (size_t)l * 4 * c * HIST);
    for (size_t tb = 0; tb < nb; tb++)
      for (int i = 0; i < c; i++) {
        frames[(t0 + tb) * 2 * c + i] = re[(size_t)i * nb + tb];
        frames[(t0 + tb) * 2 * c + c + i] = im[(size_t)i * nb + tb];
      }
  }
}

static void se_mlp(const fr_se *se, int k, int c, const float *v, float *out) {
  float h[256];
  for (int j = 0; j < se->hidden; j++) {
    float a = se->b1[k][j];
    for (int i = 0; i < c; i++)
      a += se->w1[k][(size_t)j * c + i] * v[i];
    h[j] = a > 0 ? a : 0;
  }
  for (int i = 0; i < c; i++) {
    float a = se->b2[k][i];
    for (int j = 0; j < se->hidden; j++)
      a += se->w2[k][(size_t)i * se->hidden + j] * h[j];
    out[i] = 1.0f / (1.0f + expf(-a));
  }
}

/* Squeeze-excitation on frames [n][2][C][F] in place: per-plane gains from the channel means
 * (over the whole call, or cumulative over the stream). */
/* The complex SE gain from the channel means kept in sum (count values each). */
static void se_gain(const fr_se *se, int c, const double *sum, long count, float gain[2][1024]) {
  float mean[2][1024] = {{0}}, g[4][1024];
  for (int p = 0; p < 2; p++)
    for (int i = 0; i < c; i++)
      mean[p][i] = (float)(sum[p * c + i] / (double)count);
  se_mlp(se, 0, c, mean[0], g[0]); /* fc_r(mu_re) */
  se_mlp(se, 1, c, mean[1], g[1]); /* fc_i(mu_im) */
  se_mlp(se, 0, c, mean[1], g[2]); /* fc_r(mu_im) */
  se_mlp(se, 1, c, mean[0], g[3]); /* fc_i(mu_re) */
  for (int i = 0; i < c; i++) {
    gain[0][i] = g[0][i] - g[1][i];
    gain[1][i] = g[2][i] + g[3][i];
  }
}

/* Adds frames [t0, t1)'s channel sums to sum. */
static void se_accumulate(double *sum, int c, const float *frames, size_t fsz, int nf, size_t t0, size_t t1) {
  for (size_t t = t0; t < t1; t++)
    for (int k = 0; k < 2 * c; k++) {
      const float *x = frames + t * fsz + (size_t)k * nf;
      for (int f = 0; f < nf; f++)
        sum[k] += x[f];
    }
}

/* Squeeze-excitation: cumulative pooling gives every frame the gain of the frames so far (itself
 * included); global pooling (the release) one gain for the whole call, from every frame. */
static void se_apply(fr_unet_state *s, const fr_se *se, int idx, float *frames, size_t n, int nf) {
  int c = s->u->c;
  size_t fsz = fsize(c, nf);
  double *sum = s->se_sum + (size_t)idx * 2 * c;
  float gain[2][1024];
  if (!s->u->cumulative_se) {
    memset(sum, 0, sizeof(double) * 2 * c);
    se_accumulate(sum, c, frames, fsz, nf, 0, n);
    s->se_count[idx] = (long)n * nf;
    se_gain(se, c, sum, s->se_count[idx], gain);
  }
  for (size_t t = 0; t < n; t++) {
    if (s->u->cumulative_se) {
      se_accumulate(sum, c, frames, fsz, nf, t, t + 1);
      s->se_count[idx] += nf;
      se_gain(se, c, sum, s->se_count[idx], gain);
    }
    for (int p = 0; p < 2; p++)
      for (int i = 0; i < c; i++) {
        float *x = frames + t * fsz + ((size_t)p * c + i) * nf;
        for (int f = 0; f < nf; f++)
          x[f] *= gain[p][i];
      }
  }
}

int fr_fifo_push(fr_fifo *q, const float *frames, size_t n, size_t fsz) {
  if (q->n + n > q->cap) {
    size_t cap = (q->n + n) * 2;
    float *d = realloc(q->data, cap * fsz * sizeof(float));
    if (!d)
      return -1;
    q->data = d;
    q->cap = cap;
  }
  if (n) /* an empty FIFO's data may be NULL, which memcpy must not see even for 0 bytes */
    memcpy(q->data + q->n * fsz, frames, n * fsz * sizeof(float));
  q->n += n;
  return 0;
}

void fr_fifo_pop(fr_fifo *q, size_t n, size_t fsz) {
  if (q->n > n)
    memmove(q->data, q->data + n * fsz, (q->n - n) * fsz * sizeof(float));
  q->n -= n;
}

vox_status fr_unet_process(fr_unet_state *s, const float *in, size_t n, int final, const float **out,
                           size_t *n_out, vox_error *err) {
  const fr_unet *u = s->u;
  int c = u->c;
  const float *cur = in;
  size_t cur_n = n;
  *out = NULL;
  *n_out = 0;
  for (int i = 0; i < FR_LEVELS; i++) {
    const fr_conv *cv = &u->enc[i];
    if (i >= 1)
      freq_fsmn(s, &u->fenc[i], (float *)cur, cur_n, cv->fin); /* cur is the previous level's buffer */
    size_t m = cur_n + (final ? 1 : 0), fo_sz = fsize(cv->cout, cv->fout);
    if (grow(&s->enc_out[i], &s->enc_cap[i], m * fo_sz + 1))
      return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory (FRCRN encoder %d, %zu frames)", i, m);
    encoder(s, i, cur, cur_n, final, s->enc_out[i]);
    if (i <= 5) {
      fr_fifo *q = &s->skip[i];
      size_t first = q->n;
      if (fr_fifo_push(q, s->enc_out[i], m, fo_sz))
        return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory (FRCRN skip %d)", i);
      if (m) /* a call without a whole frame leaves an empty FIFO's data NULL */
        se_apply(s, &u->se_enc[i], SE_SKIP + i, q->data + first * fo_sz, m, cv->fout);
    }
    cur = s->enc_out[i];
    cur_n = m;
  }
  time_fsmn(s, s->enc_out[6], cur_n);
  for (int i = 0; i < FR_LEVELS; i++) {
    const fr_conv *cv = &u->dec[i];
    size_t fo_sz = fsize(cv->cout, cv->fout);
    if (grow(&s->dec_out[i], &s->dec_cap[i], (cur_n + 1) * fo_sz))
      return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory (FRCRN decoder %d)", i);
    size_t m = decoder(s, i, cur, cur_n, s->dec_out[i]);
    if (i == 6) {
      cur_n = m;
      break;
    }
    freq_fsmn(s, &u->fdec[i], s->dec_out[i], m, cv->fout);
    if (i <= 4)
      se_apply(s, &u->se_dec[i], SE_DEC + i, s->dec_out[i], m, cv->fout);
    fr_fifo *q = &s->skip[5 - i];
    if (q->n < m)
      return vox_error_set(err, VOX_ERR_FORMAT, "FRCRN internal error: skip %d holds %zu frames, decoder %d needs %zu",
                           5 - i, q->n, i, m);
    size_t half = fsize(c, cv->fout) / 2, cat_sz = 4 * half;
    if (grow(&s->cat, &s->cat_cap, m * cat_sz + 1))
      return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory (FRCRN decoder %d input)", i + 1);
    for (size_t t = 0; t < m; t++)
      for (int p = 0; p < 2; p++) {
        float *dst = s->cat + t * cat_sz + (size_t)p * 2 * half;
        memcpy(dst, s->dec_out[i] + t * 2 * half + (size_t)p * half, half * sizeof(float));
        memcpy(dst + half, q->data + t * 2 * half + (size_t)p * half, half * sizeof(float));
      }
    fr_fifo_pop(q, m, 2 * half);
    cur = s->cat;
    cur_n = m;
  }
  if (grow(&s->out, &s->out_cap, cur_n * 2 * FR_BINS + 1))
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  const float *d = s->dec_out[6];
  for (size_t t = 0; t < cur_n; t++)
    for (int f = 0; f < FR_BINS; f++) {
      float xr = d[t * 2 * FR_BINS + f], xi = d[t * 2 * FR_BINS + FR_BINS + f];
      float a_r = u->lin[0] * xr + u->lin[1], a_i = u->lin[0] * xi + u->lin[1];
      float b_r = u->lin[2] * xr + u->lin[3], b_i = u->lin[2] * xi + u->lin[3];
      s->out[t * 2 * FR_BINS + f] = a_r - b_i;
      s->out[t * 2 * FR_BINS + FR_BINS + f] = a_i + b_r;
    }
  *out = s->out;
  *n_out = cur_n;
  return VOX_OK;
}
