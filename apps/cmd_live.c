/* cmd_live.c - `voxpipe live --input FILE|-`: streaming recognition with partial and final results.
 *
 * Audio is fed in 100 ms blocks (at real-time pace with --realtime) through one vox_asr_stream;
 * after each block the words decoded so far are compared with those already finalised: new words
 * followed by --endpoint-ms of no new token become a final result, otherwise they are the partial.
 * Times are stream times in seconds. Ctrl-C flushes the last final and exits 0. Capturing from a
 * microphone (PortAudio) is not implemented yet: see the streaming issue. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct out_state {
  FILE *f;
  int json, tty;
  size_t committed; /* words already printed as finals */
  size_t partial_len; /* length of the transcript text when the partial was last printed */
} out_state;

static void print_words(out_state *o, const vox_transcript *t, size_t from, int final) {
  if (o->json) {
    /* the words of this result are the tail of the transcript's text */
    const char *text = t->text;
    for (size_t i = 0; i < from && text; i++)
      text = strchr(text, ' ') ? strchr(text, ' ') + 1 : text + strlen(text);
    fprintf(o->f, "{\"type\": \"%s\", \"text\": ", final ? "final" : "partial");
    json_string(o->f, text);
    fprintf(o->f, ", \"start\": %.2f, \"end\": %.2f, \"words\": [", t->words[from].start_s,
            t->words[t->n_words - 1].end_s);
    for (size_t i = from; i < t->n_words; i++) {
      fputs(i > from ? ", {\"word\": " : "{\"word\": ", o->f);
      json_string(o->f, t->words[i].text);
      fprintf(o->f, ", \"start\": %.2f, \"end\": %.2f, \"confidence\": %.3f}", t->words[i].start_s, t->words[i].end_s,
              t->words[i].confidence);
    }
    fputs("]}\n", o->f);
  } else if (o->tty) {
    fputs("\r\033[K", o->f);
    for (size_t i = from; i < t->n_words; i++)
      fprintf(o->f, "%s%s", i > from ? " " : "", t->words[i].text);
    if (final)
      fputc('\n', o->f);
  } else if (final) {
    for (size_t i = from; i < t->n_words; i++)
      fprintf(o->f, "%s%s", i > from ? " " : "", t->words[i].text);
    fputc('\n', o->f);
  }
  fflush(o->f);
}

/* Finalises the pending words when they are followed by endpoint_s without a new token. */
static void update(out_state *o, vox_asr_stream *s, double endpoint_s, int partials, int flush) {
  vox_transcript t;
  vox_asr_stream_result(s, &t);
  if (t.n_words <= o->committed)
    return;
  double silence = t.duration_s - t.words[t.n_words - 1].end_s;
  if (flush || silence >= endpoint_s) {
    print_words(o, &t, o->committed, 1);
    o->committed = t.n_words;
    o->partial_len = 0;
  } else if (partials && strlen(t.text) != o->partial_len) {
    print_words(o, &t, o->committed, 0);
    o->partial_len = strlen(t.text);
  }
}

int cmd_live(int argc, char **argv) {
  const char *model = NULL, *input = NULL, *format = "text";
  int realtime = 0, partials = 1, threads = 1;
  double endpoint_ms = 800;
  for (int i = 1; i < argc; i++) {
    int v = i + 1 < argc;
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      printf("usage: voxpipe live --input FILE|- [OPTIONS]\n"
             "Streams audio through a streaming (cache-based) model and prints partial results as they\n"
             "change and a final result at each endpoint.\n"
             "  -m, --model M        streaming CTC model (default: the bundled one)\n"
             "  -i, --input FILE     audio file, or - for standard input (any libsndfile format)\n"
             "      --realtime       feed at real-time pace (default: as fast as possible)\n"
             "      --endpoint-ms N  silence (no new token) that ends an utterance, default 800\n"
             "      --no-partials    print finals only\n"
             "  -f, --format F       text (default; partial updated in place on a terminal) or json\n"
             "  -t, --threads N      worker threads\n"
             "Microphone capture (PortAudio) is not available yet.\n");
      return 0;
    } else if ((!strcmp(argv[i], "-m") || !strcmp(argv[i], "--model")) && v)
      model = argv[++i];
    else if ((!strcmp(argv[i], "-i") || !strcmp(argv[i], "--input")) && v)
      input = argv[++i];
    else if ((!strcmp(argv[i], "-f") || !strcmp(argv[i], "--format")) && v)
      format = argv[++i];
    else if ((!strcmp(argv[i], "-t") || !strcmp(argv[i], "--threads")) && v)
      threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--endpoint-ms") && v)
      endpoint_ms = atof(argv[++i]);
    else if (!strcmp(argv[i], "--realtime"))
      realtime = 1;
    else if (!strcmp(argv[i], "--no-partials"))
      partials = 0;
    else {
      fprintf(stderr, "voxpipe live: unknown option or missing value '%s'. Try 'voxpipe live --help'.\n", argv[i]);
      return 2;
    }
  }
  if (!input) {
    fprintf(stderr, "voxpipe live: microphone capture is not available yet; give --input FILE or --input -\n");
    return 2;
  }
  if ((strcmp(format, "text") && strcmp(format, "json")) || threads < 1 || threads > 256 || !(endpoint_ms > 0)) {
    fprintf(stderr, "voxpipe live: bad --format, --threads or --endpoint-ms. Try 'voxpipe live --help'.\n");
    return 2;
  }
  if (!model)
    model = cli_default_model("asr");
  vox_error err = {0};
  vox_model_params mp = vox_model_default_params();
  mp.threads = threads;
  vox_model *m;
  if (vox_model_load(model, &mp, &m, &err)) {
    cli_error("live", &err);
    return 1;
  }
  const vox_model_info *info = vox_model_get_info(m);
  if (info->full_context) {
    fprintf(stderr, "voxpipe live: %s normalizes features per utterance and cannot stream exactly; use a streaming "
                    "model (normalize: NA), e.g. the bundled one\n", model);
    vox_model_free(m);
    return 1;
  }
  vox_asr_stream *s;
  vox_audio_reader *r = NULL;
  vox_audio_params ap = vox_audio_default_params();
  ap.target_rate_hz = info->sample_rate_hz;
  if (vox_asr_stream_new(m, NULL, &s, &err) || vox_audio_open(input, &ap, &r, &err)) {
    cli_error("live", &err);
    vox_audio_close(r);
    vox_model_free(m);
    return 1;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  out_state o = {stdout, !strcmp(format, "json"), isatty(STDOUT_FILENO), 0, 0};
  size_t block = (size_t)info->sample_rate_hz / 10;
  float *buf = malloc(block * sizeof *buf);
  double t0 = now_s(), fed = 0;
  int rc = 0;
  while (buf && !interrupted) {
    size_t got;
    if (vox_audio_read(r, buf, block, &got, &err) || vox_asr_stream_accept(s, buf, got, &err)) {
      cli_error("live", &err);
      rc = 1;
      break;
    }
    if (got == 0)
      break;
    fed += (double)got / info->sample_rate_hz;
    update(&o, s, endpoint_ms / 1000.0, partials, 0);
    if (realtime) {
      double ahead = fed - (now_s() - t0);
      if (ahead > 0)
        nanosleep(&(struct timespec){(time_t)ahead, (long)((ahead - (time_t)ahead) * 1e9)}, NULL);
    }
  }
  if (vox_asr_stream_finish(s, &err)) {
    cli_error("live", &err);
    rc = 1;
  }
  update(&o, s, endpoint_ms / 1000.0, partials, 1);
  free(buf);
  vox_audio_close(r);
  vox_asr_stream_free(s);
  vox_model_free(m);
  return rc;
}
