/* features.c - streaming log-mel features with an FFTW r2c plan made once per stream.
 *
 * The transform runs in double precision: a float32 FFT's error floor (1e-7 of the frame's peak)
 * becomes a visible log error in quiet mel bands next to loud ones, and a 512-point double FFT
 * per 10 ms is a negligible cost next to the model. */
#include "voxpipe/vox_features.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CHUNK_SAMPLES 16384

/* FFTW's planner is not thread-safe and GStreamer elements create streams from several threads:
 * this one mutex around plan creation/destruction is the documented exception to "no global
 * mutable state" (execution of a plan is thread-safe). */
static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER;

VOX_HIDDEN void vox__fftw_planner_lock(void) { pthread_mutex_lock(&planner_lock); }
VOX_HIDDEN void vox__fftw_planner_unlock(void) { pthread_mutex_unlock(&planner_lock); }

struct vox_features {
  vox_feature_config cfg;
  float *window;    /* n_fft, the window centred in zeros */
  float *fb;        /* n_mels x n_bins */
  int *fb_lo, *fb_hi; /* non-zero bin range of each filter */
  int n_bins;
  float *dct;       /* n_mfcc x n_mels (MFCC only) */
  float *mel;       /* n_mels scratch (MFCC only) */
  int left_pending; /* reflect padding: the left pad is built once n_fft/2 + 1 samples arrived */
  fftw_plan plan;
  double *fft_in;
  fftw_complex *fft_out;
  double *power;
  float *sig;       /* pre-emphasised samples; sig[0] is absolute sample `base` */
  size_t sig_len, sig_cap;
  long long base;
  long long n_total; /* samples fed so far */
  size_t next_frame;
  float prev_sample;
  int finished;
};

vox_feature_config vox_feature_config_default(void) {
  vox_feature_config c = {0};
  c.sample_rate_hz = 16000;
  c.win_length = 320;
  c.hop_length = 160;
  c.n_fft = 512;
  c.n_mels = 64;
  c.preemph = 0.97f;
  c.mag_power = 2.0f;
  c.log_zero_guard = 5.9604644775390625e-08f; /* 2^-24 */
  c.log = 1;
  c.normalize = VOX_NORMALIZE_PER_FEATURE;
  c.pad_to = 16;
  return c;
}

static double hz_to_mel(double f) {
  const double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
  const double logstep = log(6.4) / 27.0;
  return f >= min_log_hz ? min_log_mel + log(f / min_log_hz) / logstep : f / f_sp;
}

static double mel_to_hz(double m) {
  const double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
  const double logstep = log(6.4) / 27.0;
  return m >= min_log_mel ? min_log_hz * exp(logstep * (m - min_log_mel)) : f_sp * m;
}

/* librosa.filters.mel(htk=False, norm="slaney"), or torchaudio's HTK filters without norm, in
 * double. */
static void mel_filterbank(const vox_feature_config *c, int n_bins, float *fb) {
  int n = c->n_mels;
  double fmax = c->highfreq_hz > 0 ? c->highfreq_hz : c->sample_rate_hz / 2.0;
  double mlo = c->htk_mel ? 2595.0 * log10(1.0 + c->lowfreq_hz / 700.0) : hz_to_mel(c->lowfreq_hz);
  double mhi = c->htk_mel ? 2595.0 * log10(1.0 + fmax / 700.0) : hz_to_mel(fmax);
  double *hz = malloc(sizeof(double) * (size_t)(n + 2));
  if (!hz)
    return;
  for (int i = 0; i < n + 2; i++) {
    double m = mlo + (mhi - mlo) * i / (n + 1);
    hz[i] = c->htk_mel ? 700.0 * (pow(10.0, m / 2595.0) - 1.0) : mel_to_hz(m);
  }
  for (int m = 0; m < n; m++) {
    double enorm = c->htk_mel ? 1.0 : 2.0 / (hz[m + 2] - hz[m]);
    for (int k = 0; k < n_bins; k++) {
      double f = c->htk_mel ? (double)k * (c->sample_rate_hz / 2) / (n_bins - 1) /* torchaudio's linspace */
                            : (double)k * c->sample_rate_hz / c->n_fft;
      double lower = (f - hz[m]) / (hz[m + 1] - hz[m]);
      double upper = (hz[m + 2] - f) / (hz[m + 2] - hz[m + 1]);
      double w = lower < upper ? lower : upper;
      fb[(size_t)m * n_bins + k] = (float)(w > 0 ? w * enorm : 0.0);
    }
  }
  free(hz);
}

void vox_features_free(vox_features *f) {
  if (!f)
    return;
  pthread_mutex_lock(&planner_lock);
  if (f->plan)
    fftw_destroy_plan(f->plan);
  pthread_mutex_unlock(&planner_lock);
  fftw_free(f->fft_in);
  fftw_free(f->fft_out);
  free(f->window);
  free(f->fb);
  free(f->fb_lo);
  free(f->fb_hi);
  free(f->power);
  free(f->sig);
  free(f->dct);
  free(f->mel);
  free(f);
}

void vox_features_reset(vox_features *f) {
  /* the centred first frame sees n_fft/2 zeros before sample 0 */
  size_t half = (size_t)f->cfg.n_fft / 2;
  if (f->cfg.reflect_pad) {
    f->sig_len = 0;
    f->base = 0;
    f->left_pending = 1;
  } else {
    memset(f->sig, 0, half * sizeof(float));
    f->sig_len = half;
    f->base = -(long long)half;
  }
  f->n_total = 0;
  f->next_frame = 0;
  f->prev_sample = 0;
  f->finished = 0;
}

vox_status vox_features_new(const vox_feature_config *cfg, vox_features **out, vox_error *err) {
  *out = NULL;
  const vox_feature_config *c = cfg;
  if (c->sample_rate_hz < 1000 || c->win_length <= 0 || c->hop_length <= 0 || c->n_fft < c->win_length ||
      c->n_fft > 65536 || c->n_mels <= 0 || c->n_mels > 1024 || c->lowfreq_hz < 0 ||
      (c->highfreq_hz > 0 && c->highfreq_hz <= c->lowfreq_hz))
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT,
                         "invalid feature settings: rate %d Hz, window %d, hop %d, n_fft %d, %d mels",
                         c->sample_rate_hz, c->win_length, c->hop_length, c->n_fft, c->n_mels);
  vox_features *f = calloc(1, sizeof *f);
  if (!f)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  f->cfg = *c;
  f->cfg.window = NULL;
  f->cfg.filterbank = NULL;
  int n_fft = c->n_fft;
  f->n_bins = n_fft / 2 + 1;
  f->window = calloc((size_t)n_fft, sizeof(float));
  f->fb = malloc(sizeof(float) * (size_t)c->n_mels * (size_t)f->n_bins);
  f->fb_lo = malloc(sizeof(int) * (size_t)c->n_mels);
  f->fb_hi = malloc(sizeof(int) * (size_t)c->n_mels);
  f->power = malloc(sizeof(double) * (size_t)f->n_bins);
  f->fft_in = fftw_malloc(sizeof(double) * (size_t)n_fft);
  f->fft_out = fftw_malloc(sizeof(fftw_complex) * (size_t)f->n_bins);
  f->sig_cap = (size_t)n_fft + CHUNK_SAMPLES;
  f->sig = malloc(sizeof(float) * f->sig_cap);
  if (!f->window || !f->fb || !f->fb_lo || !f->fb_hi || !f->power || !f->fft_in || !f->fft_out || !f->sig) {
    vox_features_free(f);
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  }
  int off = (n_fft - c->win_length) / 2;
  int period = c->periodic_window ? c->win_length : c->win_length - 1;
  for (int i = 0; i < c->win_length; i++)
    f->window[off + i] = c->window ? c->window[i]
                                   : (period < 1 ? 1.0f : (float)(0.5 - 0.5 * cos(2.0 * M_PI * i / period)));
  if (c->filterbank)
    memcpy(f->fb, c->filterbank, sizeof(float) * (size_t)c->n_mels * (size_t)f->n_bins);
  else
    mel_filterbank(c, f->n_bins, f->fb);
  if (c->n_mfcc > 0) {
    if (c->n_mfcc > c->n_mels) {
      vox_features_free(f);
      return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT, "n_mfcc %d is more than n_mels %d", c->n_mfcc, c->n_mels);
    }
    f->dct = malloc(sizeof(float) * (size_t)c->n_mfcc * (size_t)c->n_mels);
    f->mel = malloc(sizeof(float) * (size_t)c->n_mels);
    if (!f->dct || !f->mel) {
      vox_features_free(f);
      return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
    }
    for (int k = 0; k < c->n_mfcc; k++) /* DCT-II, orthonormal */
      for (int m = 0; m < c->n_mels; m++)
        f->dct[(size_t)k * c->n_mels + m] =
            (float)(cos(M_PI / c->n_mels * (m + 0.5) * k) * sqrt((k ? 2.0 : 1.0) / c->n_mels));
  }
  for (int m = 0; m < c->n_mels; m++) {
    const float *row = f->fb + (size_t)m * f->n_bins;
    int lo = 0, hi = f->n_bins;
    while (lo < hi && row[lo] == 0.0f)
      lo++;
    while (hi > lo && row[hi - 1] == 0.0f)
      hi--;
    f->fb_lo[m] = lo;
    f->fb_hi[m] = hi;
  }
  pthread_mutex_lock(&planner_lock);
  f->plan = fftw_plan_dft_r2c_1d(n_fft, f->fft_in, f->fft_out, FFTW_ESTIMATE);
  pthread_mutex_unlock(&planner_lock);
  if (!f->plan) {
    vox_features_free(f);
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "FFTW could not plan a %d-point transform", n_fft);
  }
  vox_features_reset(f);
  *out = f;
  return VOX_OK;
}

const vox_feature_config *vox_features_config(const vox_features *f) { return &f->cfg; }

size_t vox_features_frame_count(const vox_features *f, size_t n) { return n / (size_t)f->cfg.hop_length + 1; }

size_t vox_features_max_frames(const vox_features *f, size_t n) {
  return (n + (size_t)f->cfg.n_fft) / (size_t)f->cfg.hop_length + 2;
}

size_t vox_features_lookahead_samples(const vox_features *f) { return (size_t)f->cfg.n_fft / 2; }

static void compute_frame(vox_features *f, const float *x, float *out, size_t stride, size_t col) {
  int n_fft = f->cfg.n_fft;
  for (int i = 0; i < n_fft; i++)
    f->fft_in[i] = (double)x[i] * f->window[i];
  fftw_execute(f->plan);
  for (int k = 0; k < f->n_bins; k++) {
    double re = f->fft_out[k][0], im = f->fft_out[k][1], p = re * re + im * im;
    f->power[k] = f->cfg.mag_power == 2.0f ? p : pow(sqrt(p), f->cfg.mag_power);
  }
  for (int m = 0; m < f->cfg.n_mels; m++) {
    const float *row = f->fb + (size_t)m * f->n_bins;
    double s = 0;
    for (int k = f->fb_lo[m]; k < f->fb_hi[m]; k++)
      s += row[k] * f->power[k];
    double g = f->cfg.log_zero_guard;
    float v = (float)(!f->cfg.log ? s : f->cfg.log_clamp ? log(s > g ? s : g) : log(s + g));
    if (f->dct)
      f->mel[m] = v;
    else
      out[(size_t)m * stride + col] = v;
  }
  for (int k = 0; f->dct && k < f->cfg.n_mfcc; k++) {
    const float *row = f->dct + (size_t)k * f->cfg.n_mels;
    double acc = 0;
    for (int m = 0; m < f->cfg.n_mels; m++)
      acc += (double)row[m] * f->mel[m];
    out[(size_t)k * stride + col] = (float)acc;
  }
}

int vox_feature_config_channels(const vox_feature_config *c) { return c->n_mfcc > 0 ? c->n_mfcc : c->n_mels; }

/* Reflect padding on the left, once n_fft/2 + 1 samples are in: sig becomes
 * x[half], ..., x[1], x[0], x[1], ... (or zeros when the signal ended shorter than that). */
static void build_left_pad(vox_features *f, int final) {
  size_t half = (size_t)f->cfg.n_fft / 2;
  if (!f->left_pending || (f->sig_len < half + 1 && !final))
    return;
  memmove(f->sig + half, f->sig, f->sig_len * sizeof(float));
  for (size_t i = 0; i < half; i++)
    f->sig[i] = f->sig_len >= half + 1 ? f->sig[half + half - i] : 0.0f;
  f->sig_len += half;
  f->base = -(long long)half;
  f->left_pending = 0;
}

/* Emits every frame whose samples are all in sig (after `final`, the last frames with zeros). */
static size_t emit(vox_features *f, float *out, size_t stride, size_t cap, size_t done) {
  size_t half = (size_t)f->cfg.n_fft / 2, hop = (size_t)f->cfg.hop_length;
  size_t last_frame = (size_t)(f->n_total / (long long)hop); /* valid only once finished */
  while (done < cap && !f->left_pending) {
    long long start = (long long)(f->next_frame * hop) - (long long)half;
    if (f->finished && f->next_frame > last_frame)
      break;
    if (start - f->base + (long long)f->cfg.n_fft > (long long)f->sig_len)
      break;
    compute_frame(f, f->sig + (start - f->base), out, stride, done);
    f->next_frame++;
    done++;
  }
  if (f->left_pending)
    return done;
  /* drop samples no later frame needs */
  /* reflect padding of the last frame reads one sample before its window */
  long long keep_from = (long long)(f->next_frame * hop) - (long long)half - (f->cfg.reflect_pad ? 1 : 0);
  if (keep_from > f->base) {
    size_t drop = (size_t)(keep_from - f->base);
    if (drop > f->sig_len)
      drop = f->sig_len;
    memmove(f->sig, f->sig + drop, (f->sig_len - drop) * sizeof(float));
    f->sig_len -= drop;
    f->base += (long long)drop;
  }
  return done;
}

vox_status vox_features_process(vox_features *f, const float *x, size_t n, int final, float *out,
                                size_t out_stride, size_t out_cap, size_t *n_frames, vox_error *err) {
  *n_frames = 0;
  if (f->finished)
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT, "feature stream already finished: reset it first");
  size_t done = 0, i = 0;
  float a = f->cfg.preemph;
  while (i < n) {
    size_t room = f->sig_cap - f->sig_len;
    if (f->left_pending) /* keep space for the reflected left pad */
      room = f->sig_cap - (size_t)f->cfg.n_fft / 2 - f->sig_len;
    if (room == 0) {
      size_t before = done;
      done = emit(f, out, out_stride, out_cap, done);
      if (done == before && f->sig_cap == f->sig_len)
        return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT, "feature output buffer of %zu frames is too small",
                             out_cap);
      continue;
    }
    size_t k = n - i < room ? n - i : room;
    float *dst = f->sig + f->sig_len;
    for (size_t j = 0; j < k; j++) {
      float s = isfinite(x[i + j]) ? x[i + j] : 0.0f; /* see vox_features_process */
      dst[j] = a != 0.0f && (f->n_total + (long long)j) > 0 ? s - a * f->prev_sample : s;
      f->prev_sample = s;
    }
    f->sig_len += k;
    f->n_total += (long long)k;
    i += k;
    build_left_pad(f, 0);
    done = emit(f, out, out_stride, out_cap, done);
  }
  if (final) {
    f->finished = 1;
    build_left_pad(f, 1);
    /* right padding: zeros up to the end of the last centred frame */
    size_t half = (size_t)f->cfg.n_fft / 2;
    long long need_end = (long long)((size_t)(f->n_total / f->cfg.hop_length) * (size_t)f->cfg.hop_length + half);
    while (f->base + (long long)f->sig_len < need_end) {
      size_t room = f->sig_cap - f->sig_len;
      size_t k = (size_t)(need_end - f->base - (long long)f->sig_len);
      if (k > room)
        k = room;
      if (f->cfg.reflect_pad && f->n_total >= (long long)half + 1) {
        /* reflection of the last samples: x[N-2], x[N-3], ... */
        for (size_t j = 0; j < k; j++) {
          long long a = f->base + (long long)f->sig_len + (long long)j; /* absolute index >= N */
          long long src = 2 * (f->n_total - 1) - a;
          f->sig[f->sig_len + j] = f->sig[src - f->base];
        }
      } else {
        memset(f->sig + f->sig_len, 0, k * sizeof(float));
      }
      f->sig_len += k;
      size_t before = done;
      done = emit(f, out, out_stride, out_cap, done);
      if (k == 0 && done == before)
        return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT, "feature output buffer of %zu frames is too small",
                             out_cap);
    }
    done = emit(f, out, out_stride, out_cap, done);
  }
  *n_frames = done;
  return VOX_OK;
}

void vox_features_stats_add(const float *x, size_t stride, int n_feat, size_t n_frames, double *sum, double *sumsq) {
  for (int m = 0; m < n_feat; m++) {
    const float *row = x + (size_t)m * stride;
    double s = 0, q = 0;
    for (size_t t = 0; t < n_frames; t++) {
      s += row[t];
      q += (double)row[t] * row[t];
    }
    sum[m] += s;
    sumsq[m] += q;
  }
}

void vox_features_stats_finish(const double *sum, const double *sumsq, size_t count, int n_feat, float *mean,
                               float *inv_std) {
  for (int m = 0; m < n_feat; m++) {
    double mu = count ? sum[m] / (double)count : 0.0;
    double var = count > 1 ? (sumsq[m] - sum[m] * mu) / (double)(count - 1) : 0.0;
    double sd = var > 0 ? sqrt(var) : 0.0;
    mean[m] = (float)mu;
    inv_std[m] = (float)(1.0 / (sd + 1e-5));
  }
}

void vox_features_normalize(float *x, size_t stride, int n_feat, size_t n_frames, const float *mean,
                            const float *inv_std) {
  for (int m = 0; m < n_feat; m++) {
    float *row = x + (size_t)m * stride;
    for (size_t t = 0; t < n_frames; t++)
      row[t] = (row[t] - mean[m]) * inv_std[m];
  }
}
