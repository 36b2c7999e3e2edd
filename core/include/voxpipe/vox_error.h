/* vox_error.h - status codes and error messages.
 *
 * Every fallible voxpipe call returns a vox_status and, when the caller passes a vox_error, fills
 * it with a message that names the file, field or value at fault ("x.nemo: tensor 'a.weight' has
 * 64 floats, expected 128"). The error lives in caller memory: no global state, no allocation.
 */
#ifndef VOX_ERROR_H
#define VOX_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define VOX_API __attribute__((visibility("default")))
#define VOX_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define VOX_API
#define VOX_PRINTF(f, a)
#endif

typedef enum vox_status {
  VOX_OK = 0,
  VOX_ERR_INVALID_ARGUMENT, /* a parameter is out of range or NULL where it must not be */
  VOX_ERR_NOT_FOUND,        /* file, tensor, config key or plugin missing */
  VOX_ERR_IO,               /* reading or writing failed */
  VOX_ERR_FORMAT,           /* input is malformed: corrupt audio, archive, pickle, YAML */
  VOX_ERR_UNSUPPORTED,      /* well-formed but outside what voxpipe implements */
  VOX_ERR_NO_MEMORY,        /* an allocation failed or a size is beyond our limits */
  VOX_ERR_UNSAFE,           /* a model file asks to run code (pickle global not allowed) */
  VOX_ERR_ABI               /* a model plugin was built for another ABI version */
} vox_status;

#define VOX_ERROR_MESSAGE_SIZE 512

typedef struct vox_error {
  vox_status code;
  char message[VOX_ERROR_MESSAGE_SIZE];
} vox_error;

/* Short name of a status ("format error"); never NULL. */
VOX_API const char *vox_status_name(vox_status status);

/* Sets err (when non-NULL) and returns code, so callers can write `return vox_error_set(...)`. */
VOX_API vox_status vox_error_set(vox_error *err, vox_status code, const char *fmt, ...)
    VOX_PRINTF(3, 4);

/* Prefixes an existing message with context ("model.nemo: "), keeping the code. */
VOX_API vox_status vox_error_prefix(vox_error *err, const char *fmt, ...) VOX_PRINTF(2, 3);

/* Clears err to VOX_OK and an empty message. */
VOX_API void vox_error_clear(vox_error *err);

#ifdef __cplusplus
}
#endif

#endif
