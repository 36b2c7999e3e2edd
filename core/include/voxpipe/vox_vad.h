/* vox_vad.h - NeMo-style VAD post-processing: frame speech probabilities -> speech segments.
 *
 * Input: one speech probability per frame (frame_s seconds apart; from a frame-level model, or from
 * a window-level model whose window predictions were spread over the frames they cover and
 * smoothed with vox_vad_smooth). Segments follow NeMo's binarization: a segment starts where the
 * probability rises to `onset` and ends where it falls below `offset` (hysteresis), is padded by
 * pad_onset / pad_offset seconds, gaps shorter than min_duration_off are filled and segments
 * shorter than min_duration_on are dropped (with filter_speech_first, short speech is dropped before
 * short gaps are filled). Times in seconds.
 */
#ifndef VOX_VAD_H
#define VOX_VAD_H

#include <stddef.h>

#include "voxpipe/vox_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vox_vad_params {
  double onset;            /* 0.5 */
  double offset;           /* 0.5 */
  double pad_onset_s;      /* 0.0 */
  double pad_offset_s;     /* 0.0 */
  double min_duration_on_s;  /* 0.0 */
  double min_duration_off_s; /* 0.0 */
  int filter_speech_first; /* 1 */
} vox_vad_params;

typedef struct vox_segment {
  double start_s, end_s;
} vox_segment;

/* NeMo's defaults (vad_inference postprocessing). */
VOX_API vox_vad_params vox_vad_default_params(void);

/* Window-level predictions to frame-level ones, NeMo's generate_overlap_vad_seq: window i covers
 * frames [i * shift, i * shift + window) (in frames); each frame gets the mean (median=0) or
 * median (median=1) of the windows covering it. probs: n_windows values; out: n_frames values,
 * n_frames = (n_windows - 1) * shift + window. Returns VOX_ERR_INVALID_ARGUMENT on bad sizes. */
VOX_API vox_status vox_vad_smooth(const float *probs, size_t n_windows, size_t window, size_t shift,
                                  int median, float *out, size_t n_frames, vox_error *err);

/* Frame probabilities -> segments. *segments is malloc'd (free() it); *n_segments may be 0. */
VOX_API vox_status vox_vad_segments(const float *frame_probs, size_t n_frames, double frame_s,
                                    const vox_vad_params *params, vox_segment **segments,
                                    size_t *n_segments, vox_error *err);

#ifdef __cplusplus
}
#endif

#endif
