/* vox_asr.h - speech recognition with a CTC model: samples in, words out.
 *
 *   vox_model *m;  vox_model_load("model.nemo", NULL, &m, &err);
 *   vox_asr_stream *s;  vox_asr_stream_new(m, NULL, &s, &err);
 *   vox_asr_stream_transcribe_file(s, "talk.wav", &err);      (or accept + finish for streams)
 *   vox_transcript t;  vox_asr_stream_result(s, &t);  puts(t.text);
 *   vox_asr_stream_free(s);  vox_model_free(m);
 *
 * A stream computes features (planned once), runs the model with its caches and decodes CTC
 * greedily or with a beam search (vox_ctc_beam.h), in buffers sized once. Models trained with per-utterance feature normalization
 * (NeMo normalize: per_feature, e.g. NVIDIA's QuartzNet) need the utterance's statistics first:
 * vox_asr_stream_transcribe_file makes two passes over the file (statistics, then recognition), so
 * the result equals whole-file inference in bounded memory whatever the file's length.
 */
#ifndef VOX_ASR_H
#define VOX_ASR_H

#include <stddef.h>

#include "voxpipe/vox_audio.h"
#include "voxpipe/vox_ctc.h"
#include "voxpipe/vox_ctc_beam.h"
#include "voxpipe/vox_error.h"
#include "voxpipe/vox_model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vox_asr_stream vox_asr_stream;

typedef struct vox_asr_params {
  /* Called with every block of log-probabilities the model produced ([n_classes][stride]). */
  void (*on_logits)(void *user, const float *logp, size_t stride, size_t n_frames, int n_classes);
  /* Called during vox_asr_stream_transcribe_file with the fraction done (0..1). */
  void (*on_progress)(void *user, double fraction);
  void *user;
  /* Buffered inference for models trained on whole utterances (per_feature normalization), as
   * NeMo's FrameBatchASR: every chunk_s seconds the model runs on a buffer_s window around the chunk
   * (features normalised over the window) and the chunk's outputs are kept. Latency: chunk_s +
   * (buffer_s - chunk_s) / 2; compute: about buffer_s / chunk_s times offline. 0 (default): off. */
  double buffered_chunk_s;
  double buffered_buffer_s;
  /* CTC prefix beam search (with an LM and hot words) instead of greedy decoding; NULL: greedy.
   * Copied at vox_asr_stream_new; its LM must outlive the stream. */
  const vox_beam_params *beam;
} vox_asr_params;

VOX_API vox_asr_params vox_asr_default_params(void);

/* The model must be a CTC ASR model taking features. params may be NULL. */
VOX_API vox_status vox_asr_stream_new(const vox_model *model, const vox_asr_params *params,
                                      vox_asr_stream **out, vox_error *err);
VOX_API void vox_asr_stream_free(vox_asr_stream *s);
VOX_API void vox_asr_stream_reset(vox_asr_stream *s);

/* Fixed per-feature statistics (mean, 1/(std+eps)), n_mels each, for per_feature models. */
VOX_API vox_status vox_asr_stream_set_normalization(vox_asr_stream *s, const float *mean,
                                                    const float *inv_std, vox_error *err);

/* Samples at the model's rate, float in [-1, 1]. */
VOX_API vox_status vox_asr_stream_accept(vox_asr_stream *s, const float *samples, size_t n,
                                         vox_error *err);
/* Ends the input and flushes the model. */
VOX_API vox_status vox_asr_stream_finish(vox_asr_stream *s, vox_error *err);
/* The transcript so far; valid until the next call on the stream. */
VOX_API void vox_asr_stream_result(vox_asr_stream *s, vox_transcript *out);
/* Forgets the first n words of the stream's result (at most its n_stable_words; returns how many
 * were forgotten). A caller that has delivered words as final calls it so that a stream running for
 * days holds, and re-reads on every result, only its recent words; later results start with the
 * word after them (times stay stream times). */
VOX_API size_t vox_asr_stream_forget_words(vox_asr_stream *s, size_t n);

/* Up to k hypotheses, best first, with their ln scores (may be NULL); greedy decoding gives one.
 * Valid until the next call on the stream. */
VOX_API size_t vox_asr_stream_nbest(vox_asr_stream *s, size_t k, vox_transcript *out, float *scores);

/* Algorithmic latency in seconds: the model's look-ahead, or the buffered-mode delay. */
VOX_API double vox_asr_stream_latency_s(const vox_asr_stream *s);

/* The compute a stream spent since its last reset (features, model and decoding), measured with
 * the monotonic clock around each call: with the algorithmic latency above, what a live caller
 * waits for its words. */
typedef struct vox_asr_stats {
  double audio_s;      /* audio accepted, seconds */
  size_t accept_calls; /* vox_asr_stream_accept calls */
  double accept_s;     /* their total time, seconds */
  double worst_accept_s; /* the longest one */
  double finish_s;     /* vox_asr_stream_finish (flushes the look-ahead), seconds */
} vox_asr_stats;

VOX_API void vox_asr_stream_stats(const vox_asr_stream *s, vox_asr_stats *out);

/* Resets the stream and recognises a whole file (any format vox_audio reads). Unless buffered mode
 * was asked for, per_feature models get exact whole-file statistics (two passes). */
VOX_API vox_status vox_asr_stream_transcribe_file(vox_asr_stream *s, const char *path,
                                                  const vox_audio_params *audio, vox_error *err);

/* Resets the stream and recognises n samples at the model's rate (per_feature models get the
 * samples' own statistics), e.g. one speech segment of a longer recording. */
VOX_API vox_status vox_asr_stream_transcribe_samples(vox_asr_stream *s, const float *samples, size_t n,
                                                     vox_error *err);

#ifdef __cplusplus
}
#endif

#endif
