/* error.c - status names and caller-owned error messages. */
#include "voxpipe/vox_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *vox_status_name(vox_status status) {
  switch (status) {
  case VOX_OK: return "ok";
  case VOX_ERR_INVALID_ARGUMENT: return "invalid argument";
  case VOX_ERR_NOT_FOUND: return "not found";
  case VOX_ERR_IO: return "I/O error";
  case VOX_ERR_FORMAT: return "format error";
  case VOX_ERR_UNSUPPORTED: return "unsupported";
  case VOX_ERR_NO_MEMORY: return "out of memory";
  case VOX_ERR_UNSAFE: return "unsafe model file";
  case VOX_ERR_ABI: return "plugin ABI mismatch";
  }
  return "unknown error";
}

vox_status vox_error_set(vox_error *err, vox_status code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
  }
  return code;
}

vox_status vox_error_prefix(vox_error *err, const char *fmt, ...) {
  if (!err)
    return VOX_ERR_INVALID_ARGUMENT;
  char prefix[VOX_ERROR_MESSAGE_SIZE], old[VOX_ERROR_MESSAGE_SIZE];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, err->message, sizeof old);
  size_t lp = strnlen(prefix, sizeof prefix - 1), lo = strnlen(old, sizeof old - 1);
  if (lp + lo > sizeof err->message - 1)
    lo = sizeof err->message - 1 - lp;
  memcpy(err->message, prefix, lp);
  memcpy(err->message + lp, old, lo);
  err->message[lp + lo] = '\0';
  return err->code;
}

void vox_error_clear(vox_error *err) {
  if (err) {
    err->code = VOX_OK;
    err->message[0] = '\0';
  }
}
