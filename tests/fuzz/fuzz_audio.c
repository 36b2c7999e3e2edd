/* libFuzzer target: audio input path (libsndfile + our mix-down/resampling/truncation checks), from a
 * file and from a pipe on standard input (FLAC, MPEG and the rest not read by libsndfile's own pipe code
 * go through vox_sndfile_open_stdin's replaying virtual I/O). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "voxpipe/vox_audio.h"

static void read_all(const char *path) {
  vox_audio_params p = vox_audio_default_params();
  p.target_rate_hz = 16000;
  vox_audio_reader *r;
  vox_error err;
  if (vox_audio_open(path, &p, &r, &err) == VOX_OK) {
    float buf[4096];
    size_t got, total = 0;
    while (vox_audio_read(r, buf, 4096, &got, &err) == VOX_OK && got && total < (1u << 22))
      total += got;
    vox_audio_close(r);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/voxfuzz-audio-%d", (int)getpid());
  FILE *f = fopen(path, "wb");
  if (!f)
    return 0;
  fwrite(data, 1, size, f);
  fclose(f);
  read_all(path);
  unlink(path);
  /* a pipe holds 64 KB (-max_len=65536): written whole, then closed, it reads to the end without a thread */
  int fds[2], saved;
  if (size > 65536 || pipe(fds))
    return 0;
  int whole = write(fds[1], data, size) == (ssize_t)size;
  close(fds[1]);
  if (whole && (saved = dup(STDIN_FILENO)) >= 0) {
    dup2(fds[0], STDIN_FILENO);
    read_all("-");
    dup2(saved, STDIN_FILENO);
    close(saved);
  }
  close(fds[0]);
  return 0;
}
