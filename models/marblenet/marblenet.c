/* marblenet.c - model plugin for NeMo's EncDecClassificationModel with ConvASREncoder +
 * ConvASRDecoderClassification (MarbleNet VAD, MatchboxNet commands): the core's streaming conv
 * encoder, average pooling over all output frames of the input, linear layer; outputs logits
 * (one vector per stream, at final) — softmax them for probabilities. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/encoder_run.h"
#include "voxpipe/vox_conv_encoder.h"
#include "voxpipe/vox_features.h"
#include "voxpipe/vox_model_plugin.h"

typedef struct mb_model {
  vox_model_info info;
  vox_conv_encoder *enc;
  float *w, *b; /* classes x feat, classes */
  int feat, classes;
  char **labels;
  int threads;
  char arch[160];
} mb_model;

typedef struct mb_stream {
  const mb_model *m;
  vox_conv_encoder_stream *es;
  float *enc_out;
  size_t cap;
  double *sum; /* per channel, over all output frames so far */
  size_t frames;
} mb_stream;

static const char *const TARGETS[] = {"nemo.collections.asr.models.classification_models.EncDecClassificationModel",
                                      "nemo.collections.asr.models.EncDecClassificationModel", NULL};

static int mb_accepts(const vox_checkpoint *ck) {
  const vox_config_node *c = vox_checkpoint_config(ck);
  const char *target = vox_config_string(c, "target", vox_config_string(c, "_target_", ""));
  return c && strstr(target, "EncDecClassificationModel") &&
                 strstr(vox_config_string(c, "encoder._target_", ""), "ConvASREncoder") &&
                 strstr(vox_config_string(c, "decoder._target_", ""), "ConvASRDecoderClassification")
             ? 10
             : 0;
}

static void mb_destroy(void *p) {
  mb_model *m = p;
  if (!m)
    return;
  vox_conv_encoder_free(m->enc);
  free(m->w);
  free(m->b);
  for (int i = 0; m->labels && i < m->info.n_labels; i++)
    free(m->labels[i]);
  free(m->labels);
  free(m);
}

static vox_status mb_create(const vox_checkpoint *ck, const vox_model_create_params *params, void **out,
                            vox_error *err) {
  *out = NULL;
  mb_model *m = calloc(1, sizeof *m);
  if (!m)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  const vox_config_node *cfg = vox_checkpoint_config(ck);
  m->threads = params && params->threads > 0 ? params->threads : 1;
  vox_status st = vox_feature_config_from_nemo(cfg, ck, &m->info.features, err);
  if (st == VOX_OK)
    st = vox_conv_encoder_new(vox_config_get(cfg, "encoder"), ck, "encoder.encoder", &m->enc, err);
  const vox_config_node *labels = vox_config_get(cfg, "labels");
  long num_classes = 0;
  if (st == VOX_OK)
    st = vox_config_int(cfg, "decoder.num_classes", NULL, &num_classes, err);
  if (st == VOX_OK && (!labels || (long)vox_config_size(labels) != num_classes))
    st = vox_error_set(err, VOX_ERR_FORMAT, "labels mismatch: decoder.num_classes is %ld but the labels list has %zu",
                       num_classes, labels ? vox_config_size(labels) : 0);
  if (st == VOX_OK && vox_conv_encoder_in_channels(m->enc) != vox_feature_config_channels(&m->info.features))
    st = vox_error_set(err, VOX_ERR_FORMAT, "encoder.feat_in is %d but the preprocessor makes %d features",
                       vox_conv_encoder_in_channels(m->enc), vox_feature_config_channels(&m->info.features));
  if (st == VOX_OK) {
    m->feat = vox_conv_encoder_out_channels(m->enc);
    m->classes = (int)num_classes;
    m->labels = calloc((size_t)m->classes, sizeof *m->labels);
    for (int i = 0; m->labels && i < m->classes; i++)
      m->labels[i] = strdup(vox_config_scalar(vox_config_at(labels, (size_t)i)) ? vox_config_scalar(vox_config_at(labels, (size_t)i)) : "");
    m->info.n_labels = m->classes;
    int64_t ws[2] = {m->classes, m->feat}, bs[1] = {m->classes};
    const vox_tensor *w = vox_checkpoint_expect(ck, "decoder.decoder_layers.0.weight", 2, ws, err);
    const vox_tensor *b = w ? vox_checkpoint_expect(ck, "decoder.decoder_layers.0.bias", 1, bs, err) : NULL;
    if (!w || !b || !m->labels)
      st = err ? err->code : VOX_ERR_FORMAT;
    else if (!(m->w = malloc(w->numel * sizeof(float))) || !(m->b = malloc(b->numel * sizeof(float))))
      st = vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
    else {
      memcpy(m->w, w->data, w->numel * sizeof(float));
      memcpy(m->b, b->data, b->numel * sizeof(float));
    }
  }
  if (st != VOX_OK) {
    mb_destroy(m);
    return st;
  }
  vox_model_info *i = &m->info;
  i->task = VOX_TASK_CLASSIFICATION;
  i->input = VOX_INPUT_FEATURES;
  i->sample_rate_hz = i->features.sample_rate_hz;
  i->input_channels = vox_feature_config_channels(&i->features);
  i->output_channels = m->classes;
  i->subsampling = vox_conv_encoder_subsampling(m->enc);
  i->lookahead_frames = vox_conv_encoder_lookahead_frames(m->enc);
  i->full_context = 1; /* one decision per input window */
  i->labels = (const char *const *)m->labels;
  i->blank_index = -1;
  i->n_params = vox_conv_encoder_param_count(m->enc) + (size_t)m->classes * (size_t)(m->feat + 1);
  i->macs_per_output_frame = vox_conv_encoder_macs_per_output_frame(m->enc);
  snprintf(m->arch, sizeof m->arch, "MarbleNet/MatchboxNet classifier, %d classes, %.0f K parameters", m->classes,
           i->n_params / 1e3);
  i->architecture = m->arch;
  *out = m;
  return VOX_OK;
}

static const vox_model_info *mb_info(const void *p) { return &((const mb_model *)p)->info; }

static void mb_stream_free(void *p) {
  mb_stream *s = p;
  if (!s)
    return;
  vox_conv_encoder_stream_free(s->es);
  free(s->enc_out);
  free(s->sum);
  free(s);
}

static void mb_stream_reset(void *p) {
  mb_stream *s = p;
  vox_conv_encoder_stream_reset(s->es);
  memset(s->sum, 0, sizeof(double) * (size_t)s->m->feat);
  s->frames = 0;
}

static vox_status mb_stream_new(const void *p, void **out, vox_error *err) {
  const mb_model *m = p;
  *out = NULL;
  mb_stream *s = calloc(1, sizeof *s);
  if (!s || !(s->sum = calloc((size_t)m->feat, sizeof(double)))) {
    free(s);
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  }
  s->m = m;
  vox_status st = vox_conv_encoder_stream_new(m->enc, m->threads, &s->es, err);
  if (st != VOX_OK) {
    mb_stream_free(s);
    return st;
  }
  *out = s;
  return VOX_OK;
}

static size_t mb_stream_max_output(const void *p, size_t n_in) {
  (void)p;
  (void)n_in;
  return 1;
}

static vox_status mb_stream_process(void *p, const float *in, size_t in_stride, size_t n_in, int final, float *out,
                                    size_t out_stride, size_t out_cap, size_t *n_out, vox_error *err) {
  mb_stream *s = p;
  const mb_model *m = s->m;
  *n_out = 0;
  size_t ne;
  vox_status st = vox_plugin_encode(s->es, m->feat, &s->enc_out, &s->cap, in, in_stride, n_in, final, &ne, err);
  if (st != VOX_OK)
    return st;
  for (int c = 0; c < m->feat; c++)
    for (size_t t = 0; t < ne; t++)
      s->sum[c] += s->enc_out[(size_t)c * s->cap + t];
  s->frames += ne;
  if (!final || s->frames == 0)
    return VOX_OK;
  if (out_cap < 1)
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT, "output buffer too small");
  for (int k = 0; k < m->classes; k++) {
    double acc = m->b[k];
    for (int c = 0; c < m->feat; c++)
      acc += (double)m->w[(size_t)k * m->feat + c] * (s->sum[c] / (double)s->frames);
    out[(size_t)k * out_stride] = (float)acc;
  }
  *n_out = 1;
  return VOX_OK;
}

static const vox_model_plugin MARBLENET = {
    VOX_MODEL_PLUGIN_ABI_VERSION,
    "marblenet",
    "NeMo EncDecClassificationModel with ConvASREncoder/ConvASRDecoderClassification (MarbleNet VAD, MatchboxNet "
    "commands): logits per input window",
    TARGETS,
    mb_accepts,
    mb_create,
    mb_destroy,
    mb_info,
    mb_stream_new,
    mb_stream_free,
    mb_stream_reset,
    mb_stream_max_output,
    mb_stream_process,
};

VOX_MODEL_PLUGIN_DEFINE(MARBLENET)
