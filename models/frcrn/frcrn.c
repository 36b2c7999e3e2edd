/* frcrn.c - model plugin for FRCRN speech enhancement (ModelScope speech_frcrn_ans_cirm_16k /
 * ClearerVoice FRCRN_SE_16K checkpoints, loaded unchanged): STFT (640-point, hop 320, sqrt-Hann)
 * through vox_rfft, two complex UNets (frcrn_net.h), the complex ratio mask tanh(U2) + tanh(U1),
 * inverse STFT with overlap-add exactly as the release's ConviSTFT.
 *
 * Waveform in, waveform out, sample for sample (output sample m belongs to input sample m).
 * Models whose SE layers pool over the whole input (the release) buffer the stream until final;
 * models trained with cumulative SE pooling (our default) stream with 5120 samples (320 ms)
 * of algorithmic latency: the 640-sample window plus one future frame per decoder, 7 per UNet. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frcrn_net.h"
#include "voxpipe/vox_fft.h"
#include "voxpipe/vox_model_plugin.h"

#define WIN 640
#define HOP 320
#define FSZ (2 * FR_BINS) /* one spectrum frame: re[321], im[321] */

typedef struct fr_model {
  vox_model_info info;
  fr_unet unet[2];
  float window[WIN];
  int cumulative;
  char arch[200];
} fr_model;

typedef struct fr_stream {
  const fr_model *m;
  vox_rfft *fft;
  fr_unet_state *st[2];
  float *pend;           /* input samples from the start of the next frame */
  size_t pend_n, pend_cap;
  float *frames;         /* spectra not yet given to UNet 1 */
  size_t frames_n, frames_cap;
  fr_fifo xq, uq;        /* noisy spectra and UNet-1 outputs waiting for their UNet-2 frame */
  float ola[WIN];
  size_t frames_made, frames_out; /* spectra made / synthesised */
  size_t total_in, total_out;     /* samples */
  float tmp[WIN], re[FR_BINS], im[FR_BINS];
  int finished;
} fr_stream;

static const char *const TARGETS[] = {"speech_frcrn_ans_cirm_16k", "FRCRN_SE_16K", NULL};
static const char *const PREFIXES[] = {"", "module.", "model.", NULL};

static const char *key_prefix(const vox_checkpoint *ck) {
  for (int i = 0; PREFIXES[i]; i++) {
    char a[96], b[96];
    snprintf(a, sizeof a, "%sunet.encoder0.conv.conv_re.weight", PREFIXES[i]);
    snprintf(b, sizeof b, "%sunet2.encoder0.conv.conv_re.weight", PREFIXES[i]);
    if (vox_checkpoint_tensor(ck, a) && vox_checkpoint_tensor(ck, b))
      return PREFIXES[i];
  }
  return NULL;
}

static int fr_accepts(const vox_checkpoint *ck) { return key_prefix(ck) ? 10 : 0; }

static void fr_destroy(void *p) {
  fr_model *m = p;
  if (!m)
    return;
  fr_unet_release(&m->unet[0]);
  fr_unet_release(&m->unet[1]);
  free(m);
}

/* The model node of configuration.json beside the checkpoint (ModelScope layout), or of the
 * checkpoint's own config; NULL when there is none (then the release's values apply). */
static vox_config *read_configuration(const vox_checkpoint *ck, vox_error *err, vox_status *st) {
  *st = VOX_OK;
  const char *src = vox_checkpoint_source(ck);
  if (!src)
    return NULL;
  char path[4096];
  const char *slash = strrchr(src, '/');
  int dirlen = slash ? (int)(slash - src) : 0;
  snprintf(path, sizeof path, "%.*s%sconfiguration.json", dirlen, src, slash ? "/" : "");
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  char *text = malloc(1 << 16);
  size_t n = text ? fread(text, 1, (1 << 16) - 1, f) : 0;
  int more = text && fgetc(f) != EOF;
  fclose(f);
  if (!text || more) {
    free(text);
    *st = vox_error_set(err, text ? VOX_ERR_FORMAT : VOX_ERR_NO_MEMORY, "%s: %s", path,
                        text ? "larger than 64 KiB, not a model configuration" : "out of memory");
    return NULL;
  }
  vox_config *cfg = NULL;
  *st = vox_config_parse(text, n, path, &cfg, err);
  free(text);
  return *st == VOX_OK ? cfg : NULL;
}

static vox_status check_config(const vox_config_node *model, long *width, int *cumulative, vox_error *err) {
  static const struct {
    const char *key;
    long value;
  } fixed[] = {{"win_len", WIN}, {"win_inc", HOP}, {"fft_len", WIN}, {"model_depth", 14}};
  vox_status st = VOX_OK;
  for (size_t i = 0; st == VOX_OK && i < sizeof fixed / sizeof fixed[0]; i++) {
    long v = fixed[i].value;
    st = vox_config_int(model, fixed[i].key, &fixed[i].value, &v, err);
    if (st == VOX_OK && v != fixed[i].value)
      st = vox_error_set(err, VOX_ERR_UNSUPPORTED, "FRCRN %s = %ld: only the released 16 kHz configuration (%s %ld) is "
                         "implemented", fixed[i].key, v, fixed[i].key, fixed[i].value);
  }
  const char *win = vox_config_string(model, "win_type", "hann");
  if (st == VOX_OK && strcmp(win, "hann") && strcmp(win, "hanning"))
    st = vox_error_set(err, VOX_ERR_UNSUPPORTED, "FRCRN win_type '%s': only hann is implemented", win);
  if (st == VOX_OK)
    st = vox_config_int(model, "width", width, width, err);
  const char *pool = vox_config_string(model, "se_pooling", "global");
  if (st == VOX_OK && strcmp(pool, "global") && strcmp(pool, "cumulative"))
    st = vox_error_set(err, VOX_ERR_UNSUPPORTED, "FRCRN se_pooling '%s': expected global or cumulative", pool);
  *cumulative = !strcmp(pool, "cumulative");
  return st;
}

static vox_status fr_create(const vox_checkpoint *ck, const vox_model_create_params *params, void **out,
                            vox_error *err) {
  (void)params;
  *out = NULL;
  const char *kp = key_prefix(ck);
  if (!kp)
    return vox_error_set(err, VOX_ERR_FORMAT, "not an FRCRN checkpoint (no unet.* / unet2.* tensors)");
  char name[96];
  snprintf(name, sizeof name, "%sunet.encoder0.conv.conv_re.weight", kp);
  const vox_tensor *e0 = vox_checkpoint_tensor(ck, name);
  if (e0->ndim != 4 || e0->shape[1] != 1 || e0->shape[2] != 5 || e0->shape[3] != 2)
    return vox_error_set(err, VOX_ERR_FORMAT, "%s has an unexpected shape (expected [width, 1, 5, 2])", name);
  long width = (long)e0->shape[0];
  int cumulative = 0;
  vox_status st;
  vox_config *file_cfg = read_configuration(ck, err, &st);
  if (st != VOX_OK)
    return st;
  const vox_config_node *root = file_cfg ? vox_config_root(file_cfg) : vox_checkpoint_config(ck);
  const vox_config_node *model = root ? vox_config_get(root, "model") : NULL;
  long w_cfg = width;
  st = check_config(model ? model : root, &w_cfg, &cumulative, err);
  vox_config_free(file_cfg);
  if (st != VOX_OK)
    return st;
  if (w_cfg != width)
    return vox_error_set(err, VOX_ERR_FORMAT, "configuration says width %ld but the weights have %ld channels", w_cfg,
                         width);
  fr_model *m = calloc(1, sizeof *m);
  if (!m)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  m->cumulative = cumulative;
  st = fr_unet_load(&m->unet[0], ck, kp, "unet", (int)width, cumulative, err);
  if (st == VOX_OK)
    st = fr_unet_load(&m->unet[1], ck, kp, "unet2", (int)width, cumulative, err);
  if (st != VOX_OK) {
    fr_destroy(m);
    return st;
  }
  for (int n = 0; n < WIN; n++)
    m->window[n] = (float)sqrt(0.5 - 0.5 * cos(2.0 * M_PI * n / WIN));
  vox_model_info *i = &m->info;
  i->task = VOX_TASK_ENHANCEMENT;
  i->input = VOX_INPUT_WAVEFORM;
  i->sample_rate_hz = 16000;
  i->input_channels = 1;
  i->output_channels = 1;
  i->subsampling = 1;
  i->lookahead_frames = WIN + 14 * HOP; /* samples */
  i->full_context = !cumulative;
  i->blank_index = -1;
  i->n_params = m->unet[0].n_params + m->unet[1].n_params;
  i->macs_per_output_frame = (m->unet[0].macs_per_frame + m->unet[1].macs_per_frame) / HOP;
  snprintf(m->arch, sizeof m->arch, "FRCRN (2 complex UNets, width %ld, SE pooling %s), %.2f M parameters", width,
           cumulative ? "cumulative: streams with 320 ms latency" : "global: whole input at once", i->n_params / 1e6);
  i->architecture = m->arch;
  *out = m;
  return VOX_OK;
}

static const vox_model_info *fr_info(const void *p) { return &((const fr_model *)p)->info; }

static void fr_stream_free(void *p) {
  fr_stream *s = p;
  if (!s)
    return;
  vox_rfft_free(s->fft);
  fr_unet_state_free(s->st[0]);
  fr_unet_state_free(s->st[1]);
  free(s->pend);
  free(s->frames);
  free(s->xq.data);
  free(s->uq.data);
  free(s);
}

static void fr_stream_reset(void *p) {
  fr_stream *s = p;
  fr_unet_state_reset(s->st[0]);
  fr_unet_state_reset(s->st[1]);
  s->pend_n = s->frames_n = s->xq.n = s->uq.n = 0;
  s->frames_made = s->frames_out = s->total_in = s->total_out = 0;
  memset(s->ola, 0, sizeof s->ola);
  s->finished = 0;
}

static vox_status fr_stream_new(const void *p, void **out, vox_error *err) {
  *out = NULL;
  fr_stream *s = calloc(1, sizeof *s);
  if (!s)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  s->m = p;
  vox_status st = vox_rfft_new(WIN, &s->fft, err);
  if (st == VOX_OK)
    st = fr_unet_state_new(&s->m->unet[0], &s->st[0], err);
  if (st == VOX_OK)
    st = fr_unet_state_new(&s->m->unet[1], &s->st[1], err);
  if (st != VOX_OK) {
    fr_stream_free(s);
    return st;
  }
  fr_stream_reset(s);
  *out = s;
  return VOX_OK;
}

/* Output never runs ahead of input: at most what was received and not yet returned. */
static size_t fr_stream_max_output(const void *p, size_t n_in) {
  const fr_stream *s = p;
  return s->total_in - s->total_out + n_in;
}

static int reserve(float **p, size_t *cap, size_t need) {
  if (need <= *cap)
    return 0;
  size_t c = need * 2;
  float *q = realloc(*p, c * sizeof(float));
  if (!q)
    return -1;
  *p = q;
  *cap = c;
  return 0;
}

/* Cuts every complete 640-sample window out of pend into a spectrum. */
static vox_status make_frames(fr_stream *s, vox_error *err) {
  size_t off = 0;
  for (; s->pend_n - off >= WIN; off += HOP) {
    if (reserve(&s->frames, &s->frames_cap, (s->frames_n + 1) * FSZ))
      return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
    for (int n = 0; n < WIN; n++)
      s->tmp[n] = s->pend[off + n] * s->m->window[n];
    float *f = s->frames + s->frames_n * FSZ;
    vox_rfft_forward(s->fft, s->tmp, f, f + FR_BINS);
    if (fr_fifo_push(&s->xq, f, 1, FSZ))
      return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
    s->frames_n++;
    s->frames_made++;
  }
  memmove(s->pend, s->pend + off, (s->pend_n - off) * sizeof(float));
  s->pend_n -= off;
  return VOX_OK;
}

static void emit(fr_stream *s, const float *v, size_t n, float *out, size_t *n_out) {
  for (size_t j = 0; j < n && s->total_out < s->total_in; j++)
    out[(*n_out)++] = v[j], s->total_out++;
}

/* One channel in and out: its samples are contiguous, and the strides (which separate channels) do not
 * apply. */
static vox_status fr_stream_process(void *p, const float *in, size_t in_stride, size_t n_in, int final, float *out,
                                    size_t out_stride, size_t out_cap, size_t *n_out, vox_error *err) {
  (void)in_stride;
  (void)out_stride;
  fr_stream *s = p;
  const fr_model *m = s->m;
  *n_out = 0;
  if (s->finished)
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT, "FRCRN stream already finished: reset it first");
  if (out_cap < s->total_in - s->total_out + n_in)
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT, "output buffer too small (%zu samples, need %zu)", out_cap,
                         s->total_in - s->total_out + n_in);
  if (reserve(&s->pend, &s->pend_cap, s->pend_n + n_in + WIN))
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  for (size_t j = 0; j < n_in; j++) { /* NaN or infinity, once in the STFT, spreads over whole frames */
    const float x = in[j];
    s->pend[s->pend_n++] = isfinite(x) ? x : 0.0f;
  }
  s->total_in += n_in;
  vox_status st = make_frames(s, err);
  if (st != VOX_OK)
    return st;
  if (final && s->total_in > 0 && (s->frames_made == 0 || s->pend_n > HOP)) {
    /* zeros complete the window over the last samples (the caller's output is cut to the input) */
    memset(s->pend + s->pend_n, 0, (WIN - s->pend_n) * sizeof(float));
    s->pend_n = WIN;
    if ((st = make_frames(s, err)) != VOX_OK)
      return st;
  }
  if (!m->cumulative && !final)
    return VOX_OK; /* global SE pooling: the whole input goes through at once */
  if (final && s->total_in == 0) {
    s->finished = 1;
    return VOX_OK;
  }
  const float *u1, *u2;
  size_t n1, n2;
  if ((st = fr_unet_process(s->st[0], s->frames, s->frames_n, final, &u1, &n1, err)) != VOX_OK)
    return st;
  s->frames_n = 0;
  if (fr_fifo_push(&s->uq, u1, n1, FSZ))
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  if ((st = fr_unet_process(s->st[1], u1, n1, final, &u2, &n2, err)) != VOX_OK)
    return st;
  if (n2 > s->uq.n || n2 > s->xq.n)
    return vox_error_set(err, VOX_ERR_FORMAT, "FRCRN internal error: %zu mask frames for %zu/%zu spectra", n2, s->uq.n,
                         s->xq.n);
  for (size_t k = 0; k < n2; k++) {
    const float *a = u2 + k * FSZ, *b = s->uq.data + k * FSZ, *x = s->xq.data + k * FSZ;
    for (int f = 0; f < FR_BINS; f++) {
      float mr = tanhf(a[f]) + tanhf(b[f]), mi = tanhf(a[FR_BINS + f]) + tanhf(b[FR_BINS + f]);
      s->re[f] = x[f] * mr - x[FR_BINS + f] * mi;
      s->im[f] = x[f] * mi + x[FR_BINS + f] * mr;
    }
    vox_rfft_inverse(s->fft, s->re, s->im, s->tmp);
    for (int n = 0; n < WIN; n++)
      s->ola[n] += s->tmp[n] * m->window[n];
    float done[HOP];
    for (int n = 0; n < HOP; n++) {
      float w0 = m->window[n], w1 = m->window[n + HOP];
      done[n] = s->ola[n] / (w0 * w0 + (s->frames_out > 0 ? w1 * w1 : 0.0f) + 1e-8f);
    }
    emit(s, done, HOP, out, n_out);
    memmove(s->ola, s->ola + HOP, HOP * sizeof(float));
    memset(s->ola + HOP, 0, HOP * sizeof(float));
    s->frames_out++;
  }
  fr_fifo_pop(&s->uq, n2, FSZ);
  fr_fifo_pop(&s->xq, n2, FSZ);
  if (final) {
    float tail[HOP];
    for (int n = 0; n < HOP; n++) {
      float w1 = m->window[n + HOP];
      tail[n] = s->ola[n] / (w1 * w1 + 1e-8f);
    }
    emit(s, tail, HOP, out, n_out);
    s->finished = 1;
  }
  return VOX_OK;
}

static const vox_model_plugin FRCRN = {
    VOX_MODEL_PLUGIN_ABI_VERSION,
    "frcrn",
    "FRCRN speech enhancement (ModelScope speech_frcrn_ans_cirm_16k / ClearerVoice FRCRN_SE_16K layout): 16 kHz "
    "waveform in, enhanced waveform out",
    TARGETS,
    fr_accepts,
    fr_create,
    fr_destroy,
    fr_info,
    fr_stream_new,
    fr_stream_free,
    fr_stream_reset,
    fr_stream_max_output,
    fr_stream_process,
};

VOX_MODEL_PLUGIN_DEFINE(FRCRN)
