/* ctc_beam.c - CTC prefix beam search over a shared prefix tree, with word LM and hot words.
 *
 * Prefixes are nodes of one tree (parent, first child, next sibling), so extending a hypothesis
 * costs a node, not a copy of its text, and two hypotheses that spell the same prefix meet in the
 * same node, where their probabilities are summed. When the node pool is full the nodes no live
 * hypothesis reaches are dropped (a parent is always older than its children, so compacting in
 * index order keeps the tree valid).
 */
#include "voxpipe/vox_ctc_beam.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NEG_INF (-INFINITY)
#define MAX_WORD 128
#define HIST (VOX_LM_MAX_ORDER - 1)

typedef struct node {
  int32_t parent, child, sibling;
  int32_t label;  /* class index; -1 at the root */
  int32_t frame;  /* frame where the extension to it was most probable */
  float logp;     /* its class's log-probability in that frame */
} node;

typedef struct hyp {
  int32_t node;
  float pb, pnb;         /* ln P(prefix, ends in blank / in its last label), LM scores included */
  float hot;             /* hot-word boost granted to the current partial word */
  float oov;             /* unknown-word penalty charged early: the partial word begins no LM word */
  int32_t hist[HIST];    /* LM history, oldest first */
  int32_t nhist;
  float final;           /* total after vox_ctc_beam_finish */
} hyp;

typedef struct hotword {
  char *word;
  size_t len;
  float boost;
} hotword;

struct vox_ctc_beam {
  char **labels;
  int n_labels, n_classes, blank, space;
  double frame_s;
  vox_beam_params p;
  hotword *hot;
  node *nodes;
  size_t n_nodes, cap_nodes;
  hyp *cur, *next;
  size_t n_cur, n_next, cap_next;
  int32_t *slots;       /* node -> next index + 1, open addressing */
  size_t slot_mask;
  int32_t *order;       /* scratch for ranking */
  int32_t *remap;       /* scratch for compaction */
  size_t frame;
  int finished;
  /* results */
  char *text;
  size_t text_cap;
  vox_word *words;
  size_t cap_words;
  int32_t *path;
  size_t cap_path;
};

static inline float lae(float a, float b) {
  if (a == NEG_INF)
    return b;
  if (b == NEG_INF)
    return a;
  return a > b ? a + log1pf(expf(b - a)) : b + log1pf(expf(a - b));
}

vox_beam_params vox_beam_default_params(void) {
  vox_beam_params p = {16, 10.0f, NULL, 0.5f, 2.0f, -10.0f, NULL, 0};
  return p;
}

void vox_ctc_beam_free(vox_ctc_beam *d) {
  if (!d)
    return;
  for (int i = 0; d->labels && i < d->n_labels; i++)
    free(d->labels[i]);
  for (size_t i = 0; d->hot && i < d->p.n_hotwords; i++)
    free(d->hot[i].word);
  free(d->labels);
  free(d->hot);
  free(d->nodes);
  free(d->cur);
  free(d->next);
  free(d->slots);
  free(d->order);
  free(d->remap);
  free(d->text);
  free(d->words);
  free(d->path);
  free(d);
}

void vox_ctc_beam_reset(vox_ctc_beam *d) {
  d->nodes[0] = (node){-1, -1, -1, -1, 0, 0};
  d->n_nodes = 1;
  d->cur[0] = (hyp){0, 0.0f, NEG_INF, 0, 0, {0}, 0, 0};
  d->n_cur = 1;
  d->frame = 0;
  d->finished = 0;
}

/* Length of the longest prefix of w (len < MAX_WORD) that the labels (other than the space) spell:
 * len when all of it. A hot word they cannot spell never matches any hypothesis. */
static size_t spelled_prefix(const char *w, size_t len, char *const *labels, int n_labels) {
  unsigned char reach[MAX_WORD + 1] = {1};
  size_t best = 0;
  for (size_t i = 0; i < len; i++) {
    if (!reach[i])
      continue;
    best = i;
    for (int k = 0; k < n_labels; k++) {
      size_t n = strlen(labels[k]);
      if (n && strcmp(labels[k], " ") && n <= len - i && !memcmp(w + i, labels[k], n))
        reach[i + n] = 1;
    }
  }
  return reach[len] ? len : best;
}

vox_status vox_ctc_beam_new(const char *const *labels, int n_labels, int blank, double frame_s,
                            const vox_beam_params *params, vox_ctc_beam **out, vox_error *err) {
  *out = NULL;
  vox_beam_params p = params ? *params : vox_beam_default_params();
  if (n_labels < 1 || blank < 0 || blank > n_labels || !(frame_s > 0))
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT, "CTC decoder: %d labels with blank %d is inconsistent",
                         n_labels, blank);
  if (p.beam_size < 1 || p.beam_size > 4096 || !(p.prune_logp > 0) || !isfinite(p.alpha) || !isfinite(p.beta) ||
      !isfinite(p.unk_penalty))
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT,
                         "beam search: need 1 <= beam <= 4096, a pruning threshold > 0 and finite alpha, beta "
                         "and unknown-word penalty");
  vox_ctc_beam *d = calloc(1, sizeof *d);
  if (!d)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  d->n_labels = n_labels;
  d->n_classes = n_labels + 1;
  d->blank = blank;
  d->space = -1;
  d->frame_s = frame_s;
  d->p = p;
  d->labels = calloc((size_t)n_labels, sizeof *d->labels);
  d->hot = calloc(p.n_hotwords ? p.n_hotwords : 1, sizeof *d->hot);
  int ok = d->labels && d->hot;
  for (int i = 0; ok && i < n_labels; i++) {
    ok = (d->labels[i] = strdup(labels[i] ? labels[i] : "")) != NULL;
    if (ok && !strcmp(d->labels[i], " "))
      d->space = i >= blank ? i + 1 : i; /* class index */
  }
  for (size_t i = 0; ok && i < p.n_hotwords; i++) {
    const char *w = p.hotwords[i].word ? p.hotwords[i].word : "";
    if (!*w || strlen(w) >= MAX_WORD || strchr(w, ' ') || !isfinite(p.hotwords[i].boost)) {
      vox_ctc_beam_free(d);
      return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT,
                           "hot word '%.60s': need one word of 1..%d letters and a finite boost", w, MAX_WORD - 1);
    }
    size_t len = strlen(w), at = spelled_prefix(w, len, d->labels, n_labels);
    if (at < len) {
      vox_ctc_beam_free(d);
      return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT,
                           "hot word '%.60s': the model's labels cannot spell it from '%.20s' on (they are case "
                           "sensitive: NeMo's English models spell lowercase a-z and ')",
                           w, w + at);
    }
    ok = (d->hot[i].word = strdup(w)) != NULL;
    d->hot[i].len = len;
    d->hot[i].boost = p.hotwords[i].boost;
  }
  d->p.hotwords = NULL;
  d->cap_next = (size_t)p.beam_size * (size_t)(d->n_classes + 1);
  d->cap_nodes = 4096 + 4 * d->cap_next;
  size_t slots = 16;
  while (slots < 2 * d->cap_next)
    slots <<= 1;
  d->slot_mask = slots - 1;
  d->nodes = malloc(d->cap_nodes * sizeof *d->nodes);
  d->remap = malloc(d->cap_nodes * sizeof *d->remap);
  d->cur = malloc(d->cap_next * sizeof *d->cur);
  d->next = malloc(d->cap_next * sizeof *d->next);
  d->order = malloc(d->cap_next * sizeof *d->order);
  d->slots = calloc(slots, sizeof *d->slots);
  if (!ok || !d->nodes || !d->remap || !d->cur || !d->next || !d->order || !d->slots) {
    vox_ctc_beam_free(d);
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  }
  vox_ctc_beam_reset(d);
  *out = d;
  return VOX_OK;
}

/* ------------------------------------------------------------------ prefix tree */

static int32_t child_of(vox_ctc_beam *d, int32_t parent, int32_t label, int32_t frame, float logp) {
  for (int32_t c = d->nodes[parent].child; c >= 0; c = d->nodes[c].sibling)
    if (d->nodes[c].label == label) {
      if (logp > d->nodes[c].logp) { /* a letter's time is its spike: where it is most probable */
        d->nodes[c].frame = frame;
        d->nodes[c].logp = logp;
      }
      return c;
    }
  int32_t i = (int32_t)d->n_nodes++;
  d->nodes[i] = (node){parent, -1, d->nodes[parent].child, label, frame, logp};
  d->nodes[parent].child = i;
  return i;
}

/* Keeps the nodes live hypotheses reach; grows the pool when that is still more than half of it. */
static int compact(vox_ctc_beam *d, size_t need) {
  int32_t *keep = d->remap;
  memset(keep, 0, d->n_nodes * sizeof *keep);
  if (!d->n_cur) /* otherwise the root is reached from the hypotheses (after a forget, the new one) */
    keep[0] = 1;
  for (size_t h = 0; h < d->n_cur; h++)
    for (int32_t n = d->cur[h].node; n >= 0 && !keep[n]; n = d->nodes[n].parent)
      keep[n] = 1;
  size_t m = 0;
  for (size_t i = 0; i < d->n_nodes; i++) {
    if (!keep[i]) {
      keep[i] = -1;
      continue;
    }
    node nd = d->nodes[i];
    nd.parent = nd.parent >= 0 ? keep[nd.parent] : -1;
    nd.child = -1;
    keep[i] = (int32_t)m;
    if (nd.parent >= 0) {
      nd.sibling = d->nodes[nd.parent].child;
      d->nodes[nd.parent].child = (int32_t)m;
    } else {
      nd.sibling = -1;
    }
    d->nodes[m++] = nd;
  }
  for (size_t h = 0; h < d->n_cur; h++)
    d->cur[h].node = keep[d->cur[h].node];
  d->n_nodes = m;
  if (m + need > d->cap_nodes / 2) {
    size_t cap = (d->cap_nodes + need) * 2;
    node *nn = realloc(d->nodes, cap * sizeof *nn);
    if (!nn)
      return -1;
    d->nodes = nn;
    int32_t *r = realloc(d->remap, cap * sizeof *r);
    if (!r)
      return -1;
    d->remap = r;
    d->cap_nodes = cap;
  }
  return 0;
}

/* ------------------------------------------------------------------ scoring */

static const char *label_of(const vox_ctc_beam *d, int32_t cls) {
  return d->labels[cls > d->blank ? cls - 1 : cls];
}

/* The letters of the word that ends at node n (back to the previous space or the root). */
static size_t word_at(const vox_ctc_beam *d, int32_t n, char *buf) {
  int32_t stack[MAX_WORD];
  size_t k = 0;
  for (; n > 0 && d->nodes[n].label != d->space; n = d->nodes[n].parent) {
    if (k == MAX_WORD)
      return MAX_WORD; /* too long to be a word anyone listed */
    stack[k++] = n;
  }
  size_t len = 0;
  while (k) {
    const char *s = label_of(d, d->nodes[stack[--k]].label);
    size_t l = strlen(s);
    if (len + l >= MAX_WORD)
      return MAX_WORD;
    memcpy(buf + len, s, l);
    len += l;
  }
  buf[len] = '\0';
  return len;
}

/* Boost owed to a partial word of these letters: the best share of a hot word it begins. */
static float hot_partial(const vox_ctc_beam *d, const char *w, size_t len, int *exact) {
  float best = 0;
  *exact = 0;
  for (size_t i = 0; i < d->p.n_hotwords; i++) {
    const hotword *h = &d->hot[i];
    if (len <= h->len && !memcmp(h->word, w, len)) {
      float b = h->boost * (float)len / (float)h->len;
      if (b > best)
        best = b;
      if (len == h->len)
        *exact = 1;
    }
  }
  return best;
}

/* Score of completing the current word of h (ending at node n); updates h's LM history. */
static float complete_word(const vox_ctc_beam *d, hyp *h, int32_t n) {
  char w[MAX_WORD + 1];
  size_t len = word_at(d, n, w);
  if (!len)
    return 0;
  int exact = 0;
  if (len < MAX_WORD)
    hot_partial(d, w, len, &exact);
  float s = d->p.beta + (exact ? 0 : -h->hot) - h->oov; /* the early charges are settled below */
  h->hot = 0;
  h->oov = 0;
  const vox_lm *lm = d->p.lm;
  if (!lm)
    return s;
  int32_t id = len < MAX_WORD ? vox_lm_word(lm, w, len) : -1;
  if (id < 0 && exact)
    return s; /* a hot word the LM does not know is not penalised as unknown */
  if (id < 0 && vox_lm_unk(lm) < 0) {
    h->nhist = 0;
    return s + d->p.unk_penalty;
  }
  if (id < 0)
    id = vox_lm_unk(lm);
  s += d->p.alpha * vox_lm_score(lm, h->hist, h->nhist, id);
  if (h->nhist == HIST) {
    memmove(h->hist, h->hist + 1, sizeof(int32_t) * (HIST - 1));
    h->nhist--;
  }
  h->hist[h->nhist++] = id;
  return s;
}

/* The next-frame hypothesis for node n, created from `from` when n is new this frame. */
static hyp *next_for(vox_ctc_beam *d, int32_t n, const hyp *from) {
  size_t i = ((uint32_t)n * 2654435761u) & d->slot_mask;
  for (; d->slots[i]; i = (i + 1) & d->slot_mask)
    if (d->next[d->slots[i] - 1].node == n)
      return &d->next[d->slots[i] - 1];
  hyp *h = &d->next[d->n_next];
  *h = *from;
  h->node = n;
  h->pb = h->pnb = NEG_INF;
  d->slots[i] = (int32_t)++d->n_next;
  return h;
}

static void extend(vox_ctc_beam *d, const hyp *b, int32_t cls, float score, float logp) {
  const node *last = &d->nodes[b->node];
  if (cls == d->space) {
    if (b->node == 0 || last->label == d->space) { /* no word to end: spaces do not pile up */
      hyp *h = next_for(d, b->node, b);
      h->pnb = lae(h->pnb, score);
      return;
    }
    hyp tmp = *b;
    float ws = complete_word(d, &tmp, b->node);
    int32_t c = child_of(d, b->node, cls, (int32_t)d->frame, logp);
    hyp *h = next_for(d, c, &tmp);
    h->pnb = lae(h->pnb, score + ws);
    return;
  }
  int32_t c = child_of(d, b->node, cls, (int32_t)d->frame, logp);
  float delta = 0, hot = b->hot, oov = b->oov;
  int closed_lm = d->p.lm && vox_lm_unk(d->p.lm) < 0;
  if (d->p.n_hotwords || (closed_lm && oov == 0)) {
    char w[MAX_WORD + 1];
    size_t len = word_at(d, c, w);
    int exact;
    hot = d->p.n_hotwords && len < MAX_WORD ? hot_partial(d, w, len, &exact) : 0;
    delta = hot - b->hot;
    /* as soon as the letters begin no word the LM knows (nor a hot word), the word will be unknown:
     * charge its penalty now, so such spellings leave the beam early (given back at the word's end) */
    if (closed_lm && oov == 0 && hot == 0 && (len >= MAX_WORD || !vox_lm_is_prefix(d->p.lm, w, len))) {
      oov = d->p.unk_penalty;
      delta += oov;
    }
  }
  hyp tmp = *b;
  tmp.hot = hot;
  tmp.oov = oov;
  hyp *h = next_for(d, c, &tmp);
  h->pnb = lae(h->pnb, score + delta);
}

static int by_total(const void *a, const void *b, void *ctx) {
  const hyp *h = ctx;
  float x = lae(h[*(const int32_t *)a].pb, h[*(const int32_t *)a].pnb);
  float y = lae(h[*(const int32_t *)b].pb, h[*(const int32_t *)b].pnb);
  return x > y ? -1 : x < y ? 1 : 0;
}

vox_status vox_ctc_beam_push(vox_ctc_beam *d, const float *logp, size_t stride, size_t n, vox_error *err) {
  if (d->finished)
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT, "beam search already finished: reset it first");
  size_t need = d->n_cur * (size_t)d->n_classes;
  for (size_t t = 0; t < n; t++, d->frame++) {
    if (d->n_nodes + need > d->cap_nodes && compact(d, need))
      return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
    float best = NEG_INF;
    for (int c = 0; c < d->n_classes; c++)
      if (logp[(size_t)c * stride + t] > best)
        best = logp[(size_t)c * stride + t];
    float floor = best - d->p.prune_logp;
    d->n_next = 0;
    for (size_t i = 0; i < d->n_cur; i++) {
      const hyp *b = &d->cur[i];
      float tot = lae(b->pb, b->pnb);
      int32_t last = d->nodes[b->node].label;
      for (int c = 0; c < d->n_classes; c++) {
        float lp = logp[(size_t)c * stride + t];
        if (!(lp >= floor))
          continue;
        if (c == d->blank) {
          hyp *h = next_for(d, b->node, b);
          h->pb = lae(h->pb, tot + lp);
        } else if (c == last) {
          hyp *h = next_for(d, b->node, b);
          h->pnb = lae(h->pnb, b->pnb + lp);
          if (b->pb != NEG_INF)
            extend(d, &d->cur[i], c, b->pb + lp, lp);
        } else {
          extend(d, &d->cur[i], c, tot + lp, lp);
        }
      }
    }
    for (size_t i = 0; i < d->n_next; i++)
      d->order[i] = (int32_t)i;
    memset(d->slots, 0, (d->slot_mask + 1) * sizeof *d->slots);
    qsort_r(d->order, d->n_next, sizeof *d->order, by_total, d->next);
    size_t keep = d->n_next < (size_t)d->p.beam_size ? d->n_next : (size_t)d->p.beam_size;
    for (size_t i = 0; i < keep; i++)
      d->cur[i] = d->next[d->order[i]];
    d->n_cur = keep;
    if (!keep) /* every class pruned (NaN input): start over rather than lose the stream */
      vox_ctc_beam_reset(d);
    need = d->n_cur * (size_t)d->n_classes;
  }
  return VOX_OK;
}

void vox_ctc_beam_finish(vox_ctc_beam *d) {
  if (d->finished)
    return;
  d->finished = 1;
  const vox_lm *lm = d->p.lm;
  for (size_t i = 0; i < d->n_cur; i++) {
    hyp *h = &d->cur[i];
    float s = lae(h->pb, h->pnb);
    if (h->node > 0 && d->nodes[h->node].label != d->space)
      s += complete_word(d, h, h->node);
    if (lm && vox_lm_eos(lm) >= 0 && h->node > 0)
      s += d->p.alpha * vox_lm_score(lm, h->hist, h->nhist, vox_lm_eos(lm));
    h->final = s;
    h->pb = s; /* rank on the final score */
    h->pnb = NEG_INF;
  }
  for (size_t i = 0; i < d->n_cur; i++)
    d->order[i] = (int32_t)i;
  qsort_r(d->order, d->n_cur, sizeof *d->order, by_total, d->cur);
  for (size_t i = 0; i < d->n_cur; i++)
    d->next[i] = d->cur[d->order[i]];
  memcpy(d->cur, d->next, d->n_cur * sizeof *d->cur);
}

/* ------------------------------------------------------------------ results */

static int reserve(void **p, size_t *cap, size_t need, size_t size) {
  if (need <= *cap)
    return 0;
  size_t c = *cap ? *cap : 64;
  while (c < need)
    c *= 2;
  void *t = realloc(*p, c * size);
  if (!t)
    return -1;
  *p = t;
  *cap = c;
  return 0;
}

static size_t depth_of(const vox_ctc_beam *d, int32_t n) {
  size_t k = 0;
  for (; n > 0; n = d->nodes[n].parent)
    k++;
  return k;
}

/* The deepest node every live hypothesis descends from (0: the root). */
static int32_t common_ancestor(const vox_ctc_beam *d) {
  if (!d->n_cur)
    return 0;
  int32_t a = d->cur[0].node;
  size_t da = depth_of(d, a);
  for (size_t h = 1; h < d->n_cur && a > 0; h++) {
    int32_t b = d->cur[h].node;
    size_t db = depth_of(d, b);
    for (; db > da; db--)
      b = d->nodes[b].parent;
    for (; da > db; da--)
      a = d->nodes[a].parent;
    while (a != b) {
      a = d->nodes[a].parent;
      b = d->nodes[b].parent;
      da--;
    }
  }
  return a;
}

/* A space node that closes a word (its parent is a letter). */
static int closes_word(const vox_ctc_beam *d, int32_t n) {
  int32_t p = d->nodes[n].parent;
  return d->nodes[n].label == d->space && p > 0 && d->nodes[p].label != d->space;
}

/* Words completed on the prefix every live hypothesis shares (their deepest common ancestor):
 * hypotheses only extend or die, so those words are final. */
static size_t stable_words(const vox_ctc_beam *d) {
  size_t words = 0;
  for (int32_t n = common_ancestor(d); n > 0; n = d->nodes[n].parent)
    words += closes_word(d, n);
  return words;
}

size_t vox_ctc_beam_forget(vox_ctc_beam *d, size_t n) {
  size_t words = stable_words(d);
  if (n > words)
    n = words;
  if (!n || d->finished)
    return 0;
  /* the space closing word n is the (words - n)-th closing space above the common ancestor */
  size_t skip = words - n;
  int32_t r = common_ancestor(d);
  for (; r > 0; r = d->nodes[r].parent)
    if (closes_word(d, r) && skip-- == 0)
      break;
  /* it becomes the root: nothing older is reachable, so compaction moves it to index 0 */
  d->nodes[r].parent = -1;
  d->nodes[r].label = -1;
  d->nodes[r].sibling = -1;
  (void)compact(d, 0); /* a failed growth leaves the compacted pool as it was: still valid */
  return n;
}

size_t vox_ctc_beam_nbest(vox_ctc_beam *d, size_t k, vox_transcript *out, float *scores) {
  if (k > d->n_cur)
    k = d->n_cur;
  /* one text buffer: each hypothesis's text, then each of its words NUL-terminated */
  size_t text_need = 1, word_need = 1, path_need = 1;
  for (size_t r = 0; r < k; r++) {
    size_t len = 0, bytes = 0;
    for (int32_t n = d->cur[r].node; n > 0; n = d->nodes[n].parent, len++)
      bytes += strlen(label_of(d, d->nodes[n].label)) + 1;
    path_need = len + 1 > path_need ? len + 1 : path_need;
    text_need += 2 * bytes + 2;
    word_need += len;
  }
  if (reserve((void **)&d->path, &d->cap_path, path_need, sizeof *d->path) ||
      reserve((void **)&d->text, &d->text_cap, text_need, 1) ||
      reserve((void **)&d->words, &d->cap_words, word_need, sizeof *d->words))
    k = 0;
  size_t to = 0, wo = 0, stable = k ? stable_words(d) : 0;
  for (size_t r = 0; r < k; r++) {
    const hyp *h = &d->cur[r];
    size_t len = 0;
    for (int32_t n = h->node; n > 0; n = d->nodes[n].parent)
      d->path[len++] = n;
    vox_transcript *v = &out[r];
    memset(v, 0, sizeof *v);
    v->text = d->text + to;
    v->words = d->words + wo;
    size_t nw = 0, letters = 0;
    int in_word = 0;
    double conf = 0;
    for (size_t j = len; j-- > 0;) {
      const node *nd = &d->nodes[d->path[j]];
      if (nd->label == d->space) {
        in_word = 0;
        continue;
      }
      if (!in_word) {
        if (nw)
          d->text[to++] = ' ';
        vox_word *w = &d->words[wo + nw++];
        w->start_s = nd->frame * d->frame_s;
        letters = 0;
        conf = 0;
        in_word = 1;
      }
      const char *s = label_of(d, nd->label);
      size_t l = strlen(s);
      memcpy(d->text + to, s, l);
      to += l;
      vox_word *w = &d->words[wo + nw - 1];
      w->end_s = (nd->frame + 1) * d->frame_s;
      if (w->end_s < w->start_s + d->frame_s)
        w->end_s = w->start_s + d->frame_s;
      conf += exp((double)nd->logp);
      w->confidence = (float)(conf / (double)++letters);
    }
    d->text[to++] = '\0';
    /* the words' own copies */
    const char *src = v->text;
    for (size_t i = 0; i < nw; i++) {
      while (*src == ' ')
        src++;
      size_t l = strcspn(src, " ");
      memcpy(d->text + to, src, l);
      d->text[to + l] = '\0';
      d->words[wo + i].text = d->text + to;
      to += l + 1;
      src += l;
    }
    v->n_words = nw;
    v->n_stable_words = d->finished ? nw : (stable < nw ? stable : nw);
    v->n_frames = d->frame;
    v->duration_s = (double)d->frame * d->frame_s;
    wo += nw;
    if (scores)
      scores[r] = d->finished ? h->final : lae(h->pb, h->pnb);
  }
  return k;
}

void vox_ctc_beam_result(vox_ctc_beam *d, vox_transcript *out) {
  if (!vox_ctc_beam_nbest(d, 1, out, NULL)) {
    memset(out, 0, sizeof *out);
    out->text = "";
    out->n_frames = d->frame;
    out->duration_s = (double)d->frame * d->frame_s;
  }
}
