/* vox_ctc_beam.h - CTC prefix beam search with a word n-gram LM and hot words, incremental.
 *
 * The decoder keeps the beam_size best label prefixes (with their blank / non-blank
 * probabilities, as in Hannun et al.'s prefix search). When a prefix completes a word (a space, or
 * the end of the input) the word is scored:
 *
 *   alpha * ln P_lm(word | previous words) + beta + hot-word boost
 *
 * Words the LM does not know score as <unk> when the LM has it, otherwise unk_penalty; with such a
 * closed-vocabulary LM the penalty is charged as soon as a partial word begins no word of the LM
 * (vox_lm_is_prefix), so misspellings leave the beam early; the word pays it once. A hot word
 * earns its boost letter by letter while a prefix spells it (so the search keeps it alive) and
 * gives the partial boost back when the word turns out to be another one. Results are the best
 * prefix so far (partial) and, after vox_ctc_beam_finish, the final ranking including the last
 * word and the end-of-sentence probability. Words carry times (first and last letter's frame) and
 * a confidence (mean probability of their letters in the frames that emitted them).
 *
 * The decoder owns its buffers; pushing frames allocates only when its prefix tree outgrows its
 * pool (amortised, the pool is compacted first). Labels must be single characters or strings
 * without spaces; the label " " separates words.
 */
#ifndef VOX_CTC_BEAM_H
#define VOX_CTC_BEAM_H

#include <stddef.h>

#include "voxpipe/vox_ctc.h"
#include "voxpipe/vox_error.h"
#include "voxpipe/vox_lm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vox_hotword {
  const char *word; /* spelled in the model's labels (lower case for voxpipe's models) */
  float boost;      /* ln units added when the word is recognised */
} vox_hotword;

typedef struct vox_beam_params {
  int beam_size;               /* prefixes kept after each frame (default 16) */
  float prune_logp;            /* skip classes more than this below the frame's best, ln (10) */
  const vox_lm *lm;            /* NULL: no LM. Shared and read-only; must outlive the decoder */
  float alpha;                 /* LM weight (0.5) */
  float beta;                  /* bonus per word, ln (2.0); applies without an LM too */
  float unk_penalty;           /* ln score of a word the LM lacks when it has no <unk> (-10) */
  const vox_hotword *hotwords; /* copied by vox_ctc_beam_new */
  size_t n_hotwords;
} vox_beam_params;

VOX_API vox_beam_params vox_beam_default_params(void);

typedef struct vox_ctc_beam vox_ctc_beam;

/* labels, blank and frame_seconds as for vox_ctc_decoder_new. */
VOX_API vox_status vox_ctc_beam_new(const char *const *labels, int n_labels, int blank, double frame_seconds,
                                    const vox_beam_params *params, vox_ctc_beam **out, vox_error *err);
VOX_API void vox_ctc_beam_free(vox_ctc_beam *d);
VOX_API void vox_ctc_beam_reset(vox_ctc_beam *d);
/* n_frames frames of n_labels + 1 log-probabilities, channel-major ([class][stride]). */
VOX_API vox_status vox_ctc_beam_push(vox_ctc_beam *d, const float *logp, size_t stride, size_t n_frames,
                                     vox_error *err);
/* Scores the last word and the end of the sentence and ranks the prefixes for the final result;
 * further pushes need a reset. */
VOX_API void vox_ctc_beam_finish(vox_ctc_beam *d);
/* The best hypothesis so far. Valid until the next call on the decoder. */
VOX_API void vox_ctc_beam_result(vox_ctc_beam *d, vox_transcript *out);
/* Up to k hypotheses, best first, into out[k] and their total ln scores into scores[k] (may be
 * NULL); returns how many. Valid until the next call on the decoder. */
VOX_API size_t vox_ctc_beam_nbest(vox_ctc_beam *d, size_t k, vox_transcript *out, float *scores);
/* Forgets the first n words (at most the stable ones: those every live hypothesis shares; returns
 * how many were forgotten): the shared prefix becomes the root, so memory and the cost of a result
 * stay bounded in a stream that runs for days. LM histories are kept; times stay stream times. */
VOX_API size_t vox_ctc_beam_forget(vox_ctc_beam *d, size_t n);

#ifdef __cplusplus
}
#endif

#endif
