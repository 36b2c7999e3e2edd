/* vox_checkpoint.h - safe reader of NeMo `.nemo` archives and PyTorch checkpoints.
 *
 * A `.nemo` is a tar (gzip-compressed or not) holding model_config.yaml and model_weights.ckpt;
 * a PyTorch checkpoint (.pt/.bin/.ckpt) is torch.save's zip: <root>/data.pkl + <root>/data/<key>.
 * The pickle is interpreted by a reader that knows only the opcodes and globals a state dict uses
 * (OrderedDict, torch._utils._rebuild_tensor_v2, storage classes...); any other global is refused
 * with VOX_ERR_UNSAFE naming it, so loading a model never runs code. Every size, offset and stride
 * is checked against the bytes present before use.
 *
 * Tensors are materialised contiguous (row-major) as float32 whatever their stored dtype
 * (f32, f16, bf16, f64, and integer types); integer tensors also keep exact int64 values.
 * Everything returned is owned by the checkpoint and lives until vox_checkpoint_free.
 */
#ifndef VOX_CHECKPOINT_H
#define VOX_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "voxpipe/vox_config.h"
#include "voxpipe/vox_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VOX_TENSOR_MAX_DIMS 8

typedef enum vox_dtype {
  VOX_DTYPE_F32,
  VOX_DTYPE_F16,
  VOX_DTYPE_BF16,
  VOX_DTYPE_F64,
  VOX_DTYPE_I64,
  VOX_DTYPE_I32,
  VOX_DTYPE_I16,
  VOX_DTYPE_I8,
  VOX_DTYPE_U8,
  VOX_DTYPE_BOOL
} vox_dtype;

typedef struct vox_tensor {
  const char *name;   /* state-dict key, e.g. "encoder.encoder.0.mconv.0.conv.weight" */
  vox_dtype dtype;    /* as stored in the file */
  int ndim;
  int64_t shape[VOX_TENSOR_MAX_DIMS];
  size_t numel;
  float *data;        /* numel floats, contiguous row-major */
  int64_t *ivalues;   /* numel exact values for integer/bool dtypes, else NULL */
} vox_tensor;

typedef struct vox_checkpoint vox_checkpoint;

typedef struct vox_checkpoint_params {
  /* For bare PyTorch checkpoints: the key holding the state dict ("state_dict", "model"...).
   * NULL: tensors of nested dicts are named with dotted paths, and one wrapping key shared by
   * all of them (state_dict, model, module, model_state_dict, network) is removed. */
  const char *state_dict_key;
  /* Largest archive member read into memory, bytes (default 2 GiB). */
  size_t max_member_bytes;
} vox_checkpoint_params;

VOX_API vox_checkpoint_params vox_checkpoint_default_params(void);

/* Opens a `.nemo` (tar / tar.gz) or a PyTorch zip checkpoint, detected from the content. */
VOX_API vox_status vox_checkpoint_open(const char *path, const vox_checkpoint_params *params,
                                       vox_checkpoint **out, vox_error *err);
/* Same from bytes in memory (`name` is used in messages); the bytes are not kept. */
VOX_API vox_status vox_checkpoint_open_memory(const void *data, size_t size, const char *name,
                                              const vox_checkpoint_params *params,
                                              vox_checkpoint **out, vox_error *err);
VOX_API void vox_checkpoint_free(vox_checkpoint *ck);

/* The model configuration (NULL for checkpoints without one). */
VOX_API const vox_config_node *vox_checkpoint_config(const vox_checkpoint *ck);
VOX_API size_t vox_checkpoint_tensor_count(const vox_checkpoint *ck);
/* Tensors in file order. */
VOX_API const vox_tensor *vox_checkpoint_tensor_at(const vox_checkpoint *ck, size_t i);
/* Tensor by name, NULL when absent. */
VOX_API const vox_tensor *vox_checkpoint_tensor(const vox_checkpoint *ck, const char *name);
/* Like vox_checkpoint_tensor, but checks the shape (ndim values of `shape`; -1 matches any) and
 * fills err with the name, the expected and the found shape when it differs or is missing. */
VOX_API const vox_tensor *vox_checkpoint_expect(const vox_checkpoint *ck, const char *name, int ndim,
                                                const int64_t *shape, vox_error *err);
/* Name of the file or buffer this checkpoint came from. */
VOX_API const char *vox_checkpoint_source(const vox_checkpoint *ck);
/* Names of a dtype ("float32"). */
VOX_API const char *vox_dtype_name(vox_dtype dtype);

#ifdef __cplusplus
}
#endif

#endif
