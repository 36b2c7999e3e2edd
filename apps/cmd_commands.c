/* cmd_commands.c - `voxpipe commands FILE...|--input -`: spoken command words (MatchboxNet-style).
 *
 * The classifier runs on windows of --window-ms (1000) every --shift-ms (250); a window whose best
 * class is a command (not "unknown"/"silence"/"background") with probability >= --threshold is a hit;
 * consecutive hits of the same word merge into one detection (start of the first window, end of the
 * last, best score). Features stream through a sliding buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct detection {
  int cls;
  double start, end, score;
} detection;

static int is_filler(const char *label) {
  return !strcmp(label, "unknown") || !strcmp(label, "silence") || !strcmp(label, "background") ||
         !strcmp(label, "_unknown_") || !strcmp(label, "_silence_") || !strcmp(label, "_background_noise_");
}

static void emit(FILE *f, const char *path, int json, const vox_model_info *info, const detection *d) {
  if (json) {
    fputs("{\"audio_filepath\": ", f);
    json_string(f, path);
    fputs(", \"command\": ", f);
    json_string(f, info->labels[d->cls]);
    fprintf(f, ", \"start\": %.2f, \"end\": %.2f, \"score\": %.3f}\n", d->start, d->end, d->score);
  } else {
    fprintf(f, "%.2f %.2f %s %.3f\n", d->start, d->end, info->labels[d->cls], d->score);
  }
  fflush(f);
}

/* Builds a classifier window of the n frames of buf centred among frames of digital silence (what
 * the model saw around words in training), in win (nf x window). */
static int silence_window(const vox_model_info *info, const float *buf, size_t bstride, size_t n, int nf, float *win,
                          size_t window, vox_error *err) {
  vox_features *f;
  if (vox_features_new(&info->features, &f, err))
    return -1;
  size_t ns = 4000, cap = vox_features_max_frames(f, ns), got;
  float *zeros = calloc(ns, sizeof *zeros), *fr = malloc(sizeof(float) * (size_t)nf * cap);
  int rc = zeros && fr && !vox_features_process(f, zeros, ns, 1, fr, cap, cap, &got, err) && got > 12 ? 0 : -1;
  size_t off = (window - n) / 2;
  for (int c = 0; !rc && c < nf; c++)
    for (size_t t = 0; t < window; t++)
      win[(size_t)c * window + t] = t >= off && t < off + n ? buf[(size_t)c * bstride + t - off] : fr[(size_t)c * cap + 10];
  if (rc && err && !err->message[0])
    vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  free(zeros);
  free(fr);
  vox_features_free(f);
  return rc;
}

int cmd_commands(int argc, char **argv) {
  const char *model = NULL, *format = "text", *input = NULL;
  double window_ms = 1000, shift_ms = 250, threshold = 0.8;
  char **files = calloc((size_t)argc + 1, sizeof *files);
  int nfiles = 0;
  for (int i = 1; i < argc; i++) {
    int v = i + 1 < argc;
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      printf("usage: voxpipe commands [OPTIONS] FILE...    (or --input - for standard input)\n"
             "Command words heard, one line per detection: start end word score (seconds).\n"
             "  -m, --model M      commands model (default: the bundled one)\n"
             "  -f, --format F     text or json\n"
             "  -i, --input FILE   stream a file or - (standard input)\n"
             "      --window-ms N  window classified at a time (1000)\n"
             "      --shift-ms N   step between windows (250)\n"
             "      --threshold P  minimum probability of a detection (0.8)\n");
      free(files);
      return 0;
    } else if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && v)
      model = argv[++i];
    else if ((!strcmp(a, "-f") || !strcmp(a, "--format")) && v)
      format = argv[++i];
    else if ((!strcmp(a, "-i") || !strcmp(a, "--input")) && v)
      input = argv[++i];
    else if (!strcmp(a, "--window-ms") && v)
      window_ms = atof(argv[++i]);
    else if (!strcmp(a, "--shift-ms") && v)
      shift_ms = atof(argv[++i]);
    else if (!strcmp(a, "--threshold") && v)
      threshold = atof(argv[++i]);
    else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "voxpipe commands: unknown option or missing value '%s'. Try 'voxpipe commands --help'.\n", a);
      free(files);
      return 2;
    } else
      files[nfiles++] = argv[i];
  }
  if (input)
    files[nfiles++] = (char *)input;
  if (!nfiles || (strcmp(format, "text") && strcmp(format, "json")) || !(window_ms >= 100 && window_ms <= 10000) ||
      !(shift_ms >= 10 && shift_ms <= window_ms) || !(threshold >= 0 && threshold <= 1)) {
    fprintf(stderr, "voxpipe commands: need FILE... or --input, --format text|json, 100 <= window-ms <= 10000, "
                    "10 <= shift-ms <= window-ms, 0 <= threshold <= 1\n");
    free(files);
    return 2;
  }
  if (!model)
    model = cli_default_model("commands");
  vox_error err = {0};
  vox_model *m = cli_load_model("commands", model, "commands", 1);
  if (!m) {
    free(files);
    return 1;
  }
  const vox_model_info *info = vox_model_get_info(m);
  if (info->task != VOX_TASK_CLASSIFICATION || !info->labels) {
    fprintf(stderr, "voxpipe commands: %s is not a classification model\n", model);
    vox_model_free(m);
    free(files);
    return 1;
  }
  double frame_s = (double)info->features.hop_length / info->sample_rate_hz;
  size_t window = (size_t)(window_ms / 1000.0 / frame_s + 0.5), shift = (size_t)(shift_ms / 1000.0 / frame_s + 0.5);
  int nf = info->input_channels, classes = info->output_channels, json = !strcmp(format, "json");
  vox_model_stream *ms = NULL;
  float *win = malloc(sizeof(float) * (size_t)nf * window), *logits = malloc(sizeof(float) * (size_t)classes);
  int failures = 0;
  if (!win || !logits || vox_model_stream_new(m, &ms, &err)) {
    cli_error("commands", &err);
    failures = nfiles;
    nfiles = 0;
  }
  for (int fi = 0; fi < nfiles; fi++) {
    vox_audio_params ap = vox_audio_default_params();
    ap.target_rate_hz = info->sample_rate_hz;
    vox_audio_reader *r = NULL;
    vox_features *f = NULL;
    if (vox_audio_open(files[fi], &ap, &r, &err) || vox_features_new(&info->features, &f, &err)) {
      cli_error("commands", &err);
      vox_audio_close(r);
      failures++;
      continue;
    }
    size_t block = 4000, fcap = vox_features_max_frames(f, block), bcap = window + fcap;
    float *samples = malloc(block * sizeof *samples), *fb = malloc(sizeof(float) * (size_t)nf * fcap);
    float *buf = malloc(sizeof(float) * (size_t)nf * bcap);
    size_t blen = 0, base = 0, classified = 0; /* base: frame index of buf[0] */
    detection cur = {-1, 0, 0, 0};
    int rc = samples && fb && buf ? 0 : 1;
    for (int done = 0; !rc && !done;) {
      size_t got, nfr;
      if (vox_audio_read(r, samples, block, &got, &err) ||
          vox_features_process(f, samples, got, got == 0, fb, fcap, fcap, &nfr, &err)) {
        cli_error("commands", &err);
        rc = 1;
        break;
      }
      done = got == 0;
      for (int c = 0; c < nf; c++)
        memcpy(buf + (size_t)c * bcap + blen, fb + (size_t)c * fcap, nfr * sizeof(float));
      blen += nfr;
      size_t pos = 0;
      while (pos + window <= blen) {
        int best = cli_classify_window(ms, buf + pos, bcap, window, nf, win, window, classes, logits, &err);
        if (best < 0) {
          cli_error("commands", &err);
          rc = 1;
          break;
        }
        double p = logits[best], t0 = (double)(base + pos) * frame_s, t1 = t0 + (double)window * frame_s;
        int hit = p >= threshold && !is_filler(info->labels[best]);
        if (cur.cls >= 0 && (!hit || best != cur.cls || t0 > cur.end)) {
          emit(stdout, files[fi], json, info, &cur);
          cur.cls = -1;
        }
        if (hit) {
          if (cur.cls < 0)
            cur = (detection){best, t0, t1, p};
          cur.end = t1;
          cur.score = p > cur.score ? p : cur.score;
        }
        pos += shift;
        classified++;
      }
      if (!rc && done && !classified && blen > 0) { /* a clip shorter than the window: centred in silence */
        float *padded = malloc(sizeof(float) * (size_t)nf * window);
        if (!padded || silence_window(info, buf, bcap, blen, nf, padded, window, &err) ||
            cli_classify_window(ms, padded, window, window, nf, win, window, classes, logits, &err) < 0) {
          if (!padded)
            vox_error_set(&err, VOX_ERR_NO_MEMORY, "out of memory");
          cli_error("commands", &err);
          free(padded);
          rc = 1;
          break;
        }
        free(padded);
        int best = 0;
        for (int k = 1; k < classes; k++)
          best = logits[k] > logits[best] ? k : best;
        if (logits[best] >= threshold && !is_filler(info->labels[best]))
          cur = (detection){best, 0, (double)blen * frame_s, logits[best]};
      }
      for (int c = 0; c < nf && pos; c++)
        memmove(buf + (size_t)c * bcap, buf + (size_t)c * bcap + pos, (blen - pos) * sizeof(float));
      blen -= pos;
      base += pos;
    }
    if (!rc && cur.cls >= 0)
      emit(stdout, files[fi], json, info, &cur);
    failures += rc;
    free(samples);
    free(fb);
    free(buf);
    vox_features_free(f);
    vox_audio_close(r);
  }
  vox_model_stream_free(ms);
  free(win);
  free(logits);
  vox_model_free(m);
  free(files);
  return failures ? 1 : 0;
}
