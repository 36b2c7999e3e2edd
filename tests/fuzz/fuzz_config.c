/* libFuzzer target: YAML model configuration reader. */
#include <stddef.h>
#include <stdint.h>

#include "voxpipe/vox_config.h"
#include "voxpipe/vox_features.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  vox_config *c = NULL;
  vox_error err;
  if (vox_config_parse((const char *)data, size, "fuzz", &c, &err) == VOX_OK) {
    const vox_config_node *root = vox_config_root(c);
    long v;
    (void)vox_config_int(root, "encoder.jasper.0.filters", NULL, &v, &err);
    vox_feature_config fc;
    (void)vox_feature_config_from_nemo(root, NULL, &fc, &err);
    vox_config_free(c);
  }
  return 0;
}
