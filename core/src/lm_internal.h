/* lm_internal.h - the n-gram model behind vox_lm.h, shared by its ARPA reader and its front. */
#ifndef VOX_LM_INTERNAL_H
#define VOX_LM_INTERNAL_H

#include <pthread.h>

#include "internal.h"
#include "voxpipe/vox_lm.h"

/* The n-grams of one order: ids [count][n], log10 probability and backoff, and an open-addressing
 * index (slot -> entry + 1) keyed by the id tuple. */
typedef struct vox_ngram_table {
  int n;
  size_t count, cap;
  int32_t *ids;
  float *logp, *backoff;
  uint32_t *slots;
  size_t mask;
} vox_ngram_table;

struct vox_lm {
  vox_lm_info info;
  int32_t unk, bos, eos;
  /* ARPA */
  char *words;              /* the vocabulary's text, NUL-separated */
  size_t words_len, words_cap;
  uint32_t *word_off;       /* id -> offset in words */
  uint32_t *vocab_slots;    /* hash of the text -> id + 1 */
  size_t vocab_mask;
  vox_ngram_table tables[VOX_LM_MAX_ORDER];
  /* every prefix of every word, as 64-bit hashes (open addressing, 0 = empty) */
  uint64_t *prefixes;
  size_t prefix_mask;
  /* sphinx: sphinxbase's model and logmath; its scoring caches are not thread-safe */
  void *sphinx, *lmath;
  pthread_mutex_t lock;
};

/* Refuses a Sphinx binary LM whose size and vocabulary disagree with its header (before sphinxbase,
 * which trusts them, reads it). */
VOX_HIDDEN vox_status vox__lm_sphinx_check(const char *path, vox_error *err);
VOX_HIDDEN vox_status vox__lm_read_arpa(vox_lm *lm, const char *path, vox_error *err);
VOX_HIDDEN void vox__lm_free_arpa(vox_lm *lm);
VOX_HIDDEN int32_t vox__lm_arpa_word(const vox_lm *lm, const char *w, size_t len);
VOX_HIDDEN uint64_t vox__lm_hash(const char *s, size_t n);
VOX_HIDDEN float vox__lm_arpa_score(const vox_lm *lm, const int32_t *hist, int n_hist, int32_t w);

#endif
