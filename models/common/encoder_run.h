/* encoder_run.h - the encoder step every conv-model plugin shares. */
#ifndef VOX_MODELS_ENCODER_RUN_H
#define VOX_MODELS_ENCODER_RUN_H

#include <stdlib.h>

#include "voxpipe/vox_conv_encoder.h"

/* Runs the encoder stream on n_in input frames into *buf (feat rows; grown to the largest need
 * seen, which in practice is the first call, so the hot path does not allocate). */
static inline vox_status vox_plugin_encode(vox_conv_encoder_stream *es, int feat, float **buf, size_t *cap,
                                           const float *in, size_t in_stride, size_t n_in, int final,
                                           size_t *n_enc, vox_error *err) {
  size_t need = vox_conv_encoder_stream_max_output(es, n_in);
  if (need > *cap) {
    float *b = realloc(*buf, sizeof(float) * (size_t)feat * need);
    if (!b)
      return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
    *buf = b;
    *cap = need;
  }
  return vox_conv_encoder_stream_process(es, in, in_stride, n_in, final, *buf, *cap, *cap, n_enc, err);
}

#endif
