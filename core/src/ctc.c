/* ctc.c - incremental greedy CTC decoding into words with times and confidences. */
#include "voxpipe/vox_ctc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct word_rec {
  size_t text_off;
  size_t first_frame, last_frame;
  double cum_before; /* sum of frame confidences before first_frame */
  double cum_last;   /* sum through last_frame */
} word_rec;

struct vox_ctc_decoder {
  char **labels;
  int n_labels, n_classes, blank;
  double frame_s;
  int prev;           /* class of the previous frame */
  size_t frame;       /* frames decoded */
  double cum;         /* sum of best-class probabilities so far */
  int in_word;
  char *text;         /* words separated by single spaces */
  size_t text_len, text_cap;
  char *wtext;        /* the same words, each NUL-terminated, for the word views */
  size_t wtext_len, wtext_cap;
  word_rec *words;
  size_t n_words, cap_words;
  vox_word *view;     /* result array */
  size_t cap_view;
};

void vox_ctc_decoder_free(vox_ctc_decoder *d) {
  if (!d)
    return;
  for (int i = 0; i < d->n_labels && d->labels; i++)
    free(d->labels[i]);
  free(d->labels);
  free(d->text);
  free(d->wtext);
  free(d->words);
  free(d->view);
  free(d);
}

void vox_ctc_decoder_reset(vox_ctc_decoder *d) {
  d->prev = -1;
  d->frame = 0;
  d->cum = 0;
  d->in_word = 0;
  d->text_len = 0;
  d->text[0] = '\0';
  d->wtext_len = 0;
  d->n_words = 0;
}

vox_status vox_ctc_decoder_new(const char *const *labels, int n_labels, int blank, double frame_s,
                               vox_ctc_decoder **out, vox_error *err) {
  *out = NULL;
  if (n_labels < 1 || blank < 0 || blank > n_labels || !(frame_s > 0))
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT, "CTC decoder: %d labels with blank %d is inconsistent",
                         n_labels, blank);
  vox_ctc_decoder *d = calloc(1, sizeof *d);
  if (!d)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  d->n_labels = n_labels;
  d->n_classes = n_labels + 1;
  d->blank = blank;
  d->frame_s = frame_s;
  d->labels = calloc((size_t)n_labels, sizeof *d->labels);
  d->text_cap = 256;
  d->text = malloc(d->text_cap);
  d->wtext_cap = 256;
  d->wtext = malloc(d->wtext_cap);
  int ok = d->labels && d->text && d->wtext;
  for (int i = 0; ok && i < n_labels; i++)
    ok = (d->labels[i] = strdup(labels[i] ? labels[i] : "")) != NULL;
  if (!ok) {
    vox_ctc_decoder_free(d);
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  }
  vox_ctc_decoder_reset(d);
  *out = d;
  return VOX_OK;
}

/* Appends s (with its NUL) at *len, growing the buffer geometrically. */
static int buf_append(char **buf, size_t *len, size_t *cap, const char *s) {
  size_t n = strlen(s);
  if (*len + n + 2 > *cap) {
    size_t ncap = *cap * 2 + n;
    char *t = realloc(*buf, ncap);
    if (!t)
      return -1;
    *buf = t;
    *cap = ncap;
  }
  memcpy(*buf + *len, s, n + 1);
  *len += n;
  return 0;
}

static int text_append(vox_ctc_decoder *d, const char *s) {
  return buf_append(&d->text, &d->text_len, &d->text_cap, s);
}

static int is_space_label(const char *s) { return s[0] == ' ' && s[1] == '\0'; }

vox_status vox_ctc_decoder_push(vox_ctc_decoder *d, const float *logp, size_t stride, size_t n, vox_error *err) {
  for (size_t t = 0; t < n; t++) {
    int best = 0;
    float bv = logp[t];
    for (int c = 1; c < d->n_classes; c++) {
      float v = logp[(size_t)c * stride + t];
      if (v > bv) {
        bv = v;
        best = c;
      }
    }
    double before = d->cum;
    d->cum += exp((double)bv);
    if (best != d->prev && best != d->blank) {
      /* the label index space skips the blank when the blank is not last */
      int li = best > d->blank ? best - 1 : best;
      const char *lab = d->labels[li];
      if (is_space_label(lab)) {
        d->in_word = 0;
      } else {
        if (!d->in_word) {
          if (d->n_words == d->cap_words) {
            size_t cap = d->cap_words ? d->cap_words * 2 : 64;
            word_rec *w = realloc(d->words, cap * sizeof *w);
            if (!w)
              return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
            d->words = w;
            d->cap_words = cap;
          }
          if (d->n_words && text_append(d, " "))
            return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
          if (d->n_words)
            d->wtext_len++; /* keep the previous word's NUL */
          word_rec *w = &d->words[d->n_words++];
          w->text_off = d->wtext_len;
          w->first_frame = d->frame;
          w->cum_before = before;
          d->in_word = 1;
        }
        if (text_append(d, lab) || buf_append(&d->wtext, &d->wtext_len, &d->wtext_cap, lab))
          return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
        word_rec *w = &d->words[d->n_words - 1];
        w->last_frame = d->frame;
        w->cum_last = d->cum;
      }
    }
    d->prev = best;
    d->frame++;
  }
  return VOX_OK;
}

void vox_ctc_decoder_result(vox_ctc_decoder *d, vox_transcript *out) {
  memset(out, 0, sizeof *out);
  if (d->n_words > d->cap_view) {
    vox_word *v = realloc(d->view, d->n_words * sizeof *v);
    if (v) {
      d->view = v;
      d->cap_view = d->n_words;
    }
  }
  size_t nw = d->n_words <= d->cap_view ? d->n_words : 0;
  for (size_t i = 0; i < nw; i++) {
    word_rec *w = &d->words[i];
    d->view[i].text = d->wtext + w->text_off;
    d->view[i].start_s = (double)w->first_frame * d->frame_s;
    d->view[i].end_s = (double)(w->last_frame + 1) * d->frame_s;
    double frames = (double)(w->last_frame - w->first_frame + 1);
    d->view[i].confidence = (float)((w->cum_last - w->cum_before) / frames);
  }
  out->text = d->text;
  out->words = d->view;
  out->n_words = nw;
  out->n_frames = d->frame;
  out->duration_s = (double)d->frame * d->frame_s;
  out->n_stable_words = nw - (nw && d->in_word ? 1 : 0); /* an open word may still grow */
}

size_t vox_ctc_decoder_forget(vox_ctc_decoder *d, size_t n) {
  size_t stable = d->n_words - (d->n_words && d->in_word ? 1 : 0);
  if (n > stable)
    n = stable;
  if (!n)
    return 0;
  if (n == d->n_words) {
    d->n_words = d->text_len = d->wtext_len = 0;
    d->text[0] = d->wtext[0] = '\0';
    return n;
  }
  size_t woff = d->words[n].text_off, toff = 0;
  for (size_t spaces = 0; spaces < n; toff++) /* word n starts after the n-th space of text */
    spaces += d->text[toff] == ' ';
  memmove(d->wtext, d->wtext + woff, d->wtext_len - woff + 1);
  d->wtext_len -= woff;
  memmove(d->text, d->text + toff, d->text_len - toff + 1);
  d->text_len -= toff;
  memmove(d->words, d->words + n, (d->n_words - n) * sizeof *d->words);
  d->n_words -= n;
  for (size_t i = 0; i < d->n_words; i++)
    d->words[i].text_off -= woff;
  return n;
}
