/* vox_config.h - read-only tree of a model's YAML configuration (NeMo model_config.yaml).
 *
 * Nodes are owned by their vox_config and valid until vox_config_free. Paths are dot-separated
 * map keys and sequence indices: "encoder.jasper.0.filters". Aliases (*name) share the anchored
 * node instead of copying it, so "billion laughs" documents cost what their text costs; nesting
 * deeper than VOX_CONFIG_MAX_DEPTH and documents larger than VOX_CONFIG_MAX_BYTES are refused.
 */
#ifndef VOX_CONFIG_H
#define VOX_CONFIG_H

#include <stddef.h>

#include "voxpipe/vox_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VOX_CONFIG_MAX_DEPTH 64
#define VOX_CONFIG_MAX_BYTES (16u << 20)
#define VOX_CONFIG_MAX_NODES 1000000

typedef struct vox_config vox_config;
typedef struct vox_config_node vox_config_node;

typedef enum vox_config_kind {
  VOX_CONFIG_SCALAR,
  VOX_CONFIG_SEQUENCE,
  VOX_CONFIG_MAP
} vox_config_kind;

/* Parses YAML text of `size` bytes; `name` (a file name) prefixes error messages. */
VOX_API vox_status vox_config_parse(const char *text, size_t size, const char *name,
                                    vox_config **out, vox_error *err);
VOX_API void vox_config_free(vox_config *config);

/* Root node (a map for NeMo configs); NULL for an empty document. */
VOX_API const vox_config_node *vox_config_root(const vox_config *config);

/* Node at a dotted path below `node`, or NULL when any step is missing. */
VOX_API const vox_config_node *vox_config_get(const vox_config_node *node, const char *path);

VOX_API vox_config_kind vox_config_node_kind(const vox_config_node *node);
/* Number of items of a sequence or entries of a map; 0 for scalars. */
VOX_API size_t vox_config_size(const vox_config_node *node);
/* i-th item of a sequence or i-th value of a map; NULL when out of range. */
VOX_API const vox_config_node *vox_config_at(const vox_config_node *node, size_t i);
/* i-th key of a map; NULL otherwise. */
VOX_API const char *vox_config_key_at(const vox_config_node *node, size_t i);
/* Text of a scalar (never NULL for a scalar; "" for null/~); NULL for collections. */
VOX_API const char *vox_config_scalar(const vox_config_node *node);

/* Typed reads at `path` below `node`. When the key is missing, `*out` gets `*def` if def is not
 * NULL, else VOX_ERR_NOT_FOUND; a value of the wrong type is VOX_ERR_FORMAT. A sequence of one
 * number ([33], as NeMo writes kernel sizes) reads as that number. */
VOX_API vox_status vox_config_int(const vox_config_node *node, const char *path, const long *def,
                                  long *out, vox_error *err);
VOX_API vox_status vox_config_double(const vox_config_node *node, const char *path,
                                     const double *def, double *out, vox_error *err);
VOX_API vox_status vox_config_bool(const vox_config_node *node, const char *path, const int *def,
                                   int *out, vox_error *err);
/* Returns the scalar at path, or def when missing (def may be NULL). */
VOX_API const char *vox_config_string(const vox_config_node *node, const char *path,
                                      const char *def);

#ifdef __cplusplus
}
#endif

#endif
