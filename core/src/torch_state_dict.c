/* torch_state_dict.c - a torch.save zip's state dict as a flat list of named tensors: finds
 * <root>/data.pkl, runs the restricted unpickler over it and walks the nested dicts it leaves,
 * naming each tensor by its dotted key path (NeMo's and PyTorch's state-dict names). */
#include "pickle_machine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vox__tensor_list_free(vox_tensor_list *l) {
  for (size_t i = 0; i < l->n; i++) {
    free((char *)l->items[i].name);
    free(l->items[i].data);
    free(l->items[i].ivalues);
  }
  free(l->items);
  memset(l, 0, sizeof *l);
}

static vox_status add_tensor(unpickler *u, vox_tensor_list *out, const char *name, pv *tv) {
  if (out->n == out->cap) {
    size_t cap = out->cap ? out->cap * 2 : 64;
    vox_tensor *items = realloc(out->items, cap * sizeof *items);
    if (!items)
      return vox__pickle_fail(u, VOX_ERR_NO_MEMORY, "out of memory");
    out->items = items;
    out->cap = cap;
  }
  vox_tensor *dst = &out->items[out->n];
  *dst = *tv->tensor;
  dst->name = strdup(name);
  if (!dst->name)
    return vox__pickle_fail(u, VOX_ERR_NO_MEMORY, "out of memory");
  if (!tv->moved) { /* first name of this tensor: take its buffers */
    tv->tensor->data = NULL;
    tv->tensor->ivalues = NULL;
    tv->moved = 1;
    tv->moved_to = out->n++;
    return VOX_OK;
  }
  /* a second name for the same tensor object: a copy of the first one's values */
  const vox_tensor *first = &out->items[tv->moved_to];
  dst->data = malloc((dst->numel ? dst->numel : 1) * sizeof(float));
  dst->ivalues = first->ivalues ? malloc((dst->numel ? dst->numel : 1) * sizeof(int64_t)) : NULL;
  if (!dst->data || (first->ivalues && !dst->ivalues)) {
    free((char *)dst->name);
    free(dst->data);
    free(dst->ivalues);
    return vox__pickle_fail(u, VOX_ERR_NO_MEMORY, "out of memory");
  }
  memcpy(dst->data, first->data, dst->numel * sizeof(float));
  if (dst->ivalues)
    memcpy(dst->ivalues, first->ivalues, dst->numel * sizeof(int64_t));
  out->n++;
  return VOX_OK;
}

/* Walks nested dicts, naming tensors by their dotted key path. */
static vox_status collect(unpickler *u, pv *d, const char *prefix, int depth, vox_tensor_list *out) {
  if (depth > 32)
    return vox__pickle_fail(u, VOX_ERR_UNSUPPORTED, "dicts nested too deep");
  for (size_t k = 0; k + 1 < d->n; k += 2) {
    pv *key = d->items[k], *val = d->items[k + 1];
    char keybuf[64];
    const char *ks = keybuf;
    if (key->kind == PV_STR)
      ks = key->s;
    else if (key->kind == PV_INT)
      snprintf(keybuf, sizeof keybuf, "%lld", (long long)key->i);
    else
      continue;
    size_t len = strlen(prefix) + strlen(ks) + 2;
    char *name = malloc(len);
    if (!name)
      return vox__pickle_fail(u, VOX_ERR_NO_MEMORY, "out of memory");
    snprintf(name, len, "%s%s%s", prefix, *prefix ? "." : "", ks);
    vox_status st = VOX_OK;
    if (val->kind == PV_TENSOR)
      st = add_tensor(u, out, name, val);
    else if (val->kind == PV_DICT)
      st = collect(u, val, name, depth + 1, out);
    free(name);
    if (st != VOX_OK)
      return st;
  }
  return VOX_OK;
}

/* Drops one leading wrapper key shared by every tensor name (a checkpoint's "state_dict."). */
static void strip_wrapper(vox_tensor_list *l) {
  static const char *wrappers[] = {"state_dict.", "model.", "module.", "model_state_dict.", "network."};
  for (size_t w = 0; w < sizeof wrappers / sizeof *wrappers; w++) {
    size_t lw = strlen(wrappers[w]), k;
    for (k = 0; k < l->n; k++)
      if (strncmp(l->items[k].name, wrappers[w], lw))
        break;
    if (l->n && k == l->n) {
      for (k = 0; k < l->n; k++)
        memmove((char *)l->items[k].name, l->items[k].name + lw, strlen(l->items[k].name) - lw + 1);
      return;
    }
  }
}

vox_status vox__torch_zip_load(const vox_members *zip, const char *name, const char *state_dict_key,
                               vox_tensor_list *out, vox_error *err) {
  memset(out, 0, sizeof *out);
  const vox_member *pkl = NULL;
  for (size_t i = 0; i < zip->n && !pkl; i++) {
    const char *n = zip->items[i].name, *slash = strchr(n, '/');
    if (slash && !strcmp(slash, "/data.pkl"))
      pkl = &zip->items[i];
  }
  if (!pkl)
    return vox_error_set(err, VOX_ERR_FORMAT, "%s: no <root>/data.pkl in the zip: not a torch.save checkpoint", name);
  unpickler u = {0};
  u.p = u.start = pkl->data;
  u.end = pkl->data + pkl->size;
  u.name = name;
  u.zip = zip;
  u.err = err;
  char root[512];
  size_t rl = (size_t)(strchr(pkl->name, '/') - pkl->name) + 1;
  if (rl >= sizeof root)
    return vox_error_set(err, VOX_ERR_FORMAT, "%s: archive root name too long", name);
  memcpy(root, pkl->name, rl);
  root[rl] = '\0';
  u.root = root;
  vox_error local;
  if (!u.err)
    u.err = &local;
  pv *result = NULL;
  vox_status st = vox__pickle_run(&u, &result);
  if (st == VOX_OK) {
    pv *sd = result;
    if (sd->kind == PV_DICT && state_dict_key) {
      pv *found = NULL;
      for (size_t k = 0; k + 1 < sd->n; k += 2)
        if (sd->items[k]->kind == PV_STR && !strcmp(sd->items[k]->s, state_dict_key))
          found = sd->items[k + 1];
      if (!found || found->kind != PV_DICT)
        st = vox_error_set(u.err, VOX_ERR_NOT_FOUND, "%s: no state dict under key '%s'", name, state_dict_key);
      sd = found;
    }
    if (st == VOX_OK && sd->kind != PV_DICT)
      st = vox_error_set(u.err, VOX_ERR_FORMAT, "%s: the pickle does not hold a dict of tensors", name);
    if (st == VOX_OK)
      st = collect(&u, sd, "", 0, out);
    if (st == VOX_OK && !state_dict_key)
      strip_wrapper(out);
  }
  vox__pickle_free(&u);
  if (st != VOX_OK)
    vox__tensor_list_free(out);
  return st;
}
