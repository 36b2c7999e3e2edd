/* checkpoint.c - `.nemo` archives and PyTorch checkpoints as a config tree + named tensors. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vox_checkpoint {
  char *source;
  vox_config *config;
  vox_tensor_list tensors;
  size_t *by_name; /* tensor indices sorted by name */
};

static const size_t DEFAULT_MAX_MEMBER = (size_t)2 << 30;

vox_checkpoint_params vox_checkpoint_default_params(void) {
  vox_checkpoint_params p = {NULL, DEFAULT_MAX_MEMBER};
  return p;
}

const char *vox_dtype_name(vox_dtype t) {
  static const char *names[] = {"float32", "float16", "bfloat16", "float64", "int64",
                                "int32",   "int16",   "int8",     "uint8",   "bool"};
  return (unsigned)t < sizeof names / sizeof *names ? names[t] : "unknown";
}

void vox_checkpoint_free(vox_checkpoint *ck) {
  if (!ck)
    return;
  vox__tensor_list_free(&ck->tensors);
  vox_config_free(ck->config);
  free(ck->by_name);
  free(ck->source);
  free(ck);
}

static int by_name_cmp(const void *a, const void *b, void *base) {
  const vox_tensor *t = base;
  return strcmp(t[*(const size_t *)a].name, t[*(const size_t *)b].name);
}

/* qsort_r is GNU; a tiny insertion-merge sort keeps us portable and reentrant. */
static void sort_indices(size_t *idx, size_t n, const vox_tensor *t) {
  for (size_t i = 1; i < n; i++) {
    size_t v = idx[i], j = i;
    while (j > 0 && by_name_cmp(&idx[j - 1], &v, (void *)t) > 0) {
      idx[j] = idx[j - 1];
      j--;
    }
    idx[j] = v;
  }
}

static int is_nemo_member(const char *name) {
  const char *base = strrchr(name, '/');
  base = base ? base + 1 : name;
  return !strcmp(base, "model_config.yaml") || !strcmp(base, "model_weights.ckpt");
}

static vox_status finish(vox_checkpoint *ck, vox_error *err) {
  size_t n = ck->tensors.n;
  ck->by_name = malloc((n ? n : 1) * sizeof *ck->by_name);
  if (!ck->by_name)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "%s: out of memory", ck->source);
  for (size_t i = 0; i < n; i++)
    ck->by_name[i] = i;
  sort_indices(ck->by_name, n, ck->tensors.items);
  return VOX_OK;
}

/* `release` (may be NULL) holds the bytes the zip came from: freed as soon as the zip's members
 * are copied out, so a large model is never held three times over. */
static vox_status load_torch_zip(vox_checkpoint *ck, const void *data, size_t size, const char *name,
                                 const vox_checkpoint_params *p, vox_members *release, vox_error *err) {
  vox_members zip;
  vox_status st = vox__archive_read(data, size, VOX_ARCHIVE_ZIP, name, p->max_member_bytes, NULL, &zip, err);
  if (release)
    vox__members_free(release);
  if (st != VOX_OK)
    return st;
  st = vox__torch_zip_load(&zip, name, p->state_dict_key, &ck->tensors, err);
  vox__members_free(&zip);
  return st;
}

static vox_status load_nemo(vox_checkpoint *ck, const void *data, size_t size, const vox_checkpoint_params *p,
                            unsigned char **owned, vox_error *err) {
  vox_members tar;
  vox_status st = vox__archive_read(data, size, VOX_ARCHIVE_TAR, ck->source, p->max_member_bytes,
                                    is_nemo_member, &tar, err);
  if (owned) { /* the archive's bytes are no longer needed */
    free(*owned);
    *owned = NULL;
  }
  if (st != VOX_OK)
    return st;
  const vox_member *cfg = vox__members_find_suffix(&tar, "model_config.yaml");
  const vox_member *w = vox__members_find_suffix(&tar, "model_weights.ckpt");
  if (!cfg || !w) {
    st = vox_error_set(err, VOX_ERR_FORMAT, "%s: not a .nemo archive: %s is missing", ck->source,
                       !cfg ? "model_config.yaml" : "model_weights.ckpt");
  } else {
    char name[1024];
    snprintf(name, sizeof name, "%s: model_config.yaml", ck->source);
    st = vox_config_parse((const char *)cfg->data, cfg->size, name, &ck->config, err);
    if (st == VOX_OK) {
      snprintf(name, sizeof name, "%s: model_weights.ckpt", ck->source);
      st = load_torch_zip(ck, w->data, w->size, name, p, &tar, err);
    }
  }
  vox__members_free(&tar);
  return st;
}

/* `owned`: the caller's malloc'd copy of data, which may be freed early (then set to NULL). */
static vox_status open_impl(const void *data, size_t size, const char *name, const vox_checkpoint_params *params,
                            unsigned char **owned, vox_checkpoint **out, vox_error *err) {
  *out = NULL;
  vox_checkpoint_params p = params ? *params : vox_checkpoint_default_params();
  if (!p.max_member_bytes)
    p.max_member_bytes = DEFAULT_MAX_MEMBER;
  const unsigned char *b = data;
  vox_checkpoint *ck = calloc(1, sizeof *ck);
  if (!ck || !(ck->source = strdup(name ? name : "(memory)"))) {
    free(ck);
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  }
  vox_status st;
  if (size >= 4 && b[0] == 'P' && b[1] == 'K' && b[2] == 3 && b[3] == 4)
    st = load_torch_zip(ck, data, size, ck->source, &p, NULL, err);
  else if ((size >= 2 && b[0] == 0x1f && b[1] == 0x8b) || (size >= 262 && !memcmp(b + 257, "ustar", 5)))
    st = load_nemo(ck, data, size, &p, owned, err);
  else if (size >= 2 && b[0] == 0x80 && b[1] <= 5)
    st = vox_error_set(err, VOX_ERR_UNSUPPORTED,
                       "%s: legacy (pre-1.6) torch.save format; re-save it with a current torch.save", ck->source);
  else
    st = vox_error_set(err, VOX_ERR_FORMAT, "%s: neither a .nemo archive (tar) nor a PyTorch checkpoint (zip)",
                       ck->source);
  if (st == VOX_OK)
    st = finish(ck, err);
  if (st != VOX_OK) {
    vox_checkpoint_free(ck);
    return st;
  }
  *out = ck;
  return VOX_OK;
}

vox_status vox_checkpoint_open_memory(const void *data, size_t size, const char *name,
                                      const vox_checkpoint_params *params, vox_checkpoint **out,
                                      vox_error *err) {
  return open_impl(data, size, name, params, NULL, out, err);
}

vox_status vox_checkpoint_open(const char *path, const vox_checkpoint_params *params, vox_checkpoint **out,
                               vox_error *err) {
  *out = NULL;
  unsigned char *data;
  size_t size;
  size_t max = params && params->max_member_bytes ? params->max_member_bytes : DEFAULT_MAX_MEMBER;
  vox_status st = vox__read_file(path, max, &data, &size, err);
  if (st != VOX_OK)
    return st;
  st = open_impl(data, size, path, params, &data, out, err);
  free(data);
  return st;
}

const vox_config_node *vox_checkpoint_config(const vox_checkpoint *ck) {
  return ck->config ? vox_config_root(ck->config) : NULL;
}

size_t vox_checkpoint_tensor_count(const vox_checkpoint *ck) { return ck->tensors.n; }

const vox_tensor *vox_checkpoint_tensor_at(const vox_checkpoint *ck, size_t i) {
  return i < ck->tensors.n ? &ck->tensors.items[i] : NULL;
}

const vox_tensor *vox_checkpoint_tensor(const vox_checkpoint *ck, const char *name) {
  size_t lo = 0, hi = ck->tensors.n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    const vox_tensor *t = &ck->tensors.items[ck->by_name[mid]];
    int c = strcmp(t->name, name);
    if (c == 0)
      return t;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
  size_t at = 0;
  at += (size_t)snprintf(buf + at, n - at, "[");
  for (int d = 0; d < ndim && at < n; d++)
    at += (size_t)snprintf(buf + at, n - at, d ? ", %lld" : "%lld", (long long)shape[d]);
  if (at < n)
    snprintf(buf + at, n - at, "]");
}

const vox_tensor *vox_checkpoint_expect(const vox_checkpoint *ck, const char *name, int ndim,
                                        const int64_t *shape, vox_error *err) {
  const vox_tensor *t = vox_checkpoint_tensor(ck, name);
  if (!t) {
    vox_error_set(err, VOX_ERR_NOT_FOUND, "%s: tensor '%s' is missing", ck->source, name);
    return NULL;
  }
  int ok = t->ndim == ndim;
  for (int d = 0; ok && d < ndim; d++)
    ok = shape[d] < 0 || shape[d] == t->shape[d];
  if (!ok) {
    char want[128], got[128];
    shape_str(want, sizeof want, ndim, shape);
    shape_str(got, sizeof got, t->ndim, t->shape);
    vox_error_set(err, VOX_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s", ck->source, name, got, want);
    return NULL;
  }
  return t;
}

const char *vox_checkpoint_source(const vox_checkpoint *ck) { return ck->source; }

void vox__checkpoint_release_weights(vox_checkpoint *ck, const char *keep_prefix) {
  size_t lp = strlen(keep_prefix);
  for (size_t i = 0; i < ck->tensors.n; i++) {
    vox_tensor *t = &ck->tensors.items[i];
    if (!strncmp(t->name, keep_prefix, lp))
      continue;
    free(t->data);
    free(t->ivalues);
    t->data = NULL;
    t->ivalues = NULL;
  }
}
