/* asr.c - samples -> features -> CTC model -> greedy decoding, in buffers sized once. */
#include "voxpipe/vox_asr.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Samples per model call when a caller hands over more at once (files: vox_asr_stream_transcribe_*).
 * Every call reads all the model's weights once, so few large calls are faster than many small
 * ones; 0.5 s blocks made a 10-minute file with QuartzNet 15x5 (76 MB of weights) take 1.5x as long
 * as 10 s blocks (10.1 vs 6.7 s), the same words. Results do not depend on the block size. */
#define BLOCK_SAMPLES 160000

struct vox_asr_stream {
  const vox_model *model;
  const vox_model_info *info;
  vox_asr_params params;
  vox_features *feat;
  vox_model_stream *ms;
  vox_ctc_decoder *ctc;
  vox_ctc_beam *beam;  /* instead of ctc when beam search was asked for */
  float *fbuf, *lbuf, *mean, *inv_std;
  size_t fcap, lcap;
  int has_norm, finished;
  size_t n_samples; /* accepted since the last reset */
  vox_asr_stats stats;
  /* buffered mode (all in feature frames; 0 chunk = off) */
  size_t chunk, ctx;          /* chunk length, left/right context */
  float *win, *tmp, *wlog;    /* feature window [nf][wcap], normalised copy, window log-probs */
  size_t wcap, wlen, wlcap;
  long long wbase, fed, next_chunk;
};

vox_asr_params vox_asr_default_params(void) {
  vox_asr_params p = {NULL, NULL, NULL, 0, 0, NULL};
  return p;
}

void vox_asr_stream_free(vox_asr_stream *s) {
  if (!s)
    return;
  vox_features_free(s->feat);
  vox_model_stream_free(s->ms);
  vox_ctc_decoder_free(s->ctc);
  vox_ctc_beam_free(s->beam);
  free(s->fbuf);
  free(s->lbuf);
  free(s->mean);
  free(s->inv_std);
  free(s->win);
  free(s->tmp);
  free(s->wlog);
  free(s);
}

void vox_asr_stream_reset(vox_asr_stream *s) {
  vox_features_reset(s->feat);
  vox_model_stream_reset(s->ms);
  if (s->beam)
    vox_ctc_beam_reset(s->beam);
  else
    vox_ctc_decoder_reset(s->ctc);
  s->finished = 0;
  s->n_samples = 0;
  memset(&s->stats, 0, sizeof s->stats);
  s->wlen = 0;
  s->wbase = s->fed = s->next_chunk = 0;
}

static vox_status decode(vox_asr_stream *s, const float *logp, size_t stride, size_t n, vox_error *err) {
  return s->beam ? vox_ctc_beam_push(s->beam, logp, stride, n, err) : vox_ctc_decoder_push(s->ctc, logp, stride, n, err);
}

static vox_status buffered_setup(vox_asr_stream *s, vox_error *err) {
  const vox_model_info *i = s->info;
  double frame_s = (double)i->features.hop_length / i->sample_rate_hz;
  size_t sub = (size_t)i->subsampling;
  double c = s->params.buffered_chunk_s, b = s->params.buffered_buffer_s;
  if (!(c > 0 && c <= 60) || !(b >= c && b <= 120))
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT,
                         "buffered mode: chunk %.2f s and buffer %.2f s (need 0 < chunk <= buffer <= 120 s)", c, b);
  s->chunk = ((size_t)(c / frame_s) + sub - 1) / sub * sub;
  if (s->chunk == 0) /* else buffered mode was off and the stream refused the per-utterance model */
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT,
                         "buffered mode: chunk %g s is shorter than one output frame of the model (%g s)", c,
                         frame_s * (double)sub);
  s->ctx = (size_t)((b - c) / 2 / frame_s) / sub * sub;
  s->wcap = s->chunk + 2 * s->ctx + s->fcap + sub;
  s->wlcap = vox_model_stream_max_output(s->ms, s->wcap);
  size_t nf = (size_t)i->input_channels;
  s->win = malloc(sizeof(float) * nf * s->wcap);
  s->tmp = malloc(sizeof(float) * nf * s->wcap);
  s->wlog = malloc(sizeof(float) * (size_t)i->output_channels * s->wlcap);
  if (!s->win || !s->tmp || !s->wlog)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  return VOX_OK;
}

double vox_asr_stream_latency_s(const vox_asr_stream *s) {
  double frame_s = (double)s->info->features.hop_length / s->info->sample_rate_hz;
  if (s->chunk)
    return (double)(s->chunk + s->ctx) * frame_s;
  return (double)s->info->lookahead_frames * frame_s;
}

/* Buffered mode: the model on the window around chunk `next_chunk`, keeping that chunk's outputs. */
static vox_status buffered_chunk(vox_asr_stream *s, vox_error *err) {
  const vox_model_info *i = s->info;
  long long c0 = s->next_chunk * (long long)s->chunk, c1 = c0 + (long long)s->chunk;
  if (c1 > s->fed)
    c1 = s->fed;
  long long w0 = c0 - (long long)s->ctx < 0 ? 0 : c0 - (long long)s->ctx;
  long long w1 = c1 + (long long)s->ctx > s->fed ? s->fed : c1 + (long long)s->ctx;
  size_t n = (size_t)(w1 - w0), nf = (size_t)i->input_channels;
  for (size_t c = 0; c < nf; c++)
    memcpy(s->tmp + c * s->wcap, s->win + c * s->wcap + (size_t)(w0 - s->wbase), n * sizeof(float));
  double sum[1024] = {0}, sq[1024] = {0};
  vox_features_stats_add(s->tmp, s->wcap, (int)nf, n, sum, sq);
  vox_features_stats_finish(sum, sq, n, (int)nf, s->mean, s->inv_std);
  vox_features_normalize(s->tmp, s->wcap, (int)nf, n, s->mean, s->inv_std);
  vox_model_stream_reset(s->ms);
  size_t no;
  vox_status st = vox_model_stream_process(s->ms, s->tmp, s->wcap, n, 1, s->wlog, s->wlcap, s->wlcap, &no, err);
  if (st != VOX_OK)
    return st;
  /* output j stands for feature frame w0 + j * subsampling */
  long long sub = i->subsampling;
  size_t j0 = (size_t)((c0 - w0 + sub - 1) / sub), j1 = (size_t)((c1 - w0 + sub - 1) / sub);
  if (j1 > no)
    j1 = no;
  if (j0 < j1) {
    if (s->params.on_logits)
      s->params.on_logits(s->params.user, s->wlog + j0, s->wlcap, j1 - j0, i->output_channels);
    st = decode(s, s->wlog + j0, s->wlcap, j1 - j0, err);
  }
  s->next_chunk++;
  /* frames before the next window are no longer needed */
  long long keep = s->next_chunk * (long long)s->chunk - (long long)s->ctx;
  if (keep > s->wbase) {
    /* at the end the next window may start past the frames fed so far */
    size_t drop = keep - s->wbase < (long long)s->wlen ? (size_t)(keep - s->wbase) : s->wlen;
    for (size_t c = 0; c < nf; c++)
      memmove(s->win + c * s->wcap, s->win + c * s->wcap + drop, (s->wlen - drop) * sizeof(float));
    s->wlen -= drop;
    s->wbase += (long long)drop;
  }
  return st;
}

/* Buffered mode: collects nf feature frames of fbuf and runs every chunk that is ready. */
static vox_status buffered_run(vox_asr_stream *s, size_t nfr, int final, vox_error *err) {
  size_t nf = (size_t)s->info->input_channels;
  for (size_t c = 0; c < nf; c++)
    memcpy(s->win + c * s->wcap + s->wlen, s->fbuf + c * s->fcap, nfr * sizeof(float));
  s->wlen += nfr;
  s->fed += (long long)nfr;
  vox_status st = VOX_OK;
  while (st == VOX_OK) {
    long long c0 = s->next_chunk * (long long)s->chunk;
    int ready = (c0 + (long long)s->chunk + (long long)s->ctx <= s->fed) || (final && c0 < s->fed);
    if (!ready)
      break;
    st = buffered_chunk(s, err);
  }
  return st;
}

vox_status vox_asr_stream_new(const vox_model *model, const vox_asr_params *params, vox_asr_stream **out,
                              vox_error *err) {
  *out = NULL;
  const vox_model_info *info = vox_model_get_info(model);
  if (info->task != VOX_TASK_CTC_ASR || info->input != VOX_INPUT_FEATURES)
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT,
                         "model '%s' (%s) is not a speech recognition (CTC) model", info->architecture,
                         vox_model_plugin_name(model));
  vox_asr_stream *s = calloc(1, sizeof *s);
  if (!s)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  s->model = model;
  s->info = info;
  s->params = params ? *params : vox_asr_default_params();
  vox_status st = vox_features_new(&info->features, &s->feat, err);
  if (st == VOX_OK)
    st = vox_model_stream_new(model, &s->ms, err);
  if (st == VOX_OK) {
    double frame_s = (double)info->features.hop_length / info->sample_rate_hz * info->subsampling;
    if (s->params.beam)
      st = vox_ctc_beam_new(info->labels, info->n_labels, info->blank_index, frame_s, s->params.beam, &s->beam, err);
    else
      st = vox_ctc_decoder_new(info->labels, info->n_labels, info->blank_index, frame_s, &s->ctc, err);
    s->params.beam = NULL; /* copied by the decoder; the caller's may go away */
  }
  if (st == VOX_OK) {
    s->fcap = vox_features_max_frames(s->feat, BLOCK_SAMPLES);
    s->lcap = vox_model_stream_max_output(s->ms, s->fcap);
    s->fbuf = malloc(sizeof(float) * (size_t)info->input_channels * s->fcap);
    s->lbuf = malloc(sizeof(float) * (size_t)info->output_channels * s->lcap);
    s->mean = calloc((size_t)info->input_channels, sizeof(float));
    s->inv_std = calloc((size_t)info->input_channels, sizeof(float));
    if (!s->fbuf || !s->lbuf || !s->mean || !s->inv_std)
      st = vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  }
  if (st == VOX_OK && info->features.normalize == VOX_NORMALIZE_FIXED) {
    for (int i = 0; i < info->input_channels; i++) {
      s->mean[i] = info->features.fixed_mean[i];
      s->inv_std[i] = 1.0f / info->features.fixed_std[i];
    }
    s->has_norm = 1;
  }
  if (st == VOX_OK && s->params.buffered_chunk_s > 0)
    st = buffered_setup(s, err);
  if (st != VOX_OK) {
    vox_asr_stream_free(s);
    return st;
  }
  *out = s;
  return VOX_OK;
}

vox_status vox_asr_stream_set_normalization(vox_asr_stream *s, const float *mean, const float *inv_std,
                                            vox_error *err) {
  (void)err;
  memcpy(s->mean, mean, sizeof(float) * (size_t)s->info->input_channels);
  memcpy(s->inv_std, inv_std, sizeof(float) * (size_t)s->info->input_channels);
  s->has_norm = 1;
  return VOX_OK;
}

/* Runs nf feature frames of fbuf through the model and the decoder. */
static vox_status run_model(vox_asr_stream *s, size_t nf, int final, vox_error *err) {
  if (s->chunk)
    return buffered_run(s, nf, final, err);
  if (s->info->features.normalize != VOX_NORMALIZE_NONE) {
    if (!s->has_norm)
      return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT,
                           "this model normalizes features per utterance: transcribe whole files, or set the "
                           "statistics with vox_asr_stream_set_normalization first");
    vox_features_normalize(s->fbuf, s->fcap, s->info->input_channels, nf, s->mean, s->inv_std);
  }
  size_t no;
  vox_status st = vox_model_stream_process(s->ms, s->fbuf, s->fcap, nf, final, s->lbuf, s->lcap, s->lcap, &no, err);
  if (st != VOX_OK)
    return st;
  if (s->params.on_logits && no)
    s->params.on_logits(s->params.user, s->lbuf, s->lcap, no, s->info->output_channels);
  return decode(s, s->lbuf, s->lcap, no, err);
}

static double mono_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void vox_asr_stream_stats(const vox_asr_stream *s, vox_asr_stats *out) {
  *out = s->stats;
  out->audio_s = (double)s->n_samples / s->info->sample_rate_hz;
}

static vox_status accept_samples(vox_asr_stream *s, const float *x, size_t n, vox_error *err) {
  if (s->finished)
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT, "stream already finished: reset it first");
  s->n_samples += n;
  for (size_t i = 0; i < n;) {
    size_t k = n - i < BLOCK_SAMPLES ? n - i : BLOCK_SAMPLES;
    size_t nf;
    vox_status st = vox_features_process(s->feat, x + i, k, 0, s->fbuf, s->fcap, s->fcap, &nf, err);
    if (st == VOX_OK)
      st = run_model(s, nf, 0, err);
    if (st != VOX_OK)
      return st;
    i += k;
  }
  return VOX_OK;
}

vox_status vox_asr_stream_accept(vox_asr_stream *s, const float *x, size_t n, vox_error *err) {
  double t0 = mono_s();
  vox_status st = accept_samples(s, x, n, err);
  double dt = mono_s() - t0;
  s->stats.accept_calls++;
  s->stats.accept_s += dt;
  s->stats.worst_accept_s = dt > s->stats.worst_accept_s ? dt : s->stats.worst_accept_s;
  return st;
}

static vox_status finish_stream(vox_asr_stream *s, vox_error *err) {
  if (s->finished)
    return VOX_OK;
  s->finished = 1;
  if (s->n_samples == 0)
    return VOX_OK; /* no audio, no words: NeMo's single padding frame would only produce noise */
  size_t nf;
  vox_status st = vox_features_process(s->feat, NULL, 0, 1, s->fbuf, s->fcap, s->fcap, &nf, err);
  if (st == VOX_OK)
    st = run_model(s, nf, 1, err);
  if (st == VOX_OK && s->beam)
    vox_ctc_beam_finish(s->beam);
  return st;
}

vox_status vox_asr_stream_finish(vox_asr_stream *s, vox_error *err) {
  double t0 = mono_s();
  vox_status st = finish_stream(s, err);
  s->stats.finish_s += mono_s() - t0;
  return st;
}

size_t vox_asr_stream_forget_words(vox_asr_stream *s, size_t n) {
  return s->beam ? vox_ctc_beam_forget(s->beam, n) : vox_ctc_decoder_forget(s->ctc, n);
}

void vox_asr_stream_result(vox_asr_stream *s, vox_transcript *out) {
  if (s->beam)
    vox_ctc_beam_result(s->beam, out);
  else
    vox_ctc_decoder_result(s->ctc, out);
  if (s->finished)
    out->n_stable_words = out->n_words;
}

size_t vox_asr_stream_nbest(vox_asr_stream *s, size_t k, vox_transcript *out, float *scores) {
  if (s->beam)
    return vox_ctc_beam_nbest(s->beam, k, out, scores);
  if (!k)
    return 0;
  vox_ctc_decoder_result(s->ctc, out);
  if (scores)
    scores[0] = 0;
  return 1;
}

/* First pass of a per_feature model: the whole file's feature statistics. */
static vox_status file_stats(vox_asr_stream *s, vox_audio_reader *r, float *block, vox_error *err) {
  int nm = s->info->input_channels;
  double *sum = calloc((size_t)nm, sizeof(double)), *sq = calloc((size_t)nm, sizeof(double));
  if (!sum || !sq) {
    free(sum);
    free(sq);
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  }
  size_t frames = 0, got;
  vox_status st;
  vox_features_reset(s->feat);
  for (;;) {
    st = vox_audio_read(r, block, BLOCK_SAMPLES, &got, err);
    size_t nf = 0;
    if (st == VOX_OK)
      st = vox_features_process(s->feat, block, got, got == 0, s->fbuf, s->fcap, s->fcap, &nf, err);
    if (st != VOX_OK)
      break;
    vox_features_stats_add(s->fbuf, s->fcap, nm, nf, sum, sq);
    frames += nf;
    if (got == 0)
      break;
  }
  if (st == VOX_OK) {
    vox_features_stats_finish(sum, sq, frames, nm, s->mean, s->inv_std);
    s->has_norm = 1;
    st = vox_audio_rewind(r, err);
  }
  free(sum);
  free(sq);
  return st;
}

vox_status vox_asr_stream_transcribe_file(vox_asr_stream *s, const char *path, const vox_audio_params *audio,
                                          vox_error *err) {
  vox_audio_params ap = audio ? *audio : vox_audio_default_params();
  ap.target_rate_hz = s->info->sample_rate_hz;
  vox_audio_reader *r;
  vox_status st = vox_audio_open(path, &ap, &r, err);
  if (st != VOX_OK)
    return st;
  float *block = malloc(sizeof(float) * BLOCK_SAMPLES);
  if (!block) {
    vox_audio_close(r);
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  }
  if (s->info->features.normalize == VOX_NORMALIZE_PER_FEATURE && !s->chunk)
    st = file_stats(s, r, block, err);
  vox_asr_stream_reset(s);
  double total = vox_audio_get_info(r)->duration_s * s->info->sample_rate_hz, done = 0;
  while (st == VOX_OK) {
    size_t got;
    st = vox_audio_read(r, block, BLOCK_SAMPLES, &got, err);
    if (st != VOX_OK || got == 0)
      break;
    st = vox_asr_stream_accept(s, block, got, err);
    done += (double)got;
    if (s->params.on_progress && total > 0)
      s->params.on_progress(s->params.user, done / total > 1 ? 1 : done / total);
  }
  if (st == VOX_OK)
    st = vox_asr_stream_finish(s, err);
  free(block);
  vox_audio_close(r);
  return st;
}

vox_status vox_asr_stream_transcribe_samples(vox_asr_stream *s, const float *x, size_t n, vox_error *err) {
  vox_status st = VOX_OK;
  if (s->info->features.normalize == VOX_NORMALIZE_PER_FEATURE && !s->chunk) {
    int nm = s->info->input_channels;
    double *sum = calloc((size_t)nm, sizeof(double)), *sq = calloc((size_t)nm, sizeof(double));
    size_t frames = 0;
    if (!sum || !sq)
      st = vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
    vox_features_reset(s->feat);
    for (size_t i = 0; st == VOX_OK && i <= n; i += BLOCK_SAMPLES) {
      size_t k = n - i < BLOCK_SAMPLES ? n - i : BLOCK_SAMPLES, nf;
      st = vox_features_process(s->feat, x + i, k, i + k >= n, s->fbuf, s->fcap, s->fcap, &nf, err);
      if (st == VOX_OK) {
        vox_features_stats_add(s->fbuf, s->fcap, nm, nf, sum, sq);
        frames += nf;
      }
      if (i + k >= n)
        break;
    }
    if (st == VOX_OK) {
      vox_features_stats_finish(sum, sq, frames, nm, s->mean, s->inv_std);
      s->has_norm = 1;
    }
    free(sum);
    free(sq);
  }
  vox_asr_stream_reset(s);
  if (st == VOX_OK)
    st = vox_asr_stream_accept(s, x, n, err);
  if (st == VOX_OK)
    st = vox_asr_stream_finish(s, err);
  return st;
}
