/* pickle_machine.h - the restricted unpickler's values and state, shared by the machine that
 * runs the opcodes (pickle.c) and the state-dict walk that names its tensors (torch_state_dict.c).
 * Private to the core. Every pv lives in the unpickler's pool until vox__pickle_free. */
#ifndef VOX_PICKLE_MACHINE_H
#define VOX_PICKLE_MACHINE_H

#include "internal.h"

typedef enum {
  PV_NONE, PV_BOOL, PV_INT, PV_FLOAT, PV_STR, PV_TUPLE, PV_LIST, PV_DICT, PV_GLOBAL, PV_STORAGE,
  PV_TENSOR, PV_MARK
} pv_kind;

typedef enum {
  G_ORDERED_DICT, G_REBUILD_TENSOR, G_REBUILD_PARAMETER, G_STORAGE
} global_id;

typedef struct pv {
  pv_kind kind;
  int64_t i;
  double f;
  char *s;                  /* PV_STR (NUL-terminated copy), PV_GLOBAL name */
  size_t slen;
  struct pv **items;        /* tuple/list items; dict: key, value, key, value... */
  size_t n, cap;
  global_id gid;            /* PV_GLOBAL */
  vox_dtype dtype;          /* PV_GLOBAL storage class, PV_STORAGE, PV_TENSOR */
  const unsigned char *raw; /* PV_STORAGE bytes (in the zip member) */
  size_t numel;             /* PV_STORAGE / PV_TENSOR elements */
  vox_tensor *tensor;       /* PV_TENSOR (owned until moved into the result) */
  int moved;                /* PV_TENSOR: buffers moved to result tensor moved_to */
  size_t moved_to;
} pv;

typedef struct unpickler {
  const unsigned char *p, *end, *start;
  const char *name;
  const vox_members *zip;
  const char *root; /* "<root>/" prefix of members */
  pv **pool;
  size_t n_pool, cap_pool;
  pv **stack;
  size_t sp, cap_stack;
  size_t *marks;
  size_t n_marks, cap_marks;
  pv **memo;
  size_t cap_memo;
  vox_error *err;
} unpickler;

/* Sets *u->err to "<name>: pickle byte N: what" with code; returns code. */
VOX_HIDDEN vox_status vox__pickle_fail(unpickler *u, vox_status code, const char *what);
/* Runs the opcodes from u->p to STOP; *result is the value left on the stack (owned by the pool). */
VOX_HIDDEN vox_status vox__pickle_run(unpickler *u, pv **result);
/* Frees every value of the pool (tensors not moved out included) and the machine's stacks. */
VOX_HIDDEN void vox__pickle_free(unpickler *u);

#endif
