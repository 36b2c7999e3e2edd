/* archive.c - tar(.gz) and zip members into memory through libarchive. */
#include "internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void vox__members_free(vox_members *m) {
  for (size_t i = 0; i < m->n; i++) {
    free(m->items[i].name);
    free(m->items[i].data);
  }
  free(m->items);
  m->items = NULL;
  m->n = 0;
}

const vox_member *vox__members_find_suffix(const vox_members *m, const char *suffix) {
  size_t ls = strlen(suffix);
  for (size_t i = 0; i < m->n; i++) {
    size_t ln = strlen(m->items[i].name);
    if (ln >= ls && !strcmp(m->items[i].name + ln - ls, suffix) &&
        (ln == ls || m->items[i].name[ln - ls - 1] == '/'))
      return &m->items[i];
  }
  return NULL;
}

static vox_status read_member(struct archive *a, struct archive_entry *e, const char *name,
                              size_t max_member, vox_member *out, vox_error *err) {
  const char *mname = archive_entry_pathname(e);
  int has_size = archive_entry_size_is_set(e);
  la_int64_t declared = archive_entry_size(e);
  if (has_size && (declared < 0 || (uint64_t)declared > max_member))
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "%s: member '%s' declares %lld bytes, over the %zu byte limit",
                         name, mname, (long long)declared, max_member);
  size_t cap = has_size ? (size_t)declared : 65536, n = 0;
  unsigned char *buf = malloc(cap ? cap : 1);
  if (!buf)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "%s: out of memory reading '%s'", name, mname);
  for (;;) {
    if (n == cap) {
      if (has_size) {
        /* more data than declared: read one byte to see whether the member really is longer */
        unsigned char probe;
        la_ssize_t r = archive_read_data(a, &probe, 1);
        if (r == 0)
          break;
        free(buf);
        if (r < 0)
          return vox_error_set(err, VOX_ERR_FORMAT, "%s: member '%s': %s", name, mname, archive_error_string(a));
        return vox_error_set(err, VOX_ERR_FORMAT, "%s: member '%s' is longer than its header says", name, mname);
      }
      if (cap >= max_member) {
        free(buf);
        return vox_error_set(err, VOX_ERR_NO_MEMORY, "%s: member '%s' is over the %zu byte limit", name, mname,
                             max_member);
      }
      size_t ncap = cap * 2 > max_member ? max_member : cap * 2;
      unsigned char *nb = realloc(buf, ncap);
      if (!nb) {
        free(buf);
        return vox_error_set(err, VOX_ERR_NO_MEMORY, "%s: out of memory reading '%s'", name, mname);
      }
      buf = nb;
      cap = ncap;
    }
    la_ssize_t r = archive_read_data(a, buf + n, cap - n);
    if (r < 0) {
      vox_status st = vox_error_set(err, VOX_ERR_FORMAT, "%s: member '%s' is corrupt or truncated: %s", name,
                                    mname, archive_error_string(a) ? archive_error_string(a) : "read error");
      free(buf);
      return st;
    }
    if (r == 0)
      break;
    n += (size_t)r;
  }
  if (has_size && n != (size_t)declared) {
    free(buf);
    return vox_error_set(err, VOX_ERR_FORMAT, "%s: member '%s' is truncated (%zu of %lld bytes)", name, mname, n,
                         (long long)declared);
  }
  out->name = strdup(mname);
  if (!out->name) {
    free(buf);
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "%s: out of memory", name);
  }
  out->data = buf;
  out->size = n;
  return VOX_OK;
}

vox_status vox__archive_read(const void *data, size_t size, vox_archive_kind kind, const char *name,
                             size_t max_member, int (*want)(const char *), vox_members *out,
                             vox_error *err) {
  memset(out, 0, sizeof *out);
  struct archive *a = archive_read_new();
  if (!a)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "%s: out of memory", name);
  if (kind == VOX_ARCHIVE_ZIP) {
    archive_read_support_format_zip_seekable(a);
  } else {
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_bzip2(a);
    archive_read_support_filter_xz(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
  }
  vox_status st = VOX_OK;
  if (archive_read_open_memory(a, data, size) != ARCHIVE_OK) {
    st = vox_error_set(err, VOX_ERR_FORMAT, "%s: not a readable %s archive: %s", name,
                       kind == VOX_ARCHIVE_ZIP ? "zip" : "tar", archive_error_string(a));
    archive_read_free(a);
    return st;
  }
  size_t cap = 0;
  for (;;) {
    struct archive_entry *e;
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF)
      break;
    if (r != ARCHIVE_OK) {
      st = vox_error_set(err, VOX_ERR_FORMAT, "%s: corrupt or truncated archive: %s", name,
                         archive_error_string(a) ? archive_error_string(a) : "bad header");
      break;
    }
    if (archive_entry_filetype(e) != AE_IFREG || !archive_entry_pathname(e))
      continue;
    if (want && !want(archive_entry_pathname(e))) {
      if (archive_read_data_skip(a) != ARCHIVE_OK) {
        st = vox_error_set(err, VOX_ERR_FORMAT, "%s: corrupt or truncated archive: %s", name,
                           archive_error_string(a));
        break;
      }
      continue;
    }
    if (out->n == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      vox_member *items = realloc(out->items, ncap * sizeof *items);
      if (!items) {
        st = vox_error_set(err, VOX_ERR_NO_MEMORY, "%s: out of memory", name);
        break;
      }
      out->items = items;
      cap = ncap;
    }
    st = read_member(a, e, name, max_member, &out->items[out->n], err);
    if (st != VOX_OK)
      break;
    out->n++;
  }
  archive_read_free(a);
  if (st != VOX_OK)
    vox__members_free(out);
  return st;
}

vox_status vox__read_file(const char *path, size_t max_bytes, unsigned char **data, size_t *size,
                          vox_error *err) {
  *data = NULL;
  *size = 0;
  FILE *f = fopen(path, "rb");
  if (!f)
    return vox_error_set(err, errno == ENOENT ? VOX_ERR_NOT_FOUND : VOX_ERR_IO, "%s: cannot open: %s", path,
                         strerror(errno));
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    fclose(f);
    return vox_error_set(err, VOX_ERR_IO, "%s: not a regular file", path);
  }
  if ((uint64_t)sb.st_size > max_bytes) {
    fclose(f);
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "%s: %lld bytes is over the %zu byte limit", path,
                         (long long)sb.st_size, max_bytes);
  }
  size_t n = (size_t)sb.st_size;
  unsigned char *buf = malloc(n ? n : 1);
  if (!buf) {
    fclose(f);
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "%s: out of memory", path);
  }
  if (fread(buf, 1, n, f) != n) {
    free(buf);
    fclose(f);
    return vox_error_set(err, VOX_ERR_IO, "%s: read error", path);
  }
  fclose(f);
  *data = buf;
  *size = n;
  return VOX_OK;
}
