/* libFuzzer target: .nemo tar(.gz) / torch zip + restricted pickle reader. */
#include <stddef.h>
#include <stdint.h>

#include "voxpipe/vox_checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  vox_checkpoint *ck = NULL;
  vox_error err;
  vox_checkpoint_params p = vox_checkpoint_default_params();
  p.max_member_bytes = 64u << 20;
  if (vox_checkpoint_open_memory(data, size, "fuzz", &p, &ck, &err) == VOX_OK) {
    for (size_t i = 0; i < vox_checkpoint_tensor_count(ck); i++)
      (void)vox_checkpoint_tensor(ck, vox_checkpoint_tensor_at(ck, i)->name);
    vox_checkpoint_free(ck);
  }
  return 0;
}
