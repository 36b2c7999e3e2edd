/* cmd_vad.c - `voxpipe vad FILE...`: speech segments from a MarbleNet-style VAD model.
 *
 * The model classifies windows of --window-ms (630) shifted by --shift-ms (10) into background /
 * speech; window probabilities are spread over the frames they cover and smoothed (mean or median,
 * NeMo's generate_overlap_vad_seq), then binarised with onset/offset hysteresis, padding and minimum
 * durations (vox_vad.h). Features stream through a sliding buffer: memory does not grow with length. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct vad_run {
  vox_model_stream *ms;
  int nf, classes, speech_class;
  size_t window, shift;
  float *win, *logits, *probs;
  size_t n_probs, cap_probs;
} vad_run;

static int push_prob(vad_run *v, float p) {
  if (v->n_probs == v->cap_probs) {
    size_t cap = v->cap_probs ? v->cap_probs * 2 : 4096;
    float *np = realloc(v->probs, cap * sizeof *np);
    if (!np)
      return -1;
    v->probs = np;
    v->cap_probs = cap;
  }
  v->probs[v->n_probs++] = p;
  return 0;
}

/* Runs the classifier on `window` frames starting at buf (stride bstride); returns P(speech). */
/* Runs the classifier on n frames starting at buf (stride bstride); *p = P(speech). */
static int classify(vad_run *v, const float *buf, size_t bstride, size_t n, float *p, vox_error *err) {
  if (cli_classify_window(v->ms, buf, bstride, n, v->nf, v->win, v->window, v->classes, v->logits, err) < 0)
    return -1;
  *p = v->logits[v->speech_class];
  return 0;
}

static int run_file(vad_run *v, const vox_model *m, const char *path, vox_error *err) {
  const vox_model_info *info = vox_model_get_info(m);
  vox_audio_params ap = vox_audio_default_params();
  ap.target_rate_hz = info->sample_rate_hz;
  vox_audio_reader *r;
  vox_features *f;
  if (vox_audio_open(path, &ap, &r, err))
    return -1;
  if (vox_features_new(&info->features, &f, err)) {
    vox_audio_close(r);
    return -1;
  }
  size_t block = 8000, fcap = vox_features_max_frames(f, block), bcap = v->window + fcap;
  float *samples = malloc(block * sizeof *samples), *fb = malloc(sizeof(float) * (size_t)v->nf * fcap);
  float *buf = malloc(sizeof(float) * (size_t)v->nf * bcap);
  size_t blen = 0, total = 0;
  int rc = samples && fb && buf ? 0 : -1;
  v->n_probs = 0;
  for (int done = 0; !rc && !done;) {
    size_t got, nfr;
    if (vox_audio_read(r, samples, block, &got, err) ||
        vox_features_process(f, samples, got, got == 0, fb, fcap, fcap, &nfr, err)) {
      rc = -1;
      break;
    }
    done = got == 0;
    for (int c = 0; c < v->nf; c++)
      memcpy(buf + (size_t)c * bcap + blen, fb + (size_t)c * fcap, nfr * sizeof(float));
    blen += nfr;
    total += nfr;
    size_t pos = 0;
    while (!rc && pos + v->window <= blen) {
      float p;
      rc = classify(v, buf + pos, bcap, v->window, &p, err) || push_prob(v, p);
      pos += v->shift;
    }
    if (!rc && done && v->n_probs == 0 && blen > 0) { /* shorter than one window: classify what there is */
      float p;
      rc = classify(v, buf, bcap, blen, &p, err) || push_prob(v, p);
    }
    for (int c = 0; c < v->nf && pos; c++)
      memmove(buf + (size_t)c * bcap, buf + (size_t)c * bcap + pos, (blen - pos) * sizeof(float));
    blen -= pos;
  }
  (void)total;
  free(samples);
  free(fb);
  free(buf);
  vox_features_free(f);
  vox_audio_close(r);
  return rc;
}

int cmd_vad(int argc, char **argv) {
  const char *model = NULL, *format = "text";
  double window_ms = 630, shift_ms = 10;
  int median = 0;
  vox_vad_params q = vox_vad_default_params();
  int thresholds_given = 0;
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
             "  -f, --format F           text (start end per line), json, rttm, tsv\n"
             "      --window-ms N        window classified at a time (630)\n"
             "      --shift-ms N         step between windows (10)\n"
             "      --smoothing mean|median  over the overlapping windows (mean)\n"
             "      --onset P --offset P thresholds (the model's vad_postprocessing, else NeMo's 0.5, 0.5;\n"
             "                           the bundled model: 0.9, 0.8)\n"
             "      --pad-onset S --pad-offset S        seconds added around segments (0)\n"
             "      --min-duration-on S --min-duration-off S  drop short speech / fill short gaps (0)\n"
             "      --no-filter-speech-first  fill gaps before dropping short speech\n");
      free(files);
      return 0;
    } else if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && v)
      model = argv[++i];
    else if ((!strcmp(a, "-f") || !strcmp(a, "--format")) && v)
      format = argv[++i];
    else if (!strcmp(a, "--window-ms") && v)
      window_ms = atof(argv[++i]);
    else if (!strcmp(a, "--shift-ms") && v)
      shift_ms = atof(argv[++i]);
    else if (!strcmp(a, "--smoothing") && v)
      median = !strcmp(argv[++i], "median");
    else if (!strcmp(a, "--onset") && v) {
      q.onset = atof(argv[++i]);
      thresholds_given = 1;
    } else if (!strcmp(a, "--offset") && v) {
      q.offset = atof(argv[++i]);
      thresholds_given = 1;
    }
    else if (!strcmp(a, "--pad-onset") && v)
      q.pad_onset_s = atof(argv[++i]);
    else if (!strcmp(a, "--pad-offset") && v)
      q.pad_offset_s = atof(argv[++i]);
    else if (!strcmp(a, "--min-duration-on") && v)
      q.min_duration_on_s = atof(argv[++i]);
    else if (!strcmp(a, "--min-duration-off") && v)
      q.min_duration_off_s = atof(argv[++i]);
    else if (!strcmp(a, "--no-filter-speech-first"))
      q.filter_speech_first = 0;
    else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "voxpipe vad: unknown option or missing value '%s'. Try 'voxpipe vad --help'.\n", a);
      free(files);
      return 2;
    } else
      files[nfiles++] = argv[i];
  }
  if (!nfiles || (strcmp(format, "text") && strcmp(format, "json") && strcmp(format, "rttm") && strcmp(format, "tsv")) ||
      !(window_ms >= 10 && window_ms <= 60000) || !(shift_ms >= 1 && shift_ms <= window_ms)) {
    fprintf(stderr, "voxpipe vad: need FILE..., --format text|json|rttm|tsv, 10 <= window-ms, 1 <= shift-ms <= "
                    "window-ms. Try 'voxpipe vad --help'.\n");
    free(files);
    return 2;
  }
  if (!model)
    model = cli_default_model("vad");
  vox_error err = {0};
  vox_model *m = cli_load_model("vad", model, "vad", 1);
  if (!m) {
    free(files);
    return 1;
  }
  const vox_model_info *info = vox_model_get_info(m);
  vad_run v = {0};
  v.speech_class = -1;
  for (int k = 0; k < info->n_labels; k++)
    if (info->labels && !strcmp(info->labels[k], "speech"))
      v.speech_class = k;
  if (info->task != VOX_TASK_CLASSIFICATION || v.speech_class < 0) {
    fprintf(stderr, "voxpipe vad: %s is not a VAD model (a classifier with a 'speech' label)\n", model);
    vox_model_free(m);
    free(files);
    return 1;
  }
  if (!thresholds_given) { /* a model may state the thresholds it was calibrated for */
    const vox_config_node *pp = vox_config_get(vox_checkpoint_config(vox_model_checkpoint(m)), "vad_postprocessing");
    double on = q.onset, off = q.offset;
    if (pp && !vox_config_double(pp, "onset", &on, &on, NULL) && !vox_config_double(pp, "offset", &off, &off, NULL) &&
        on > 0 && on < 1 && off > 0 && off <= on) {
      q.onset = on;
      q.offset = off;
    }
  }
  double frame_s = (double)info->features.hop_length / info->sample_rate_hz;
  v.nf = info->input_channels;
  v.classes = info->output_channels;
  v.window = (size_t)(window_ms / 1000.0 / frame_s + 0.5);
  v.shift = (size_t)(shift_ms / 1000.0 / frame_s + 0.5);
  if (!v.shift)
    v.shift = 1;
  v.win = malloc(sizeof(float) * (size_t)v.nf * v.window);
  v.logits = malloc(sizeof(float) * (size_t)v.classes);
  int failures = 0;
  if (!v.win || !v.logits || vox_model_stream_new(m, &v.ms, &err)) {
    cli_error("vad", &err);
    failures = nfiles;
    nfiles = 0;
  }
  for (int i = 0; i < nfiles; i++) {
    if (run_file(&v, m, files[i], &err)) {
      cli_error("vad", &err);
      failures++;
      continue;
    }
    size_t nfr = v.n_probs ? (v.n_probs - 1) * v.shift + v.window : 0;
    float *frames = malloc((nfr ? nfr : 1) * sizeof *frames);
    vox_segment *seg = NULL;
    size_t ns = 0;
    if (!frames || (nfr && vox_vad_smooth(v.probs, v.n_probs, v.window, v.shift, median, frames, nfr, &err)) ||
        vox_vad_segments(frames, nfr, frame_s, &q, &seg, &ns, &err)) {
      cli_error("vad", &err);
      failures++;
      free(frames);
      continue;
    }
    const char *base = strrchr(files[i], '/') ? strrchr(files[i], '/') + 1 : files[i];
    if (!strcmp(format, "json")) {
      fputs("{\"audio_filepath\": ", stdout);
      json_string(stdout, files[i]);
      fputs(", \"segments\": [", stdout);
      for (size_t k = 0; k < ns; k++)
        printf("%s{\"start\": %.2f, \"end\": %.2f}", k ? ", " : "", seg[k].start_s, seg[k].end_s);
      fputs("]}\n", stdout);
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
        else
          printf("%s%.2f %.2f\n", nfiles > 1 ? files[i] : "", seg[k].start_s, seg[k].end_s);
      }
    }
    free(seg);
    free(frames);
  }
  vox_model_stream_free(v.ms);
  free(v.win);
  free(v.logits);
  free(v.probs);
  vox_model_free(m);
  free(files);
  return failures ? 1 : 0;
}
