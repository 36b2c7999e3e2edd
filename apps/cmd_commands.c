/* cmd_commands.c - `voxpipe commands FILE...|--input -`: spoken command words (MatchboxNet-style).
 *
 * The classifier runs on windows of --window-ms (1000) every --shift-ms (250) through the core's
 * vox_kws_stream (vox_kws_stream.h says how hits become detections). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* label: text for several files, each line starts with its file's name */
static void emit(FILE *f, const char *path, int json, int label, const vox_kws_detection *d) {
  if (json) {
    fputs("{\"audio_filepath\": ", f);
    json_string(f, path);
    fputs(", \"command\": ", f);
    json_string(f, d->word);
    fprintf(f, ", \"start\": %.2f, \"end\": %.2f, \"score\": %.3f}\n", d->start_s, d->end_s, d->score);
  } else {
    if (label)
      fprintf(f, "%s: ", path);
    fprintf(f, "%.2f %.2f %s %.3f\n", d->start_s, d->end_s, d->word, d->score);
  }
  fflush(f);
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
             "Command words heard, one line per detection: start end word score (seconds), after FILE: with\n"
             "several files.\n"
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
      window_ms = cli_atof(argv[++i]);
    else if (!strcmp(a, "--shift-ms") && v)
      shift_ms = cli_atof(argv[++i]);
    else if (!strcmp(a, "--threshold") && v)
      threshold = cli_atof(argv[++i]);
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
  int json = !strcmp(format, "json"), failures = 0;
  vox_kws_stream *ks = NULL;
  if (vox_kws_stream_new(m, window_ms / 1000.0, shift_ms / 1000.0, (float)threshold, &ks, &err)) {
    cli_error("commands", &err);
    failures = nfiles;
    nfiles = 0;
  }
  float *samples = malloc(4000 * sizeof *samples);
  for (int fi = 0; fi < nfiles; fi++) {
    vox_audio_params ap = vox_audio_default_params();
    ap.target_rate_hz = info->sample_rate_hz;
    vox_audio_reader *r = NULL;
    int rc = 0;
    if (!samples || vox_audio_open(files[fi], &ap, &r, &err))
      rc = 1;
    vox_kws_stream_reset(ks);
    for (size_t got = 1; !rc && got;) {
      rc = vox_audio_read(r, samples, 4000, &got, &err) ||
           (got ? vox_kws_stream_accept(ks, samples, got, &err) : vox_kws_stream_finish(ks, &err));
      vox_kws_detection d[8];
      for (size_t n; !rc && (n = vox_kws_stream_detections(ks, d, 8)) > 0;)
        for (size_t i = 0; i < n; i++)
          emit(stdout, files[fi], json, nfiles > 1, &d[i]);
    }
    if (rc) {
      if (!samples && !err.message[0])
        vox_error_set(&err, VOX_ERR_NO_MEMORY, "out of memory");
      cli_error("commands", &err);
    }
    failures += rc;
    vox_audio_close(r);
  }
  free(samples);
  vox_kws_stream_free(ks);

  vox_model_free(m);
  free(files);
  return failures ? 1 : 0;
}
