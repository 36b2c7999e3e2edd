/* lm.c - vox_lm: picks the reader by the file's first bytes; Sphinx binary models via sphinxbase. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lm_internal.h"

#ifdef VOX_WITH_SPHINXBASE
#include <sphinxbase/err.h>
#include <sphinxbase/logmath.h>
#include <sphinxbase/ngram_model.h>

/* sphinxbase logs every load at INFO level on stderr; voxpipe reports through vox_error instead. */
static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;
static void quiet_sphinxbase(void) { err_set_logfp(NULL); }

static vox_status read_sphinx(vox_lm *lm, const char *path, vox_error *err) {
  vox_status st = vox__lm_sphinx_check(path, err);
  if (st != VOX_OK)
    return st;
  pthread_once(&quiet_once, quiet_sphinxbase);
  logmath_t *lmath = logmath_init(1.0001, 0, 0);
  if (!lmath)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  lm->lmath = lmath; /* used by the model, not owned by it: vox_lm_free frees it after the model */
  ngram_model_t *m = ngram_model_read(NULL, path, NGRAM_AUTO, lmath);
  if (!m)
    return vox_error_set(err, VOX_ERR_FORMAT, "%s: sphinxbase could not read this binary language model", path);
  lm->sphinx = m;
  lm->info.format = "sphinx";
  lm->info.order = ngram_model_get_size(m);
  if (lm->info.order < 1 || lm->info.order > VOX_LM_MAX_ORDER)
    return vox_error_set(err, VOX_ERR_UNSUPPORTED, "%s: a %d-gram model (voxpipe reads up to order %d)", path,
                         lm->info.order, VOX_LM_MAX_ORDER);
  const uint32 *c = ngram_model_get_counts(m);
  for (int i = 0; i < lm->info.order; i++)
    lm->info.counts[i] = c[i];
  /* sphinxbase does not notice a short file: the vocabulary, stored last, comes back empty */
  for (uint32 i = 0; i < c[0]; i++) {
    const char *w = ngram_word(m, (int32)i);
    if (!w || !*w || ngram_wid(m, w) != (int32)i)
      return vox_error_set(err, VOX_ERR_FORMAT, "%s: truncated or corrupt binary language model (word %u of %u "
                           "unreadable)", path, (unsigned)i, (unsigned)c[0]);
  }
  struct stat sb;
  lm->info.memory_bytes = stat(path, &sb) ? 0 : (size_t)sb.st_size; /* sphinxbase holds the file's tables */
  return VOX_OK;
}
#endif

void vox_lm_free(vox_lm *lm) {
  if (!lm)
    return;
#ifdef VOX_WITH_SPHINXBASE
  if (lm->sphinx)
    ngram_model_free(lm->sphinx);
  if (lm->lmath)
    logmath_free(lm->lmath);
#endif
  vox__lm_free_arpa(lm);
  free(lm->prefixes);
  pthread_mutex_destroy(&lm->lock);
  free(lm);
}

static const char *word_text(const vox_lm *lm, int32_t id) {
#ifdef VOX_WITH_SPHINXBASE
  if (lm->sphinx)
    return ngram_word(lm->sphinx, id);
#endif
  return lm->words + lm->word_off[id];
}

static void prefix_insert(vox_lm *lm, uint64_t h) {
  h |= 1; /* never 0, the empty mark */
  size_t i = h & lm->prefix_mask;
  while (lm->prefixes[i] && lm->prefixes[i] != h)
    i = (i + 1) & lm->prefix_mask;
  lm->prefixes[i] = h;
}

/* The prefix set behind vox_lm_is_prefix. */
static vox_status build_prefixes(vox_lm *lm, vox_error *err) {
  size_t n = lm->info.counts[0], total = 0;
  for (size_t i = 0; i < n; i++) {
    const char *w = word_text(lm, (int32_t)i);
    total += w ? strlen(w) : 0;
  }
  size_t cap = 16;
  while (cap < 2 * total + 16)
    cap <<= 1;
  lm->prefixes = calloc(cap, sizeof *lm->prefixes);
  if (!lm->prefixes)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory (LM prefix set)");
  lm->prefix_mask = cap - 1;
  for (size_t i = 0; i < n; i++) {
    const char *w = word_text(lm, (int32_t)i);
    for (size_t k = 1; w && w[k - 1]; k++)
      prefix_insert(lm, vox__lm_hash(w, k));
  }
  lm->info.memory_bytes += cap * sizeof *lm->prefixes;
  return VOX_OK;
}

int vox_lm_is_prefix(const vox_lm *lm, const char *s, size_t len) {
  uint64_t h = vox__lm_hash(s, len) | 1;
  for (size_t i = h & lm->prefix_mask; lm->prefixes[i]; i = (i + 1) & lm->prefix_mask)
    if (lm->prefixes[i] == h)
      return 1;
  return 0;
}

vox_status vox_lm_load(const char *path, vox_lm **out, vox_error *err) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f)
    return vox_error_set(err, VOX_ERR_NOT_FOUND, "%s: cannot open the language model", path);
  char magic[32] = {0};
  size_t got = fread(magic, 1, sizeof magic - 1, f);
  fclose(f);
  int binary = got >= 19 && (!memcmp(magic, "Trie Language Model", 19) || !memcmp(magic + 4, "Darpa Trigram LM", 16));
  vox_lm *lm = calloc(1, sizeof *lm);
  if (!lm)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  pthread_mutex_init(&lm->lock, NULL);
  vox_status st;
  if (binary) {
#ifdef VOX_WITH_SPHINXBASE
    st = read_sphinx(lm, path, err);
#else
    st = vox_error_set(err, VOX_ERR_UNSUPPORTED,
                       "%s: a CMU Sphinx binary language model; this voxpipe was built without sphinxbase "
                       "(install libsphinxbase-dev and reconfigure)", path);
#endif
  } else {
    st = vox__lm_read_arpa(lm, path, err);
  }
  if (st == VOX_OK)
    st = build_prefixes(lm, err);
  if (st != VOX_OK) {
    vox_lm_free(lm);
    return st;
  }
  lm->unk = vox_lm_word(lm, "<unk>", 5);
  if (lm->unk < 0)
    lm->unk = vox_lm_word(lm, "<UNK>", 5);
  lm->bos = vox_lm_word(lm, "<s>", 3);
  lm->eos = vox_lm_word(lm, "</s>", 4);
  lm->info.has_unk = lm->unk >= 0;
  *out = lm;
  return VOX_OK;
}

const vox_lm_info *vox_lm_get_info(const vox_lm *lm) { return &lm->info; }
int32_t vox_lm_unk(const vox_lm *lm) { return lm->unk; }
int32_t vox_lm_bos(const vox_lm *lm) { return lm->bos; }
int32_t vox_lm_eos(const vox_lm *lm) { return lm->eos; }

int32_t vox_lm_word(const vox_lm *lm, const char *w, size_t len) {
#ifdef VOX_WITH_SPHINXBASE
  if (lm->sphinx) {
    char buf[256];
    if (len >= sizeof buf)
      return -1;
    memcpy(buf, w, len);
    buf[len] = '\0';
    int32 id = ngram_wid(lm->sphinx, buf);
    return id == NGRAM_INVALID_WID || id == ngram_unknown_wid(lm->sphinx) ? -1 : id;
  }
#endif
  return vox__lm_arpa_word(lm, w, len);
}

float vox_lm_score(const vox_lm *lm, const int32_t *hist, int nh, int32_t w) {
  if (nh < 0)
    nh = 0;
#ifdef VOX_WITH_SPHINXBASE
  if (lm->sphinx) {
    int32 rev[VOX_LM_MAX_ORDER], n_used;
    int k = nh < lm->info.order - 1 ? nh : lm->info.order - 1;
    for (int i = 0; i < k; i++)
      rev[i] = hist[nh - 1 - i];
    pthread_mutex_lock((pthread_mutex_t *)&lm->lock);
    int32 s = ngram_ng_score(lm->sphinx, w, rev, k, &n_used);
    float ln = (float)logmath_log_to_ln(lm->lmath, s);
    pthread_mutex_unlock((pthread_mutex_t *)&lm->lock);
    return ln;
  }
#endif
  return vox__lm_arpa_score(lm, hist, nh, w);
}
