/* cli_common.c - default model lookup, error printing, JSON helpers, transcript formats. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#ifndef VOX_DATA_DIR
#define VOX_DATA_DIR "/usr/local/share/voxpipe"
#endif

double cli_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double cli_atof(const char *s) {
  char *end;
  double v = strtod(s, &end);
  return end != s && !*end && isfinite(v) ? v : NAN;
}

int cli_atoi(const char *s) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  return end != s && !*end && !errno && v > INT_MIN && v <= INT_MAX ? (int)v : INT_MIN;
}

const char *cli_default_model(const char *kind) {
  static char path[4096];
  const char *file = !strcmp(kind, "asr") ? "quartznet-stream-en.nemo" : !strcmp(kind, "vad") ? "marblenet-vad.nemo"
                     : !strcmp(kind, "commands") ? "matchboxnet-commands.nemo"
                     : !strcmp(kind, "lm") ? "english-corpus-3gram.arpa" : kind;
  const char *dir = getenv("VOXPIPE_DATA_DIR");
  snprintf(path, sizeof path, "%s/models/%s", dir && *dir ? dir : VOX_DATA_DIR, file);
  return path;
}

vox_model *cli_load_model(const char *cmd, const char *path, const char *kind, int threads) {
  vox_error err = {0};
  vox_model_params mp = vox_model_default_params();
  mp.threads = threads;
  vox_model *m = NULL;
  if (vox_model_load(path ? path : cli_default_model(kind), &mp, &m, &err) != VOX_OK) {
    cli_error(cmd, &err);
    return NULL;
  }
  return m;
}

int cli_classify_window(vox_model_stream *ms, const float *buf, size_t bstride, size_t n, int nf, float *win,
                        size_t window, int classes, float *probs, vox_error *err) {
  for (int c = 0; c < nf; c++)
    memcpy(win + (size_t)c * window, buf + (size_t)c * bstride, n * sizeof(float));
  size_t no;
  vox_model_stream_reset(ms);
  if (vox_model_stream_process(ms, win, window, n, 1, probs, 1, 1, &no, err) || no != 1)
    return -1;
  return vox_softmax(probs, classes);
}

int cli_flush(FILE *f, const char *cmd) {
  if (fflush(f) == 0 && !ferror(f))
    return 0;
  fprintf(stderr, "voxpipe %s: cannot write the output: %s\n", cmd, strerror(errno));
  return 1;
}

void cli_error(const char *cmd, const vox_error *err) {
  fprintf(stderr, "voxpipe %s: %s\n", cmd, err->message[0] ? err->message : vox_status_name(err->code));
}

void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"': fputs("\\\"", f); break;
    case '\\': fputs("\\\\", f); break;
    case '\n': fputs("\\n", f); break;
    case '\r': fputs("\\r", f); break;
    case '\t': fputs("\\t", f); break;
    default:
      if (*p < 0x20)
        fprintf(f, "\\u%04x", *p);
      else
        fputc(*p, f);
    }
  }
  fputc('"', f);
}

/* Finds the value after "key": at the top level of a one-line JSON object. */
static const char *find_value(const char *line, const char *key) {
  size_t kl = strlen(key);
  int depth = 0, in_str = 0;
  for (const char *p = line; *p; p++) {
    if (in_str) {
      if (*p == '\\' && p[1])
        p++;
      else if (*p == '"')
        in_str = 0;
      continue;
    }
    if (*p == '{' || *p == '[')
      depth++;
    else if (*p == '}' || *p == ']')
      depth--;
    else if (*p == '"') {
      if (depth == 1 && !strncmp(p + 1, key, kl) && p[1 + kl] == '"') {
        const char *q = p + 2 + kl;
        while (isspace((unsigned char)*q))
          q++;
        if (*q == ':') {
          q++;
          while (isspace((unsigned char)*q))
            q++;
          return q;
        }
      }
      in_str = 1;
    }
  }
  return NULL;
}

static void put_utf8(char *buf, size_t n, size_t *o, unsigned cp) {
  unsigned char tmp[4];
  int len;
  if (cp < 0x80) {
    tmp[0] = (unsigned char)cp;
    len = 1;
  } else if (cp < 0x800) {
    tmp[0] = (unsigned char)(0xc0 | (cp >> 6));
    tmp[1] = (unsigned char)(0x80 | (cp & 0x3f));
    len = 2;
  } else {
    tmp[0] = (unsigned char)(0xe0 | (cp >> 12));
    tmp[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    tmp[2] = (unsigned char)(0x80 | (cp & 0x3f));
    len = 3;
  }
  for (int i = 0; i < len && *o + 1 < n; i++)
    buf[(*o)++] = (char)tmp[i];
}

int json_get_string(const char *line, const char *key, char *buf, size_t n) {
  const char *p = find_value(line, key);
  if (!p || *p != '"' || n == 0)
    return 0;
  size_t o = 0;
  for (p++; *p && *p != '"'; p++) {
    char c = *p;
    if (c == '\\') {
      p++;
      switch (*p) {
      case 'n': c = '\n'; break;
      case 't': c = '\t'; break;
      case 'r': c = '\r'; break;
      case 'b': c = '\b'; break;
      case 'f': c = '\f'; break;
      case 'u': {
        unsigned cp = 0;
        for (int i = 1; i <= 4; i++) {
          if (!isxdigit((unsigned char)p[i]))
            return 0;
          cp = cp * 16 + (unsigned)(isdigit((unsigned char)p[i]) ? p[i] - '0' : (tolower((unsigned char)p[i]) - 'a' + 10));
        }
        p += 4;
        put_utf8(buf, n, &o, cp);
        continue;
      }
      case '\0': return 0;
      default: c = *p;
      }
    }
    if (o + 1 < n)
      buf[o++] = c;
  }
  if (*p != '"')
    return 0;
  buf[o] = '\0';
  return 1;
}

int json_get_number(const char *line, const char *key, double *out) {
  const char *p = find_value(line, key);
  if (!p || !strncmp(p, "null", 4))
    return 0;
  /* strtod also takes "inf", "nan", hex and a leading '+', none of them JSON */
  const char *d = *p == '-' ? p + 1 : p;
  if (!isdigit((unsigned char)*d) || (d[0] == '0' && (d[1] == 'x' || d[1] == 'X')))
    return -1;
  char *end;
  double v = strtod(p, &end);
  while (isspace((unsigned char)*end))
    end++;
  if (end == p || !isfinite(v) || (*end != ',' && *end != '}'))
    return -1;
  *out = v;
  return 1;
}

static void timestamp(FILE *f, double s, char sep) {
  if (s < 0)
    s = 0;
  long ms = lround(s * 1000.0);
  fprintf(f, "%02ld:%02ld:%02ld%c%03ld", ms / 3600000, ms / 60000 % 60, ms / 1000 % 60, sep, ms % 1000);
}

/* Subtitle cues: up to 7 words or 3.5 s, split at pauses longer than 0.6 s. */
static void write_cues(FILE *f, const vox_transcript *t, int vtt) {
  if (vtt)
    fputs("WEBVTT\n\n", f);
  int cue = 1;
  for (size_t i = 0; i < t->n_words;) {
    size_t j = i + 1;
    while (j < t->n_words && j - i < 7 && t->words[j].end_s - t->words[i].start_s <= 3.5 &&
           t->words[j].start_s - t->words[j - 1].end_s <= 0.6)
      j++;
    if (!vtt)
      fprintf(f, "%d\n", cue);
    timestamp(f, t->words[i].start_s, vtt ? '.' : ',');
    fputs(" --> ", f);
    timestamp(f, t->words[j - 1].end_s, vtt ? '.' : ',');
    fputc('\n', f);
    for (size_t k = i; k < j; k++)
      fprintf(f, "%s%s", k > i ? " " : "", t->words[k].text);
    fputs("\n\n", f);
    cue++;
    i = j;
  }
}

static void write_words(FILE *f, const vox_transcript *t) {
  fputs("[", f);
  for (size_t i = 0; i < t->n_words; i++) {
    fputs(i ? ", {\"word\": " : "{\"word\": ", f);
    json_string(f, t->words[i].text);
    fprintf(f, ", \"start\": %.2f, \"end\": %.2f, \"confidence\": %.3f}", t->words[i].start_s, t->words[i].end_s,
            t->words[i].confidence);
  }
  fputs("]", f);
}

void cli_write_json(FILE *f, const char *path, double offset_s, const char *ref, const vox_transcript *t, size_t n,
                    const float *scores, double proc_s) {
  fputs("{\"audio_filepath\": ", f);
  json_string(f, path);
  if (offset_s >= 0)
    fprintf(f, ", \"offset\": %.3f", offset_s);
  if (ref) {
    fputs(", \"text\": ", f);
    json_string(f, ref);
  }
  fputs(", \"pred_text\": ", f);
  json_string(f, n ? t[0].text : "");
  fprintf(f, ", \"duration\": %.3f, \"processing_time\": %.4f, \"words\": ", n ? t[0].duration_s : 0.0, proc_s);
  if (n)
    write_words(f, &t[0]);
  else
    fputs("[]", f);
  if (scores) {
    fputs(", \"nbest\": [", f);
    for (size_t r = 0; r < n; r++) {
      fputs(r ? ", {\"text\": " : "{\"text\": ", f);
      json_string(f, t[r].text);
      fprintf(f, ", \"score\": %.3f, \"words\": ", scores[r]);
      write_words(f, &t[r]);
      fputs("}", f);
    }
    fputs("]", f);
  }
  fputs("}\n", f);
}

int cli_write_transcript(FILE *f, const char *format, const char *path, const vox_transcript *t, double proc_s,
                         int index) {
  if (!strcmp(format, "text")) {
    fprintf(f, "%s\n", t->text);
  } else if (!strcmp(format, "json")) {
    cli_write_json(f, path, -1, NULL, t, 1, NULL, proc_s);
  } else if (!strcmp(format, "srt") || !strcmp(format, "vtt")) {
    if (index > 0)
      fputc('\n', f);
    write_cues(f, t, !strcmp(format, "vtt"));
  } else {
    return -1;
  }
  return ferror(f) ? -1 : 0;
}
