/* vox_model_plugin.h - what a voxpipe model plugin (.so) exports.
 *
 * A plugin is a shared object in $(libdir)/voxpipe/models or a directory of VOXPIPE_MODEL_PATH
 * exporting one function, VOX_MODEL_PLUGIN_ENTRY, that returns a constant descriptor. The loader
 * checks abi_version, asks every plugin's `accepts` for a score on the checkpoint and creates the
 * model with the best one. A model is immutable after create and shared by its streams; a stream
 * (per-use state: caches, buffers) is used by one thread at a time.
 *
 * Data between the core and a model is channel-major float32: input features or samples
 * [input_channels][in_stride], output [output_channels][out_stride].
 */
#ifndef VOX_MODEL_PLUGIN_H
#define VOX_MODEL_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "voxpipe/vox_checkpoint.h"
#include "voxpipe/vox_error.h"
#include "voxpipe/vox_features.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 2: vox_feature_config gained fixed normalization statistics (vox_model_info changed size) */
#define VOX_MODEL_PLUGIN_ABI_VERSION 2u
#define VOX_MODEL_PLUGIN_ENTRY "vox_model_plugin_entry"

typedef enum vox_model_task {
  VOX_TASK_CTC_ASR,            /* per output frame log-probabilities over labels + blank */
  VOX_TASK_CLASSIFICATION,     /* one probability vector per input window */
  VOX_TASK_FRAME_CLASSIFICATION, /* probabilities per output frame (frame VAD) */
  VOX_TASK_ENHANCEMENT         /* waveform in, waveform out */
} vox_model_task;

typedef enum vox_model_input {
  VOX_INPUT_FEATURES,  /* the core computes features with `features` */
  VOX_INPUT_WAVEFORM   /* samples at sample_rate_hz */
} vox_model_input;

/* Static description of a created model; owned by the model. */
typedef struct vox_model_info {
  vox_model_task task;
  vox_model_input input;
  const char *architecture;    /* "QuartzNet 5x5 (separable, causal)" */
  int sample_rate_hz;
  vox_feature_config features; /* when input == VOX_INPUT_FEATURES (tables not kept) */
  int input_channels;          /* features per frame, or 1 for waveform */
  int output_channels;         /* classes per output frame (CTC: labels + blank) */
  int subsampling;             /* input frames per output frame */
  int lookahead_frames;        /* input frames of look-ahead (algorithmic latency) */
  int full_context;            /* 1: model trained on whole utterances (needs buffered streaming) */
  const char *const *labels;   /* output_channels names (CTC: blank excluded, n_labels of them) */
  int n_labels;
  int blank_index;             /* CTC blank, -1 if none */
  size_t n_params;
  double macs_per_output_frame;
} vox_model_info;

typedef struct vox_model_create_params {
  int threads;                 /* worker threads per stream */
} vox_model_create_params;

typedef struct vox_model_plugin {
  uint32_t abi_version;        /* VOX_MODEL_PLUGIN_ABI_VERSION */
  const char *name;            /* "quartznet" */
  const char *description;
  const char *const *targets;  /* NULL-terminated NeMo/ModelScope class names it implements */
  /* > 0 when this plugin can run the checkpoint (higher wins), 0 otherwise. Must not fail. */
  int (*accepts)(const vox_checkpoint *ck);
  vox_status (*create)(const vox_checkpoint *ck, const vox_model_create_params *params,
                       void **model, vox_error *err);
  void (*destroy)(void *model);
  const vox_model_info *(*info)(const void *model);
  vox_status (*stream_new)(const void *model, void **stream, vox_error *err);
  void (*stream_free)(void *stream);
  void (*stream_reset)(void *stream);
  /* Most output frames one process call with n_in input frames can produce. */
  size_t (*stream_max_output)(const void *stream, size_t n_in);
  /* Feeds n_in input frames, writes every output frame that became ready; final=1 flushes. */
  vox_status (*stream_process)(void *stream, const float *in, size_t in_stride, size_t n_in,
                               int final, float *out, size_t out_stride, size_t out_cap,
                               size_t *n_out, vox_error *err);
} vox_model_plugin;

typedef const vox_model_plugin *(*vox_model_plugin_entry_fn)(void);

/* Plugins define their entry point with this macro. */
#define VOX_MODEL_PLUGIN_DEFINE(desc)                                                            \
  __attribute__((visibility("default"))) const vox_model_plugin *vox_model_plugin_entry(void);   \
  const vox_model_plugin *vox_model_plugin_entry(void) { return &(desc); }

#ifdef __cplusplus
}
#endif

#endif
