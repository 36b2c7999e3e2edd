/* vox_lm.h - word n-gram language models for beam-search decoding.
 *
 *   vox_lm *lm;  vox_lm_load("words.arpa", &lm, &err);
 *   int32_t h[2] = {vox_lm_word(lm, "this", 4), vox_lm_word(lm, "is", 2)};
 *   float lnp = vox_lm_score(lm, h, 2, vox_lm_word(lm, "it", 2));   (natural log)
 *   vox_lm_free(lm);
 *
 * Formats: ARPA text (any order up to VOX_LM_MAX_ORDER, backoff weights, <unk> when present),
 * read into hash tables; and, when voxpipe was built with sphinxbase, CMU Sphinx binary models
 * (trie ".lm.bin" and "DMP"), e.g. Debian's pocketsphinx-en-us en-us.lm.bin, scored through
 * sphinxbase. A loaded model is read-only: one model serves any number of decoders and threads.
 */
#ifndef VOX_LM_H
#define VOX_LM_H

#include <stddef.h>
#include <stdint.h>

#include "voxpipe/vox_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VOX_LM_MAX_ORDER 6

typedef struct vox_lm vox_lm;

typedef struct vox_lm_info {
  const char *format;                /* "arpa" or "sphinx" */
  int order;                         /* the N of the largest n-grams */
  size_t counts[VOX_LM_MAX_ORDER];   /* n-grams of each order (counts[0]: vocabulary) */
  size_t memory_bytes;               /* memory the model holds */
  int has_unk;                       /* open vocabulary: <unk> is a word */
} vox_lm_info;

/* Reads path; the error names the file and, for ARPA, the line at fault. */
VOX_API vox_status vox_lm_load(const char *path, vox_lm **out, vox_error *err);
VOX_API void vox_lm_free(vox_lm *lm);
VOX_API const vox_lm_info *vox_lm_get_info(const vox_lm *lm);

/* The id of a word (len bytes, no NUL needed), or -1 when it is not in the vocabulary. */
VOX_API int32_t vox_lm_word(const vox_lm *lm, const char *word, size_t len);
/* 1 when the len bytes at s begin some word of the vocabulary (a word counts as its own prefix). */
VOX_API int vox_lm_is_prefix(const vox_lm *lm, const char *s, size_t len);
/* <unk>, <s> and </s>, or -1 when the model has none. */
VOX_API int32_t vox_lm_unk(const vox_lm *lm);
VOX_API int32_t vox_lm_bos(const vox_lm *lm);
VOX_API int32_t vox_lm_eos(const vox_lm *lm);

/* ln P(word | history) with Katz backoff. history: n_history word ids, oldest first (only the last
 * order - 1 are used). word must be a valid id. */
VOX_API float vox_lm_score(const vox_lm *lm, const int32_t *history, int n_history, int32_t word);

#ifdef __cplusplus
}
#endif

#endif
