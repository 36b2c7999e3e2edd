/* libFuzzer target: the restricted unpickler alone (the input is data.pkl; storages "0".."3" of 256
 * bytes sit beside it), so mutations reach the pickle logic instead of failing zip CRCs. */
#include <stdint.h>
#include <string.h>

#include "../../core/src/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static unsigned char storage[256];
  char names[5][32] = {"archive/data.pkl", "archive/data/0", "archive/data/1", "archive/data/2", "archive/data/3"};
  vox_member items[5];
  items[0].name = names[0];
  items[0].data = (unsigned char *)data;
  items[0].size = size;
  for (int i = 1; i < 5; i++) {
    items[i].name = names[i];
    items[i].data = storage;
    items[i].size = sizeof storage;
  }
  vox_members zip = {items, 5};
  vox_tensor_list out;
  vox_error err;
  if (vox__torch_zip_load(&zip, "fuzz", NULL, &out, &err) == VOX_OK)
    vox__tensor_list_free(&out);
  return 0;
}
