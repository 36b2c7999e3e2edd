/* cli_vad.c - the VAD pass `voxpipe vad` and `voxpipe transcribe --vad` share.
 *
 * The model classifies windows of window_ms (630) shifted by shift_ms (10) into background /
 * speech; window probabilities are spread over the frames they cover and smoothed (mean or median,
 * NeMo's generate_overlap_vad_seq), then binarised with onset/offset hysteresis, padding and minimum
 * durations (vox_vad.h). Features stream through a sliding buffer: memory does not grow with length. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct cli_vad {
  vox_model *m;
  vox_vad_params q;
  int median;
  double frame_s;
  vox_model_stream *ms;
  int nf, classes, speech_class;
  size_t window, shift;
  float *win, *logits, *probs;
  size_t n_probs, cap_probs;
  float *frames; /* the last file's frame probabilities */
  size_t n_frames;
  size_t lead, frames_in; /* run_file's padding in frames, and the file's frame count */
};
typedef struct cli_vad vad_run;

static int push_prob(vad_run *v, float p) {
  if (v->n_probs == v->cap_probs) {
    size_t cap = v->cap_probs ? v->cap_probs * 2 : 4096;
    float *np = realloc(v->probs, cap * sizeof *np);
    if (!np)
      return -1;
    v->probs = np;
    v->cap_probs = cap;
  }
  v->probs[v->n_probs++] = p;
  return 0;
}

/* Runs the classifier on n frames starting at buf (stride bstride); *p = P(speech). */
static int classify(vad_run *v, const float *buf, size_t bstride, size_t n, float *p, vox_error *err) {
  if (cli_classify_window(v->ms, buf, bstride, n, v->nf, v->win, v->window, v->classes, v->logits, err) < 0)
    return -1;
  *p = v->logits[v->speech_class];
  return 0;
}

/* Features of a file's audio sliding through buf, and the windows they complete. */
typedef struct feed {
  vox_features *f;
  float *fb, *buf;
  size_t fcap, bcap, blen, total; /* total: feature frames made */
} feed;

static int feed_audio(vad_run *v, feed *d, const float *x, size_t n, int final, vox_error *err) {
  size_t nfr;
  if (vox_features_process(d->f, x, n, final, d->fb, d->fcap, d->fcap, &nfr, err))
    return -1;
  for (int c = 0; c < v->nf; c++)
    memcpy(d->buf + (size_t)c * d->bcap + d->blen, d->fb + (size_t)c * d->fcap, nfr * sizeof(float));
  d->blen += nfr;
  d->total += nfr;
  size_t pos = 0;
  int rc = 0;
  while (!rc && pos + v->window <= d->blen) {
    float p;
    rc = classify(v, d->buf + pos, d->bcap, v->window, &p, err) || push_prob(v, p);
    pos += v->shift;
  }
  for (int c = 0; c < v->nf && pos; c++)
    memmove(d->buf + (size_t)c * d->bcap, d->buf + (size_t)c * d->bcap + pos, (d->blen - pos) * sizeof(float));
  d->blen -= pos;
  return rc;
}

/* Window probabilities of the file with half a window of silence before and after it, as NeMo's
 * frame VAD pads (so that every frame, the first and last included, gets the windows centred
 * around it); v->lead / v->frames_in: where the file's own frames are among the padded ones. */
static int run_file(vad_run *v, const vox_model *m, const char *path, vox_error *err) {
  const vox_model_info *info = vox_model_get_info(m);
  vox_audio_params ap = vox_audio_default_params();
  ap.target_rate_hz = info->sample_rate_hz;
  vox_audio_reader *r;
  feed d = {0};
  if (vox_audio_open(path, &ap, &r, err))
    return -1;
  if (vox_features_new(&info->features, &d.f, err)) {
    vox_audio_close(r);
    return -1;
  }
  const size_t hop = (size_t)info->features.hop_length, lead = v->window / 2, trail = v->window - lead;
  size_t block = 8000, pad = (trail > lead ? trail : lead) * hop;
  d.fcap = vox_features_max_frames(d.f, block > pad ? block : pad);
  d.bcap = v->window + d.fcap;
  float *samples = malloc((block > pad ? block : pad) * sizeof *samples);
  d.fb = malloc(sizeof(float) * (size_t)v->nf * d.fcap);
  d.buf = malloc(sizeof(float) * (size_t)v->nf * d.bcap);
  int rc = samples && d.fb && d.buf ? 0 : -1;
  if (rc)
    vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  v->n_probs = 0;
  if (!rc) {
    memset(samples, 0, pad * sizeof *samples);
    rc = feed_audio(v, &d, samples, lead * hop, 0, err);
  }
  size_t n_samples = 0;
  for (int done = 0; !rc && !done;) {
    size_t got;
    if (vox_audio_read(r, samples, block, &got, err)) {
      rc = -1;
      break;
    }
    n_samples += got;
    done = got == 0;
    if (done) {
      memset(samples, 0, pad * sizeof *samples);
      rc = feed_audio(v, &d, samples, trail * hop, 1, err);
    } else {
      rc = feed_audio(v, &d, samples, got, 0, err);
    }
  }
  /* the file alone would make n/hop + 1 frames (vox_features.h): padded frames lead.. */
  v->lead = lead;
  v->frames_in = n_samples ? n_samples / hop + 1 : 0;
  free(samples);
  free(d.fb);
  free(d.buf);
  vox_features_free(d.f);
  vox_audio_close(r);
  return rc;
}

cli_vad *cli_vad_new(const char *cmd, const char *model, const cli_vad_options *o) {
  vox_model *m = cli_load_model(cmd, model, "vad", 1);
  if (!m)
    return NULL;
  const vox_model_info *info = vox_model_get_info(m);
  cli_vad *v = calloc(1, sizeof *v);
  if (!v) {
    vox_model_free(m);
    return NULL;
  }
  v->m = m;
  v->q = o->q;
  v->median = o->median;
  v->speech_class = -1;
  for (int k = 0; k < info->n_labels; k++)
    if (info->labels && !strcmp(info->labels[k], "speech"))
      v->speech_class = k;
  if (info->task != VOX_TASK_CLASSIFICATION || v->speech_class < 0) {
    fprintf(stderr, "voxpipe %s: %s is not a VAD model (a classifier with a 'speech' label)\n", cmd,
            model ? model : cli_default_model("vad"));
    cli_vad_free(v);
    return NULL;
  }
  if (!o->thresholds_given) /* a model may state the thresholds it was calibrated for */
    vox_vad_model_thresholds(m, &v->q);
  v->frame_s = (double)info->features.hop_length / info->sample_rate_hz;
  v->nf = info->input_channels;
  v->classes = info->output_channels;
  v->window = (size_t)(o->window_ms / 1000.0 / v->frame_s + 0.5);
  v->shift = (size_t)(o->shift_ms / 1000.0 / v->frame_s + 0.5);
  if (!v->shift)
    v->shift = 1;
  v->win = malloc(sizeof(float) * (size_t)v->nf * v->window);
  v->logits = malloc(sizeof(float) * (size_t)v->classes);
  vox_error err = {0};
  if (!v->win || !v->logits)
    vox_error_set(&err, VOX_ERR_NO_MEMORY, "out of memory for a VAD window of %zu frames", v->window);
  if (err.code || vox_model_stream_new(m, &v->ms, &err)) {
    cli_error(cmd, &err);
    cli_vad_free(v);
    return NULL;
  }
  return v;
}

void cli_vad_free(cli_vad *v) {
  if (!v)
    return;
  vox_model_stream_free(v->ms);
  vox_model_free(v->m);
  free(v->win);
  free(v->logits);
  free(v->probs);
  free(v->frames);
  free(v);
}

int cli_vad_file(cli_vad *v, const char *path, vox_segment **seg, size_t *ns, vox_error *err) {
  *seg = NULL;
  *ns = 0;
  if (run_file(v, v->m, path, err))
    return -1;
  size_t nfr = v->n_probs ? (v->n_probs - 1) * v->shift + v->window : 0;
  free(v->frames);
  float *frames = v->frames = malloc((nfr ? nfr : 1) * sizeof *frames);
  if (!frames)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory"), -1;
  if (nfr && vox_vad_smooth(v->probs, v->n_probs, v->window, v->shift, v->median, frames, nfr, err))
    return -1;
  /* the file's own frames, without the padding */
  size_t n = nfr > v->lead ? nfr - v->lead : 0;
  if (n > v->frames_in)
    n = v->frames_in;
  memmove(frames, frames + (nfr > v->lead ? v->lead : 0), n * sizeof *frames);
  v->n_frames = n;
  return vox_vad_segments(frames, n, v->frame_s, &v->q, seg, ns, err) ? -1 : 0;
}

const float *cli_vad_frames(const cli_vad *v, size_t *n, double *frame_s, double *onset, double *offset) {
  *n = v->n_frames;
  *frame_s = v->frame_s;
  *onset = v->q.onset;
  *offset = v->q.offset;
  return v->frames;
}

int cli_vad_option(cli_vad_options *o, int argc, char **argv, int *i) {
  const char *a = argv[*i];
  int v = *i + 1 < argc;
  if (!v)
    return 0;
  if (!strcmp(a, "--window-ms"))
    o->window_ms = cli_atof(argv[++*i]);
  else if (!strcmp(a, "--shift-ms"))
    o->shift_ms = cli_atof(argv[++*i]);
  else if (!strcmp(a, "--smoothing")) {
    const char *m = argv[++*i];
    o->median = !strcmp(m, "median") ? 1 : !strcmp(m, "mean") ? 0 : -1;
  } else if (!strcmp(a, "--onset") || !strcmp(a, "--offset")) {
    *(!strcmp(a, "--onset") ? &o->q.onset : &o->q.offset) = cli_atof(argv[++*i]);
    o->thresholds_given = 1;
  } else if (!strcmp(a, "--pad-onset"))
    o->q.pad_onset_s = cli_atof(argv[++*i]);
  else if (!strcmp(a, "--pad-offset"))
    o->q.pad_offset_s = cli_atof(argv[++*i]);
  else if (!strcmp(a, "--min-duration-on"))
    o->q.min_duration_on_s = cli_atof(argv[++*i]);
  else if (!strcmp(a, "--min-duration-off"))
    o->q.min_duration_off_s = cli_atof(argv[++*i]);
  else
    return 0;
  return 1;
}

int cli_vad_options_check(const char *cmd, const cli_vad_options *o) {
  const vox_vad_params *q = &o->q;
  const char *bad = NULL;
  if (o->median < 0)
    bad = "--smoothing takes mean or median";
  else if (!(o->window_ms >= 10 && o->window_ms <= 60000))
    bad = "--window-ms takes 10 to 60000";
  else if (!(o->shift_ms >= 1 && o->shift_ms <= o->window_ms))
    bad = "--shift-ms takes 1 to --window-ms";
  else if (!(q->onset >= 0 && q->onset <= 1 && q->offset >= 0 && q->offset <= 1))
    bad = "--onset and --offset take 0 to 1";
  else if (!(q->pad_onset_s >= 0 && q->pad_offset_s >= 0))
    bad = "--pad-onset and --pad-offset take seconds >= 0";
  else if (!(q->min_duration_on_s >= 0 && q->min_duration_off_s >= 0))
    bad = "--min-duration-on and --min-duration-off take seconds >= 0";
  if (!bad)
    return 0;
  fprintf(stderr, "voxpipe %s: %s. Try 'voxpipe %s --help'.\n", cmd, bad, cmd);
  return 2;
}

void cli_vad_options_init(cli_vad_options *o) {
  memset(o, 0, sizeof *o);
  o->q = vox_vad_default_params();
  o->window_ms = 630;
  o->shift_ms = 10;
}

const char *const CLI_VAD_HELP =
    "      --window-ms N        window classified at a time (630)\n"
    "      --shift-ms N         step between windows (10)\n"
    "      --smoothing mean|median  over the overlapping windows (mean)\n"
    "      --onset P --offset P thresholds (the model's vad_postprocessing, else NeMo's 0.5, 0.5;\n"
    "                           the bundled model: 0.9, 0.8)\n"
    "      --pad-onset S --pad-offset S        seconds added around segments (0)\n"
    "      --min-duration-on S --min-duration-off S  drop short speech / fill short gaps (0)\n";
