/* libFuzzer target: ARPA language model reader and backoff scoring. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "voxpipe/vox_lm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/voxfuzz-arpa-%d", (int)getpid());
  FILE *f = fopen(path, "wb");
  if (!f)
    return 0;
  fwrite(data, 1, size, f);
  fclose(f);
  vox_lm *lm;
  vox_error err;
  if (vox_lm_load(path, &lm, &err) == VOX_OK) {
    const vox_lm_info *in = vox_lm_get_info(lm);
    int32_t h[VOX_LM_MAX_ORDER];
    for (int i = 0; i < VOX_LM_MAX_ORDER; i++)
      h[i] = (int32_t)((size_t)i * 7919 % (in->counts[0] ? in->counts[0] : 1));
    for (int n = 0; n < VOX_LM_MAX_ORDER; n++)
      (void)vox_lm_score(lm, h, n, h[VOX_LM_MAX_ORDER - 1]);
    (void)vox_lm_word(lm, "the", 3);
    vox_lm_free(lm);
  }
  unlink(path);
  return 0;
}
