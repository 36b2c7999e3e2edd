/* kws_stream.c - streaming command-word spotting over sliding classifier windows.
 *
 * Features slide through a buffer of window + block frames; nothing grows with the stream's length
 * except the detection queue, which the caller drains. */
#include "voxpipe/vox_kws_stream.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "voxpipe/vox_features.h"

#define BLOCK_SAMPLES 4000

struct vox_kws_stream {
  const vox_model *model;
  const vox_model_info *info;
  vox_features *feat;
  vox_model_stream *ms;
  int nf, classes;
  size_t window, shift;   /* frames */
  double frame_s;
  float threshold;
  float *fbuf, *buf, *win, *logits, *silence;
  size_t fcap, bcap, blen;
  long long base;         /* absolute frame index of buf[0] */
  long long classified;   /* windows classified */
  vox_kws_detection cur;  /* running detection (label < 0: none) */
  vox_kws_detection *det;
  size_t n_det, cap_det;
  int oom;
};

int vox_kws_is_filler(const char *l) {
  return !strcmp(l, "unknown") || !strcmp(l, "silence") || !strcmp(l, "background") || !strcmp(l, "_unknown_") ||
         !strcmp(l, "_silence_") || !strcmp(l, "_background_noise_");
}

void vox_kws_stream_free(vox_kws_stream *k) {
  if (!k)
    return;
  vox_features_free(k->feat);
  vox_model_stream_free(k->ms);
  free(k->fbuf);
  free(k->buf);
  free(k->win);
  free(k->logits);
  free(k->silence);
  free(k->det);
  free(k);
}

void vox_kws_stream_reset(vox_kws_stream *k) {
  vox_features_reset(k->feat);
  k->blen = 0;
  k->base = k->classified = 0;
  k->cur.label = -1;
  k->n_det = 0;
  k->oom = 0;
}

/* One frame of the features of digital silence (steady state), per feature channel. */
static vox_status silence_frame(vox_kws_stream *k, vox_error *err) {
  size_t ns = 4000, cap = vox_features_max_frames(k->feat, ns), got = 0;
  float *zeros = calloc(ns, sizeof *zeros), *fr = malloc(sizeof(float) * (size_t)k->nf * cap);
  vox_status st = zeros && fr ? vox_features_process(k->feat, zeros, ns, 1, fr, cap, cap, &got, err)
                              : vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  if (st == VOX_OK && got <= 12)
    st = vox_error_set(err, VOX_ERR_INVALID_ARGUMENT, "feature extractor gave %zu frames for 0.25 s", got);
  for (int c = 0; st == VOX_OK && c < k->nf; c++)
    k->silence[c] = fr[(size_t)c * cap + 10];
  free(zeros);
  free(fr);
  vox_features_reset(k->feat);
  return st;
}

vox_status vox_kws_stream_new(const vox_model *model, double window_s, double shift_s, float threshold,
                              vox_kws_stream **out, vox_error *err) {
  *out = NULL;
  const vox_model_info *info = vox_model_get_info(model);
  if (info->task != VOX_TASK_CLASSIFICATION || info->input != VOX_INPUT_FEATURES || !info->labels)
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT, "model '%s' is not a command-word classifier",
                         info->architecture);
  double frame_s = (double)info->features.hop_length / info->sample_rate_hz;
  if (!(window_s >= 0.1 && window_s <= 10) || !(shift_s >= frame_s && shift_s <= window_s) ||
      !(threshold >= 0 && threshold <= 1))
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT,
                         "keyword spotting: need 0.1 <= window <= 10 s, frame <= shift <= window, 0 <= threshold <= 1");
  vox_kws_stream *k = calloc(1, sizeof *k);
  if (!k)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  k->model = model;
  k->info = info;
  k->nf = info->input_channels;
  k->classes = info->output_channels;
  k->frame_s = frame_s;
  k->threshold = threshold;
  k->window = (size_t)(window_s / frame_s + 0.5);
  k->shift = (size_t)(shift_s / frame_s + 0.5);
  vox_status st = vox_features_new(&info->features, &k->feat, err);
  if (st == VOX_OK)
    st = vox_model_stream_new(model, &k->ms, err);
  if (st == VOX_OK) {
    k->fcap = vox_features_max_frames(k->feat, BLOCK_SAMPLES);
    k->bcap = k->window + k->fcap;
    k->fbuf = malloc(sizeof(float) * (size_t)k->nf * k->fcap);
    k->buf = malloc(sizeof(float) * (size_t)k->nf * k->bcap);
    k->win = malloc(sizeof(float) * (size_t)k->nf * k->window);
    k->logits = malloc(sizeof(float) * (size_t)k->classes);
    k->silence = malloc(sizeof(float) * (size_t)k->nf);
    if (!k->fbuf || !k->buf || !k->win || !k->logits || !k->silence)
      st = vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  }
  if (st == VOX_OK)
    st = silence_frame(k, err);
  if (st != VOX_OK) {
    vox_kws_stream_free(k);
    return st;
  }
  vox_kws_stream_reset(k);
  *out = k;
  return VOX_OK;
}

static void push(vox_kws_stream *k) {
  if (k->cur.label < 0)
    return;
  if (k->n_det == k->cap_det) {
    size_t cap = k->cap_det ? k->cap_det * 2 : 8;
    vox_kws_detection *d = realloc(k->det, cap * sizeof *d);
    if (!d) {
      k->oom = 1;
      k->cur.label = -1;
      return;
    }
    k->det = d;
    k->cap_det = cap;
  }
  k->det[k->n_det++] = k->cur;
  k->cur.label = -1;
}

/* Classifies n frames starting at buf + pos, centred in silence when n < window; softmax into
 * logits, returns the best class. */
static vox_status classify(vox_kws_stream *k, size_t pos, size_t n, int *best, vox_error *err) {
  size_t off = (k->window - n) / 2;
  for (int c = 0; c < k->nf; c++)
    for (size_t t = 0; t < k->window; t++)
      k->win[(size_t)c * k->window + t] =
          t >= off && t < off + n ? k->buf[(size_t)c * k->bcap + pos + t - off] : k->silence[c];
  size_t no;
  vox_model_stream_reset(k->ms);
  vox_status st = vox_model_stream_process(k->ms, k->win, k->window, k->window, 1, k->logits, 1, 1, &no, err);
  if (st != VOX_OK)
    return st;
  *best = vox_softmax(k->logits, k->classes);
  return VOX_OK;
}

static void window_result(vox_kws_stream *k, int best, double t0, double t1) {
  float p = k->logits[best];
  int hit = p >= k->threshold && !vox_kws_is_filler(k->info->labels[best]);
  if (k->cur.label >= 0 && (!hit || best != k->cur.label || t0 > k->cur.end_s))
    push(k);
  if (hit) {
    if (k->cur.label < 0)
      k->cur = (vox_kws_detection){best, k->info->labels[best], t0, t1, p};
    k->cur.end_s = t1;
    k->cur.score = p > k->cur.score ? p : k->cur.score;
  }
}

static vox_status run(vox_kws_stream *k, const float *x, size_t n, int final, vox_error *err) {
  size_t nfr;
  vox_status st = vox_features_process(k->feat, x, n, final, k->fbuf, k->fcap, k->fcap, &nfr, err);
  if (st != VOX_OK)
    return st;
  for (int c = 0; c < k->nf; c++)
    memcpy(k->buf + (size_t)c * k->bcap + k->blen, k->fbuf + (size_t)c * k->fcap, nfr * sizeof(float));
  k->blen += nfr;
  size_t pos = 0;
  int best;
  for (; pos + k->window <= k->blen; pos += k->shift, k->classified++) {
    if ((st = classify(k, pos, k->window, &best, err)) != VOX_OK)
      return st;
    double t0 = (double)(k->base + (long long)pos) * k->frame_s;
    window_result(k, best, t0, t0 + (double)k->window * k->frame_s);
  }
  if (final && !k->classified && k->blen > 0) { /* the whole input is shorter than a window */
    if ((st = classify(k, 0, k->blen, &best, err)) != VOX_OK)
      return st;
    window_result(k, best, 0, (double)k->blen * k->frame_s);
  }
  if (pos > k->blen)
    pos = k->blen;
  for (int c = 0; c < k->nf && pos; c++)
    memmove(k->buf + (size_t)c * k->bcap, k->buf + (size_t)c * k->bcap + pos, (k->blen - pos) * sizeof(float));
  k->blen -= pos;
  k->base += (long long)pos;
  if (final)
    push(k);
  return k->oom ? vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory") : VOX_OK;
}

vox_status vox_kws_stream_accept(vox_kws_stream *k, const float *x, size_t n, vox_error *err) {
  for (size_t i = 0; i < n; i += BLOCK_SAMPLES) {
    vox_status st = run(k, x + i, n - i < BLOCK_SAMPLES ? n - i : BLOCK_SAMPLES, 0, err);
    if (st != VOX_OK)
      return st;
  }
  return VOX_OK;
}

vox_status vox_kws_stream_finish(vox_kws_stream *k, vox_error *err) { return run(k, NULL, 0, 1, err); }

size_t vox_kws_stream_detections(vox_kws_stream *k, vox_kws_detection *out, size_t max) {
  return vox__queue_take(k->det, &k->n_det, out, max, sizeof *out);
}

double vox_kws_stream_latency_s(const vox_kws_stream *k) { return (double)(k->window + k->shift) * k->frame_s; }
