/* frcrn_net.c - FRCRN UNet: weights (BatchNorm folded into complex convolution GEMMs) and the
 * layer-by-layer processing of a block of frames with the state that makes blocks stream. */
#include "frcrn_net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int ENC_KF[FR_LEVELS] = {5, 5, 5, 5, 5, 5, 2};
static const int DEC_KF[FR_LEVELS] = {2, 5, 5, 5, 6, 5, 5};
static const int ENC_FIN[FR_LEVELS] = {321, 159, 78, 37, 17, 7, 2};
static const int DEC_FIN[FR_LEVELS] = {1, 2, 7, 17, 37, 78, 159};

/* ---------- loading ---------- */

typedef struct loader {
  const vox_checkpoint *ck;
  char base[160];
  vox_error *err;
  int failed;
  size_t count;
} loader;

static const float *get(loader *L, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
  if (L->failed)
    return NULL;
  char key[320];
  snprintf(key, sizeof key, "%s.%s", L->base, name);
  int64_t shape[4] = {d0, d1, d2, d3};
  const vox_tensor *t = vox_checkpoint_expect(L->ck, key, ndim, shape, L->err);
  if (!t || !t->data) {
    if (t && !t->data)
      vox_error_set(L->err, VOX_ERR_FORMAT, "tensor %s holds no values", key);
    L->failed = 1;
    return NULL;
  }
  if (!strstr(name, "running_"))
    L->count += t->numel;
  return t->data;
}

static float *dup(loader *L, const float *src, size_t n) {
  if (L->failed || !src)
    return NULL;
  float *d = malloc(n * sizeof(float));
  if (!d) {
    vox_error_set(L->err, VOX_ERR_NO_MEMORY, "out of memory");
    L->failed = 1;
    return NULL;
  }
  memcpy(d, src, n * sizeof(float));
  return d;
}

/* BatchNorm of plane p ("bn_re"/"bn_im") as scale s and shift t: y = x s + t. */
static void load_bn(loader *L, const char *stem, const char *plane, int n, float *s, float *t) {
  char k[4][96];
  const char *suf[4] = {"weight", "bias", "running_mean", "running_var"};
  const float *v[4];
  for (int i = 0; i < 4; i++) {
    snprintf(k[i], sizeof k[i], "%s.bn.%s.%s", stem, plane, suf[i]);
    v[i] = get(L, k[i], 1, n, 0, 0, 0);
  }
  if (L->failed)
    return;
  for (int o = 0; o < n; o++) {
    s[o] = v[0][o] / sqrtf(v[3][o] + 1e-5f);
    t[o] = v[1][o] - v[2][o] * s[o];
  }
}

/* Encoder: rows (pout, o), columns (tap c, pin, i, a); decoder: rows (pout, o, a), columns (c, pin, i). */
static void load_conv(loader *L, fr_conv *cv, int level, int dec, int c) {
  cv->cin = dec ? (level == 0 ? c : 2 * c) : (level == 0 ? 1 : c);
  cv->cout = dec && level == 6 ? 1 : c;
  cv->kf = dec ? DEC_KF[level] : ENC_KF[level];
  cv->fin = dec ? DEC_FIN[level] : ENC_FIN[level];
  cv->fout = dec ? 2 * (cv->fin - 1) + cv->kf : (cv->fin - cv->kf) / 2 + 1;
  char stem[32], name[3][96];
  snprintf(stem, sizeof stem, dec ? "decoder%d" : "encoder%d", level);
  const char *cname = dec ? "transconv.tconv" : "conv.conv";
  const float *w[2], *b[2];
  for (int p = 0; p < 2; p++) {
    snprintf(name[0], sizeof name[0], "%s.%s_%s.weight", stem, cname, p ? "im" : "re");
    snprintf(name[1], sizeof name[1], "%s.%s_%s.bias", stem, cname, p ? "im" : "re");
    w[p] = dec ? get(L, name[0], 4, cv->cin, cv->cout, cv->kf, 2) : get(L, name[0], 4, cv->cout, cv->cin, cv->kf, 2);
    b[p] = get(L, name[1], 1, cv->cout, 0, 0, 0);
  }
  int co = cv->cout, ci = cv->cin, kf = cv->kf;
  float *s = calloc((size_t)4 * (size_t)co, sizeof(float));
  if (!s) {
    if (!L->failed)
      vox_error_set(L->err, VOX_ERR_NO_MEMORY, "out of memory");
    L->failed = 1;
    return;
  }
  load_bn(L, stem, "bn_re", co, s, s + co);
  load_bn(L, stem, "bn_im", co, s + 2 * co, s + 3 * co);
  size_t rows = dec ? (size_t)2 * co * kf : (size_t)2 * co, cols = dec ? (size_t)4 * ci : (size_t)4 * ci * kf;
  cv->w = L->failed ? NULL : calloc(rows * cols, sizeof(float));
  cv->bias = L->failed ? NULL : calloc((size_t)2 * co, sizeof(float));
  if (!L->failed && (!cv->w || !cv->bias)) {
    vox_error_set(L->err, VOX_ERR_NO_MEMORY, "out of memory");
    L->failed = 1;
  }
  if (L->failed) {
    free(s);
    return;
  }
  for (int pout = 0; pout < 2; pout++)
    for (int o = 0; o < co; o++) {
      float sc = s[2 * pout * co + o];
      for (int tap = 0; tap < 2; tap++)
        for (int pin = 0; pin < 2; pin++)
          for (int i = 0; i < ci; i++)
            for (int a = 0; a < kf; a++) {
              /* out_re = A(x_re) - B(x_im), out_im = A(x_im) + B(x_re); A: _re layer, B: _im layer */
              int which = pout == pin ? 0 : 1;
              float sign = pout == 0 && pin == 1 ? -1.0f : 1.0f;
              size_t widx = dec ? (((size_t)i * co + o) * kf + a) * 2 + tap : (((size_t)o * ci + i) * kf + a) * 2 + tap;
              float v = sign * w[which][widx] * sc;
              if (dec)
                cv->w[(((size_t)pout * co + o) * kf + a) * cols + ((size_t)tap * 2 + pin) * ci + i] = v;
              else
                cv->w[((size_t)pout * co + o) * cols + (((size_t)tap * 2 + pin) * ci + i) * kf + a] = v;
            }
      float conv_bias = pout == 0 ? b[0][o] - b[1][o] : b[0][o] + b[1][o];
      cv->bias[pout * co + o] = conv_bias * sc + s[(2 * pout + 1) * co + o];
    }
  free(s);
}

static void load_fsmn_block(loader *L, fr_fsmn_block *f, const char *stem, int c) {
  char k[4][128];
  snprintf(k[0], sizeof k[0], "%s.linear.weight", stem);
  snprintf(k[1], sizeof k[1], "%s.linear.bias", stem);
  snprintf(k[2], sizeof k[2], "%s.project.weight", stem);
  snprintf(k[3], sizeof k[3], "%s.conv1.weight", stem);
  f->w1 = dup(L, get(L, k[0], 2, c, c, 0, 0), (size_t)c * c);
  f->b1 = dup(L, get(L, k[1], 1, c, 0, 0, 0), (size_t)c);
  f->w2 = dup(L, get(L, k[2], 2, c, c, 0, 0), (size_t)c * c);
  f->taps = dup(L, get(L, k[3], 4, c, 1, FR_LORDER, 1), (size_t)c * FR_LORDER);
}

static void load_cfsmn(loader *L, fr_cfsmn *f, const char *stem, const char *level, int c) {
  char k[96];
  snprintf(k, sizeof k, "%s.fsmn_re_%s", stem, level);
  load_fsmn_block(L, &f->re, k, c);
  snprintf(k, sizeof k, "%s.fsmn_im_%s", stem, level);
  load_fsmn_block(L, &f->im, k, c);
}

static void load_se(loader *L, fr_se *se, const char *stem, int c) {
  se->hidden = c / 8;
  int h = se->hidden;
  for (int k = 0; k < 2; k++) {
    char n[4][96];
    const char *fc = k ? "fc_i" : "fc_r";
    snprintf(n[0], sizeof n[0], "%s.%s.0.weight", stem, fc);
    snprintf(n[1], sizeof n[1], "%s.%s.0.bias", stem, fc);
    snprintf(n[2], sizeof n[2], "%s.%s.2.weight", stem, fc);
    snprintf(n[3], sizeof n[3], "%s.%s.2.bias", stem, fc);
    se->w1[k] = dup(L, get(L, n[0], 2, h, c, 0, 0), (size_t)h * c);
    se->b1[k] = dup(L, get(L, n[1], 1, h, 0, 0, 0), (size_t)h);
    se->w2[k] = dup(L, get(L, n[2], 2, c, h, 0, 0), (size_t)c * h);
    se->b2[k] = dup(L, get(L, n[3], 1, c, 0, 0, 0), (size_t)c);
  }
}

vox_status fr_unet_load(fr_unet *u, const vox_checkpoint *ck, const char *key_prefix, const char *prefix, int c,
                        int cumulative_se, vox_error *err) {
  memset(u, 0, sizeof *u);
  if (c < 8 || c % 8 || c > 1024)
    return vox_error_set(err, VOX_ERR_UNSUPPORTED, "FRCRN width %d: must be a multiple of 8 (SE reduction 8), at most 1024",
                         c);
  u->c = c;
  u->cumulative_se = cumulative_se;
  loader L = {ck, "", err, 0, 0};
  snprintf(L.base, sizeof L.base, "%s%s", key_prefix, prefix);
  char stem[32];
  for (int i = 0; i < FR_LEVELS; i++) {
    load_conv(&L, &u->enc[i], i, 0, c);
    load_conv(&L, &u->dec[i], i, 1, c);
    if (i >= 1) {
      snprintf(stem, sizeof stem, "fsmn_enc%d", i);
      load_cfsmn(&L, &u->fenc[i], stem, "L1", c);
    }
    if (i <= 5) {
      snprintf(stem, sizeof stem, "fsmn_dec%d", i);
      load_cfsmn(&L, &u->fdec[i], stem, "L1", c);
      snprintf(stem, sizeof stem, "se_layer_enc%d", i);
      load_se(&L, &u->se_enc[i], stem, c);
    }
    if (i <= 4) {
      snprintf(stem, sizeof stem, "se_layer_dec%d", i);
      load_se(&L, &u->se_dec[i], stem, c);
    }
  }
  load_cfsmn(&L, &u->tfsmn[0], "fsmn", "L1", c);
  load_cfsmn(&L, &u->tfsmn[1], "fsmn", "L2", c);
  const float *lw[4] = {get(&L, "linear.conv_re.weight", 4, 1, 1, 1, 1), get(&L, "linear.conv_re.bias", 1, 1, 0, 0, 0),
                        get(&L, "linear.conv_im.weight", 4, 1, 1, 1, 1), get(&L, "linear.conv_im.bias", 1, 1, 0, 0, 0)};
  if (L.failed) {
    fr_unet_release(u);
    return vox_error_prefix(err, "FRCRN %s: ", prefix);
  }
  for (int i = 0; i < 4; i++)
    u->lin[i] = lw[i][0];
  u->n_params = L.count;
  double macs = 0;
  for (int i = 0; i < FR_LEVELS; i++) {
    macs += 4.0 * u->enc[i].cout * u->enc[i].cin * u->enc[i].kf * 2 * u->enc[i].fout;
    macs += 4.0 * u->dec[i].cout * u->dec[i].cin * u->dec[i].kf * 2 * u->dec[i].fin;
    if (i >= 1)
      macs += 4.0 * 2 * c * c * u->enc[i].fin;
    if (i <= 5)
      macs += 4.0 * 2 * c * c * u->dec[i].fout;
  }
  u->macs_per_frame = macs;
  return VOX_OK;
}

static void free_block(fr_fsmn_block *f) {
  free(f->w1);
  free(f->b1);
  free(f->w2);
  free(f->taps);
}

void fr_unet_release(fr_unet *u) {
  for (int i = 0; i < FR_LEVELS; i++) {
    free(u->enc[i].w);
    free(u->enc[i].bias);
    free(u->dec[i].w);
    free(u->dec[i].bias);
    free_block(&u->fenc[i].re);
    free_block(&u->fenc[i].im);
    free_block(&u->fdec[i].re);
    free_block(&u->fdec[i].im);
  }
  for (int l = 0; l < 2; l++) {
    free_block(&u->tfsmn[l].re);
    free_block(&u->tfsmn[l].im);
  }
  fr_se *all[11];
  for (int i = 0; i < 6; i++)
    all[i] = &u->se_enc[i];
  for (int i = 0; i < 5; i++)
    all[6 + i] = &u->se_dec[i];
  for (int j = 0; j < 11; j++)
    for (int k = 0; k < 2; k++) {
      free(all[j]->w1[k]);
      free(all[j]->b1[k]);
      free(all[j]->w2[k]);
      free(all[j]->b2[k]);
    }
  memset(u, 0, sizeof *u);
}
