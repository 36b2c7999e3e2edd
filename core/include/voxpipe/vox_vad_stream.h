/* vox_vad_stream.h - streaming VAD: samples in, speech start / end events out.
 *
 *   vox_vad_stream *v;  vox_vad_stream_new(model, &params, 0.63, 0.01, &v, &err);
 *   vox_vad_stream_accept(v, samples, n, &err);          (as audio arrives; then _finish at the end)
 *   vox_vad_event e[16];  size_t k = vox_vad_stream_events(v, e, 16);
 *
 * A window-level model (MarbleNet: a classifier with a "speech" label) classifies windows of
 * window_s every shift_s; each frame's probability is the mean of the windows covering it (as
 * vox_vad_smooth), known once the last such window is in, i.e. window_s after the frame. Frames
 * then go through the same hysteresis, padding and minimum durations as vox_vad_segments, online:
 * short gaps are filled before short speech is dropped (filter_speech_first is ignored), a start is
 * announced once the segment has lasted min_duration_on, an end once no new speech can merge with
 * it (pad_offset + min_duration_off + pad_onset later). Event times are on the stream's time line,
 * in seconds from the first sample; they are exact, only their announcement is delayed. As NeMo's
 * frame VAD, the stream is padded with half a window of silence before its first sample and, at
 * _finish, after its last, so that the first and last frames too are the mean of the windows
 * centred around them; the results equal `voxpipe vad`'s on the same audio.
 */
#ifndef VOX_VAD_STREAM_H
#define VOX_VAD_STREAM_H

#include <stddef.h>

#include "voxpipe/vox_error.h"
#include "voxpipe/vox_model.h"
#include "voxpipe/vox_vad.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vox_vad_event {
  int speech;         /* 1: speech starts at time_s; 0: speech ends at time_s */
  double time_s;      /* seconds from the stream's first sample */
  double duration_s;  /* at an end: the segment's length */
} vox_vad_event;

typedef struct vox_vad_stream vox_vad_stream;

/* Sets params->onset/offset from the model config's `vad_postprocessing: {onset, offset}` (the
 * thresholds a model was calibrated for) when present and valid; otherwise leaves them. */
VOX_API void vox_vad_model_thresholds(const vox_model *model, vox_vad_params *params);

/* model: a classifier with a "speech" label taking features; params may be NULL (defaults). The
 * model must outlive the stream. */
VOX_API vox_status vox_vad_stream_new(const vox_model *model, const vox_vad_params *params, double window_s,
                                      double shift_s, vox_vad_stream **out, vox_error *err);
VOX_API void vox_vad_stream_free(vox_vad_stream *v);
VOX_API void vox_vad_stream_reset(vox_vad_stream *v);
/* Samples at the model's rate, float in [-1, 1]. */
VOX_API vox_status vox_vad_stream_accept(vox_vad_stream *v, const float *samples, size_t n, vox_error *err);
/* Ends the input: the last frames are decided and an open segment is closed. */
VOX_API vox_status vox_vad_stream_finish(vox_vad_stream *v, vox_error *err);
/* Moves up to max pending events into out (oldest first); returns how many. */
VOX_API size_t vox_vad_stream_events(vox_vad_stream *v, vox_vad_event *out, size_t max);
/* The speech probability of the last decided frame (0 before any). */
VOX_API float vox_vad_stream_probability(const vox_vad_stream *v);
/* Seconds from the stream's first sample up to which the segmentation is final: every event before
 * this time has been queued and no later event will fall before it (a gate can release audio up to
 * here). After finish, the whole stream. */
VOX_API double vox_vad_stream_settled_s(const vox_vad_stream *v);
/* The most settled_s can trail the audio accepted so far, in seconds: the decision delay plus
 * pad_onset, pad_offset, min_duration_on and min_duration_off (the delay a gate adds). */
VOX_API double vox_vad_stream_settle_delay_s(const vox_vad_stream *v);
/* Delay in seconds between audio and the decision on it (window + shift). */
VOX_API double vox_vad_stream_latency_s(const vox_vad_stream *v);

#ifdef __cplusplus
}
#endif

#endif
