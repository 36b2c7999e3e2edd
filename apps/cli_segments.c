/* cli_segments.c - `transcribe --vad`: recognise only the speech the VAD finds, one segment at a
 * time, and join the segments' words on the file's time line.
 *
 * The file is read once, in order; each segment (padded by SEG_PAD_S, split into pieces of at most
 * MAX_PIECE_S) is buffered and recognised on its own, so memory is bounded by the piece length
 * whatever the file's, and silence costs no recognition time. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define SEG_PAD_S 0.25
#define MAX_PIECE_S 30.0

void cli_joined_free(cli_joined *j) {
  for (size_t i = 0; i < j->n_words; i++)
    free((char *)j->words[i].text);
  free(j->words);
  free(j->text);
  memset(j, 0, sizeof *j);
}

static int append(cli_joined *j, const vox_transcript *t, double offset_s) {
  if (j->n_words + t->n_words > j->cap_words) {
    size_t cap = (j->cap_words + t->n_words) * 2;
    vox_word *w = realloc(j->words, cap * sizeof *w);
    if (!w)
      return -1;
    j->words = w;
    j->cap_words = cap;
  }
  size_t tl = strlen(t->text);
  if (j->text_len + tl + 2 > j->text_cap) {
    size_t cap = (j->text_cap + tl + 2) * 2;
    char *s = realloc(j->text, cap);
    if (!s)
      return -1;
    j->text = s;
    j->text_cap = cap;
  }
  if (tl) {
    if (j->text_len)
      j->text[j->text_len++] = ' ';
    memcpy(j->text + j->text_len, t->text, tl + 1);
    j->text_len += tl;
  }
  for (size_t i = 0; i < t->n_words; i++) {
    vox_word w = t->words[i];
    if (!(w.text = strdup(w.text)))
      return -1;
    w.start_s += offset_s;
    w.end_s += offset_s;
    j->words[j->n_words++] = w;
  }
  return 0;
}

/* Reads (and drops) samples until *pos reaches `to`. */
static vox_status skip_to(vox_audio_reader *r, float *scratch, size_t cap, size_t *pos, size_t to, vox_error *err) {
  while (*pos < to) {
    size_t want = to - *pos < cap ? to - *pos : cap, got;
    vox_status st = vox_audio_read(r, scratch, want, &got, err);
    if (st != VOX_OK || !got)
      return st;
    *pos += got;
  }
  return VOX_OK;
}

int cli_transcribe_segments(cli_vad *vad, vox_asr_stream *asr, int rate, const char *path, cli_joined *out,
                            vox_error *err) {
  vox_segment *seg = NULL;
  size_t ns = 0;
  memset(out, 0, sizeof *out);
  if (cli_vad_file(vad, path, &seg, &ns, err))
    return -1;
  vox_audio_params ap = vox_audio_default_params();
  ap.target_rate_hz = rate;
  vox_audio_reader *r;
  if (vox_audio_open(path, &ap, &r, err)) {
    free(seg);
    return -1;
  }
  out->duration_s = vox_audio_get_info(r)->duration_s;
  size_t piece_cap = (size_t)(MAX_PIECE_S * rate), pos = 0;
  float *buf = malloc(piece_cap * sizeof *buf);
  vox_status st = buf ? VOX_OK : vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  double done_s = 0;
  for (size_t k = 0; st == VOX_OK && k < ns; k++) {
    double a = seg[k].start_s - SEG_PAD_S, b = seg[k].end_s + SEG_PAD_S;
    if (a < done_s)
      a = done_s;
    while (st == VOX_OK && b - a > 1e-3) {
      double e = b - a > MAX_PIECE_S ? a + MAX_PIECE_S : b;
      size_t from = (size_t)(a * rate), to = (size_t)(e * rate), got = 0;
      if (from < pos)
        from = pos;
      st = skip_to(r, buf, piece_cap, &pos, from, err);
      while (st == VOX_OK && pos < to) {
        size_t n;
        st = vox_audio_read(r, buf + got, to - pos < piece_cap - got ? to - pos : piece_cap - got, &n, err);
        if (!n)
          break;
        got += n;
        pos += n;
      }
      if (st == VOX_OK && got)
        st = vox_asr_stream_transcribe_samples(asr, buf, got, err);
      if (st == VOX_OK && got) {
        vox_transcript t;
        vox_asr_stream_result(asr, &t);
        if (append(out, &t, (double)from / rate))
          st = vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
      }
      done_s = a = e;
    }
  }
  free(buf);
  free(seg);
  vox_audio_close(r);
  if (st != VOX_OK) {
    cli_joined_free(out);
    return -1;
  }
  return 0;
}

void cli_joined_view(const cli_joined *j, vox_transcript *t) {
  memset(t, 0, sizeof *t);
  t->text = j->text ? j->text : "";
  t->words = j->words;
  t->n_words = j->n_words;
  t->duration_s = j->duration_s;
}
