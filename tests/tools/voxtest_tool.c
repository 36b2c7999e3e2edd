/* voxtest_tool.c - gives test scripts raw access to libvoxpipe internals.
 *
 *   voxtest_tool features IN.f32 OUT.f32 [CHUNK [mfcc]] log-mel (or MarbleNet's MFCC) of raw float
 *                                                      samples (16 kHz), fed in CHUNK-sample pieces;
 *                                                      OUT is [64][frames]
 *   voxtest_tool logits MODEL IN.f32 OUT.f32 THREADS CHUNK
 *                                                      samples -> model log-probs [T][classes],
 *                                                      model fed CHUNK feature frames at a time
 *   voxtest_tool encoder-stream MODEL FEATS.f32 NFEAT OUT.f32 CHUNK
 *                                                      raw features [NFEAT][T] -> log-probs [T][C]
 *   voxtest_tool tensors CKPT OUT_DIR                 every tensor as OUT_DIR/<name>.f32 (+ .i64),
 *                                                      and a listing on stdout
 *   voxtest_tool audio FILE OUT.f32 [RATE [RAWFMT RAWRATE RAWCH]]  mono samples at RATE (16000)
 *   voxtest_tool parallel MODEL IN.f32 N              N streams of one model in threads == alone
 *   voxtest_tool vad PROBS.f32 FRAME_S ONSET OFFSET PAD_ON PAD_OFF MIN_ON MIN_OFF FILTER_FIRST
 *                                                      speech segments, one "start end" line each
 *   voxtest_tool vad-smooth WIN.f32 OUT.f32 WINDOW SHIFT MEDIAN   window -> frame probabilities
 *   voxtest_tool config CKPT PATH                     prints one config value
 *   voxtest_tool ctc LOGP.f32 LABELS BEAM LM|- ALPHA BETA CHUNK [WORD:BOOST...]
 *                                                      decodes log-probs [T][labels+1] (blank last)
 *                                                      greedily (BEAM 0) or with beam search, pushed
 *                                                      CHUNK frames at a time; prints "text: ...",
 *                                                      "word W START END CONF" and "nbest SCORE TEXT";
 *                                                      before them "stable K TEXT" after every push
 *   voxtest_tool vad-stream MODEL IN.f32 CHUNK ONSET OFFSET PAD_ON PAD_OFF MIN_ON MIN_OFF
 *                                                      streaming VAD fed CHUNK samples at a time;
 *                                                      prints "start T" / "end T DUR" events
 *   voxtest_tool enhance MODEL IN.f32 OUT.f32 CHUNK   enhancement model on raw samples fed CHUNK at a
 *                                                      time; OUT has as many samples as IN; prints
 *                                                      "latency N" (samples) and "full_context F"
 *   voxtest_tool lm FILE                              loads an LM ("info ..."), then scores each
 *                                                      stdin line "w1 .. wn": ln P(wn | w1..wn-1)
 * Exit 0 on success, 1 with the library's message on stderr on failure. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "voxpipe/voxpipe.h"

static float *read_f32(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  float *b = malloc((size_t)sz + 4);
  *n = (size_t)sz / 4;
  if (b && fread(b, 4, *n, f) != *n) {
    free(b);
    b = NULL;
  }
  fclose(f);
  return b;
}

/* Writes n floats to path; 1 (with a message) when it cannot. */
static int write_f32(const char *path, const float *x, size_t n) {
  FILE *f = fopen(path, "wb");
  int bad = !f || fwrite(x, sizeof(float), n, f) != n;
  if (f && fclose(f))
    bad = 1;
  if (bad)
    fprintf(stderr, "error: cannot write %s\n", path);
  return bad;
}

static int fail(const vox_error *e) {
  fprintf(stderr, "error: %s\n", e->message);
  return 1;
}

static int cmd_features(int argc, char **argv) {
  if (argc < 4)
    return 2;
  size_t n;
  float *x = read_f32(argv[2], &n);
  size_t chunk = argc > 4 && atol(argv[4]) > 0 ? (size_t)atol(argv[4]) : n + 1;
  if (!x || chunk == 0)
    return 1;
  vox_error err = {0};
  vox_feature_config c = vox_feature_config_default();
  if (argc > 5 && !strcmp(argv[5], "mfcc")) { /* MarbleNet/MatchboxNet's AudioToMFCCPreprocessor */
    c.win_length = 400;
    c.n_mfcc = 64;
    c.htk_mel = c.periodic_window = c.reflect_pad = 1;
    c.preemph = 0;
    c.log_zero_guard = 1e-6f;
    c.normalize = VOX_NORMALIZE_NONE;
  }
  vox_features *f;
  if (vox_features_new(&c, &f, &err))
    return fail(&err);
  size_t total = vox_features_frame_count(f, n), cap = total + 8, got = 0;
  float *out = malloc(sizeof(float) * 64 * cap);
  size_t mf = vox_features_max_frames(f, chunk);
  float *tmp = malloc(sizeof(float) * 64 * mf);
  for (size_t i = 0; i <= n; i += chunk) {
    size_t k = n - i < chunk ? n - i : chunk;
    int final = i + k >= n;
    size_t nf;
    if (vox_features_process(f, x + i, k, final, tmp, mf, mf, &nf, &err))
      return fail(&err);
    for (int m = 0; m < 64; m++)
      memcpy(out + (size_t)m * cap + got, tmp + (size_t)m * mf, nf * sizeof(float));
    got += nf;
    if (final)
      break;
  }
  if (got != total) {
    fprintf(stderr, "frame count %zu, expected %zu\n", got, total);
    return 1;
  }
  FILE *o = fopen(argv[3], "wb");
  for (int m = 0; m < 64; m++)
    fwrite(out + (size_t)m * cap, sizeof(float), got, o);
  fclose(o);
  vox_features_free(f);
  free(out);
  free(tmp);
  free(x);
  return 0;
}

/* Model log-probs for raw features [nfeat][T]: fed chunks[0], chunks[1], ... frames at a time
 * (cycling through the n_chunks sizes). */
static int run_model(vox_model *m, const float *feats, size_t stride, size_t T, const size_t *chunks, int n_chunks,
                     FILE *o) {
  vox_error err = {0};
  const vox_model_info *info = vox_model_get_info(m);
  vox_model_stream *s;
  if (vox_model_stream_new(m, &s, &err))
    return fail(&err);
  int nf = info->input_channels, C = info->output_channels;
  size_t chunk = 0;
  for (int i = 0; i < n_chunks; i++)
    chunk = chunks[i] > chunk ? chunks[i] : chunk;
  float *in = malloc(sizeof(float) * (size_t)nf * chunk);
  size_t cap = vox_model_stream_max_output(s, chunk);
  float *out = malloc(sizeof(float) * (size_t)C * cap);
  float *row = malloc(sizeof(float) * (size_t)C);
  for (size_t t0 = 0, call = 0;; t0 += chunks[call++ % (size_t)n_chunks]) {
    size_t step = chunks[call % (size_t)n_chunks];
    size_t k = t0 >= T ? 0 : (T - t0 < step ? T - t0 : step);
    int final = t0 + k >= T;
    for (int c = 0; c < nf; c++)
      memcpy(in + (size_t)c * chunk, feats + (size_t)c * stride + t0, k * sizeof(float));
    size_t no;
    if (vox_model_stream_process(s, in, chunk, k, final, out, cap, cap, &no, &err))
      return fail(&err);
    for (size_t t = 0; t < no; t++) {
      for (int c = 0; c < C; c++)
        row[c] = out[(size_t)c * cap + t];
      fwrite(row, sizeof(float), (size_t)C, o);
    }
    if (final)
      break;
  }
  vox_model_stream_free(s);
  free(in);
  free(out);
  free(row);
  return 0;
}

/* "7,300,3" -> {7, 300, 3}; 0 on a bad list. */
static int parse_chunks(const char *arg, size_t *chunks, int max) {
  int n = 0;
  for (const char *p = arg; *p && n < max;) {
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p || v <= 0)
      return 0;
    chunks[n++] = (size_t)v;
    p = *end == ',' ? end + 1 : end;
    if (*end && *end != ',')
      return 0;
  }
  return n;
}

static int cmd_logits(int argc, char **argv) {
  if (argc < 7)
    return 2;
  vox_error err = {0};
  vox_model_params p = vox_model_default_params();
  p.threads = atoi(argv[5]);
  size_t chunks[16];
  int n_chunks = parse_chunks(argv[6], chunks, 16);
  if (!n_chunks)
    return 2;
  vox_model *m;
  if (vox_model_load(argv[2], &p, &m, &err))
    return fail(&err);
  const vox_model_info *info = vox_model_get_info(m);
  size_t n;
  float *x = read_f32(argv[3], &n);
  if (!x)
    return 1;
  vox_features *f;
  if (vox_features_new(&info->features, &f, &err))
    return fail(&err);
  size_t T = vox_features_frame_count(f, n), cap = T + 8, nf;
  int nm = info->input_channels;
  float *feats = malloc(sizeof(float) * (size_t)nm * cap);
  if (vox_features_process(f, x, n, 1, feats, cap, cap, &nf, &err))
    return fail(&err);
  if (info->features.normalize == VOX_NORMALIZE_PER_FEATURE) {
    double *sum = calloc((size_t)nm, sizeof(double)), *sq = calloc((size_t)nm, sizeof(double));
    float *mean = malloc(sizeof(float) * (size_t)nm), *inv = malloc(sizeof(float) * (size_t)nm);
    vox_features_stats_add(feats, cap, nm, nf, sum, sq);
    vox_features_stats_finish(sum, sq, nf, nm, mean, inv);
    vox_features_normalize(feats, cap, nm, nf, mean, inv);
    free(sum);
    free(sq);
    free(mean);
    free(inv);
  } else if (info->features.normalize == VOX_NORMALIZE_FIXED) {
    float inv[VOX_FIXED_NORM_MAX];
    for (int i = 0; i < nm; i++)
      inv[i] = 1.0f / info->features.fixed_std[i];
    vox_features_normalize(feats, cap, nm, nf, info->features.fixed_mean, inv);
  }
  FILE *o = fopen(argv[4], "wb");
  int rc = run_model(m, feats, cap, nf, chunks, n_chunks, o);
  fclose(o);
  vox_features_free(f);
  free(feats);
  free(x);
  vox_model_free(m);
  return rc;
}

static int cmd_encoder_stream(int argc, char **argv) {
  if (argc < 7)
    return 2;
  vox_error err = {0};
  vox_model *m;
  if (vox_model_load(argv[2], NULL, &m, &err))
    return fail(&err);
  size_t n;
  float *feats = read_f32(argv[3], &n);
  size_t nfeat = (size_t)atol(argv[4]), T = n / nfeat;
  FILE *o = fopen(argv[5], "wb");
  size_t chunks[16];
  int n_chunks = parse_chunks(argv[6], chunks, 16);
  int rc = n_chunks ? run_model(m, feats, T, T, chunks, n_chunks, o) : 2;
  fclose(o);
  free(feats);
  vox_model_free(m);
  return rc;
}

static int cmd_tensors(int argc, char **argv) {
  if (argc < 4)
    return 2;
  vox_error err = {0};
  vox_checkpoint *ck;
  vox_checkpoint_params p = vox_checkpoint_default_params();
  if (argc > 4)
    p.state_dict_key = argv[4];
  if (vox_checkpoint_open(argv[2], &p, &ck, &err))
    return fail(&err);
  for (size_t i = 0; i < vox_checkpoint_tensor_count(ck); i++) {
    const vox_tensor *t = vox_checkpoint_tensor_at(ck, i);
    printf("%s %s", t->name, vox_dtype_name(t->dtype));
    for (int d = 0; d < t->ndim; d++)
      printf(" %lld", (long long)t->shape[d]);
    printf("\n");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.f32", argv[3], t->name);
    FILE *f = fopen(path, "wb");
    if (!f)
      return 1;
    fwrite(t->data, sizeof(float), t->numel, f);
    fclose(f);
    if (t->ivalues) {
      snprintf(path, sizeof path, "%s/%s.i64", argv[3], t->name);
      f = fopen(path, "wb");
      fwrite(t->ivalues, sizeof(int64_t), t->numel, f);
      fclose(f);
    }
  }
  vox_checkpoint_free(ck);
  return 0;
}

static int cmd_audio(int argc, char **argv) {
  if (argc < 4)
    return 2;
  vox_error err = {0};
  vox_audio_params p = vox_audio_default_params();
  p.target_rate_hz = argc > 4 ? atoi(argv[4]) : 16000;
  if (argc > 7) {
    p.raw_format = argv[5];
    p.raw_rate_hz = atoi(argv[6]);
    p.raw_channels = atoi(argv[7]);
  }
  /* a part of the file (NeMo manifest's offset and duration) */
  const char *off = getenv("VOXTEST_OFFSET_S"), *dur = getenv("VOXTEST_DURATION_S");
  p.offset_s = off ? atof(off) : 0.0;
  p.duration_s = dur ? atof(dur) : 0.0;
  float *x;
  size_t n;
  int rate;
  if (vox_audio_read_all(argv[2], &p, &x, &n, &rate, &err))
    return fail(&err);
  int rc = write_f32(argv[3], x, n);
  free(x);
  return rc;
}

/* Several streams of one shared model in parallel threads must each give the single-thread result. */
typedef struct par_job {
  const vox_model *m;
  const float *x;
  size_t n;
  char text[65536];
  int failed;
} par_job;

static void *par_run(void *arg) {
  par_job *j = arg;
  vox_error err = {0};
  vox_asr_stream *s;
  if (vox_asr_stream_new(j->m, NULL, &s, &err)) {
    j->failed = 1;
    return NULL;
  }
  for (int rep = 0; rep < 3 && !j->failed; rep++) { /* reuse after reset too */
    vox_asr_stream_reset(s);
    for (size_t i = 0; i < j->n && !j->failed; i += 1600)
      j->failed |= vox_asr_stream_accept(s, j->x + i, j->n - i < 1600 ? j->n - i : 1600, &err) != VOX_OK;
    j->failed |= vox_asr_stream_finish(s, &err) != VOX_OK;
    vox_transcript t;
    vox_asr_stream_result(s, &t);
    if (rep == 0)
      snprintf(j->text, sizeof j->text, "%s", t.text);
    else if (strcmp(j->text, t.text))
      j->failed = 1;
  }
  vox_asr_stream_free(s);
  return NULL;
}

static int cmd_parallel(int argc, char **argv) {
  if (argc < 5)
    return 2;
  vox_error err = {0};
  vox_model *m;
  if (vox_model_load(argv[2], NULL, &m, &err))
    return fail(&err);
  size_t n;
  float *x = read_f32(argv[3], &n);
  int nt = atoi(argv[4]);
  if (!x || nt < 1 || nt > 64)
    return 2;
  par_job *jobs = calloc((size_t)nt + 1, sizeof *jobs);
  pthread_t th[64];
  for (int i = 0; i <= nt; i++) {
    jobs[i].m = m;
    jobs[i].x = x;
    jobs[i].n = n;
  }
  par_run(&jobs[nt]); /* the reference, alone */
  for (int i = 0; i < nt; i++)
    pthread_create(&th[i], NULL, par_run, &jobs[i]);
  int bad = jobs[nt].failed;
  for (int i = 0; i < nt; i++) {
    pthread_join(th[i], NULL);
    bad |= jobs[i].failed || strcmp(jobs[i].text, jobs[nt].text);
  }
  printf("%d streams in parallel: %s\n", nt, bad ? "DIFFERENT" : "identical");
  free(jobs);
  free(x);
  vox_model_free(m);
  return bad;
}

static int cmd_vad(int argc, char **argv) {
  if (argc < 11)
    return 2;
  size_t n;
  float *p = read_f32(argv[2], &n);
  if (!p)
    return 1;
  vox_vad_params q = {atof(argv[4]), atof(argv[5]), atof(argv[6]), atof(argv[7]), atof(argv[8]), atof(argv[9]),
                      atoi(argv[10])};
  vox_segment *seg;
  size_t ns;
  vox_error err = {0};
  if (vox_vad_segments(p, n, atof(argv[3]), &q, &seg, &ns, &err)) {
    free(p);
    return fail(&err);
  }
  for (size_t i = 0; i < ns; i++)
    printf("%.6f %.6f\n", seg[i].start_s, seg[i].end_s);
  free(seg);
  free(p);
  return 0;
}

static int cmd_vad_smooth(int argc, char **argv) {
  if (argc < 7)
    return 2;
  size_t n;
  float *p = read_f32(argv[2], &n);
  size_t window = (size_t)atol(argv[4]), shift = (size_t)atol(argv[5]);
  if (!p || !n || !shift)
    return 1;
  size_t nf = (n - 1) * shift + window;
  float *out = malloc(nf * sizeof *out);
  vox_error err = {0};
  if (vox_vad_smooth(p, n, window, shift, atoi(argv[6]), out, nf, &err)) {
    free(out);
    free(p);
    return fail(&err);
  }
  int rc = write_f32(argv[3], out, nf);
  free(out);
  free(p);
  return rc;
}

static int cmd_config(int argc, char **argv) {
  if (argc < 4)
    return 2;
  vox_error err = {0};
  vox_checkpoint *ck;
  if (vox_checkpoint_open(argv[2], NULL, &ck, &err))
    return fail(&err);
  const char *v = vox_config_string(vox_checkpoint_config(ck), argv[3], NULL);
  printf("%s\n", v ? v : "(missing)");
  vox_checkpoint_free(ck);
  return v ? 0 : 1;
}

static void print_transcript(const vox_transcript *t) {
  printf("text: %s\n", t->text);
  for (size_t i = 0; i < t->n_words; i++)
    printf("word %s %.3f %.3f %.4f\n", t->words[i].text, t->words[i].start_s, t->words[i].end_s,
           t->words[i].confidence);
}

/* "stable K TEXT": the partial's first K words are settled (checked against the final by tests). */
static void print_stable_partial(vox_ctc_decoder *g, vox_ctc_beam *b) {
  vox_transcript t;
  if (g)
    vox_ctc_decoder_result(g, &t);
  else if (b)
    vox_ctc_beam_result(b, &t);
  else
    return;
  printf("stable %zu %s\n", t.n_stable_words, t.text);
  if (!getenv("VOX_TEST_FORGET"))
    return;
  /* hand the stable words over ("forgot" lines, as the final's "word" lines) and forget them */
  for (size_t i = 0; i < t.n_stable_words; i++)
    printf("forgot %s %.3f %.3f %.4f\n", t.words[i].text, t.words[i].start_s, t.words[i].end_s,
           t.words[i].confidence);
  size_t gone = g ? vox_ctc_decoder_forget(g, t.n_stable_words) : vox_ctc_beam_forget(b, t.n_stable_words);
  if (gone != t.n_stable_words)
    printf("forget: %zu of %zu stable words\n", gone, t.n_stable_words);
}

static int cmd_ctc(int argc, char **argv) {
  if (argc < 9)
    return 2;
  size_t n;
  float *lp = read_f32(argv[2], &n);
  const char *lab = argv[3];
  int nl = (int)strlen(lab), beam = atoi(argv[4]), chunk = atoi(argv[8]);
  if (!lp || nl < 1 || chunk < 1)
    return 2;
  size_t C = (size_t)nl + 1, T = n / C;
  char one[64][2];
  const char *labels[64];
  for (int i = 0; i < nl && i < 64; i++) {
    one[i][0] = lab[i];
    one[i][1] = '\0';
    labels[i] = one[i];
  }
  float *cm = malloc(sizeof(float) * C * (T ? T : 1)); /* channel-major */
  for (size_t t = 0; t < T; t++)
    for (size_t c = 0; c < C; c++)
      cm[c * T + t] = lp[t * C + c];
  vox_error err = {0};
  int rc = 0;
  if (beam == 0) {
    vox_ctc_decoder *d;
    if (vox_ctc_decoder_new(labels, nl, nl, 0.04, &d, &err))
      rc = fail(&err);
    for (size_t t = 0; !rc && t < T; t += (size_t)chunk) {
      if (vox_ctc_decoder_push(d, cm + t, T, T - t < (size_t)chunk ? T - t : (size_t)chunk, &err))
        rc = fail(&err);
      print_stable_partial(d, NULL);
    }
    if (!rc) {
      vox_transcript tr;
      vox_ctc_decoder_result(d, &tr);
      print_transcript(&tr);
      vox_ctc_decoder_free(d);
    }
  } else {
    vox_beam_params bp = vox_beam_default_params();
    vox_lm *lm = NULL;
    vox_hotword hot[16];
    bp.beam_size = beam;
    bp.alpha = (float)atof(argv[6]);
    bp.beta = (float)atof(argv[7]);
    for (int i = 9; i < argc && bp.n_hotwords < 16; i++) {
      char *colon = strrchr(argv[i], ':');
      if (!colon)
        return 2;
      *colon = '\0';
      hot[bp.n_hotwords].word = argv[i];
      hot[bp.n_hotwords++].boost = (float)atof(colon + 1);
    }
    bp.hotwords = hot;
    if (strcmp(argv[5], "-") && vox_lm_load(argv[5], &lm, &err))
      rc = fail(&err);
    bp.lm = lm;
    vox_ctc_beam *d = NULL;
    if (!rc && vox_ctc_beam_new(labels, nl, nl, 0.04, &bp, &d, &err))
      rc = fail(&err);
    for (size_t t = 0; !rc && t < T; t += (size_t)chunk) {
      if (vox_ctc_beam_push(d, cm + t, T, T - t < (size_t)chunk ? T - t : (size_t)chunk, &err))
        rc = fail(&err);
      print_stable_partial(NULL, d);
    }
    if (!rc) {
      vox_ctc_beam_finish(d);
      vox_transcript tr[8];
      float sc[8];
      size_t k = vox_ctc_beam_nbest(d, 8, tr, sc);
      if (k)
        print_transcript(&tr[0]);
      for (size_t i = 0; i < k; i++)
        printf("nbest %.4f %s\n", sc[i], tr[i].text);
    }
    vox_ctc_beam_free(d);
    vox_lm_free(lm);
  }
  free(cm);
  free(lp);
  return rc;
}

static int cmd_vad_stream(int argc, char **argv) {
  if (argc < 11)
    return 2;
  vox_error err = {0};
  vox_model *m;
  if (vox_model_load(argv[2], NULL, &m, &err))
    return fail(&err);
  size_t n, chunk = (size_t)atol(argv[4]);
  float *x = read_f32(argv[3], &n);
  vox_vad_params q = vox_vad_default_params();
  q.onset = atof(argv[5]);
  q.offset = atof(argv[6]);
  q.pad_onset_s = atof(argv[7]);
  q.pad_offset_s = atof(argv[8]);
  q.min_duration_on_s = atof(argv[9]);
  q.min_duration_off_s = atof(argv[10]);
  vox_vad_stream *v;
  int rc = 0;
  if (!x || !chunk || vox_vad_stream_new(m, &q, 0.63, 0.01, &v, &err)) {
    vox_model_free(m);
    free(x);
    return x && chunk ? fail(&err) : 2;
  }
  vox_vad_event ev[8];
  for (size_t i = 0; !rc && i <= n; i += chunk) {
    if (i == n ? vox_vad_stream_finish(v, &err) : vox_vad_stream_accept(v, x + i, n - i < chunk ? n - i : chunk, &err))
      rc = fail(&err);
    for (size_t k; (k = vox_vad_stream_events(v, ev, 8));)
      for (size_t j = 0; j < k; j++)
        if (ev[j].speech)
          printf("start %.3f\n", ev[j].time_s);
        else
          printf("end %.3f %.3f\n", ev[j].time_s, ev[j].duration_s);
    if (i == n)
      break;
    if (i + chunk > n)
      i = n - chunk; /* the next round finishes */
  }
  vox_vad_stream_free(v);
  vox_model_free(m);
  free(x);
  return rc;
}

/* OpenBLAS threads after loading a model: voxpipe parallelises itself, OpenBLAS must run one thread
 * (its own threads busy-wait and stall under load; FRCRN once ran 6x slower beside one busy process) */
static int cmd_blas_threads(int argc, char **argv) {
  if (argc < 3)
    return 2;
  vox_error err = {0};
  vox_model *m;
  if (vox_model_load(argv[2], NULL, &m, &err))
    return fail(&err);
  printf("blas-threads %d\n", openblas_get_num_threads());
  vox_model_free(m);
  return 0;
}

static int cmd_lm(int argc, char **argv) {
  if (argc < 3)
    return 2;
  vox_lm *lm;
  vox_error err = {0};
  if (vox_lm_load(argv[2], &lm, &err))
    return fail(&err);
  const vox_lm_info *in = vox_lm_get_info(lm);
  printf("info %s order %d memory %zu unk %d counts", in->format, in->order, in->memory_bytes, in->has_unk);
  for (int i = 0; i < in->order; i++)
    printf(" %zu", in->counts[i]);
  printf("\n");
  char line[1024];
  while (fgets(line, sizeof line, stdin)) {
    int32_t ids[64];
    int n = 0, unknown = 0;
    for (char *save = NULL, *w = strtok_r(line, " \t\n", &save); w && n < 64; w = strtok_r(NULL, " \t\n", &save))
      if ((ids[n++] = vox_lm_word(lm, w, strlen(w))) < 0)
        unknown = 1;
    if (!n)
      continue;
    if (unknown)
      printf("unk\n");
    else
      printf("%.5f\n", vox_lm_score(lm, ids, n - 1, ids[n - 1]));
  }
  vox_lm_free(lm);
  return 0;
}

static int cmd_enhance(int argc, char **argv) {
  if (argc < 6)
    return 2;
  size_t n = 0, chunk = (size_t)atol(argv[5]);
  float *x = read_f32(argv[3], &n);
  vox_error err = {0};
  vox_model_params mp = vox_model_default_params();
  vox_model *m = NULL;
  vox_model_stream *ms = NULL;
  if (!x || !chunk)
    return 2;
  if (vox_model_load(argv[2], &mp, &m, &err) || vox_model_stream_new(m, &ms, &err)) {
    free(x);
    vox_model_free(m);
    return fail(&err);
  }
  const vox_model_info *mi = vox_model_get_info(m);
  printf("latency %d\nfull_context %d\n", mi->lookahead_frames, mi->full_context);
  float *y = calloc(n + 1, sizeof(float));
  size_t got = 0;
  int rc = 0;
  for (size_t i = 0; y && i <= n; i += chunk) {
    size_t k = n - i < chunk ? n - i : chunk, no = 0;
    int final = i + k >= n;
    /* strides as vox_model_plugin.h defines them: one channel each, the rest of the buffers (a plugin
     * that took a stride for the step between samples read past the input) */
    if (vox_model_stream_process(ms, x + i, n - i, k, final, y + got, n + 1 - got, n + 1 - got, &no, &err)) {
      rc = fail(&err);
      break;
    }
    got += no;
    if (final)
      break;
  }
  if (!rc && got != n) {
    fprintf(stderr, "got %zu samples for %zu\n", got, n);
    rc = 1;
  }
  if (!rc)
    rc = write_f32(argv[4], y, n);
  free(x);
  free(y);
  vox_model_stream_free(ms);
  vox_model_free(m);
  return rc;
}

/* resample IN.f32 OUT.f32 FROM_HZ TO_HZ BLOCK: streams IN through one vox_resampler in blocks of
 * BLOCK samples (the last flushes), as the apps and elements do. */
static int cmd_resample(int argc, char **argv) {
  if (argc < 7)
    return 2;
  vox_error err = {0};
  size_t n, block = (size_t)atol(argv[6]), total = 0;
  float *x = read_f32(argv[2], &n);
  vox_resampler *rs;
  if (!x || !block || vox_resampler_new(atof(argv[4]), atof(argv[5]), &rs, &err)) {
    free(x);
    return x && block ? fail(&err) : 2;
  }
  size_t cap = vox_resampler_max_output(rs, n);
  float *y = malloc((cap + 1) * sizeof(float));
  int rc = y ? 0 : 1;
  for (size_t off = 0; rc == 0 && off < n + 1;) {
    size_t m = n - off < block ? n - off : block, used = 0, got = 0;
    int final = off + m == n;
    if (vox_resampler_process(rs, x + off, m, &used, y + total, cap - total, &got, final, &err))
      rc = fail(&err);
    total += got;
    off += used;
    if (final && used == m)
      break;
  }
  if (!rc)
    rc = write_f32(argv[3], y, total);
  vox_resampler_free(rs);
  free(x);
  free(y);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2)
    return 2;
  if (!strcmp(argv[1], "enhance"))
    return cmd_enhance(argc, argv);
  if (!strcmp(argv[1], "features"))
    return cmd_features(argc, argv);
  if (!strcmp(argv[1], "logits"))
    return cmd_logits(argc, argv);
  if (!strcmp(argv[1], "encoder-stream"))
    return cmd_encoder_stream(argc, argv);
  if (!strcmp(argv[1], "tensors"))
    return cmd_tensors(argc, argv);
  if (!strcmp(argv[1], "vad"))
    return cmd_vad(argc, argv);
  if (!strcmp(argv[1], "vad-smooth"))
    return cmd_vad_smooth(argc, argv);
  if (!strcmp(argv[1], "parallel"))
    return cmd_parallel(argc, argv);
  if (!strcmp(argv[1], "resample"))
    return cmd_resample(argc, argv);
  if (!strcmp(argv[1], "audio"))
    return cmd_audio(argc, argv);
  if (!strcmp(argv[1], "config"))
    return cmd_config(argc, argv);
  if (!strcmp(argv[1], "ctc"))
    return cmd_ctc(argc, argv);
  if (!strcmp(argv[1], "vad-stream"))
    return cmd_vad_stream(argc, argv);
  if (!strcmp(argv[1], "lm"))
    return cmd_lm(argc, argv);
  if (!strcmp(argv[1], "blas-threads"))
    return cmd_blas_threads(argc, argv);
  fprintf(stderr, "unknown command %s\n", argv[1]);
  return 2;
}
