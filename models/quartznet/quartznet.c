/* quartznet.c - model plugin for NeMo's EncDecCTCModel with ConvASREncoder + ConvASRDecoder
 * (QuartzNet, Jasper): encoder from the core's streaming conv encoder, then the 1x1 decoder
 * convolution and log-softmax. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voxpipe/vox_features.h"
#include "../common/encoder_run.h"
#include "voxpipe/vox_conv_encoder.h"
#include "voxpipe/vox_model_plugin.h"

typedef struct qn_model {
  vox_model_info info;
  vox_conv_encoder *enc;
  float *dec_w, *dec_b; /* n_classes x feat, n_classes */
  int feat, n_classes;
  char **labels;
  int threads;
  char arch[160];
} qn_model;

typedef struct qn_stream {
  const qn_model *m;
  vox_conv_encoder_stream *es;
  float *enc_out; /* feat x cap */
  size_t cap;
} qn_stream;

static const char *const TARGETS[] = {"nemo.collections.asr.models.ctc_models.EncDecCTCModel",
                                      "nemo.collections.asr.models.EncDecCTCModel", NULL};

static int contains(const char *s, const char *sub) { return s && strstr(s, sub) != NULL; }

static int qn_accepts(const vox_checkpoint *ck) {
  const vox_config_node *c = vox_checkpoint_config(ck);
  if (!c)
    return 0;
  const char *target = vox_config_string(c, "target", vox_config_string(c, "_target_", ""));
  if (contains(target, "BPE") || !contains(target, "EncDecCTCModel"))
    return 0;
  if (!contains(vox_config_string(c, "encoder._target_", ""), "ConvASREncoder") ||
      !contains(vox_config_string(c, "decoder._target_", ""), "ConvASRDecoder"))
    return 0;
  return 10;
}

static void qn_destroy(void *p) {
  qn_model *m = p;
  if (!m)
    return;
  vox_conv_encoder_free(m->enc);
  free(m->dec_w);
  free(m->dec_b);
  if (m->labels)
    for (int i = 0; i < m->info.n_labels; i++)
      free(m->labels[i]);
  free(m->labels);
  free(m);
}

static vox_status read_labels(qn_model *m, const vox_config_node *cfg, vox_error *err) {
  const vox_config_node *voc = vox_config_get(cfg, "decoder.vocabulary");
  if (!voc || vox_config_node_kind(voc) != VOX_CONFIG_SEQUENCE)
    voc = vox_config_get(cfg, "labels");
  if (!voc || vox_config_node_kind(voc) != VOX_CONFIG_SEQUENCE || vox_config_size(voc) == 0)
    return vox_error_set(err, VOX_ERR_FORMAT, "the config has no decoder.vocabulary or labels list");
  long num_classes;
  vox_status st = vox_config_int(cfg, "decoder.num_classes", NULL, &num_classes, err);
  if (st)
    return st;
  size_t n = vox_config_size(voc);
  if ((long)n != num_classes)
    return vox_error_set(err, VOX_ERR_FORMAT,
                         "vocabulary mismatch: decoder.num_classes is %ld but the vocabulary has %zu labels",
                         num_classes, n);
  m->labels = calloc(n, sizeof *m->labels);
  if (!m->labels)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  m->info.n_labels = (int)n;
  for (size_t i = 0; i < n; i++) {
    const char *s = vox_config_scalar(vox_config_at(voc, i));
    if (!s)
      return vox_error_set(err, VOX_ERR_FORMAT, "vocabulary entry %zu is not a string", i);
    if (!(m->labels[i] = strdup(s)))
      return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  }
  m->info.labels = (const char *const *)m->labels;
  return VOX_OK;
}

static vox_status qn_create(const vox_checkpoint *ck, const vox_model_create_params *params, void **out,
                            vox_error *err) {
  *out = NULL;
  qn_model *m = calloc(1, sizeof *m);
  if (!m)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  const vox_config_node *cfg = vox_checkpoint_config(ck);
  m->threads = params && params->threads > 0 ? params->threads : 1;
  vox_status st = vox_feature_config_from_nemo(cfg, ck, &m->info.features, err);
  m->info.sample_rate_hz = m->info.features.sample_rate_hz;
  if (st == VOX_OK)
    st = vox_conv_encoder_new(vox_config_get(cfg, "encoder"), ck, "encoder.encoder", &m->enc, err);
  if (st == VOX_OK)
    st = read_labels(m, cfg, err);
  if (st == VOX_OK) {
    m->feat = vox_conv_encoder_out_channels(m->enc);
    m->n_classes = m->info.n_labels + 1;
    long feat_in;
    st = vox_config_int(cfg, "decoder.feat_in", NULL, &feat_in, err);
    if (st == VOX_OK && feat_in != m->feat)
      st = vox_error_set(err, VOX_ERR_FORMAT, "decoder.feat_in is %ld but the encoder ends with %d channels", feat_in,
                         m->feat);
    if (st == VOX_OK && vox_conv_encoder_in_channels(m->enc) != vox_feature_config_channels(&m->info.features))
      st = vox_error_set(err, VOX_ERR_FORMAT, "encoder.feat_in is %d but the preprocessor makes %d features",
                         vox_conv_encoder_in_channels(m->enc), vox_feature_config_channels(&m->info.features));
  }
  if (st == VOX_OK) {
    int64_t ws[3] = {m->n_classes, m->feat, 1}, bs[1] = {m->n_classes};
    const vox_tensor *w = vox_checkpoint_expect(ck, "decoder.decoder_layers.0.weight", 3, ws, err);
    const vox_tensor *b = w ? vox_checkpoint_expect(ck, "decoder.decoder_layers.0.bias", 1, bs, err) : NULL;
    if (!w || !b)
      st = err ? err->code : VOX_ERR_FORMAT;
    else {
      m->dec_w = malloc(w->numel * sizeof(float));
      m->dec_b = malloc(b->numel * sizeof(float));
      if (!m->dec_w || !m->dec_b)
        st = vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
      else {
        memcpy(m->dec_w, w->data, w->numel * sizeof(float));
        memcpy(m->dec_b, b->data, b->numel * sizeof(float));
      }
    }
  }
  if (st != VOX_OK) {
    qn_destroy(m);
    return st;
  }
  vox_model_info *i = &m->info;
  i->task = VOX_TASK_CTC_ASR;
  i->input = VOX_INPUT_FEATURES;
  i->input_channels = vox_feature_config_channels(&i->features);
  i->output_channels = m->n_classes;
  i->subsampling = vox_conv_encoder_subsampling(m->enc);
  i->lookahead_frames = vox_conv_encoder_lookahead_frames(m->enc);
  i->full_context = i->features.normalize == VOX_NORMALIZE_PER_FEATURE;
  i->blank_index = i->n_labels;
  i->n_params = vox_conv_encoder_param_count(m->enc) + (size_t)m->n_classes * (size_t)(m->feat + 1);
  i->macs_per_output_frame = vox_conv_encoder_macs_per_output_frame(m->enc) + (double)m->n_classes * m->feat;
  long nb = (long)vox_config_size(vox_config_get(cfg, "encoder.jasper"));
  snprintf(m->arch, sizeof m->arch, "QuartzNet/Jasper CTC, %ld blocks, %.1f M parameters, look-ahead %d frames", nb,
           i->n_params / 1e6, i->lookahead_frames);
  i->architecture = m->arch;
  *out = m;
  return VOX_OK;
}

static const vox_model_info *qn_info(const void *p) { return &((const qn_model *)p)->info; }

static void qn_stream_free(void *p) {
  qn_stream *s = p;
  if (!s)
    return;
  vox_conv_encoder_stream_free(s->es);
  free(s->enc_out);
  free(s);
}

static vox_status qn_stream_new(const void *p, void **out, vox_error *err) {
  const qn_model *m = p;
  *out = NULL;
  qn_stream *s = calloc(1, sizeof *s);
  if (!s)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  s->m = m;
  vox_status st = vox_conv_encoder_stream_new(m->enc, m->threads, &s->es, err);
  if (st != VOX_OK) {
    free(s);
    return st;
  }
  s->cap = 0;
  *out = s;
  return VOX_OK;
}

static void qn_stream_reset(void *p) { vox_conv_encoder_stream_reset(((qn_stream *)p)->es); }

static size_t qn_stream_max_output(const void *p, size_t n_in) {
  return vox_conv_encoder_stream_max_output(((const qn_stream *)p)->es, n_in);
}

/* log-softmax over classes, for each of n frames (channel-major) */
static void log_softmax(float *x, size_t stride, int classes, size_t n) {
  for (size_t t = 0; t < n; t++) {
    float mx = x[t];
    for (int c = 1; c < classes; c++)
      if (x[(size_t)c * stride + t] > mx)
        mx = x[(size_t)c * stride + t];
    double sum = 0;
    for (int c = 0; c < classes; c++)
      sum += exp((double)(x[(size_t)c * stride + t] - mx));
    float lse = mx + (float)log(sum);
    for (int c = 0; c < classes; c++)
      x[(size_t)c * stride + t] -= lse;
  }
}

static vox_status qn_stream_process(void *p, const float *in, size_t in_stride, size_t n_in, int final, float *out,
                                    size_t out_stride, size_t out_cap, size_t *n_out, vox_error *err) {
  qn_stream *s = p;
  const qn_model *m = s->m;
  *n_out = 0;
  size_t ne;
  vox_status st = vox_plugin_encode(s->es, m->feat, &s->enc_out, &s->cap, in, in_stride, n_in, final, &ne, err);
  if (st != VOX_OK)
    return st;
  if (ne > out_cap)
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT, "output buffer of %zu frames is too small (%zu needed)",
                         out_cap, ne);
  if (ne) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m->n_classes, (int)ne, m->feat, 1.0f, m->dec_w, m->feat,
                s->enc_out, (int)s->cap, 0.0f, out, (int)out_stride);
    for (int c = 0; c < m->n_classes; c++)
      for (size_t t = 0; t < ne; t++)
        out[(size_t)c * out_stride + t] += m->dec_b[c];
    log_softmax(out, out_stride, m->n_classes, ne);
  }
  *n_out = ne;
  return VOX_OK;
}

static const vox_model_plugin QUARTZNET = {
    VOX_MODEL_PLUGIN_ABI_VERSION,
    "quartznet",
    "NeMo EncDecCTCModel with ConvASREncoder/ConvASRDecoder (QuartzNet, Jasper): CTC speech recognition",
    TARGETS,
    qn_accepts,
    qn_create,
    qn_destroy,
    qn_info,
    qn_stream_new,
    qn_stream_free,
    qn_stream_reset,
    qn_stream_max_output,
    qn_stream_process,
};

VOX_MODEL_PLUGIN_DEFINE(QUARTZNET)
