/* resampler.c - libsamplerate's streaming converter behind a vox_ handle. At equal rates the
 * samples are copied: libsamplerate's sinc filter at ratio 1 still changes them (by up to 0.04 on
 * speech), and callers at the model's own rate expect their audio untouched. */
#include "voxpipe/vox_audio.h"

#include <math.h>
#include <samplerate.h>
#include <stdlib.h>
#include <string.h>

struct vox_resampler {
  SRC_STATE *src; /* NULL at equal rates */
  double ratio;
};

vox_status vox_resampler_new(double in_rate_hz, double out_rate_hz, vox_resampler **out, vox_error *err) {
  *out = NULL;
  if (!(in_rate_hz >= 1000 && in_rate_hz <= 768000) || !(out_rate_hz >= 1000 && out_rate_hz <= 768000))
    return vox_error_set(err, VOX_ERR_UNSUPPORTED, "unsupported sample rate conversion %.0f Hz -> %.0f Hz",
                         in_rate_hz, out_rate_hz);
  vox_resampler *rs = calloc(1, sizeof *rs);
  if (!rs)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  rs->ratio = out_rate_hz / in_rate_hz;
  if (in_rate_hz == out_rate_hz) {
    *out = rs;
    return VOX_OK;
  }
  int e = 0;
  rs->src = src_new(SRC_SINC_MEDIUM_QUALITY, 1, &e);
  if (!rs->src) {
    free(rs);
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "libsamplerate: %s", src_strerror(e));
  }
  *out = rs;
  return VOX_OK;
}

void vox_resampler_free(vox_resampler *rs) {
  if (!rs)
    return;
  src_delete(rs->src);
  free(rs);
}

void vox_resampler_reset(vox_resampler *rs) {
  if (rs->src)
    src_reset(rs->src);
}

size_t vox_resampler_max_output(const vox_resampler *rs, size_t n_in) {
  return (size_t)ceil((double)n_in * rs->ratio) + 256;
}

vox_status vox_resampler_process(vox_resampler *rs, const float *in, size_t n_in, size_t *in_used, float *out,
                                 size_t out_cap, size_t *n_out, int end_of_input, vox_error *err) {
  if (!rs->src) {
    size_t n = n_in < out_cap ? n_in : out_cap;
    if (n)
      memcpy(out, in, n * sizeof(float));
    *in_used = *n_out = n;
    return VOX_OK;
  }
  SRC_DATA d = {0};
  d.data_in = in;
  d.input_frames = (long)n_in;
  d.data_out = out;
  d.output_frames = (long)out_cap;
  d.end_of_input = end_of_input;
  d.src_ratio = rs->ratio;
  int e = src_process(rs->src, &d);
  if (e)
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT, "libsamplerate: %s", src_strerror(e));
  *in_used = (size_t)d.input_frames_used;
  *n_out = (size_t)d.output_frames_gen;
  return VOX_OK;
}
