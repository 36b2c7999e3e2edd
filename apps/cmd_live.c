/* cmd_live.c - `voxpipe live --input FILE|-`: streaming recognition with partial and final results.
 *
 * Audio is fed in 100 ms blocks (at real-time pace with --realtime) through one vox_asr_stream;
 * after each block the words decoded so far are compared with those already finalised: new words
 * followed by --endpoint-ms of no new token become a final result, otherwise they are the partial.
 * Times are stream times in seconds. Ctrl-C flushes the last final and exits 0. Without --input
 * the audio comes from a capture device through PortAudio (16-bit, mono, the device's or 16 kHz rate,
 * resampled to the model's); input overflows are reported and recognition goes on. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#ifdef HAVE_PORTAUDIO
#include <portaudio.h>
#endif

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
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
    fprintf(o->f, ", \"start\": %.2f, \"end\": %.2f, ", t->words[from].start_s, t->words[t->n_words - 1].end_s);
    if (!final) /* how many leading words of this partial are settled */
      fprintf(o->f, "\"stable\": %zu, ", t->n_stable_words > from ? t->n_stable_words - from : 0);
    fputs("\"words\": [", o->f);
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
    /* printed words are not needed any more: a stream that runs for days keeps only recent ones */
    o->committed = t.n_words - vox_asr_stream_forget_words(s, t.n_words);
    o->partial_len = 0;
  } else if (partials && strlen(t.text) != o->partial_len) {
    print_words(o, &t, o->committed, 0);
    o->partial_len = strlen(t.text);
  }
}

/* Where the samples come from: a file/pipe through vox_audio, or a PortAudio capture device. */
typedef struct source {
  vox_audio_reader *file;
#ifdef HAVE_PORTAUDIO
  PaStream *pa;
  vox_resampler *rs;
  short *raw;
  float *mono;
  size_t raw_frames;
  size_t overflows;
#endif
} source;

#ifdef HAVE_PORTAUDIO
static int list_devices(void) {
  if (Pa_Initialize() != paNoError) {
    fprintf(stderr, "voxpipe live: PortAudio cannot start\n");
    return 1;
  }
  int n = Pa_GetDeviceCount(), def = Pa_GetDefaultInputDevice();
  for (int i = 0; i < n; i++) {
    const PaDeviceInfo *d = Pa_GetDeviceInfo(i);
    if (d && d->maxInputChannels > 0)
      printf("%c %2d  %-40s %d ch, %.0f Hz (%s)\n", i == def ? '*' : ' ', i, d->name, d->maxInputChannels,
             d->defaultSampleRate, Pa_GetHostApiInfo(d->hostApi)->name);
  }
  Pa_Terminate();
  return 0;
}

static int open_capture(source *src, const char *device, int model_rate, double *rate_out) {
  PaError e = Pa_Initialize();
  if (e != paNoError) {
    fprintf(stderr, "voxpipe live: PortAudio cannot start: %s\n", Pa_GetErrorText(e));
    return -1;
  }
  int dev = Pa_GetDefaultInputDevice();
  if (device) {
    char *end;
    long idx = strtol(device, &end, 10);
    dev = -1;
    for (int i = 0; i < Pa_GetDeviceCount(); i++) {
      const PaDeviceInfo *d = Pa_GetDeviceInfo(i);
      if (d && d->maxInputChannels > 0 && ((!*end && i == idx) || (*end && !strcmp(d->name, device))))
        dev = i;
    }
  }
  if (dev < 0) {
    fprintf(stderr, "voxpipe live: no capture device %s%s (see --list-devices)\n", device ? "named " : "",
            device ? device : "available");
    return -1;
  }
  PaStreamParameters in = {dev, 1, paInt16, Pa_GetDeviceInfo(dev)->defaultLowInputLatency, NULL};
  double rate = model_rate;
  if (Pa_IsFormatSupported(&in, NULL, rate) != paFormatIsSupported)
    rate = Pa_GetDeviceInfo(dev)->defaultSampleRate;
  src->raw_frames = (size_t)(rate / 10);
  e = Pa_OpenStream(&src->pa, &in, NULL, rate, (unsigned long)src->raw_frames, paClipOff, NULL, NULL);
  if (e == paNoError)
    e = Pa_StartStream(src->pa);
  if (e != paNoError) {
    fprintf(stderr, "voxpipe live: cannot capture from %s: %s\n", Pa_GetDeviceInfo(dev)->name, Pa_GetErrorText(e));
    return -1;
  }
  src->raw = malloc(src->raw_frames * sizeof(short));
  src->mono = malloc(src->raw_frames * sizeof(float));
  vox_error err;
  if ((int)rate != model_rate && vox_resampler_new(rate, model_rate, &src->rs, &err)) {
    cli_error("live", &err);
    return -1;
  }
  fprintf(stderr, "voxpipe live: capturing from %s at %.0f Hz; Ctrl-C to stop\n", Pa_GetDeviceInfo(dev)->name, rate);
  *rate_out = rate;
  return src->raw && src->mono ? 0 : -1;
}

/* One block from the device, at the model's rate, into out (capacity cap). */
static int read_capture(source *src, float *out, size_t cap, size_t *got) {
  PaError e = Pa_ReadStream(src->pa, src->raw, (unsigned long)src->raw_frames);
  if (e == paInputOverflowed) {
    if (src->overflows++ % 50 == 0)
      fprintf(stderr, "voxpipe live: input overflow (audio was lost; the machine is too busy)\n");
  } else if (e != paNoError) {
    fprintf(stderr, "voxpipe live: capture failed: %s\n", Pa_GetErrorText(e));
    return -1;
  }
  for (size_t i = 0; i < src->raw_frames; i++)
    src->mono[i] = src->raw[i] / 32768.0f;
  if (!src->rs) {
    memcpy(out, src->mono, src->raw_frames * sizeof(float));
    *got = src->raw_frames;
    return 0;
  }
  size_t used, n;
  vox_error err;
  if (vox_resampler_process(src->rs, src->mono, src->raw_frames, &used, out, cap, &n, 0, &err))
    return -1;
  *got = n;
  return 0;
}
#endif

static void close_source(source *src) {
  vox_audio_close(src->file);
#ifdef HAVE_PORTAUDIO
  if (src->pa) {
    Pa_StopStream(src->pa);
    Pa_CloseStream(src->pa);
    Pa_Terminate();
  }
  vox_resampler_free(src->rs);
  free(src->raw);
  free(src->mono);
#endif
}

static int run_live(int argc, char **argv, cli_decoder *dec);

int cmd_live(int argc, char **argv) {
  cli_decoder dec;
  cli_decoder_init(&dec);
  int rc = run_live(argc, argv, &dec);
  cli_decoder_free(&dec);
  return rc;
}

static int run_live(int argc, char **argv, cli_decoder *dec) {
  const char *model = NULL, *input = NULL, *format = "text", *device = NULL;
  int realtime = 0, partials = 1, threads = 1;
  double endpoint_ms = 800, chunk_s = 1.6, buffer_s = 4.0;
  for (int i = 1; i < argc; i++) {
    int v = i + 1 < argc;
    int dr = cli_decoder_option(dec, "live", argc, argv, &i);
    if (dr < 0)
      return 2;
    if (dr > 0)
      continue;
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      printf("usage: voxpipe live --input FILE|- [OPTIONS]\n"
             "Streams audio through a streaming (cache-based) model and prints partial results as they\n"
             "change and a final result at each endpoint.\n"
             "  -m, --model M        streaming CTC model (default: the bundled one)\n"
             "  -i, --input FILE     audio file, or - for standard input (any libsndfile format)\n"
             "      --realtime       feed at real-time pace (default: as fast as possible)\n"
             "      --endpoint-ms N  silence (no new token) that ends an utterance, default 800\n"
             "      --no-partials    print finals only\n"
             "      --chunk-s S      buffered mode for whole-utterance models (NVIDIA QuartzNet): chunk, 1.6\n"
             "      --buffer-s S     ... and the window around it, 4.0 (latency chunk + (buffer-chunk)/2)\n"
             "  -f, --format F       text (default; partial updated in place on a terminal) or json\n"
             "  -t, --threads N      worker threads\n"
             "  -d, --device D       capture device (index or name from --list-devices; default: default)\n"
             "      --list-devices   list capture devices\n"
             "Without --input, audio is captured from a device (PortAudio).\n\n%s", CLI_DECODER_HELP);
      return 0;
    } else if ((!strcmp(argv[i], "-m") || !strcmp(argv[i], "--model")) && v)
      model = argv[++i];
    else if ((!strcmp(argv[i], "-i") || !strcmp(argv[i], "--input")) && v)
      input = argv[++i];
    else if ((!strcmp(argv[i], "-f") || !strcmp(argv[i], "--format")) && v)
      format = argv[++i];
    else if ((!strcmp(argv[i], "-t") || !strcmp(argv[i], "--threads")) && v)
      threads = cli_atoi(argv[++i]);
    else if (!strcmp(argv[i], "--chunk-s") && v)
      chunk_s = cli_atof(argv[++i]);
    else if (!strcmp(argv[i], "--buffer-s") && v)
      buffer_s = cli_atof(argv[++i]);
    else if (!strcmp(argv[i], "--endpoint-ms") && v)
      endpoint_ms = cli_atof(argv[++i]);
    else if ((!strcmp(argv[i], "-d") || !strcmp(argv[i], "--device")) && v)
      device = argv[++i];
    else if (!strcmp(argv[i], "--list-devices")) {
#ifdef HAVE_PORTAUDIO
      return list_devices();
#else
      fprintf(stderr, "voxpipe live: built without PortAudio (install portaudio19-dev and rebuild)\n");
      return 1;
#endif
    } else if (!strcmp(argv[i], "--realtime"))
      realtime = 1;
    else if (!strcmp(argv[i], "--no-partials"))
      partials = 0;
    else {
      fprintf(stderr, "voxpipe live: unknown option or missing value '%s'. Try 'voxpipe live --help'.\n", argv[i]);
      return 2;
    }
  }
#ifndef HAVE_PORTAUDIO
  if (!input) {
    fprintf(stderr, "voxpipe live: built without PortAudio: give --input FILE or --input -\n");
    return 2;
  }
#endif
  /* each refusal names its option (one message for the three left the user guessing) */
  const char *bad = strcmp(format, "text") && strcmp(format, "json") ? "--format takes text or json"
                    : threads < 1 || threads > 256                   ? "--threads takes 1 to 256"
                    : !(endpoint_ms > 0)                             ? "--endpoint-ms takes milliseconds > 0"
                                                                     : NULL;
  if (bad) {
    fprintf(stderr, "voxpipe live: %s. Try 'voxpipe live --help'.\n", bad);
    return 2;
  }
  if (!(chunk_s > 0 && chunk_s <= 60 && buffer_s >= chunk_s && buffer_s <= 120)) {
    fprintf(stderr, "voxpipe live: need 0 < --chunk-s <= 60 and --chunk-s <= --buffer-s <= 120 (seconds). "
                    "Try 'voxpipe live --help'.\n");
    return 2;
  }
  vox_error err = {0};
  vox_model *m = cli_load_model("live", model, "asr", threads);
  if (!m)
    return 1;
  const vox_model_info *info = vox_model_get_info(m);
  vox_asr_params asrp = vox_asr_default_params();
  if (info->full_context) { /* per-utterance normalization: NeMo-style buffered inference */
    asrp.buffered_chunk_s = chunk_s;
    asrp.buffered_buffer_s = buffer_s;
  }
  if (cli_decoder_setup(dec, "live", &asrp)) {
    vox_model_free(m);
    return 1;
  }
  vox_asr_stream *s = NULL;
  source src;
  memset(&src, 0, sizeof src);
  vox_audio_params ap = vox_audio_default_params();
  ap.target_rate_hz = info->sample_rate_hz;
  if (vox_asr_stream_new(m, &asrp, &s, &err) || (input && vox_audio_open(input, &ap, &src.file, &err))) {
    cli_error("live", &err);
    vox_asr_stream_free(s);
    vox_model_free(m);
    return 1;
  }
#ifdef HAVE_PORTAUDIO
  double dev_rate = 0;
  if (!input && open_capture(&src, device, info->sample_rate_hz, &dev_rate)) {
    close_source(&src);
    vox_asr_stream_free(s);
    vox_model_free(m);
    return 1;
  }
#endif
  fprintf(stderr, "voxpipe live: %s; latency %.0f ms (%s) + 100 ms blocks\n",
          info->full_context ? "buffered inference" : "cache-based streaming", 1000 * vox_asr_stream_latency_s(s),
          info->full_context ? "chunk + half the context" : "model look-ahead");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  /* restart interrupted calls: a Ctrl-C landing in a write to a pipe must not lose output (the flag
   * is checked after every 100 ms block; a blocked stdin ends when its writer, also interrupted, exits) */
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  out_state o = {stdout, !strcmp(format, "json"), isatty(STDOUT_FILENO), 0, 0};
  size_t block = (size_t)info->sample_rate_hz / 10 + 512; /* 100 ms + resampler slack */
  float *buf = malloc(block * sizeof *buf);
  double t0 = cli_now_s(), fed = 0;
  int rc = 0;
  while (buf && !interrupted) {
    size_t got = 0;
#ifdef HAVE_PORTAUDIO
    if (src.pa) {
      if (read_capture(&src, buf, block, &got)) {
        rc = 1;
        break;
      }
    } else
#endif
    if (vox_audio_read(src.file, buf, info->sample_rate_hz / 10, &got, &err)) {
      cli_error("live", &err);
      rc = 1;
      break;
    }
    if (got == 0 && src.file)
      break;
    if (vox_asr_stream_accept(s, buf, got, &err)) {
      cli_error("live", &err);
      rc = 1;
      break;
    }
    fed += (double)got / info->sample_rate_hz;
    update(&o, s, endpoint_ms / 1000.0, partials, 0);
    if (realtime && src.file) {
      double ahead = fed - (cli_now_s() - t0);
      if (ahead > 0)
        nanosleep(&(struct timespec){(time_t)ahead, (long)((ahead - (time_t)ahead) * 1e9)}, NULL);
    }
  }
  if (vox_asr_stream_finish(s, &err)) {
    cli_error("live", &err);
    rc = 1;
  }
  update(&o, s, endpoint_ms / 1000.0, partials, 1);
  vox_asr_stats st;
  vox_asr_stream_stats(s, &st);
  size_t n = st.accept_calls;
  fprintf(stderr,
          "voxpipe live: %.1f s of audio recognised in %zu blocks; compute per block mean %.2f ms, worst %.2f ms, "
          "final flush %.2f ms (RTF %.4f)\n",
          st.audio_s, n, n ? 1000 * st.accept_s / (double)n : 0.0, 1000 * st.worst_accept_s, 1000 * st.finish_s,
          st.audio_s > 0 ? (st.accept_s + st.finish_s) / st.audio_s : 0.0);
  free(buf);
  close_source(&src);
  vox_asr_stream_free(s);
  vox_model_free(m);
  return rc;
}
