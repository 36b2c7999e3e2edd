/* vox_kws_stream.h - streaming command-word spotting: samples in, detections out.
 *
 *   vox_kws_stream *k;  vox_kws_stream_new(model, 1.0, 0.25, 0.8, &k, &err);
 *   vox_kws_stream_accept(k, samples, n, &err);          (as audio arrives; then _finish at the end)
 *   vox_kws_detection d[8];  size_t m = vox_kws_stream_detections(k, d, 8);
 *
 * A classifier taking features (MatchboxNet-style, labels = command words plus fillers such as
 * "unknown", "silence", "background") runs on windows of window_s every shift_s. A window whose
 * best class is a command with probability >= threshold is a hit; consecutive hits of the same word
 * merge into one detection (start of the first window, end of the last, best score), announced
 * when the run ends. A whole input shorter than one window is classified once, centred among
 * frames of digital silence (what the model saw around words in training). Times are seconds from
 * the stream's first sample.
 */
#ifndef VOX_KWS_STREAM_H
#define VOX_KWS_STREAM_H

#include <stddef.h>

#include "voxpipe/vox_error.h"
#include "voxpipe/vox_model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vox_kws_detection {
  int label;          /* index into the model's labels */
  const char *word;   /* that label (owned by the model) */
  double start_s, end_s;
  float score;        /* best window probability */
} vox_kws_detection;

typedef struct vox_kws_stream vox_kws_stream;

/* 1 when a label names no command ("unknown", "silence", "background", and their _x_ forms). */
VOX_API int vox_kws_is_filler(const char *label);

/* The model must outlive the stream. 0.1 <= window_s <= 10, frame <= shift_s <= window_s,
 * 0 <= threshold <= 1. */
VOX_API vox_status vox_kws_stream_new(const vox_model *model, double window_s, double shift_s, float threshold,
                                      vox_kws_stream **out, vox_error *err);
VOX_API void vox_kws_stream_free(vox_kws_stream *k);
VOX_API void vox_kws_stream_reset(vox_kws_stream *k);
/* Samples at the model's rate, float in [-1, 1]. */
VOX_API vox_status vox_kws_stream_accept(vox_kws_stream *k, const float *samples, size_t n, vox_error *err);
/* Ends the input: a detection still running is announced. */
VOX_API vox_status vox_kws_stream_finish(vox_kws_stream *k, vox_error *err);
/* Moves up to max pending detections into out (oldest first); returns how many. */
VOX_API size_t vox_kws_stream_detections(vox_kws_stream *k, vox_kws_detection *out, size_t max);
/* Delay in seconds between audio and a decision on it (window + shift). */
VOX_API double vox_kws_stream_latency_s(const vox_kws_stream *k);

#ifdef __cplusplus
}
#endif

#endif
