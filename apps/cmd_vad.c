/* cmd_vad.c - `voxpipe vad FILE...`: speech segments from a MarbleNet-style VAD model (cli_vad.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_vad(int argc, char **argv) {
  const char *model = NULL, *format = "text", *plot = NULL;
  cli_vad_options o;
  cli_vad_options_init(&o);
  char **files = calloc((size_t)argc, sizeof *files);
  int nfiles = 0;
  for (int i = 1; i < argc; i++) {
    int v = i + 1 < argc;
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      printf("usage: voxpipe vad [OPTIONS] FILE...\n"
             "Speech segments with a MarbleNet-style VAD model (NeMo EncDecClassificationModel, labels with\n"
             "'speech').\n"
             "  -m, --model M            VAD model (default: the bundled one)\n"
             "  -f, --format F           text (start end per line; FILE: first with several files), json (with\n"
             "                           duration and processing_time in seconds), rttm, tsv\n"
             "      --plot OUT.png       draw waveform, speech probability and segments (several files:\n"
             "                           OUT-1.png, OUT-2.png, ...)\n%s"
             "      --no-filter-speech-first  fill gaps before dropping short speech\n", CLI_VAD_HELP);
      free(files);
      return 0;
    } else if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && v)
      model = argv[++i];
    else if ((!strcmp(a, "-f") || !strcmp(a, "--format")) && v)
      format = argv[++i];
    else if (!strcmp(a, "--plot") && v)
      plot = argv[++i];
    else if (cli_vad_option(&o, argc, argv, &i))
      continue;
    else if (!strcmp(a, "--no-filter-speech-first"))
      o.q.filter_speech_first = 0;
    else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "voxpipe vad: unknown option or missing value '%s'. Try 'voxpipe vad --help'.\n", a);
      free(files);
      return 2;
    } else
      files[nfiles++] = argv[i];
  }
  if (!nfiles || (strcmp(format, "text") && strcmp(format, "json") && strcmp(format, "rttm") && strcmp(format, "tsv"))) {
    fprintf(stderr, "voxpipe vad: need FILE... and --format text|json|rttm|tsv. Try 'voxpipe vad --help'.\n");
    free(files);
    return 2;
  }
  if (cli_vad_options_check("vad", &o)) {
    free(files);
    return 2;
  }
  cli_vad *vad = cli_vad_new("vad", model, &o);
  if (!vad) {
    free(files);
    return 1;
  }
  int failures = 0;
  for (int i = 0; i < nfiles; i++) {
    vox_error err = {0};
    vox_segment *seg;
    size_t ns;
    const double t0 = cli_now_s();
    if (cli_vad_file(vad, files[i], &seg, &ns, &err)) {
      cli_error("vad", &err);
      failures++;
      continue;
    }
    if (plot) {
      char png[4096];
      size_t len = strlen(plot);
      if (nfiles > 1)
        snprintf(png, sizeof png, "%.*s-%d%s", (int)(len > 4 && !strcmp(plot + len - 4, ".png") ? len - 4 : len), plot,
                 i + 1, ".png");
      else
        snprintf(png, sizeof png, "%s", plot);
      size_t nfr;
      double fs, on, off;
      const float *fp = cli_vad_frames(vad, &nfr, &fs, &on, &off);
      if (cli_plot_vad(png, files[i], fp, nfr, fs, seg, ns, on, off, &err)) {
        cli_error("vad", &err);
        failures++;
      }
    }
    const double proc_s = cli_now_s() - t0;
    const char *base = strrchr(files[i], '/') ? strrchr(files[i], '/') + 1 : files[i];
    if (!strcmp(format, "json")) {
      fputs("{\"audio_filepath\": ", stdout);
      json_string(stdout, files[i]);
      fputs(", \"segments\": [", stdout);
      for (size_t k = 0; k < ns; k++)
        printf("%s{\"start\": %.2f, \"end\": %.2f}", k ? ", " : "", seg[k].start_s, seg[k].end_s);
      size_t nfr;
      double fs, on, off;
      cli_vad_frames(vad, &nfr, &fs, &on, &off);
      printf("], \"duration\": %.2f, \"processing_time\": %.4f}\n", (double)nfr * fs, proc_s);
    } else {
      for (size_t k = 0; k < ns; k++) {
        if (!strcmp(format, "rttm")) {
          char id[256];
          snprintf(id, sizeof id, "%s", base);
          char *dot = strrchr(id, '.');
          if (dot)
            *dot = '\0';
          printf("SPEAKER %s 1 %.3f %.3f <NA> <NA> speech <NA> <NA>\n", id, seg[k].start_s,
                 seg[k].end_s - seg[k].start_s);
        } else if (!strcmp(format, "tsv"))
          printf("%.3f\t%.3f\tspeech\n", seg[k].start_s, seg[k].end_s);
        else {
          if (nfiles > 1)
            printf("%s: ", files[i]);
          printf("%.2f %.2f\n", seg[k].start_s, seg[k].end_s);
        }
      }
    }
    free(seg);
  }
  cli_vad_free(vad);
  free(files);
  return failures ? 1 : 0;
}
