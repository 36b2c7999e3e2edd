/* internal.h - helpers shared by core/src files; not installed, not exported. */
#ifndef VOX_INTERNAL_H
#define VOX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "voxpipe/vox_checkpoint.h"
#include "voxpipe/vox_error.h"

#define VOX_HIDDEN __attribute__((visibility("hidden")))

/* One archive member read into memory. */
typedef struct vox_member {
  char *name;
  unsigned char *data;
  size_t size;
} vox_member;

typedef struct vox_members {
  vox_member *items;
  size_t n;
} vox_members;

/* The one lock around FFTW's (not thread-safe) planner, for features.c and fft.c. */
VOX_HIDDEN void vox__fftw_planner_lock(void);
VOX_HIDDEN void vox__fftw_planner_unlock(void);

/* Makes OpenBLAS single-threaded (once per process); called before the first GEMM. */
VOX_HIDDEN void vox__blas_init(void);

typedef enum { VOX_ARCHIVE_TAR, VOX_ARCHIVE_ZIP } vox_archive_kind;

/* Reads the members of a tar(.gz) or zip held in memory. `want` (may be NULL) picks the members to
 * keep by name; the others are skipped unread. Fails on truncation and CRC errors. */
VOX_HIDDEN vox_status vox__archive_read(const void *data, size_t size, vox_archive_kind kind,
                                        const char *name, size_t max_member,
                                        int (*want)(const char *member_name), vox_members *out,
                                        vox_error *err);
VOX_HIDDEN void vox__members_free(vox_members *m);
VOX_HIDDEN const vox_member *vox__members_find_suffix(const vox_members *m, const char *suffix);

/* A tensor list under construction (owned names and buffers). */
typedef struct vox_tensor_list {
  vox_tensor *items;
  size_t n, cap;
} vox_tensor_list;

VOX_HIDDEN void vox__tensor_list_free(vox_tensor_list *l);

/* Interprets torch.save's zip (members already read) into named tensors. */
VOX_HIDDEN vox_status vox__torch_zip_load(const vox_members *zip, const char *name,
                                          const char *state_dict_key, vox_tensor_list *out,
                                          vox_error *err);

/* Frees the values of every tensor whose name does not start with keep_prefix (names, shapes and
 * dtypes stay): once a plugin has made its own copies, the checkpoint's are dead weight. */
VOX_HIDDEN void vox__checkpoint_release_weights(vox_checkpoint *ck, const char *keep_prefix);

/* Reads a whole file into memory (malloc'd), refusing files above max_bytes. */
VOX_HIDDEN vox_status vox__read_file(const char *path, size_t max_bytes, unsigned char **data,
                                     size_t *size, vox_error *err);

/* Overflow-checked size arithmetic: returns 0 and sets *out, or -1 on overflow. */
static inline int vox__mul_size(size_t a, size_t b, size_t *out) {
  if (a && b > SIZE_MAX / a)
    return -1;
  *out = a * b;
  return 0;
}

/* Moves up to max of the *n elements (elem bytes each) queued at the front of queue into out;
 * returns how many. (An empty queue may be NULL.) */
static inline size_t vox__queue_take(void *queue, size_t *n, void *out, size_t max, size_t elem) {
  size_t k = *n < max ? *n : max;
  if (k) {
    memcpy(out, queue, k * elem);
    memmove(queue, (char *)queue + k * elem, (*n - k) * elem);
    *n -= k;
  }
  return k;
}

#endif
