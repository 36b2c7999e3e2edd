/* vox_audio.h - audio file input and sample-rate conversion.
 *
 * vox_audio_reader reads anything libsndfile reads (WAV, FLAC, OGG/Vorbis, AIFF, ... and headerless
 * raw PCM when told its layout), mixes it down to mono and resamples it (libsamplerate) to the
 * rate asked for, block by block: memory stays bounded whatever the file's length. Samples are
 * float32 in [-1, 1]; a float file's NaN and infinite samples are read as 0 (silence). A reader is
 * used by one thread at a time.
 */
#ifndef VOX_AUDIO_H
#define VOX_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#include "voxpipe/vox_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vox_audio_params {
  int target_rate_hz;   /* output rate; 0 keeps the file's rate */
  /* Headerless raw PCM: set raw_format to "s16le", "s32le", "f32le", "u8" or "s8" and give the rate
   * and channel count; NULL reads files with a header. */
  const char *raw_format;
  int raw_rate_hz;
  int raw_channels;
  int allow_truncated;  /* 1: read what a truncated file holds instead of failing */
  /* A part of the file, as a NeMo manifest's offset and duration give it: from offset_s seconds
   * for duration_s seconds (0: to the end). Both >= 0. */
  double offset_s, duration_s;
} vox_audio_params;

typedef struct vox_audio_info {
  int file_rate_hz;
  int channels;
  int64_t file_frames;  /* frames at the file rate; -1 when unknown (pipes) */
  double duration_s;    /* of the part read (offset_s, duration_s); -1 when unknown */
  char format[64];      /* "WAV PCM 16 bit", "FLAC 24 bit"... */
} vox_audio_info;

typedef struct vox_audio_reader vox_audio_reader;

VOX_API vox_audio_params vox_audio_default_params(void);

/* Opens a file ("-" reads standard input). Errors name the file and the problem: not found, not
 * audio, truncated, zero channels, unsupported rate. */
VOX_API vox_status vox_audio_open(const char *path, const vox_audio_params *params,
                                  vox_audio_reader **out, vox_error *err);
VOX_API void vox_audio_close(vox_audio_reader *r);
VOX_API const vox_audio_info *vox_audio_get_info(const vox_audio_reader *r);

/* Reads up to max_samples mono samples at the target rate into out; *n_read is 0 at the end. */
VOX_API vox_status vox_audio_read(vox_audio_reader *r, float *out, size_t max_samples,
                                  size_t *n_read, vox_error *err);
/* Starts again from the first sample (files only; VOX_ERR_UNSUPPORTED for pipes). */
VOX_API vox_status vox_audio_rewind(vox_audio_reader *r, vox_error *err);

/* Whole file into a malloc'd buffer (free() it); for short inputs and tests. */
VOX_API vox_status vox_audio_read_all(const char *path, const vox_audio_params *params,
                                      float **samples, size_t *n_samples, int *rate_hz,
                                      vox_error *err);

/* Streaming sample-rate converter, mono float. At equal rates it copies the samples unchanged
 * (no filter delay, no ripple). */
typedef struct vox_resampler vox_resampler;

VOX_API vox_status vox_resampler_new(double in_rate_hz, double out_rate_hz, vox_resampler **out,
                                     vox_error *err);
VOX_API void vox_resampler_free(vox_resampler *rs);
VOX_API void vox_resampler_reset(vox_resampler *rs);
/* Converts input samples; writes at most out_cap samples. *in_used tells how many input samples
 * were consumed (feed the rest again). end_of_input=1 flushes the filter tail. */
VOX_API vox_status vox_resampler_process(vox_resampler *rs, const float *in, size_t n_in,
                                         size_t *in_used, float *out, size_t out_cap,
                                         size_t *n_out, int end_of_input, vox_error *err);
/* Upper bound of output samples for n_in input samples (plus the filter tail). */
VOX_API size_t vox_resampler_max_output(const vox_resampler *rs, size_t n_in);

#ifdef __cplusplus
}
#endif

#endif
