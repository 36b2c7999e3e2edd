/* cmd_transcribe.c - `voxpipe transcribe`: files or a NeMo manifest to text/JSON/SRT/VTT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: voxpipe transcribe [OPTIONS] FILE...\n"
          "       voxpipe transcribe [OPTIONS] --manifest IN.jsonl\n"
          "\n"
          "Speech to text. FILE is any audio libsndfile reads (WAV, FLAC, OGG, AIFF...) at any rate and\n"
          "channel count, or - for standard input.\n"
          "\n"
          "  -m, --model M       .nemo or checkpoint (default: the bundled model, %s)\n"
          "  -f, --format F      text (default; FILE: first with several files), json (JSON lines), srt, vtt\n"
          "  -t, --threads N     worker threads (default 1)\n"
          "      --manifest IN   NeMo manifest (JSON lines with audio_filepath, optional text; offset and\n"
          "                      duration for a part of the file); writes JSON lines with pred_text,\n"
          "                      words, duration, processing_time\n"
          "      --shard K/N     only every N-th manifest line, starting at line K (0-based)\n"
          "  -o, --output FILE   write there instead of standard output\n"
          "      --vad           recognise only the speech a VAD finds (the bundled MarbleNet), one\n"
          "                      segment at a time: silence costs nothing, long files split at pauses\n"
          "      --vad-model M   --vad with this VAD model; the options of `voxpipe vad` apply too\n"
          "\n%s",
          cli_default_model("asr"), CLI_DECODER_HELP);
}

static void progress(void *user, double fraction) {
  const char *name = user;
  int width = 30, fill = (int)(fraction * width);
  fprintf(stderr, "\r%-30.30s [", name);
  for (int i = 0; i < width; i++)
    fputc(i < fill ? '#' : '.', stderr);
  fprintf(stderr, "] %3d%%", (int)(fraction * 100));
  if (fraction >= 1.0)
    fputs("\r\033[K", stderr);
}

typedef struct job {
  vox_asr_stream *asr;
  FILE *out;
  const char *format;
  int index;
  const cli_decoder *dec;
  cli_vad *vad;  /* --vad: recognise the speech segments only */
  int rate;      /* the ASR model's sample rate */
  int label;     /* text for several files: each line starts with its file's name */
} job;

/* A manifest line: its reference text (or NULL) and the part of the file it names. */
typedef struct manifest_line {
  const char *ref;
  int has_offset;
  double offset_s, duration_s;
  const char *not_a_number; /* "offset" or "duration" when the line's value is not a number, else NULL */
} manifest_line;

/* A file's transcript in the job's format; the name goes first only now that there is a result
 * (a file that fails has its message on stderr and no line). */
static int write_result(job *j, const char *path, const vox_transcript *t, double dt) {
  if (j->label)
    fprintf(j->out, "%s: ", path);
  if (cli_write_transcript(j->out, j->format, path, t, dt, j->index) == 0)
    return 0;
  fprintf(stderr, "voxpipe transcribe: cannot write the output\n");
  return 1;
}

/* Transcribes one file, or the part of it a manifest line names (ml; NULL for files). */
static int one(job *j, const char *path, const manifest_line *ml) {
  vox_error err = {0};
  double t0 = cli_now_s();
  cli_joined joined = {0};
  vox_audio_params ap = vox_audio_default_params();
  if (ml && ml->has_offset) {
    ap.offset_s = ml->offset_s;
    ap.duration_s = ml->duration_s;
  }
  vox_status st = ml && ml->not_a_number
                      ? vox_error_set(&err, VOX_ERR_FORMAT, "%s: the manifest line's %s is not a number of seconds",
                                      path, ml->not_a_number)
                  : j->vad && ml && ml->has_offset
                      ? vox_error_set(&err, VOX_ERR_UNSUPPORTED, "%s: --vad takes whole files, not a manifest's offset "
                                                                 "and duration", path)
                  : j->vad ? (cli_transcribe_segments(j->vad, j->asr, j->rate, path, &joined, &err) ? err.code : VOX_OK)
                           : vox_asr_stream_transcribe_file(j->asr, path, &ap, &err);
  double dt = cli_now_s() - t0;
  const char *ref = ml ? ml->ref : NULL;
  double offset = ml && ml->has_offset ? ml->offset_s : -1;
  if (st != VOX_OK) {
    cli_error("transcribe", &err);
    if (ml) {
      fputs("{\"audio_filepath\": ", j->out);
      json_string(j->out, path);
      if (offset >= 0)
        fprintf(j->out, ", \"offset\": %.3f", offset);
      fputs(", \"error\": ", j->out);
      json_string(j->out, err.message);
      fputs("}\n", j->out);
    }
    return 1;
  }
  vox_transcript t;
  if (j->vad) {
    cli_joined_view(&joined, &t);
    if (ml)
      cli_write_json(j->out, path, offset, ref, &t, 1, NULL, dt);
    else
      write_result(j, path, &t, dt);
    cli_joined_free(&joined);
    j->index++;
    return cli_flush(j->out, "transcribe");
  }
  vox_asr_stream_result(j->asr, &t);
  if (ml || (j->dec->nbest > 1 && !strcmp(j->format, "json"))) {
    vox_transcript nb[64];
    float scores[64];
    size_t k = (size_t)j->dec->nbest < 64 ? (size_t)j->dec->nbest : 64;
    k = vox_asr_stream_nbest(j->asr, k, nb, scores);
    cli_write_json(j->out, path, offset, ref, nb, k, j->dec->nbest > 1 ? scores : NULL, dt);
  } else if (write_result(j, path, &t, dt) != 0)
    return 1;
  j->index++;
  return cli_flush(j->out, "transcribe");
}

/* Resolves a manifest path relative to the manifest's directory, as NeMo does. */
static void resolve(const char *manifest, const char *p, char *buf, size_t n) {
  const char *slash = strrchr(manifest, '/');
  if (p[0] == '/' || !slash)
    snprintf(buf, n, "%s", p);
  else
    snprintf(buf, n, "%.*s/%s", (int)(slash - manifest), manifest, p);
  if (p[0] != '/' && access(buf, F_OK) != 0 && access(p, F_OK) == 0)
    snprintf(buf, n, "%s", p);
}

int cmd_transcribe(int argc, char **argv) {
  const char *model = NULL, *format = "text", *manifest = NULL, *output = NULL;
  int threads = 1, shard_k = 0, shard_n = 1;
  char **files = calloc((size_t)argc, sizeof *files);
  cli_decoder dec;
  cli_decoder_init(&dec);
  cli_vad_options vo;
  cli_vad_options_init(&vo);
  int n_files = 0, use_vad = 0;
  const char *vad_model = NULL;
  if (!files)
    return 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int has_val = i + 1 < argc;
    int dr = cli_decoder_option(&dec, "transcribe", argc, argv, &i);
    if (dr < 0) {
      cli_decoder_free(&dec);
      free(files);
      return 2;
    }
    if (dr > 0 || cli_vad_option(&vo, argc, argv, &i))
      continue;
    if (!strcmp(a, "--vad"))
      use_vad = 1;
    else if (!strcmp(a, "--vad-model") && has_val) {
      use_vad = 1;
      vad_model = argv[++i];
    } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      cli_decoder_free(&dec);
      free(files);
      return 0;
    } else if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && has_val)
      model = argv[++i];
    else if ((!strcmp(a, "-f") || !strcmp(a, "--format")) && has_val)
      format = argv[++i];
    else if ((!strcmp(a, "-t") || !strcmp(a, "--threads")) && has_val)
      threads = cli_atoi(argv[++i]);
    else if (!strcmp(a, "--manifest") && has_val)
      manifest = argv[++i];
    else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && has_val)
      output = argv[++i];
    else if (!strcmp(a, "--shard") && has_val) {
      if (sscanf(argv[++i], "%d/%d", &shard_k, &shard_n) != 2 || shard_n < 1 || shard_k < 0 || shard_k >= shard_n) {
        fprintf(stderr, "voxpipe transcribe: --shard takes K/N with 0 <= K < N, not '%s'\n", argv[i]);
        cli_decoder_free(&dec);
        free(files);
        return 2;
      }
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "voxpipe transcribe: unknown option or missing value '%s'. Try 'voxpipe transcribe --help'.\n",
              a);
      cli_decoder_free(&dec);
      free(files);
      return 2;
    } else
      files[n_files++] = argv[i];
  }
  if (strcmp(format, "text") && strcmp(format, "json") && strcmp(format, "srt") && strcmp(format, "vtt")) {
    fprintf(stderr, "voxpipe transcribe: unknown format '%s' (text, json, srt, vtt)\n", format);
    cli_decoder_free(&dec);
    free(files);
    return 2;
  }
  if (threads < 1 || threads > 256) {
    fprintf(stderr, "voxpipe transcribe: --threads must be 1 to 256\n");
    cli_decoder_free(&dec);
    free(files);
    return 2;
  }
  if (use_vad && cli_vad_options_check("transcribe", &vo)) {
    cli_decoder_free(&dec);
    free(files);
    return 2;
  }
  if (!n_files && !manifest) {
    fprintf(stderr, "voxpipe transcribe: no input files. Try 'voxpipe transcribe --help'.\n");
    cli_decoder_free(&dec);
    free(files);
    return 2;
  }
  vox_error err = {0};
  vox_model *m = cli_load_model("transcribe", model, "asr", threads);
  if (!m) {
    cli_decoder_free(&dec);
    free(files);
    return 1;
  }
  vox_asr_params ap = vox_asr_default_params();
  if (cli_decoder_setup(&dec, "transcribe", &ap)) {
    cli_decoder_free(&dec);
    vox_model_free(m);
    free(files);
    return 1;
  }
  int tty = isatty(STDERR_FILENO);
  if (tty)
    ap.on_progress = progress;
  vox_asr_stream *asr;
  if (vox_asr_stream_new(m, &ap, &asr, &err) != VOX_OK) {
    cli_error("transcribe", &err);
    cli_decoder_free(&dec);
    vox_model_free(m);
    free(files);
    return 1;
  }
  FILE *out = stdout;
  if (output && !(out = fopen(output, "w"))) {
    perror(output);
    vox_asr_stream_free(asr);
    cli_decoder_free(&dec);
    vox_model_free(m);
    free(files);
    return 1;
  }
  job j = {asr, out, format, 0, &dec, NULL, vox_model_get_info(m)->sample_rate_hz,
           !strcmp(format, "text") && n_files > 1};
  if (use_vad && !(j.vad = cli_vad_new("transcribe", vad_model, &vo))) {
    if (output)
      fclose(out);
    vox_asr_stream_free(asr);
    cli_decoder_free(&dec);
    vox_model_free(m);
    free(files);
    return 1;
  }
  int failures = 0;
  for (int i = 0; i < n_files; i++) {
    if (tty) {
      vox_asr_stream_free(asr);
      ap.user = files[i];
      if (vox_asr_stream_new(m, &ap, &asr, &err) != VOX_OK) {
        cli_error("transcribe", &err);
        failures++;
        break;
      }
      j.asr = asr;
    }
    failures += one(&j, files[i], NULL);
  }
  if (manifest) {
    FILE *mf = fopen(manifest, "r");
    if (!mf) {
      perror(manifest);
      failures++;
    } else {
      char *line = NULL, path[4096], text[8192], full[8192];
      size_t cap = 0;
      long lineno = 0;
      while (getline(&line, &cap, mf) > 0) {
        long k = lineno++;
        if (k % shard_n != shard_k)
          continue;
        if (!json_get_string(line, "audio_filepath", path, sizeof path)) {
          fprintf(stderr, "voxpipe transcribe: %s:%ld: no audio_filepath\n", manifest, lineno);
          failures++;
          continue;
        }
        manifest_line ml = {json_get_string(line, "text", text, sizeof text) ? text : NULL, 0, 0.0, 0.0, NULL};
        /* NeMo's segments: offset and duration; a line without offset names the whole file, whatever its
         * duration. A value that is there but not a number is an error (it was taken as absent). */
        double duration;
        int ho = json_get_number(line, "offset", &ml.offset_s), hd = json_get_number(line, "duration", &duration);
        ml.not_a_number = ho < 0 ? "offset" : hd < 0 ? "duration" : NULL;
        ml.has_offset = ho > 0;
        if (ml.has_offset && hd > 0) /* else 0: to the end */
          ml.duration_s = duration;
        resolve(manifest, path, full, sizeof full);
        failures += one(&j, full, &ml);
      }
      free(line);
      fclose(mf);
    }
  }
  if (output && fclose(out) != 0) {
    perror(output);
    failures++;
  }
  vox_asr_stream_free(asr);
  cli_vad_free(j.vad);
  cli_decoder_free(&dec);
  vox_model_free(m);
  free(files);
  return failures ? 1 : 0;
}
