/* audio.c - block-wise file input: libsndfile -> mono mix-down -> libsamplerate. */
#include "voxpipe/vox_audio.h"
#include "voxpipe/vox_sndfile.h"

#include <errno.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK_FRAMES 4096

struct vox_audio_reader {
  char *path;
  SNDFILE *sf;
  vox_sndfile_stdin *sf_stdin; /* what reading standard input keeps beside sf */
  SF_INFO sfi;
  vox_audio_info info;
  vox_resampler *rs;
  float *interleaved; /* BLOCK_FRAMES * channels */
  float *mono;        /* BLOCK_FRAMES */
  size_t mono_len, mono_off;
  int64_t start, end, pos; /* the part to read and the next frame, at the file rate; end -1: to EOF */
  int file_eof, done;
  int seekable;
  int64_t declared_frames; /* standard input's frame count where its header declares one, else -1 */
};

vox_audio_params vox_audio_default_params(void) {
  vox_audio_params p = {0, NULL, 0, 0, 0, 0.0, 0.0};
  return p;
}

void vox_audio_close(vox_audio_reader *r) {
  if (!r)
    return;
  vox_sndfile_stdin_close(r->sf, r->sf_stdin);
  vox_resampler_free(r->rs);
  free(r->interleaved);
  free(r->mono);
  free(r->path);
  free(r);
}

const vox_audio_info *vox_audio_get_info(const vox_audio_reader *r) { return &r->info; }

static int raw_subtype(const char *f) {
  static const struct {
    const char *name;
    int sub;
    int endian;
  } t[] = {{"s16le", SF_FORMAT_PCM_16, SF_ENDIAN_LITTLE}, {"s16be", SF_FORMAT_PCM_16, SF_ENDIAN_BIG},
           {"s24le", SF_FORMAT_PCM_24, SF_ENDIAN_LITTLE}, {"s32le", SF_FORMAT_PCM_32, SF_ENDIAN_LITTLE},
           {"f32le", SF_FORMAT_FLOAT, SF_ENDIAN_LITTLE},  {"f64le", SF_FORMAT_DOUBLE, SF_ENDIAN_LITTLE},
           {"u8", SF_FORMAT_PCM_U8, 0},                   {"s8", SF_FORMAT_PCM_S8, 0}};
  for (size_t i = 0; i < sizeof t / sizeof *t; i++)
    if (!strcmp(f, t[i].name))
      return SF_FORMAT_RAW | t[i].sub | t[i].endian;
  return 0;
}

/* libsndfile accepts a WAV whose data chunk runs past the end of the file and only notes it in its
 * log ("data : 32000 (should be 19956)"); we turn that into an error. */
static int truncated_note(SNDFILE *sf, char *msg, size_t n) {
  char log[8192];
  sf_command(sf, SFC_GET_LOG_INFO, log, sizeof log);
  for (const char *p = strstr(log, "should be"); p; p = strstr(p + 1, "should be")) {
    const char *line = p;
    while (line > log && line[-1] != '\n')
      line--;
    long long declared = 0, actual = 0;
    char chunk[16] = "";
    if (sscanf(line, "%15s : %lld (should be %lld)", chunk, &declared, &actual) == 3 && actual < declared &&
        (!strcmp(chunk, "data") || !strcmp(chunk, "SSND"))) {
      snprintf(msg, n, "truncated: the header announces %lld bytes of audio, the file holds %lld", declared,
               actual);
      return 1;
    }
  }
  return 0;
}

static void format_name(SNDFILE *sf, const SF_INFO *i, char *buf, size_t n) {
  SF_FORMAT_INFO major = {.format = i->format & SF_FORMAT_TYPEMASK};
  SF_FORMAT_INFO sub = {.format = i->format & SF_FORMAT_SUBMASK};
  const char *mj = sf_command(sf, SFC_GET_FORMAT_INFO, &major, sizeof major) == 0 ? major.name : "audio";
  const char *sb = sf_command(sf, SFC_GET_FORMAT_INFO, &sub, sizeof sub) == 0 ? sub.name : "";
  snprintf(buf, n, "%s%s%s", mj, *sb ? ", " : "", sb);
}

vox_status vox_audio_open(const char *path, const vox_audio_params *params, vox_audio_reader **out,
                          vox_error *err) {
  *out = NULL;
  vox_audio_params p = params ? *params : vox_audio_default_params();
  int is_stdin = !strcmp(path, "-");
  if (!(p.offset_s >= 0 && p.offset_s < 1e7) || !(p.duration_s >= 0 && p.duration_s < 1e7))
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT, "%s: offset %g s and duration %g s: need 0 <= both < 1e7 s",
                         path, p.offset_s, p.duration_s);
  if (!is_stdin) {
    struct stat sb;
    if (stat(path, &sb) != 0)
      return vox_error_set(err, errno == ENOENT ? VOX_ERR_NOT_FOUND : VOX_ERR_IO, "%s: %s", path,
                           errno == ENOENT ? "no such file" : strerror(errno));
    if (S_ISDIR(sb.st_mode))
      return vox_error_set(err, VOX_ERR_IO, "%s: is a directory, not an audio file", path);
    if (S_ISREG(sb.st_mode) && sb.st_size == 0)
      return vox_error_set(err, VOX_ERR_FORMAT, "%s: empty file, not audio", path);
  }
  vox_audio_reader *r = calloc(1, sizeof *r);
  if (!r || !(r->path = strdup(path))) {
    free(r);
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  }
  if (p.raw_format) {
    int f = raw_subtype(p.raw_format);
    if (!f) {
      vox_audio_close(r);
      return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT,
                           "%s: unknown raw format '%s' (s16le, s16be, s24le, s32le, f32le, f64le, u8, s8)", path,
                           p.raw_format);
    }
    if (p.raw_rate_hz <= 0 || p.raw_channels <= 0) {
      vox_audio_close(r);
      return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT, "%s: raw input needs a sample rate and channel count",
                           path);
    }
    r->sfi.format = f;
    r->sfi.samplerate = p.raw_rate_hz;
    r->sfi.channels = p.raw_channels;
  }
  r->sf = is_stdin ? vox_sndfile_open_stdin(&r->sfi, &r->sf_stdin) : sf_open(path, SFM_READ, &r->sfi);
  if (!r->sf) {
    const char *why = sf_strerror(NULL);
    vox_audio_close(r);
    return vox_error_set(err, VOX_ERR_FORMAT, "%s: not a readable audio file (%s)", path, why);
  }
  if (r->sfi.channels <= 0) {
    vox_audio_close(r);
    return vox_error_set(err, VOX_ERR_FORMAT, "%s: the file declares zero channels", path);
  }
  if (r->sfi.channels > 256) {
    int ch = r->sfi.channels;
    vox_audio_close(r);
    return vox_error_set(err, VOX_ERR_UNSUPPORTED, "%s: %d channels is more than the 256 supported", path, ch);
  }
  if (r->sfi.samplerate < 1000 || r->sfi.samplerate > 768000) {
    int sr = r->sfi.samplerate;
    vox_audio_close(r);
    return vox_error_set(err, VOX_ERR_UNSUPPORTED, "%s: unsupported sample rate %d Hz (1000 to 768000 Hz)", path, sr);
  }
  char why[256];
  if (!p.allow_truncated && truncated_note(r->sf, why, sizeof why)) {
    vox_audio_close(r);
    return vox_error_set(err, VOX_ERR_FORMAT, "%s: %s", path, why);
  }
  r->seekable = r->sfi.seekable;
  r->declared_frames = is_stdin && r->sfi.frames != SF_COUNT_MAX ? (int64_t)r->sfi.frames : -1;
  r->info.file_rate_hz = r->sfi.samplerate;
  r->info.channels = r->sfi.channels;
  r->info.file_frames = r->seekable ? (int64_t)r->sfi.frames : -1;
  r->start = llround(p.offset_s * r->sfi.samplerate);
  r->end = p.duration_s > 0 ? r->start + llround(p.duration_s * r->sfi.samplerate) : -1;
  if (r->seekable) {
    if (r->start > (int64_t)r->sfi.frames) {
      double len = (double)r->sfi.frames / r->sfi.samplerate;
      vox_audio_close(r);
      return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT, "%s: offset %.3f s is beyond the end of the audio (%.3f s)",
                           path, p.offset_s, len);
    }
    if (r->end < 0 || r->end > (int64_t)r->sfi.frames)
      r->end = (int64_t)r->sfi.frames;
    if (r->start && sf_seek(r->sf, r->start, SEEK_SET) < 0) {
      vox_audio_close(r);
      return vox_error_set(err, VOX_ERR_IO, "%s: cannot seek to %.3f s", path, p.offset_s);
    }
    r->pos = r->start;
  }
  r->info.duration_s = r->seekable ? (double)(r->end - r->start) / r->sfi.samplerate : -1.0;
  format_name(r->sf, &r->sfi, r->info.format, sizeof r->info.format);
  r->interleaved = malloc(sizeof(float) * BLOCK_FRAMES * (size_t)r->sfi.channels);
  r->mono = malloc(sizeof(float) * BLOCK_FRAMES);
  if (!r->interleaved || !r->mono) {
    vox_audio_close(r);
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  }
  if (p.target_rate_hz && p.target_rate_hz != r->sfi.samplerate) {
    vox_status st = vox_resampler_new(r->sfi.samplerate, p.target_rate_hz, &r->rs, err);
    if (st != VOX_OK) {
      vox_error_prefix(err, "%s: ", path);
      vox_audio_close(r);
      return st;
    }
  }
  *out = r;
  return VOX_OK;
}

/* Reads up to `want` frames into r->interleaved (< want only at the end), checked. */
static vox_status read_frames(vox_audio_reader *r, sf_count_t want, sf_count_t *n, vox_error *err) {
  *n = sf_readf_float(r->sf, r->interleaved, want);
  if (*n < 0 || (*n < want && sf_error(r->sf) != SF_ERR_NO_ERROR))
    return vox_error_set(err, VOX_ERR_FORMAT, "%s: corrupt audio data: %s", r->path, sf_strerror(r->sf));
  r->pos += *n;
  return VOX_OK;
}

/* Reads one block of the part asked for and mixes it to mono; sets file_eof at its end. A pipe
 * cannot seek: its frames before the offset are read and dropped. */
static vox_status fill_mono(vox_audio_reader *r, vox_error *err) {
  sf_count_t n = 0;
  while (r->pos < r->start) {
    sf_count_t skip = r->start - r->pos < BLOCK_FRAMES ? r->start - r->pos : BLOCK_FRAMES;
    vox_status st = read_frames(r, skip, &n, err);
    if (st != VOX_OK)
      return st;
    if (n == 0)
      break;
  }
  sf_count_t want = r->end >= 0 && r->end - r->pos < BLOCK_FRAMES ? r->end - r->pos : BLOCK_FRAMES;
  if (want <= 0 || r->pos < r->start)
    n = 0;
  else {
    vox_status st = read_frames(r, want, &n, err);
    if (st != VOX_OK)
      return st;
  }
  int ch = r->sfi.channels;
  for (sf_count_t i = 0; i < n; i++) {
    float s = 0;
    for (int c = 0; c < ch; c++) { /* before the resampler's filter, which would spread it */
      const float v = r->interleaved[i * ch + c];
      s += isfinite(v) ? v : 0.0f;
    }
    r->mono[i] = s / (float)ch;
  }
  r->mono_len = (size_t)n;
  r->mono_off = 0;
  if (n == 0)
    r->file_eof = 1;
  if (n == 0 && r->pos < r->declared_frames && (r->end < 0 || r->pos < r->end))
    return vox_error_set(err, VOX_ERR_FORMAT, "%s: truncated: the stream declares %lld frames and ends after %lld",
                         r->path, (long long)r->declared_frames, (long long)r->pos);
  return VOX_OK;
}

vox_status vox_audio_read(vox_audio_reader *r, float *out, size_t max_samples, size_t *n_read, vox_error *err) {
  size_t produced = 0;
  while (produced < max_samples && !r->done) {
    if (r->mono_off == r->mono_len && !r->file_eof) {
      vox_status st = fill_mono(r, err);
      if (st != VOX_OK)
        return st;
    }
    size_t pending = r->mono_len - r->mono_off;
    if (!r->rs) {
      size_t n = pending < max_samples - produced ? pending : max_samples - produced;
      memcpy(out + produced, r->mono + r->mono_off, n * sizeof(float));
      r->mono_off += n;
      produced += n;
      if (r->file_eof)
        r->done = 1;
      continue;
    }
    size_t used = 0, gen = 0;
    vox_status st = vox_resampler_process(r->rs, r->mono + r->mono_off, pending, &used, out + produced,
                                          max_samples - produced, &gen, r->file_eof, err);
    if (st != VOX_OK)
      return vox_error_prefix(err, "%s: ", r->path);
    r->mono_off += used;
    produced += gen;
    if (r->file_eof && gen == 0 && r->mono_off == r->mono_len)
      r->done = 1;
  }
  /* clip: resampling can overshoot [-1, 1] slightly */
  for (size_t i = 0; i < produced; i++)
    out[i] = out[i] > 1.0f ? 1.0f : out[i] < -1.0f ? -1.0f : out[i];
  *n_read = produced;
  return VOX_OK;
}

vox_status vox_audio_rewind(vox_audio_reader *r, vox_error *err) {
  if (!r->seekable || sf_seek(r->sf, r->start, SEEK_SET) < 0)
    return vox_error_set(err, VOX_ERR_UNSUPPORTED, "%s: input cannot be rewound (a pipe?)", r->path);
  r->pos = r->start;
  if (r->rs)
    vox_resampler_reset(r->rs);
  r->mono_len = r->mono_off = 0;
  r->file_eof = r->done = 0;
  return VOX_OK;
}

vox_status vox_audio_read_all(const char *path, const vox_audio_params *params, float **samples,
                              size_t *n_samples, int *rate_hz, vox_error *err) {
  *samples = NULL;
  *n_samples = 0;
  vox_audio_reader *r;
  vox_status st = vox_audio_open(path, params, &r, err);
  if (st != VOX_OK)
    return st;
  int rate = params && params->target_rate_hz ? params->target_rate_hz : r->info.file_rate_hz;
  size_t cap = 1 << 16, n = 0;
  float *buf = malloc(cap * sizeof *buf);
  while (buf) {
    if (cap - n < 8192) {
      float *nb = realloc(buf, cap * 2 * sizeof *buf);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    size_t got;
    st = vox_audio_read(r, buf + n, cap - n, &got, err);
    if (st != VOX_OK || got == 0)
      break;
    n += got;
  }
  vox_audio_close(r);
  if (!buf)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "%s: out of memory", path);
  if (st != VOX_OK) {
    free(buf);
    return st;
  }
  *samples = buf;
  *n_samples = n;
  if (rate_hz)
    *rate_hz = rate;
  return VOX_OK;
}
