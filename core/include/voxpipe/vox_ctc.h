/* vox_ctc.h - greedy CTC decoding with word times and confidences, incremental.
 *
 * Push log-probabilities frame by frame (channel-major [n_classes][stride]); the decoder takes the
 * argmax, merges repeats and drops blanks, and keeps words with start/end times in seconds
 * (frame index x frame_seconds, plus the stream's time offset) and a confidence: the mean, over
 * the word's frames (first to last token), of the best class probability.
 */
#ifndef VOX_CTC_H
#define VOX_CTC_H

#include <stddef.h>

#include "voxpipe/vox_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vox_word {
  const char *text;
  double start_s, end_s;
  float confidence;    /* 0..1 */
} vox_word;

/* A result; pointers stay valid until the next push/reset/free of the object that returned it. */
typedef struct vox_transcript {
  const char *text;    /* words joined by single spaces */
  const vox_word *words;
  size_t n_words;
  size_t n_frames;     /* output frames decoded */
  double duration_s;   /* n_frames x frame_seconds */
  /* Leading words that no later input can change: every word of a final result; in a partial, the
   * words greedy decoding has closed with a word boundary, or that every live beam shares. */
  size_t n_stable_words;
} vox_transcript;

typedef struct vox_ctc_decoder vox_ctc_decoder;

/* labels: n_labels strings (copied); the label " " separates words. blank: the blank class index
 * (NeMo: n_labels). frame_seconds: seconds per output frame (hop x subsampling). */
VOX_API vox_status vox_ctc_decoder_new(const char *const *labels, int n_labels, int blank,
                                       double frame_seconds, vox_ctc_decoder **out, vox_error *err);
VOX_API void vox_ctc_decoder_free(vox_ctc_decoder *d);
VOX_API void vox_ctc_decoder_reset(vox_ctc_decoder *d);
/* n_frames frames of n_labels + 1 log-probabilities each. */
VOX_API vox_status vox_ctc_decoder_push(vox_ctc_decoder *d, const float *logp, size_t stride,
                                        size_t n_frames, vox_error *err);
/* The words so far (the last one may still grow). */
VOX_API void vox_ctc_decoder_result(vox_ctc_decoder *d, vox_transcript *out);
/* Forgets the first n words of the result (at most its n_stable_words; returns how many were
 * forgotten), so that a decoder running for days holds only its recent words. Later results start
 * with the word after them; times stay stream times. */
VOX_API size_t vox_ctc_decoder_forget(vox_ctc_decoder *d, size_t n);

#ifdef __cplusplus
}
#endif

#endif
