/* vad.c - VAD post-processing: overlap smoothing, hysteresis, padding, duration filters. */
#include "voxpipe/vox_vad.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

vox_vad_params vox_vad_default_params(void) {
  vox_vad_params p = {0.5, 0.5, 0.0, 0.0, 0.0, 0.0, 1};
  return p;
}

static int finite_duration(double s) { return s >= 0 && isfinite(s); }

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return x < y ? -1 : x > y;
}

vox_status vox_vad_smooth(const float *probs, size_t n_windows, size_t window, size_t shift, int median, float *out,
                          size_t n_frames, vox_error *err) {
  if (!n_windows || !window || !shift || n_frames != (n_windows - 1) * shift + window)
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT, "VAD smoothing: %zu windows of %zu frames shifted by %zu "
                         "do not make %zu frames", n_windows, window, shift, n_frames);
  size_t per = (window + shift - 1) / shift; /* most windows covering one frame */
  float *tmp = median ? malloc(per * sizeof *tmp) : NULL;
  if (median && !tmp)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  for (size_t f = 0; f < n_frames; f++) {
    /* windows i with i*shift <= f < i*shift + window */
    size_t hi = f / shift, lo = f + 1 > window ? (f + 1 - window + shift - 1) / shift : 0;
    if (hi >= n_windows)
      hi = n_windows - 1;
    double sum = 0;
    size_t k = 0;
    for (size_t i = lo; i <= hi; i++) {
      if (median)
        tmp[k] = probs[i];
      sum += probs[i];
      k++;
    }
    if (median) {
      qsort(tmp, k, sizeof *tmp, cmp_float);
      out[f] = k % 2 ? tmp[k / 2] : 0.5f * (tmp[k / 2 - 1] + tmp[k / 2]);
    } else {
      out[f] = (float)(sum / (double)k);
    }
  }
  free(tmp);
  return VOX_OK;
}

typedef struct seglist {
  vox_segment *v;
  size_t n, cap;
} seglist;

static int push(seglist *l, double s, double e) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    vox_segment *v = realloc(l->v, cap * sizeof *v);
    if (!v)
      return -1;
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n].start_s = s;
  l->v[l->n].end_s = e;
  l->n++;
  return 0;
}

static void drop_short_speech(seglist *l, double min_on) {
  size_t k = 0;
  for (size_t i = 0; i < l->n; i++)
    if (l->v[i].end_s - l->v[i].start_s >= min_on)
      l->v[k++] = l->v[i];
  l->n = k;
}

static void fill_short_gaps(seglist *l, double min_off) {
  size_t k = 0;
  for (size_t i = 0; i < l->n; i++) {
    if (k && l->v[i].start_s - l->v[k - 1].end_s < min_off)
      l->v[k - 1].end_s = l->v[i].end_s > l->v[k - 1].end_s ? l->v[i].end_s : l->v[k - 1].end_s;
    else
      l->v[k++] = l->v[i];
  }
  l->n = k;
}

vox_status vox_vad_segments(const float *p, size_t n, double frame_s, const vox_vad_params *params,
                            vox_segment **segments, size_t *n_segments, vox_error *err) {
  *segments = NULL;
  *n_segments = 0;
  vox_vad_params q = params ? *params : vox_vad_default_params();
  /* written as !(in range) so that NaN is refused too: it passed every `< 0` test and gave no speech */
  if (!(frame_s > 0 && isfinite(frame_s)) || !(q.onset >= 0 && q.onset <= 1) || !(q.offset >= 0 && q.offset <= 1) ||
      !finite_duration(q.pad_onset_s) || !finite_duration(q.pad_offset_s) || !finite_duration(q.min_duration_on_s) ||
      !finite_duration(q.min_duration_off_s))
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT,
                         "VAD parameters out of range (thresholds 0..1, durations >= 0 and finite, frame > 0)");
  seglist l = {0};
  int speech = 0;
  double start = 0, total = (double)n * frame_s;
  for (size_t i = 0; i < n; i++) {
    double t = (double)i * frame_s;
    if (!speech && p[i] >= q.onset) {
      speech = 1;
      start = t;
    } else if (speech && p[i] < q.offset) {
      speech = 0;
      if (push(&l, start, t))
        goto oom;
    }
  }
  if (speech && push(&l, start, total))
    goto oom;
  for (size_t i = 0; i < l.n; i++) { /* padding, clipped to the audio, overlaps merged below */
    l.v[i].start_s = l.v[i].start_s - q.pad_onset_s < 0 ? 0 : l.v[i].start_s - q.pad_onset_s;
    l.v[i].end_s = l.v[i].end_s + q.pad_offset_s > total ? total : l.v[i].end_s + q.pad_offset_s;
  }
  fill_short_gaps(&l, 0.0); /* padding can make neighbours overlap */
  if (q.filter_speech_first) {
    drop_short_speech(&l, q.min_duration_on_s);
    fill_short_gaps(&l, q.min_duration_off_s);
  } else {
    fill_short_gaps(&l, q.min_duration_off_s);
    drop_short_speech(&l, q.min_duration_on_s);
  }
  *segments = l.v;
  *n_segments = l.n;
  return VOX_OK;
oom:
  free(l.v);
  return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
}
