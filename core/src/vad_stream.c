/* vad_stream.c - streaming window VAD: features -> window probabilities -> frame means -> events.
 *
 * Features slide through a buffer of window + block frames; each window's probability is added to
 * a ring of per-frame sums (window + shift slots) and a frame leaves the ring, decided, as soon as
 * no later window can cover it. Nothing grows with the stream's length except the event queue,
 * which the caller drains. As NeMo's frame VAD, the stream is padded with half a window of silence
 * before its first sample and after its last, so that every frame, the first and last included,
 * is the mean of the windows centred around it (unpadded, a file's first and last 0.3 s took the
 * windows reaching into it and came out as speech when speech followed or preceded them). */
#include "voxpipe/vox_vad_stream.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "voxpipe/vox_checkpoint.h"
#include "voxpipe/vox_config.h"
#include "voxpipe/vox_features.h"

#define BLOCK_SAMPLES 8000

struct vox_vad_stream {
  const vox_model *model;
  vox_vad_params q;
  vox_features *feat;
  vox_model_stream *ms;
  int nf, classes, speech;
  size_t window, shift;     /* frames */
  double frame_s;
  float *fbuf, *buf, *win, *logits;
  size_t fcap, bcap, blen;
  long long base;           /* absolute frame index of buf[0] */
  long long next_window;    /* absolute start frame of the next window */
  long long next_frame;     /* next frame to decide */
  long long total;          /* frames computed, padding included */
  size_t lead, trail;       /* frames of silence before and after the stream */
  float *zeros;             /* BLOCK_SAMPLES of silence */
  int started;              /* the leading silence is in */
  long long n_samples;      /* accepted */
  long long frames_in;      /* the stream's own frames, known at finish (-1 before) */
  double *sum;
  int *cnt;
  size_t ring;
  float last_p;
  /* post-processing state */
  int raw, open, announced;
  double seg_start, seg_end; /* seg_end < 0: speech still going */
  vox_vad_event *ev;
  size_t n_ev, cap_ev;
  int oom, finished;
};

void vox_vad_model_thresholds(const vox_model *model, vox_vad_params *q) {
  const vox_config_node *pp = vox_config_get(vox_checkpoint_config(vox_model_checkpoint(model)), "vad_postprocessing");
  double on = q->onset, off = q->offset;
  if (pp && !vox_config_double(pp, "onset", &on, &on, NULL) && !vox_config_double(pp, "offset", &off, &off, NULL) &&
      on > 0 && on < 1 && off > 0 && off <= on) {
    q->onset = on;
    q->offset = off;
  }
}

void vox_vad_stream_free(vox_vad_stream *v) {
  if (!v)
    return;
  vox_features_free(v->feat);
  vox_model_stream_free(v->ms);
  free(v->fbuf);
  free(v->buf);
  free(v->win);
  free(v->logits);
  free(v->sum);
  free(v->cnt);
  free(v->ev);
  free(v->zeros);
  free(v);
}

void vox_vad_stream_reset(vox_vad_stream *v) {
  vox_features_reset(v->feat);
  v->blen = 0;
  v->base = v->next_window = v->next_frame = v->total = 0;
  memset(v->sum, 0, v->ring * sizeof *v->sum);
  memset(v->cnt, 0, v->ring * sizeof *v->cnt);
  v->last_p = 0;
  v->raw = v->open = v->announced = 0;
  v->n_ev = 0;
  v->oom = v->finished = 0;
  v->started = 0;
  v->n_samples = 0;
  v->frames_in = -1;
}

vox_status vox_vad_stream_new(const vox_model *model, const vox_vad_params *params, double window_s, double shift_s,
                              vox_vad_stream **out, vox_error *err) {
  *out = NULL;
  const vox_model_info *info = vox_model_get_info(model);
  int speech = -1;
  for (int k = 0; info->labels && k < info->n_labels; k++)
    if (!strcmp(info->labels[k], "speech"))
      speech = k;
  if (info->task != VOX_TASK_CLASSIFICATION || info->input != VOX_INPUT_FEATURES || speech < 0)
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT,
                         "model '%s' is not a VAD model (a classifier with a 'speech' label)", info->architecture);
  vox_vad_params q = params ? *params : vox_vad_default_params();
  double frame_s = (double)info->features.hop_length / info->sample_rate_hz;
  if (!(window_s >= frame_s && window_s <= 60) || !(shift_s >= frame_s && shift_s <= window_s) ||
      !(q.onset > 0 && q.onset <= 1) || !(q.offset >= 0 && q.offset <= q.onset) || !(q.pad_onset_s >= 0) ||
      !(q.pad_offset_s >= 0) || !(q.min_duration_on_s >= 0) || !(q.min_duration_off_s >= 0) ||
      !isfinite(q.pad_onset_s + q.pad_offset_s + q.min_duration_on_s + q.min_duration_off_s))
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT,
                         "VAD stream: need frame <= shift <= window <= 60 s, 0 <= offset <= onset <= 1 and "
                         "non-negative, finite paddings and durations");
  vox_vad_stream *v = calloc(1, sizeof *v);
  if (!v)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  v->model = model;
  v->q = q;
  v->speech = speech;
  v->nf = info->input_channels;
  v->classes = info->output_channels;
  v->frame_s = frame_s;
  v->window = (size_t)(window_s / frame_s + 0.5);
  v->shift = (size_t)(shift_s / frame_s + 0.5);
  v->lead = v->window / 2;
  v->trail = v->window - v->lead;
  vox_status st = vox_features_new(&info->features, &v->feat, err);
  if (st == VOX_OK)
    st = vox_model_stream_new(model, &v->ms, err);
  if (st == VOX_OK) {
    v->fcap = vox_features_max_frames(v->feat, BLOCK_SAMPLES);
    v->bcap = v->window + v->fcap;
    v->ring = v->window + v->shift;
    v->fbuf = malloc(sizeof(float) * (size_t)v->nf * v->fcap);
    v->buf = malloc(sizeof(float) * (size_t)v->nf * v->bcap);
    v->win = malloc(sizeof(float) * (size_t)v->nf * v->window);
    v->logits = malloc(sizeof(float) * (size_t)v->classes);
    v->sum = calloc(v->ring, sizeof *v->sum);
    v->cnt = calloc(v->ring, sizeof *v->cnt);
    v->zeros = calloc(BLOCK_SAMPLES, sizeof *v->zeros);
    if (!v->fbuf || !v->buf || !v->win || !v->logits || !v->sum || !v->cnt || !v->zeros)
      st = vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  }
  if (st != VOX_OK) {
    vox_vad_stream_free(v);
    return st;
  }
  vox_vad_stream_reset(v);
  *out = v;
  return VOX_OK;
}

static void push_event(vox_vad_stream *v, int speech, double t, double dur) {
  if (v->n_ev == v->cap_ev) {
    size_t cap = v->cap_ev ? v->cap_ev * 2 : 16;
    vox_vad_event *e = realloc(v->ev, cap * sizeof *e);
    if (!e) {
      v->oom = 1;
      return;
    }
    v->ev = e;
    v->cap_ev = cap;
  }
  v->ev[v->n_ev++] = (vox_vad_event){speech, t, dur};
}

/* Closes the pending segment (its end is seg_end): announced, or long enough after all. */
static void close_segment(vox_vad_stream *v) {
  double dur = v->seg_end - v->seg_start;
  if (!v->announced && dur >= v->q.min_duration_on_s && dur > 0)
    push_event(v, 1, v->seg_start, 0);
  if (v->announced || (dur >= v->q.min_duration_on_s && dur > 0))
    push_event(v, 0, v->seg_end, dur);
  v->open = v->announced = 0;
}

/* One decided frame through hysteresis, padding and minimum durations. */
static void decide(vox_vad_stream *v, long long f, float p) {
  double t = (double)f * v->frame_s;
  v->last_p = p;
  if (!v->raw && p >= v->q.onset) {
    v->raw = 1;
    double start = t - v->q.pad_onset_s > 0 ? t - v->q.pad_onset_s : 0;
    if (v->open && start - v->seg_end >= v->q.min_duration_off_s)
      close_segment(v);
    if (!v->open) {
      v->open = 1;
      v->seg_start = start;
    }
    v->seg_end = -1;
  } else if (v->raw && p < v->q.offset) {
    v->raw = 0;
    v->seg_end = t + v->q.pad_offset_s;
  }
  if (v->open && v->raw && !v->announced && t - v->seg_start >= v->q.min_duration_on_s) {
    push_event(v, 1, v->seg_start, 0);
    v->announced = 1;
  }
  if (v->open && !v->raw && t >= v->seg_end + v->q.min_duration_off_s + v->q.pad_onset_s)
    close_segment(v);
}

static vox_status classify(vox_vad_stream *v, size_t pos, size_t n, float *p, vox_error *err) {
  for (int c = 0; c < v->nf; c++)
    memcpy(v->win + (size_t)c * v->window, v->buf + (size_t)c * v->bcap + pos, n * sizeof(float));
  size_t no;
  vox_model_stream_reset(v->ms);
  vox_status st = vox_model_stream_process(v->ms, v->win, v->window, n, 1, v->logits, 1, 1, &no, err);
  if (st != VOX_OK)
    return st;
  vox_softmax(v->logits, v->classes);
  *p = v->logits[v->speech];
  return VOX_OK;
}

/* Decides padded frames up to `upto`: those of the stream itself, not of its padding. */
static void emit_frames(vox_vad_stream *v, long long upto) {
  for (; v->next_frame < upto; v->next_frame++) {
    size_t r = (size_t)(v->next_frame % (long long)v->ring);
    float p = v->cnt[r] ? (float)(v->sum[r] / v->cnt[r]) : v->last_p;
    v->sum[r] = 0;
    v->cnt[r] = 0;
    long long f = v->next_frame - (long long)v->lead;
    if (f >= 0 && (v->frames_in < 0 || f < v->frames_in))
      decide(v, f, p);
  }
}

static void add_window(vox_vad_stream *v, long long start, size_t n, float p) {
  for (size_t i = 0; i < n; i++) {
    size_t r = (size_t)((start + (long long)i) % (long long)v->ring);
    v->sum[r] += p;
    v->cnt[r]++;
  }
}

/* Appends nfr feature frames and runs every window they complete. */
static vox_status run_windows(vox_vad_stream *v, size_t nfr, int final, vox_error *err) {
  for (int c = 0; c < v->nf; c++)
    memcpy(v->buf + (size_t)c * v->bcap + v->blen, v->fbuf + (size_t)c * v->fcap, nfr * sizeof(float));
  v->blen += nfr;
  v->total += (long long)nfr;
  while (v->next_window - v->base + (long long)v->window <= (long long)v->blen) {
    size_t pos = (size_t)(v->next_window - v->base);
    float p;
    vox_status st = classify(v, pos, v->window, &p, err);
    if (st != VOX_OK)
      return st;
    add_window(v, v->next_window, v->window, p);
    v->next_window += (long long)v->shift;
    emit_frames(v, v->next_window);
  }
  if (final) {
    if (v->next_window == 0 && v->blen > 0) { /* shorter than one window: classify what there is */
      float p;
      vox_status st = classify(v, 0, v->blen, &p, err);
      if (st != VOX_OK)
        return st;
      add_window(v, 0, v->blen, p);
    }
    emit_frames(v, v->total);
  }
  size_t drop = (size_t)(v->next_window - v->base);
  if (drop > v->blen)
    drop = v->blen;
  for (int c = 0; c < v->nf && drop; c++)
    memmove(v->buf + (size_t)c * v->bcap, v->buf + (size_t)c * v->bcap + drop, (v->blen - drop) * sizeof(float));
  v->blen -= drop;
  v->base += (long long)drop;
  return v->oom ? vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory (VAD events not drained)") : VOX_OK;
}

/* n samples (x NULL: silence) through the features and the windows they complete. */
static vox_status feed(vox_vad_stream *v, const float *x, size_t n, vox_error *err) {
  for (size_t i = 0; i < n;) {
    size_t k = n - i < BLOCK_SAMPLES ? n - i : BLOCK_SAMPLES, nfr;
    vox_status st = vox_features_process(v->feat, x ? x + i : v->zeros, k, 0, v->fbuf, v->fcap, v->fcap, &nfr, err);
    if (st == VOX_OK)
      st = run_windows(v, nfr, 0, err);
    if (st != VOX_OK)
      return st;
    i += k;
  }
  return VOX_OK;
}

static vox_status start(vox_vad_stream *v, vox_error *err) {
  if (v->started)
    return VOX_OK;
  v->started = 1;
  return feed(v, NULL, v->lead * (size_t)vox_model_get_info(v->model)->features.hop_length, err);
}

vox_status vox_vad_stream_accept(vox_vad_stream *v, const float *x, size_t n, vox_error *err) {
  vox_status st = start(v, err);
  if (st != VOX_OK)
    return st;
  v->n_samples += (long long)n;
  return feed(v, x, n, err);
}

vox_status vox_vad_stream_finish(vox_vad_stream *v, vox_error *err) {
  const long long hop = vox_model_get_info(v->model)->features.hop_length;
  size_t nfr;
  vox_status st = start(v, err);
  /* alone, the stream would make n/hop + 1 frames (vox_features.h) */
  v->frames_in = v->n_samples ? v->n_samples / hop + 1 : 0;
  if (st == VOX_OK)
    st = feed(v, NULL, v->trail * (size_t)hop, err);
  if (st == VOX_OK)
    st = vox_features_process(v->feat, NULL, 0, 1, v->fbuf, v->fcap, v->fcap, &nfr, err);
  if (st == VOX_OK)
    st = run_windows(v, nfr, 1, err);
  if (st == VOX_OK && v->open) {
    double end = (double)v->frames_in * v->frame_s;
    if (v->raw || v->seg_end > end)
      v->seg_end = end;
    v->raw = 0;
    close_segment(v);
  }
  if (st == VOX_OK)
    v->finished = 1;
  return st;
}

size_t vox_vad_stream_events(vox_vad_stream *v, vox_vad_event *out, size_t max) {
  return vox__queue_take(v->ev, &v->n_ev, out, max, sizeof *out);
}

float vox_vad_stream_probability(const vox_vad_stream *v) { return v->last_p; }

double vox_vad_stream_latency_s(const vox_vad_stream *v) { return (double)(v->window + v->shift) * v->frame_s; }

double vox_vad_stream_settled_s(const vox_vad_stream *v) {
  if (v->finished)
    return (double)v->frames_in * v->frame_s;
  /* a new onset at the next undecided frame would start its segment pad_onset earlier */
  double s = (double)(v->next_frame - (long long)v->lead) * v->frame_s - v->q.pad_onset_s;
  if (v->open && !v->announced && v->seg_start < s) /* may still be announced, or dropped as too short */
    s = v->seg_start;
  if (v->open && v->announced && !v->raw && v->seg_end < s) /* may still end there, or merge on */
    s = v->seg_end;
  return s > 0 ? s : 0;
}

double vox_vad_stream_settle_delay_s(const vox_vad_stream *v) {
  return vox_vad_stream_latency_s(v) + v->q.pad_onset_s + v->q.pad_offset_s + v->q.min_duration_on_s +
         v->q.min_duration_off_s + v->frame_s;
}
