/* cmd_denoise.c - `voxpipe denoise IN OUT`: speech enhancement with an FRCRN-style model.
 *
 * Any libsndfile input; the output keeps the input's format, rate and channels (each channel is
 * enhanced on its own, resampled to the model's rate and back). OUT is written under a temporary
 * name and renamed when complete, so a failure never leaves a partial file; "-" is stdin/stdout.
 * An OUT that exists and is not a regular file (a device, a FIFO, a symbolic link) is written
 * through instead: the temporary file, in $TMPDIR, is copied into it (renamed over it, /dev/null
 * was replaced by a regular file).
 * Models that pool over the whole input (the released FRCRN) get the ClearerVoice pipeline around
 * them: level normalisation to -25 dBFS, its padding rule and 1 s windows beyond 120 s, level
 * restored afterwards. Streaming models (cumulative pooling) see the audio as it is, block by
 * block: memory stays bounded whatever the input's length. */
#include <errno.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "voxpipe/vox_sndfile.h"

static void usage(FILE *f) {
  fprintf(f, "usage: voxpipe denoise [OPTIONS] IN OUT\n"
             "Speech enhancement: IN with the noise taken out, written to OUT in IN's format, rate and\n"
             "channels (each channel enhanced on its own). IN and OUT are files libsndfile reads and\n"
             "writes (WAV, FLAC, OGG, AIFF...), or - for standard input / output; a file OUT is replaced\n"
             "only once the whole output is ready.\n"
             "  -m, --model M     FRCRN model: a ModelScope directory (configuration.json +\n"
             "                    pytorch_model.bin) or its checkpoint (default: the bundled one)\n"
             "  -t, --threads N   worker threads (default 1)\n");
}

static int fail(const char *msg, const char *path) {
  fprintf(stderr, "voxpipe denoise: %s%s%s\n", path ? path : "", path ? ": " : "", msg);
  return 1;
}

/* Runs the model over x (n samples at the model rate) into y (n samples). */
static int run_model(vox_model_stream *ms, const float *x, size_t n, float *y, vox_error *err) {
  vox_model_stream_reset(ms);
  size_t got = 0, block = 16000;
  for (size_t i = 0; i < n || n == 0; i += block) {
    size_t k = n - i < block ? n - i : block;
    int final = i + k >= n;
    size_t no = 0;
    if (vox_model_stream_process(ms, x + i, 1, k, final, y + got, 1, n - got, &no, err) != VOX_OK)
      return -1;
    got += no;
    if (final)
      break;
  }
  return got == n ? 0 : (vox_error_set(err, VOX_ERR_FORMAT, "model returned %zu of %zu samples", got, n), -1);
}

/* ClearerVoice's decode path for whole-input models (../shared/specs/frcrn.md 1.5). */
static int run_whole_input(vox_model_stream *ms, float *x, size_t n, float *y, vox_error *err) {
  const double eps = 1e-6, target = pow(10.0, -25.0 / 20.0);
  double e = 0;
  for (size_t i = 0; i < n; i++)
    e += (double)x[i] * x[i];
  double scalar = target / (sqrt(e / (n ? n : 1)) + eps), avg = 0, loud = 0;
  size_t nl = 0;
  for (size_t i = 0; i < n; i++)
    avg += (double)x[i] * x[i] * scalar * scalar;
  avg /= n ? n : 1;
  for (size_t i = 0; i < n; i++) {
    double p = (double)x[i] * x[i] * scalar * scalar;
    if (p > avg)
      loud += p, nl++;
  }
  double scalarx = target / (sqrt(nl ? loud / nl : 0) + eps), inv = 1.0 / (scalar * scalarx + eps);
  size_t len = n < 16000 ? 16000 : n < 28000 ? 28000 : (n - 16000) % 12000 ? n + (n - (n - 16000) / 12000 * 12000) : n;
  float *px = calloc(len, sizeof(float)), *py = calloc(len, sizeof(float));
  if (!px || !py) {
    free(px);
    free(py);
    vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory (%zu samples)", len);
    return -1;
  }
  for (size_t i = 0; i < n; i++)
    px[i] = (float)(x[i] * scalar * scalarx);
  int rc = 0;
  if (len <= 1920000) {
    rc = run_model(ms, px, len, py, err);
  } else { /* 1 s windows every 0.75 s; 2000 samples at each interior edge discarded */
    const size_t win = 16000, hop = 12000, give = 2000;
    float *wy = malloc(win * sizeof(float));
    rc = wy ? 0 : -1;
    for (size_t s = 0; rc == 0 && s + win <= len; s += hop) {
      rc = run_model(ms, px + s, win, wy, err);
      size_t a = s == 0 ? 0 : give, b = win - give;
      for (size_t i = a; rc == 0 && i < b; i++)
        py[s + i] = wy[i];
    }
    free(wy);
  }
  for (size_t i = 0; rc == 0 && i < n; i++)
    y[i] = (float)(py[i] * inv);
  free(px);
  free(py);
  return rc;
}

static int resample(double from, double to, const float *in, size_t n, float **out, size_t *n_out, vox_error *err) {
  vox_resampler *rs = NULL;
  if (vox_resampler_new(from, to, &rs, err) != VOX_OK)
    return -1;
  size_t cap = vox_resampler_max_output(rs, n) + 16, used = 0, got = 0;
  float *o = malloc(cap * sizeof(float));
  if (!o) {
    vox_resampler_free(rs);
    vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
    return -1;
  }
  vox_status st = vox_resampler_process(rs, in, n, &used, o, cap, &got, 1, err);
  vox_resampler_free(rs);
  if (st != VOX_OK) {
    free(o);
    return -1;
  }
  /* the same number of samples as an exact rate change gives, so channels and files line up */
  size_t want = (size_t)llround((double)n * to / from);
  if (got < want) {
    float *g = realloc(o, (want ? want : 1) * sizeof(float));
    if (!g) {
      free(o);
      vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
      return -1;
    }
    o = g;
    memset(o + got, 0, (want - got) * sizeof(float));
  }
  *out = o;
  *n_out = want;
  return 0;
}

/* Enhanced speech beyond full scale, counted as it is written: integer formats clip it. */
typedef struct {
  size_t over;  /* samples with |x| > 1 */
  float peak;   /* largest |x| written */
} out_level;

static sf_count_t write_frames(SNDFILE *out, const float *x, size_t frames, int ch, out_level *lv) {
  for (size_t i = 0; i < frames * (size_t)ch; i++) {
    float a = fabsf(x[i]);
    lv->over += a > 1.0f;
    lv->peak = a > lv->peak ? a : lv->peak;
  }
  return sf_writef_float(out, x, (sf_count_t)frames);
}

/* Every channel read into memory, enhanced one after the other with one model stream, written at
 * once (results and failures as denoise_stream's): for whole-input models, and for more channels
 * than streaming keeps model streams for. */
static int denoise_whole(SNDFILE *in, SNDFILE *out, int ch, vox_model *model, int full_context, double file_rate,
                         double model_rate, size_t *frames_read, out_level *lv, const char **msg, vox_error *err) {
  size_t frames = 0, cap = 1 << 16;
  float *all = malloc(cap * (size_t)ch * sizeof(float)), *chan = NULL, *res = NULL, *enh = NULL, *back = NULL;
  for (sf_count_t k; all && (k = sf_readf_float(in, all + frames * ch, (sf_count_t)(cap - frames))) > 0;) {
    frames += (size_t)k;
    if (frames == cap) {
      float *g = realloc(all, cap * 2 * (size_t)ch * sizeof(float));
      if (!g) {
        free(all);
        all = NULL;
        break;
      }
      all = g;
      cap *= 2;
    }
  }
  *frames_read = frames;
  vox_model_stream *ms = NULL;
  int rc = -1;
  if (sf_error(in)) {
    msg[0] = "truncated or corrupt audio (libsndfile could not read it to the end)";
    goto done;
  }
  if (!all || !(chan = malloc((frames ? frames : 1) * sizeof(float)))) {
    vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory (%zu frames of %d channels)", frames, ch);
    goto done;
  }
  if (vox_model_stream_new(model, &ms, err) != VOX_OK)
    goto done;
  for (int c = 0; c < ch; c++) {
    for (size_t t = 0; t < frames; t++)
      chan[t] = all[t * ch + c];
    size_t nr, nb;
    if (resample(file_rate, model_rate, chan, frames, &res, &nr, err))
      goto done;
    free(enh);
    enh = malloc((nr ? nr : 1) * sizeof(float));
    if (!enh) {
      vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
      goto done;
    }
    if ((full_context ? run_whole_input(ms, res, nr, enh, err) : run_model(ms, res, nr, enh, err)) ||
        resample(model_rate, file_rate, enh, nr, &back, &nb, err))
      goto done;
    for (size_t t = 0; t < frames; t++)
      all[t * ch + c] = t < nb ? back[t] : 0.0f;
    free(res);
    free(back);
    res = back = NULL;
  }
  if (write_frames(out, all, frames, ch, lv) != (sf_count_t)frames) {
    msg[1] = sf_strerror(out);
    goto done;
  }
  rc = 0;
done:
  free(all);
  free(chan);
  free(res);
  free(enh);
  free(back);
  vox_model_stream_free(ms);
  return rc;
}

/* One channel's way through a streaming model: file rate -> model rate -> model -> file rate. */
typedef struct chain {
  vox_resampler *down, *up;
  vox_model_stream *ms;
  float *a, *b;      /* at the model rate: resampled input, enhanced */
  size_t a_cap, b_cap;
  float *q;          /* enhanced at the file rate, waiting to be written */
  size_t q_len, q_cap;
} chain;

#define BLOCK_FRAMES 4096
#define MAX_STREAMED_CHANNELS 8

static void chain_free(chain *c) {
  vox_resampler_free(c->down);
  vox_resampler_free(c->up);
  vox_model_stream_free(c->ms);
  free(c->a);
  free(c->b);
  free(c->q);
}

static int chain_init(chain *c, vox_model *model, double file_rate, double model_rate, vox_error *err) {
  memset(c, 0, sizeof *c);
  if (vox_resampler_new(file_rate, model_rate, &c->down, err) != VOX_OK ||
      vox_resampler_new(model_rate, file_rate, &c->up, err) != VOX_OK ||
      vox_model_stream_new(model, &c->ms, err) != VOX_OK)
    return -1;
  c->a_cap = vox_resampler_max_output(c->down, BLOCK_FRAMES) + 16;
  c->a = malloc(c->a_cap * sizeof(float));
  return c->a ? 0 : (vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory"), -1);
}

/* Grows *p to hold `need` floats. The model's output bound includes what it holds back (its
 * look-ahead), so the buffers reach their final size after the first blocks. */
static int reserve(float **p, size_t *cap, size_t need, vox_error *err) {
  if (need <= *cap)
    return 0;
  float *g = realloc(*p, need * sizeof(float));
  if (!g)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory (%zu samples)", need), -1;
  *p = g;
  *cap = need;
  return 0;
}

/* Resamples all of in[0, n) (and the filter's tail when final) into out, at most cap samples. */
static int resample_block(vox_resampler *rs, const float *in, size_t n, int final, float *out, size_t cap,
                          size_t *n_out, vox_error *err) {
  size_t used = 0, got = 0;
  if (vox_resampler_process(rs, in, n, &used, out, cap, &got, final, err) != VOX_OK)
    return -1;
  *n_out = got;
  return used == n ? 0 : (vox_error_set(err, VOX_ERR_IO, "resampler kept %zu of %zu samples", n - used, n), -1);
}

/* Takes n samples of one channel (x[i * stride]); appends what comes out to the channel's queue. */
static int chain_push(chain *c, const float *x, size_t stride, size_t n, int final, vox_error *err) {
  float in[BLOCK_FRAMES];
  for (size_t i = 0; i < n; i++)
    in[i] = x[i * stride];
  size_t na, nb, nq;
  if (resample_block(c->down, in, n, final, c->a, c->a_cap, &na, err) ||
      reserve(&c->b, &c->b_cap, vox_model_stream_max_output(c->ms, na), err) ||
      vox_model_stream_process(c->ms, c->a, 1, na, final, c->b, 1, c->b_cap, &nb, err) != VOX_OK ||
      reserve(&c->q, &c->q_cap, c->q_len + vox_resampler_max_output(c->up, nb) + 16, err) ||
      resample_block(c->up, c->b, nb, final, c->q + c->q_len, c->q_cap - c->q_len, &nq, err))
    return -1;
  c->q_len += nq;
  return 0;
}

/* Streams `in` through one chain per channel into `out`, writing exactly as many frames as were
 * read. *frames_read tells how many that was; -1 on failure with err set, or msg[0] / msg[1] naming
 * a problem of the input / the output. */
static int denoise_stream(SNDFILE *in, SNDFILE *out, int ch, vox_model *model, double file_rate,
                          double model_rate, size_t *frames_read, out_level *lv, const char **msg, vox_error *err) {
  chain *cs = calloc((size_t)ch, sizeof *cs);
  float *blk = malloc((size_t)BLOCK_FRAMES * (size_t)ch * sizeof(float));
  size_t written = 0, read = 0;
  int rc = cs && blk ? 0 : (vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory"), -1);
  for (int c = 0; rc == 0 && c < ch; c++)
    rc = chain_init(&cs[c], model, file_rate, model_rate, err);
  for (int final = 0; rc == 0 && !final;) {
    sf_count_t k = sf_readf_float(in, blk, BLOCK_FRAMES);
    if (k < 0 || sf_error(in)) {
      msg[0] = "truncated or corrupt audio (libsndfile could not read it to the end)";
      rc = -1;
      break;
    }
    final = k < BLOCK_FRAMES;
    read += (size_t)k;
    for (int c = 0; rc == 0 && c < ch; c++)
      rc = chain_push(&cs[c], blk + c, (size_t)ch, (size_t)k, final, err);
    /* every channel has the same rates, model and input, so the same count ready; frames past
     * what was read (resampler rounding) are dropped, missing ones at the end are silence */
    size_t todo = read - written;
    if (!final && cs[0].q_len < todo)
      todo = cs[0].q_len;
    for (size_t done = 0; rc == 0 && done < todo;) {
      size_t m = todo - done < BLOCK_FRAMES ? todo - done : BLOCK_FRAMES;
      for (int c = 0; c < ch; c++)
        for (size_t t = 0; t < m; t++)
          blk[t * (size_t)ch + (size_t)c] = done + t < cs[c].q_len ? cs[c].q[done + t] : 0.0f;
      if (write_frames(out, blk, m, ch, lv) != (sf_count_t)m)
        msg[1] = sf_strerror(out), rc = -1;
      done += m;
    }
    written += todo;
    for (int c = 0; rc == 0 && c < ch; c++) {
      size_t drop = todo < cs[c].q_len ? todo : cs[c].q_len;
      memmove(cs[c].q, cs[c].q + drop, (cs[c].q_len - drop) * sizeof(float));
      cs[c].q_len -= drop;
    }
  }
  for (int c = 0; cs && c < ch; c++)
    chain_free(&cs[c]);
  free(cs);
  free(blk);
  *frames_read = read;
  return rc;
}

int cmd_denoise(int argc, char **argv) {
  const char *model_path = NULL, *files[2] = {NULL, NULL};
  int threads = 1, nf = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout);
      return 0;
    } else if ((!strcmp(argv[i], "-m") || !strcmp(argv[i], "--model")) && i + 1 < argc) {
      model_path = argv[++i];
    } else if ((!strcmp(argv[i], "-t") || !strcmp(argv[i], "--threads")) && i + 1 < argc) {
      threads = cli_atoi(argv[++i]);
    } else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "voxpipe denoise: unknown option %s\n", argv[i]);
      usage(stderr);
      return 2;
    } else if (nf < 2) {
      files[nf++] = argv[i];
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (nf != 2) {
    usage(stderr);
    return 2;
  }
  if (threads < 1 || threads > 256) {
    fprintf(stderr, "voxpipe denoise: --threads must be 1 to 256\n");
    return 2;
  }
  vox_model *model = cli_load_model("denoise", model_path, "frcrn-se-16k", threads);
  if (!model)
    return 1;
  const vox_model_info *mi = vox_model_get_info(model);
  if (mi->task != VOX_TASK_ENHANCEMENT) {
    vox_model_free(model);
    return fail("not a speech enhancement model (voxpipe info tells what it is)", model_path);
  }
  struct stat st;
  if (stat(files[0], &st) == 0 && S_ISREG(st.st_mode)) { /* the core's reader names what is wrong: truncated,
                                                            not audio, ... (a pipe could not be read twice) */
    vox_audio_params ap = vox_audio_default_params();
    vox_audio_reader *chk = NULL;
    vox_error e = {0};
    if (vox_audio_open(files[0], &ap, &chk, &e) != VOX_OK) {
      cli_error("denoise", &e);
      vox_model_free(model);
      return 1;
    }
    vox_audio_close(chk);
  }
  SF_INFO si;
  memset(&si, 0, sizeof si);
  vox_sndfile_stdin *in_stdin = NULL;
  SNDFILE *in = strcmp(files[0], "-") ? sf_open(files[0], SFM_READ, &si) : vox_sndfile_open_stdin(&si, &in_stdin);
  if (!in) {
    vox_model_free(model);
    return fail(sf_strerror(NULL), files[0]);
  }
  int rc = 1;
  char tmp[4096] = "";
  SF_INFO so = si;
  SNDFILE *out = NULL;
  vox_error err = {0};
  struct stat ost;
  int to_stdout = !strcmp(files[1], "-");
  int copy_out = to_stdout || (lstat(files[1], &ost) == 0 && !S_ISREG(ost.st_mode));
  if (!copy_out) {
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", files[1], (long)getpid());
    out = sf_open(tmp, SFM_WRITE, &so);
  } else { /* most formats need a seekable file to finish their header: write one, then copy it */
    const char *td = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/voxpipe-denoise-XXXXXX", td && *td ? td : "/tmp");
    int fd = mkstemp(tmp);
    out = fd >= 0 ? sf_open_fd(fd, SFM_WRITE, &so, 1) : NULL;
    if (fd >= 0 && !out)
      close(fd);
  }
  if (!out) {
    fail(sf_strerror(NULL), files[1]);
    tmp[0] = 0; /* nothing was created */
    goto done;
  }
  /* enhanced speech can exceed full scale: integer formats clip it (libsndfile's FLAC writer
   * otherwise refuses the block, with "No Error") */
  sf_command(out, SFC_SET_CLIPPING, NULL, SF_TRUE);
  size_t frames = 0;
  const char *msg[2] = {NULL, NULL}; /* a problem of the input, of the output */
  /* a model stream per channel costs megabytes (11 MB for the bundled FRCRN): beyond a few
   * channels memory would grow with the channel count instead of the file's length */
  int whole = mi->full_context || si.channels > MAX_STREAMED_CHANNELS;
  out_level lv = {0, 0.0f};
  if (whole ? denoise_whole(in, out, si.channels, model, mi->full_context, si.samplerate, mi->sample_rate_hz, &frames,
                            &lv, msg, &err)
            : denoise_stream(in, out, si.channels, model, si.samplerate, mi->sample_rate_hz, &frames, &lv, msg,
                             &err)) {
    if (msg[0] || msg[1])
      fail(msg[0] ? msg[0] : msg[1], msg[0] ? files[0] : files[1]);
    else
      cli_error("denoise", &err);
    goto done;
  }
  /* the frame count to reach: a file's, or the one standard input declares (vox_sndfile.h) */
  if ((si.seekable || in_stdin) && si.frames != SF_COUNT_MAX && (sf_count_t)frames < si.frames) {
    fail("truncated or corrupt audio (libsndfile could not read it to the end)", files[0]);
    goto done;
  }
  if (lv.over) {
    int is_float = (so.format & SF_FORMAT_SUBMASK) == SF_FORMAT_FLOAT || (so.format & SF_FORMAT_SUBMASK) == SF_FORMAT_DOUBLE;
    fprintf(stderr,
            "voxpipe denoise: warning: %zu samples of the enhanced audio exceed full scale (peak %.2f)%s; "
            "lower the input by %.1f dB to avoid it\n",
            lv.over, (double)lv.peak, is_float ? " (kept: float format)" : " and were clipped",
            20.0 * log10((double)lv.peak) + 0.1);
  }
  if (sf_close(out)) {
    out = NULL;
    fail("could not finish writing (disk full?)", files[1]);
    goto done;
  }
  out = NULL;
  if (copy_out) {
    FILE *f = fopen(tmp, "rb"), *dst = to_stdout ? stdout : fopen(files[1], "wb");
    char buf[1 << 16];
    size_t k;
    int bad = !f || !dst;
    while (!bad && (k = fread(buf, 1, sizeof buf, f)) > 0)
      bad |= fwrite(buf, 1, k, dst) != k;
    if (f)
      fclose(f);
    bad |= dst && (to_stdout ? fflush(stdout) : fclose(dst)) != 0;
    if (bad) {
      fail(to_stdout ? "could not write standard output" : strerror(errno ? errno : EIO), to_stdout ? NULL : files[1]);
      goto done;
    }
  } else {
    if (rename(tmp, files[1])) {
      fail(strerror(errno), files[1]);
      goto done;
    }
    tmp[0] = 0;
  }
  rc = 0;
done:
  vox_sndfile_stdin_close(in, in_stdin);
  if (out)
    sf_close(out);
  if (tmp[0])
    unlink(tmp);
  vox_model_free(model);
  return rc;
}
