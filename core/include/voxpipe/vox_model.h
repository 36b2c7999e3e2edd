/* vox_model.h - loading a model file with the plugin that implements it.
 *
 * vox_model_load opens a `.nemo` or PyTorch checkpoint, finds a plugin that accepts it and creates
 * the model. Plugins are searched in the directories of VOXPIPE_MODEL_PATH (colon-separated),
 * then in params.plugin_dir, then in the install directory ($(libdir)/voxpipe/models).
 * A model is read-only after loading and may be shared between threads; streams are per use.
 */
#ifndef VOX_MODEL_H
#define VOX_MODEL_H

#include "voxpipe/vox_checkpoint.h"
#include "voxpipe/vox_error.h"
#include "voxpipe/vox_model_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vox_model vox_model;
typedef struct vox_model_stream vox_model_stream;

typedef struct vox_model_params {
  int threads;               /* worker threads per stream (1) */
  const char *plugin_dir;    /* extra plugin directory searched before the installed one */
  const char *state_dict_key; /* see vox_checkpoint_params */
} vox_model_params;

VOX_API vox_model_params vox_model_default_params(void);

VOX_API vox_status vox_model_load(const char *path, const vox_model_params *params, vox_model **out,
                                  vox_error *err);
/* Free after all its streams. */
VOX_API void vox_model_free(vox_model *m);

VOX_API const vox_model_info *vox_model_get_info(const vox_model *m);
VOX_API const char *vox_model_plugin_name(const vox_model *m);
VOX_API const char *vox_model_plugin_path(const vox_model *m);
/* The checkpoint the model was made from: its config and every tensor's name, dtype and shape;
 * the values of the weights are released after loading (data NULL), only preprocessor.* keep theirs. */
VOX_API const vox_checkpoint *vox_model_checkpoint(const vox_model *m);

VOX_API vox_status vox_model_stream_new(const vox_model *m, vox_model_stream **out, vox_error *err);
VOX_API void vox_model_stream_free(vox_model_stream *s);
VOX_API void vox_model_stream_reset(vox_model_stream *s);
VOX_API size_t vox_model_stream_max_output(const vox_model_stream *s, size_t n_in);
VOX_API vox_status vox_model_stream_process(vox_model_stream *s, const float *in, size_t in_stride,
                                            size_t n_in, int final, float *out, size_t out_stride,
                                            size_t out_cap, size_t *n_out, vox_error *err);

/* A classifier's logits (one output frame of n classes) to probabilities, in place (softmax,
 * accumulated in double); returns the most probable class. */
VOX_API int vox_softmax(float *logits, int n);

/* Instruction set of the convolution kernels in use: "avx512", "fma" (AVX2-class CPUs), "avx" or
 * "sse2". The best the CPU has, unless the environment variable VOXPIPE_ISA names a lower one
 * (read once, at the first use). A static string. */
VOX_API const char *vox_kernel_isa(void);

/* Lists the plugins found (name, path) through a callback; returns how many. */
VOX_API int vox_model_list_plugins(const vox_model_params *params,
                                   void (*fn)(const char *name, const char *description,
                                              const char *path, void *user),
                                   void *user);

#ifdef __cplusplus
}
#endif

#endif
