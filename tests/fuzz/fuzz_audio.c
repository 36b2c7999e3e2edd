/* libFuzzer target: audio input path (libsndfile + our mix-down/resampling/truncation checks). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "voxpipe/vox_audio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/voxfuzz-audio-%d", (int)getpid());
  FILE *f = fopen(path, "wb");
  if (!f)
    return 0;
  fwrite(data, 1, size, f);
  fclose(f);
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
  unlink(path);
  return 0;
}
