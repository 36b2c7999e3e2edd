/* lm_arpa.c - ARPA n-gram files into hash tables, and Katz-backoff scoring over them.
 *
 * The reader trusts nothing: the counts in \data\ are checked against the file's size before any
 * allocation, every entry against its section's order, every word of a higher-order n-gram against
 * the 1-grams, and each section's length against its declared count; errors name the line.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lm_internal.h"

#define LN10 2.302585092994046f

uint64_t vox__lm_hash(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h ^ (h >> 29);
}

static uint64_t hash_ids(const int32_t *ids, int n) {
  uint64_t h = 0x9e3779b97f4a7c15ull * (uint64_t)(n + 1);
  for (int i = 0; i < n; i++) {
    h ^= (uint32_t)ids[i];
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  return h;
}

static size_t pow2_at_least(size_t n) {
  size_t p = 16;
  while (p < n)
    p <<= 1;
  return p;
}

int32_t vox__lm_arpa_word(const vox_lm *lm, const char *w, size_t len) {
  if (!lm->vocab_slots)
    return -1;
  for (size_t i = vox__lm_hash(w, len) & lm->vocab_mask;; i = (i + 1) & lm->vocab_mask) {
    uint32_t s = lm->vocab_slots[i];
    if (!s)
      return -1;
    const char *t = lm->words + lm->word_off[s - 1];
    if (!strncmp(t, w, len) && t[len] == '\0')
      return (int32_t)(s - 1);
  }
}

static long table_find(const vox_ngram_table *t, const int32_t *ids) {
  if (!t->slots)
    return -1;
  for (int j = 0; j < t->n; j++)
    if (ids[j] < 0)
      return -1;
  for (size_t i = hash_ids(ids, t->n) & t->mask;; i = (i + 1) & t->mask) {
    uint32_t s = t->slots[i];
    if (!s)
      return -1;
    if (!memcmp(t->ids + (size_t)(s - 1) * t->n, ids, sizeof(int32_t) * t->n))
      return (long)s - 1;
  }
}

float vox__lm_arpa_score(const vox_lm *lm, const int32_t *hist, int nh, int32_t w) {
  int32_t tuple[VOX_LM_MAX_ORDER];
  int k = nh < lm->info.order - 1 ? nh : lm->info.order - 1;
  float bo = 0;
  for (; k >= 0; k--) {
    memcpy(tuple, hist + nh - k, sizeof(int32_t) * k);
    tuple[k] = w;
    long i = table_find(&lm->tables[k], tuple);
    if (i >= 0)
      return (bo + lm->tables[k].logp[i]) * LN10;
    if (k > 0) {
      long c = table_find(&lm->tables[k - 1], tuple);
      if (c >= 0)
        bo += lm->tables[k - 1].backoff[c];
    }
  }
  return -99.0f * LN10;
}

void vox__lm_free_arpa(vox_lm *lm) {
  free(lm->words);
  free(lm->word_off);
  free(lm->vocab_slots);
  for (int i = 0; i < VOX_LM_MAX_ORDER; i++) {
    free(lm->tables[i].ids);
    free(lm->tables[i].logp);
    free(lm->tables[i].backoff);
    free(lm->tables[i].slots);
  }
}

/* --------------------------------------------------------------------------- reading */

typedef struct reader {
  FILE *f;
  const char *path;
  char *line;
  size_t cap;
  long lineno;
  int pending; /* next_line returns the current line again */
  vox_error *err;
} reader;

/* Next line without its end-of-line and trailing blanks; NULL at end of file. */
static char *next_line(reader *r) {
  if (r->pending) {
    r->pending = 0;
    return r->line;
  }
  ssize_t n = getline(&r->line, &r->cap, r->f);
  if (n < 0)
    return NULL;
  r->lineno++;
  while (n > 0 && (r->line[n - 1] == '\n' || r->line[n - 1] == '\r' || r->line[n - 1] == ' ' ||
                   r->line[n - 1] == '\t'))
    r->line[--n] = '\0';
  return r->line;
}

static char *next_nonblank(reader *r) {
  char *l;
  while ((l = next_line(r)) && !*l)
    ;
  return l;
}

static vox_status fail(reader *r, vox_status code, const char *what) {
  if (r->lineno)
    return vox_error_set(r->err, code, "%s: line %ld: %s", r->path, r->lineno, what);
  return vox_error_set(r->err, code, "%s: %s", r->path, what);
}

static int parse_float(const char *s, float *out) {
  char *end;
  errno = 0;
  float v = strtof(s, &end);
  if (end == s || *end || errno || !isfinite(v))
    return -1;
  *out = v;
  return 0;
}

static vox_status table_init(vox_ngram_table *t, int n, size_t count) {
  t->n = n;
  t->cap = count;
  t->ids = malloc(sizeof(int32_t) * (size_t)n * (count ? count : 1));
  t->logp = malloc(sizeof(float) * (count ? count : 1));
  t->backoff = calloc(count ? count : 1, sizeof(float));
  t->mask = pow2_at_least(count * 2) - 1;
  t->slots = calloc(t->mask + 1, sizeof(uint32_t));
  return t->ids && t->logp && t->backoff && t->slots ? VOX_OK : VOX_ERR_NO_MEMORY;
}

/* Adds an entry; -1 when the same n-gram is already there. */
static int table_add(vox_ngram_table *t, const int32_t *ids, float logp, float backoff) {
  size_t i = hash_ids(ids, t->n) & t->mask;
  for (; t->slots[i]; i = (i + 1) & t->mask)
    if (!memcmp(t->ids + (size_t)(t->slots[i] - 1) * t->n, ids, sizeof(int32_t) * t->n))
      return -1;
  memcpy(t->ids + t->count * t->n, ids, sizeof(int32_t) * t->n);
  t->logp[t->count] = logp;
  t->backoff[t->count] = backoff;
  t->slots[i] = (uint32_t)++t->count;
  return 0;
}

static int add_word(vox_lm *lm, const char *w, int32_t *id) {
  size_t n = strlen(w);
  if (vox__lm_arpa_word(lm, w, n) >= 0)
    return -1;
  if (lm->words_len + n + 1 > lm->words_cap) {
    size_t cap = (lm->words_cap + n + 1) * 2;
    char *t = realloc(lm->words, cap);
    if (!t)
      return -2;
    lm->words = t;
    lm->words_cap = cap;
  }
  *id = (int32_t)lm->tables[0].count;
  lm->word_off[*id] = (uint32_t)lm->words_len;
  memcpy(lm->words + lm->words_len, w, n + 1);
  lm->words_len += n + 1;
  size_t i = vox__lm_hash(w, n) & lm->vocab_mask;
  while (lm->vocab_slots[i])
    i = (i + 1) & lm->vocab_mask;
  lm->vocab_slots[i] = (uint32_t)*id + 1;
  return 0;
}

static vox_status read_section(vox_lm *lm, reader *r, int n, size_t count) {
  char msg[300];
  char *l = next_nonblank(r);
  char want[32];
  snprintf(want, sizeof want, "\\%d-grams:", n);
  if (!l || strcmp(l, want)) {
    snprintf(msg, sizeof msg, "expected the '%s' section header, found '%.40s'", want, l ? l : "end of file");
    return fail(r, VOX_ERR_FORMAT, msg);
  }
  vox_ngram_table *t = &lm->tables[n - 1];
  if (table_init(t, n, count) != VOX_OK)
    return fail(r, VOX_ERR_NO_MEMORY, "out of memory");
  if (n == 1) {
    lm->word_off = malloc(sizeof(uint32_t) * (count ? count : 1));
    lm->vocab_mask = pow2_at_least(count * 2) - 1;
    lm->vocab_slots = calloc(lm->vocab_mask + 1, sizeof(uint32_t));
    if (!lm->word_off || !lm->vocab_slots)
      return fail(r, VOX_ERR_NO_MEMORY, "out of memory");
  }
  int32_t ids[VOX_LM_MAX_ORDER];
  for (size_t e = 0; e < count; e++) {
    l = next_line(r);
    if (!l || !*l || *l == '\\') {
      snprintf(msg, sizeof msg, "the %d-grams section ends after %zu entries; \\data\\ declares %zu", n, e, count);
      return fail(r, VOX_ERR_FORMAT, msg);
    }
    char *tok[VOX_LM_MAX_ORDER + 3], *save = NULL;
    int nt = 0;
    for (char *s = strtok_r(l, " \t", &save); s; s = strtok_r(NULL, " \t", &save)) {
      if (nt == n + 2)
        return fail(r, VOX_ERR_FORMAT, "too many fields for this section's n-gram order");
      tok[nt++] = s;
    }
    float logp, bo = 0;
    if (nt < n + 1) {
      snprintf(msg, sizeof msg, "a %d-gram entry needs a log-probability and %d word%s", n, n, n > 1 ? "s" : "");
      return fail(r, VOX_ERR_FORMAT, msg);
    }
    if (parse_float(tok[0], &logp) || logp > 0)
      return fail(r, VOX_ERR_FORMAT, "the log10 probability is not a number <= 0");
    if (nt == n + 2 && (n == lm->info.order || parse_float(tok[n + 1], &bo)))
      return fail(r, VOX_ERR_FORMAT, n == lm->info.order ? "a backoff weight on an n-gram of the highest order"
                                                         : "the backoff weight is not a number");
    if (n == 1) {
      int rc = add_word(lm, tok[1], &ids[0]);
      if (rc == -2)
        return fail(r, VOX_ERR_NO_MEMORY, "out of memory");
      if (rc < 0) {
        snprintf(msg, sizeof msg, "the word '%.80s' appears twice in the 1-grams", tok[1]);
        return fail(r, VOX_ERR_FORMAT, msg);
      }
    } else {
      for (int j = 0; j < n; j++)
        if ((ids[j] = vox__lm_arpa_word(lm, tok[1 + j], strlen(tok[1 + j]))) < 0) {
          snprintf(msg, sizeof msg, "the word '%.80s' is not among the 1-grams", tok[1 + j]);
          return fail(r, VOX_ERR_FORMAT, msg);
        }
    }
    if (table_add(t, ids, logp, bo)) {
      snprintf(msg, sizeof msg, "the same %d-gram appears twice", n);
      return fail(r, VOX_ERR_FORMAT, msg);
    }
  }
  return VOX_OK;
}

static vox_status read_header(vox_lm *lm, reader *r, off_t file_size) {
  char *l;
  while ((l = next_line(r)) && strcmp(l, "\\data\\"))
    ;
  if (!l)
    return vox_error_set(r->err, VOX_ERR_FORMAT, "%s: not an ARPA language model (no \\data\\ section)", r->path);
  size_t counts[VOX_LM_MAX_ORDER + 1] = {0};
  int order = 0;
  char msg[200];
  while ((l = next_nonblank(r)) && strncmp(l, "\\", 1)) {
    int n;
    long long c;
    char tail;
    if (sscanf(l, "ngram %d = %lld %c", &n, &c, &tail) != 2 || n < 1 || c < 0)
      return fail(r, VOX_ERR_FORMAT, "expected 'ngram N=COUNT' in the \\data\\ section");
    if (n > VOX_LM_MAX_ORDER) {
      snprintf(msg, sizeof msg, "%d-grams: voxpipe reads models up to order %d", n, VOX_LM_MAX_ORDER);
      return fail(r, VOX_ERR_UNSUPPORTED, msg);
    }
    if (n != order + 1)
      return fail(r, VOX_ERR_FORMAT, "the n-gram counts must list orders 1, 2, 3, ... in turn");
    /* an entry takes at least "p w\n" per order: a count the file cannot hold is a lie */
    if ((unsigned long long)c > (unsigned long long)file_size / (2ull * n + 2) || c > 0x7fffffffLL)
      return fail(r, VOX_ERR_FORMAT, "an n-gram count larger than the file can hold");
    counts[n - 1] = (size_t)c;
    order = n;
  }
  if (!order)
    return fail(r, VOX_ERR_FORMAT, "the \\data\\ section lists no n-gram counts");
  if (!counts[0])
    return fail(r, VOX_ERR_FORMAT, "the model has no 1-grams");
  lm->info.order = order;
  for (int i = 0; i < order; i++)
    lm->info.counts[i] = counts[i];
  r->pending = l != NULL; /* the loop's stop line is the first section's header */
  return VOX_OK;
}

vox_status vox__lm_read_arpa(vox_lm *lm, const char *path, vox_error *err) {
  reader r = {NULL, path, NULL, 0, 0, 0, err};
  struct stat sb;
  if (stat(path, &sb) || !S_ISREG(sb.st_mode))
    return vox_error_set(err, VOX_ERR_NOT_FOUND, "%s: no such language model file", path);
  if (!(r.f = fopen(path, "rb")))
    return vox_error_set(err, VOX_ERR_IO, "%s: %s", path, strerror(errno));
  vox_status st = read_header(lm, &r, sb.st_size);
  for (int n = 1; st == VOX_OK && n <= lm->info.order; n++)
    st = read_section(lm, &r, n, lm->info.counts[n - 1]);
  if (st == VOX_OK) {
    char *l = next_nonblank(&r);
    if (!l || strcmp(l, "\\end\\"))
      st = fail(&r, VOX_ERR_FORMAT, l ? "expected '\\end\\' after the last section" : "no '\\end\\' (truncated file?)");
  }
  free(r.line);
  fclose(r.f);
  if (st != VOX_OK)
    return st;
  lm->info.format = "arpa";
  lm->info.memory_bytes = lm->words_cap + (lm->vocab_mask + 1) * 4 + lm->info.counts[0] * 4;
  for (int n = 1; n <= lm->info.order; n++) {
    vox_ngram_table *t = &lm->tables[n - 1];
    lm->info.memory_bytes += t->cap * (sizeof(int32_t) * n + 2 * sizeof(float)) + (t->mask + 1) * 4;
  }
  return VOX_OK;
}
