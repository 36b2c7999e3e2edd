/* pickle.c - a restricted unpickler for torch.save state dicts.
 *
 * Only the opcodes and globals a state dict needs are known; every other global is refused with
 * VOX_ERR_UNSAFE naming it, so a hostile checkpoint cannot make us call anything. Values live in
 * a per-load pool freed in one pass. */
#include "pickle_machine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VALUES 20000000u
#define MAX_MEMO 10000000u
#define MAX_TENSOR_ELEMENTS ((size_t)1 << 32)

static size_t dtype_size(vox_dtype t) {
  switch (t) {
  case VOX_DTYPE_F64: case VOX_DTYPE_I64: return 8;
  case VOX_DTYPE_F32: case VOX_DTYPE_I32: return 4;
  case VOX_DTYPE_F16: case VOX_DTYPE_BF16: case VOX_DTYPE_I16: return 2;
  default: return 1;
  }
}

static void tensor_free(vox_tensor *t) {
  if (!t)
    return;
  free((char *)t->name);
  free(t->data);
  free(t->ivalues);
  free(t);
}

static pv *pv_new(unpickler *u, pv_kind kind) {
  if (u->n_pool >= MAX_VALUES) {
    vox_error_set(u->err, VOX_ERR_NO_MEMORY, "%s: pickle has more than %u values", u->name, MAX_VALUES);
    return NULL;
  }
  if (u->n_pool == u->cap_pool) {
    size_t cap = u->cap_pool ? u->cap_pool * 2 : 1024;
    pv **pool = realloc(u->pool, cap * sizeof *pool);
    if (!pool) {
      vox_error_set(u->err, VOX_ERR_NO_MEMORY, "%s: out of memory", u->name);
      return NULL;
    }
    u->pool = pool;
    u->cap_pool = cap;
  }
  pv *v = calloc(1, sizeof *v);
  if (!v) {
    vox_error_set(u->err, VOX_ERR_NO_MEMORY, "%s: out of memory", u->name);
    return NULL;
  }
  v->kind = kind;
  u->pool[u->n_pool++] = v;
  return v;
}

void vox__pickle_free(unpickler *u) {
  for (size_t i = 0; i < u->n_pool; i++) {
    pv *v = u->pool[i];
    free(v->s);
    free(v->items);
    tensor_free(v->tensor);
    free(v);
  }
  free(u->pool);
  free(u->stack);
  free(u->marks);
  free(u->memo);
}

static int pv_append(unpickler *u, pv *c, pv *item) {
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 4;
    pv **items = realloc(c->items, cap * sizeof *items);
    if (!items) {
      vox_error_set(u->err, VOX_ERR_NO_MEMORY, "%s: out of memory", u->name);
      return -1;
    }
    c->items = items;
    c->cap = cap;
  }
  c->items[c->n++] = item;
  return 0;
}

vox_status vox__pickle_fail(unpickler *u, vox_status code, const char *what) {
  return vox_error_set(u->err, code, "%s: pickle byte %zu: %s", u->name, (size_t)(u->p - u->start), what);
}

static int push(unpickler *u, pv *v) {
  if (!v)
    return -1;
  if (u->sp == u->cap_stack) {
    size_t cap = u->cap_stack ? u->cap_stack * 2 : 64;
    if (cap > MAX_VALUES) {
      vox__pickle_fail(u, VOX_ERR_NO_MEMORY, "stack too deep");
      return -1;
    }
    pv **s = realloc(u->stack, cap * sizeof *s);
    if (!s) {
      vox__pickle_fail(u, VOX_ERR_NO_MEMORY, "out of memory");
      return -1;
    }
    u->stack = s;
    u->cap_stack = cap;
  }
  u->stack[u->sp++] = v;
  return 0;
}

static pv *pop(unpickler *u) {
  if (u->sp == 0 || u->stack[u->sp - 1]->kind == PV_MARK) {
    vox__pickle_fail(u, VOX_ERR_FORMAT, "stack underflow");
    return NULL;
  }
  return u->stack[--u->sp];
}

static pv *top(unpickler *u) {
  if (u->sp == 0 || u->stack[u->sp - 1]->kind == PV_MARK) {
    vox__pickle_fail(u, VOX_ERR_FORMAT, "stack underflow");
    return NULL;
  }
  return u->stack[u->sp - 1];
}

/* Index in the stack of the most recent MARK; pops the mark. */
static int pop_mark(unpickler *u, size_t *at) {
  if (u->n_marks == 0) {
    vox__pickle_fail(u, VOX_ERR_FORMAT, "no MARK on the stack");
    return -1;
  }
  *at = u->marks[--u->n_marks];
  return 0;
}

static int need(unpickler *u, size_t n) {
  if ((size_t)(u->end - u->p) < n) {
    vox__pickle_fail(u, VOX_ERR_FORMAT, "truncated pickle");
    return -1;
  }
  return 0;
}

static uint64_t rd_le(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

static pv *make_str(unpickler *u, const unsigned char *s, size_t n) {
  pv *v = pv_new(u, PV_STR);
  if (!v)
    return NULL;
  v->s = malloc(n + 1);
  if (!v->s) {
    vox__pickle_fail(u, VOX_ERR_NO_MEMORY, "out of memory");
    return NULL;
  }
  memcpy(v->s, s, n);
  v->s[n] = '\0';
  v->slen = n;
  return v;
}

static pv *make_int(unpickler *u, int64_t i) {
  pv *v = pv_new(u, PV_INT);
  if (v)
    v->i = i;
  return v;
}

static int memo_put(unpickler *u, uint64_t idx, pv *v) {
  if (idx >= MAX_MEMO) {
    vox__pickle_fail(u, VOX_ERR_FORMAT, "memo index out of range");
    return -1;
  }
  if (idx >= u->cap_memo) {
    size_t cap = u->cap_memo ? u->cap_memo : 64;
    while (cap <= idx)
      cap *= 2;
    pv **m = realloc(u->memo, cap * sizeof *m);
    if (!m) {
      vox__pickle_fail(u, VOX_ERR_NO_MEMORY, "out of memory");
      return -1;
    }
    memset(m + u->cap_memo, 0, (cap - u->cap_memo) * sizeof *m);
    u->memo = m;
    u->cap_memo = cap;
  }
  u->memo[idx] = v;
  return 0;
}

static pv *memo_get(unpickler *u, uint64_t idx) {
  if (idx >= u->cap_memo || !u->memo[idx]) {
    vox__pickle_fail(u, VOX_ERR_FORMAT, "memo index not defined");
    return NULL;
  }
  return u->memo[idx];
}

static const struct {
  const char *name;
  vox_dtype dtype;
} STORAGES[] = {
    {"FloatStorage", VOX_DTYPE_F32}, {"HalfStorage", VOX_DTYPE_F16}, {"BFloat16Storage", VOX_DTYPE_BF16},
    {"DoubleStorage", VOX_DTYPE_F64}, {"LongStorage", VOX_DTYPE_I64}, {"IntStorage", VOX_DTYPE_I32},
    {"ShortStorage", VOX_DTYPE_I16}, {"CharStorage", VOX_DTYPE_I8}, {"ByteStorage", VOX_DTYPE_U8},
    {"BoolStorage", VOX_DTYPE_BOOL},
};

static pv *make_global(unpickler *u, const char *module, const char *name) {
  pv *v = pv_new(u, PV_GLOBAL);
  if (!v)
    return NULL;
  if (!strcmp(module, "collections") && !strcmp(name, "OrderedDict"))
    v->gid = G_ORDERED_DICT;
  else if (!strcmp(module, "torch._utils") && !strcmp(name, "_rebuild_tensor_v2"))
    v->gid = G_REBUILD_TENSOR;
  else if (!strcmp(module, "torch._utils") && !strcmp(name, "_rebuild_parameter"))
    v->gid = G_REBUILD_PARAMETER;
  else {
    int found = 0;
    for (size_t i = 0; i < sizeof STORAGES / sizeof *STORAGES && !strcmp(module, "torch"); i++)
      if (!strcmp(name, STORAGES[i].name)) {
        v->gid = G_STORAGE;
        v->dtype = STORAGES[i].dtype;
        found = 1;
      }
    if (!found) {
      vox_error_set(u->err, VOX_ERR_UNSAFE,
                    "%s: refusing pickle global '%s.%s': a state dict never needs it, and loading it could run code",
                    u->name, module, name);
      return NULL;
    }
  }
  size_t lm = strlen(module), ln = strlen(name);
  v->s = malloc(lm + ln + 2);
  if (!v->s) {
    vox__pickle_fail(u, VOX_ERR_NO_MEMORY, "out of memory");
    return NULL;
  }
  snprintf(v->s, lm + ln + 2, "%s.%s", module, name);
  return v;
}

/* ('storage', <storage class>, key, location, numel) -> the storage's bytes in the zip */
static pv *load_storage(unpickler *u, pv *pid) {
  if (pid->kind != PV_TUPLE || pid->n < 5 || pid->items[0]->kind != PV_STR ||
      strcmp(pid->items[0]->s, "storage") || pid->items[1]->kind != PV_GLOBAL ||
      pid->items[1]->gid != G_STORAGE || pid->items[2]->kind != PV_STR || pid->items[4]->kind != PV_INT ||
      pid->items[4]->i < 0) {
    vox__pickle_fail(u, VOX_ERR_FORMAT, "persistent id is not a torch storage reference");
    return NULL;
  }
  char path[1024];
  snprintf(path, sizeof path, "%sdata/%s", u->root, pid->items[2]->s);
  const vox_member *m = NULL;
  for (size_t i = 0; i < u->zip->n; i++)
    if (!strcmp(u->zip->items[i].name, path))
      m = &u->zip->items[i];
  if (!m) {
    vox_error_set(u->err, VOX_ERR_FORMAT, "%s: storage '%s' is missing from the archive", u->name, path);
    return NULL;
  }
  vox_dtype dt = pid->items[1]->dtype;
  size_t numel = (size_t)pid->items[4]->i, bytes;
  if (vox__mul_size(numel, dtype_size(dt), &bytes) || bytes > m->size) {
    vox_error_set(u->err, VOX_ERR_FORMAT, "%s: storage '%s' declares %zu elements of %s but holds %zu bytes",
                  u->name, path, numel, vox_dtype_name(dt), m->size);
    return NULL;
  }
  pv *v = pv_new(u, PV_STORAGE);
  if (!v)
    return NULL;
  v->dtype = dt;
  v->raw = m->data;
  v->numel = numel;
  return v;
}

static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0) {
    float f = ldexpf((float)man, -24);
    return sign ? -f : f;
  }
  if (exp == 31)
    bits = sign | 0x7f800000u | (man << 13);
  else
    bits = sign | ((exp + 112) << 23) | (man << 13);
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

static void load_element(vox_dtype dt, const unsigned char *p, float *f, int64_t *iv) {
  switch (dt) {
  case VOX_DTYPE_F32: { uint32_t b = (uint32_t)rd_le(p, 4); memcpy(f, &b, 4); return; }
  case VOX_DTYPE_F64: { uint64_t b = rd_le(p, 8); double d; memcpy(&d, &b, 8); *f = (float)d; return; }
  case VOX_DTYPE_F16: *f = half_to_float((uint16_t)rd_le(p, 2)); return;
  case VOX_DTYPE_BF16: { uint32_t b = (uint32_t)rd_le(p, 2) << 16; memcpy(f, &b, 4); return; }
  case VOX_DTYPE_I64: *iv = (int64_t)rd_le(p, 8); break;
  case VOX_DTYPE_I32: *iv = (int32_t)(uint32_t)rd_le(p, 4); break;
  case VOX_DTYPE_I16: *iv = (int16_t)(uint16_t)rd_le(p, 2); break;
  case VOX_DTYPE_I8: *iv = (int8_t)p[0]; break;
  case VOX_DTYPE_U8: case VOX_DTYPE_BOOL: *iv = p[0]; break;
  }
  *f = (float)*iv;
}

static int int_tuple(pv *t, int64_t *out, int max, int *n) {
  if (t->kind != PV_TUPLE || t->n > (size_t)max)
    return -1;
  for (size_t i = 0; i < t->n; i++) {
    if (t->items[i]->kind != PV_INT)
      return -1;
    out[i] = t->items[i]->i;
  }
  *n = (int)t->n;
  return 0;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) */
static pv *rebuild_tensor(unpickler *u, pv *args) {
  if (args->kind != PV_TUPLE || args->n < 4 || args->items[0]->kind != PV_STORAGE ||
      args->items[1]->kind != PV_INT) {
    vox__pickle_fail(u, VOX_ERR_FORMAT, "_rebuild_tensor_v2 called with unexpected arguments");
    return NULL;
  }
  pv *st = args->items[0];
  int64_t shape[VOX_TENSOR_MAX_DIMS], stride[VOX_TENSOR_MAX_DIMS];
  int nd, ns;
  if (int_tuple(args->items[2], shape, VOX_TENSOR_MAX_DIMS, &nd) ||
      int_tuple(args->items[3], stride, VOX_TENSOR_MAX_DIMS, &ns) || nd != ns) {
    vox__pickle_fail(u, VOX_ERR_FORMAT, "tensor size/stride are not integer tuples of equal length (at most 8 dims)");
    return NULL;
  }
  int64_t offset = args->items[1]->i;
  size_t numel = 1;
  uint64_t last = (uint64_t)offset;
  if (offset < 0) {
    vox__pickle_fail(u, VOX_ERR_FORMAT, "negative tensor storage offset");
    return NULL;
  }
  for (int d = 0; d < nd; d++) {
    if (shape[d] < 0 || stride[d] < 0 || vox__mul_size(numel, (size_t)shape[d], &numel) ||
        numel > MAX_TENSOR_ELEMENTS) {
      vox__pickle_fail(u, VOX_ERR_FORMAT, "absurd tensor shape or stride");
      return NULL;
    }
  }
  if (numel) {
    for (int d = 0; d < nd; d++) {
      if ((uint64_t)stride[d] > (UINT64_MAX / 4) / (uint64_t)(shape[d] ? shape[d] : 1)) {
        vox__pickle_fail(u, VOX_ERR_FORMAT, "absurd tensor stride");
        return NULL;
      }
      last += (uint64_t)(shape[d] - 1) * (uint64_t)stride[d];
    }
    if (last >= st->numel) {
      vox_error_set(u->err, VOX_ERR_FORMAT,
                    "%s: tensor view reaches element %llu of a storage of %zu elements", u->name,
                    (unsigned long long)last, st->numel);
      return NULL;
    }
  }
  vox_tensor *t = calloc(1, sizeof *t);
  pv *v = pv_new(u, PV_TENSOR);
  if (!t || !v) {
    free(t);
    if (v)
      vox__pickle_fail(u, VOX_ERR_NO_MEMORY, "out of memory");
    return NULL;
  }
  v->tensor = t;
  t->dtype = st->dtype;
  t->ndim = nd;
  t->numel = numel;
  memcpy(t->shape, shape, sizeof(int64_t) * (size_t)nd);
  int is_int = !(st->dtype == VOX_DTYPE_F32 || st->dtype == VOX_DTYPE_F16 || st->dtype == VOX_DTYPE_BF16 ||
                 st->dtype == VOX_DTYPE_F64);
  t->data = malloc((numel ? numel : 1) * sizeof(float));
  t->ivalues = is_int ? malloc((numel ? numel : 1) * sizeof(int64_t)) : NULL;
  if (!t->data || (is_int && !t->ivalues)) {
    vox__pickle_fail(u, VOX_ERR_NO_MEMORY, "out of memory for tensor data");
    return NULL;
  }
  size_t es = dtype_size(st->dtype);
  int64_t idx[VOX_TENSOR_MAX_DIMS] = {0};
  for (size_t k = 0; k < numel; k++) {
    uint64_t pos = (uint64_t)offset;
    for (int d = 0; d < nd; d++)
      pos += (uint64_t)idx[d] * (uint64_t)stride[d];
    int64_t iv = 0;
    load_element(st->dtype, st->raw + pos * es, &t->data[k], &iv);
    if (is_int)
      t->ivalues[k] = iv;
    for (int d = nd - 1; d >= 0; d--) {
      if (++idx[d] < shape[d])
        break;
      idx[d] = 0;
    }
  }
  return v;
}

static vox_status reduce(unpickler *u) {
  pv *args = pop(u), *fn = pop(u);
  if (!args || !fn)
    return u->err ? u->err->code : VOX_ERR_FORMAT;
  if (fn->kind != PV_GLOBAL || args->kind != PV_TUPLE)
    return vox__pickle_fail(u, VOX_ERR_FORMAT, "REDUCE of something that is not an allowed global");
  pv *r = NULL;
  switch (fn->gid) {
  case G_ORDERED_DICT:
    if (args->n != 0)
      return vox__pickle_fail(u, VOX_ERR_UNSUPPORTED, "OrderedDict built from arguments");
    r = pv_new(u, PV_DICT);
    break;
  case G_REBUILD_TENSOR:
    r = rebuild_tensor(u, args);
    break;
  case G_REBUILD_PARAMETER:
    if (args->n < 1 || args->items[0]->kind != PV_TENSOR)
      return vox__pickle_fail(u, VOX_ERR_FORMAT, "_rebuild_parameter without a tensor");
    r = args->items[0];
    break;
  case G_STORAGE:
    return vox__pickle_fail(u, VOX_ERR_UNSAFE, "storage class called as a function");
  }
  if (!r || push(u, r))
    return u->err ? u->err->code : VOX_ERR_FORMAT;
  return VOX_OK;
}

vox_status vox__pickle_run(unpickler *u, pv **result) {
  for (;;) {
    if (need(u, 1))
      return u->err->code;
    unsigned op = *u->p++;
    pv *v = NULL;
    size_t at;
    switch (op) {
    case 0x80: /* PROTO */
      if (need(u, 1))
        return u->err->code;
      u->p++;
      break;
    case 0x95: /* FRAME */
      if (need(u, 8))
        return u->err->code;
      u->p += 8;
      break;
    case '.': /* STOP */
      *result = pop(u);
      return *result ? VOX_OK : u->err->code;
    case '(': /* MARK */
      if (u->n_marks == u->cap_marks) {
        size_t cap = u->cap_marks ? u->cap_marks * 2 : 16;
        size_t *m = realloc(u->marks, cap * sizeof *m);
        if (!m)
          return vox__pickle_fail(u, VOX_ERR_NO_MEMORY, "out of memory");
        u->marks = m;
        u->cap_marks = cap;
      }
      u->marks[u->n_marks++] = u->sp;
      break;
    case '}': v = pv_new(u, PV_DICT); if (push(u, v)) return u->err->code; break;
    case ']': v = pv_new(u, PV_LIST); if (push(u, v)) return u->err->code; break;
    case ')': v = pv_new(u, PV_TUPLE); if (push(u, v)) return u->err->code; break;
    case 'N': v = pv_new(u, PV_NONE); if (push(u, v)) return u->err->code; break;
    case 0x88: case 0x89: /* NEWTRUE, NEWFALSE */
      v = pv_new(u, PV_BOOL);
      if (v)
        v->i = op == 0x88;
      if (push(u, v))
        return u->err->code;
      break;
    case 'K': case 'M': case 'J': { /* BININT1, BININT2, BININT */
      int n = op == 'K' ? 1 : op == 'M' ? 2 : 4;
      if (need(u, (size_t)n))
        return u->err->code;
      int64_t i = (int64_t)rd_le(u->p, n);
      if (n == 4)
        i = (int32_t)(uint32_t)i;
      u->p += n;
      if (push(u, make_int(u, i)))
        return u->err->code;
      break;
    }
    case 0x8a: { /* LONG1 */
      if (need(u, 1))
        return u->err->code;
      size_t n = *u->p++;
      if (n > 8 || need(u, n))
        return vox__pickle_fail(u, VOX_ERR_UNSUPPORTED, "integer wider than 64 bits");
      uint64_t x = n ? rd_le(u->p, (int)n) : 0;
      if (n && n < 8 && (u->p[n - 1] & 0x80))
        x |= ~(uint64_t)0 << (8 * n);
      u->p += n;
      if (push(u, make_int(u, (int64_t)x)))
        return u->err->code;
      break;
    }
    case 'G': { /* BINFLOAT, big-endian */
      if (need(u, 8))
        return u->err->code;
      uint64_t b = 0;
      for (int k = 0; k < 8; k++)
        b = (b << 8) | u->p[k];
      u->p += 8;
      v = pv_new(u, PV_FLOAT);
      if (v)
        memcpy(&v->f, &b, 8);
      if (push(u, v))
        return u->err->code;
      break;
    }
    case 'X': case 0x8c: case 0x8d: case 'T': case 'U': case 'B': case 'C': { /* strings/bytes */
      int w = (op == 0x8c || op == 'U' || op == 'C') ? 1 : op == 0x8d ? 8 : 4;
      if (need(u, (size_t)w))
        return u->err->code;
      uint64_t n = rd_le(u->p, w);
      u->p += w;
      if (n > (uint64_t)(u->end - u->p))
        return vox__pickle_fail(u, VOX_ERR_FORMAT, "string runs past the end of the pickle");
      v = make_str(u, u->p, (size_t)n);
      u->p += n;
      if (push(u, v))
        return u->err->code;
      break;
    }
    case 'q': case 'r': case 0x94: { /* BINPUT, LONG_BINPUT, MEMOIZE */
      uint64_t idx;
      if (op == 0x94) {
        idx = u->cap_memo; /* next free slot: MEMOIZE numbers sequentially */
        for (size_t k = 0; k < u->cap_memo; k++)
          if (!u->memo[k]) {
            idx = k;
            break;
          }
      } else {
        int w = op == 'q' ? 1 : 4;
        if (need(u, (size_t)w))
          return u->err->code;
        idx = rd_le(u->p, w);
        u->p += w;
      }
      pv *t = top(u);
      if (!t || memo_put(u, idx, t))
        return u->err->code;
      break;
    }
    case 'h': case 'j': { /* BINGET, LONG_BINGET */
      int w = op == 'h' ? 1 : 4;
      if (need(u, (size_t)w))
        return u->err->code;
      uint64_t idx = rd_le(u->p, w);
      u->p += w;
      v = memo_get(u, idx);
      if (!v || push(u, v))
        return u->err->code;
      break;
    }
    case 'c': { /* GLOBAL "module\nname\n" */
      const unsigned char *nl1 = memchr(u->p, '\n', (size_t)(u->end - u->p));
      const unsigned char *nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(u->end - nl1 - 1)) : NULL;
      if (!nl2 || nl1 - u->p > 200 || nl2 - nl1 > 200)
        return vox__pickle_fail(u, VOX_ERR_FORMAT, "malformed GLOBAL");
      char module[256], name[256];
      memcpy(module, u->p, (size_t)(nl1 - u->p));
      module[nl1 - u->p] = '\0';
      memcpy(name, nl1 + 1, (size_t)(nl2 - nl1 - 1));
      name[nl2 - nl1 - 1] = '\0';
      u->p = nl2 + 1;
      v = make_global(u, module, name);
      if (!v || push(u, v))
        return u->err->code;
      break;
    }
    case 0x93: { /* STACK_GLOBAL */
      pv *name = pop(u), *module = pop(u);
      if (!name || !module)
        return u->err->code;
      if (name->kind != PV_STR || module->kind != PV_STR)
        return vox__pickle_fail(u, VOX_ERR_FORMAT, "STACK_GLOBAL of non-strings");
      v = make_global(u, module->s, name->s);
      if (!v || push(u, v))
        return u->err->code;
      break;
    }
    case 't': case 'l': case 0x85: case 0x86: case 0x87: { /* TUPLE, LIST, TUPLE1..3 */
      size_t n;
      if (op == 't' || op == 'l') {
        if (pop_mark(u, &at))
          return u->err->code;
        n = u->sp - at;
      } else {
        n = op - 0x84;
        if (u->sp < n)
          return vox__pickle_fail(u, VOX_ERR_FORMAT, "stack underflow");
        at = u->sp - n;
        for (size_t k = at; k < u->sp; k++)
          if (u->stack[k]->kind == PV_MARK)
            return vox__pickle_fail(u, VOX_ERR_FORMAT, "stack underflow");
      }
      v = pv_new(u, op == 'l' ? PV_LIST : PV_TUPLE);
      if (!v)
        return u->err->code;
      for (size_t k = at; k < at + n; k++)
        if (pv_append(u, v, u->stack[k]))
          return u->err->code;
      u->sp = at;
      if (push(u, v))
        return u->err->code;
      break;
    }
    case 'a': { /* APPEND */
      pv *item = pop(u), *list = top(u);
      if (!item || !list)
        return u->err->code;
      if (list->kind != PV_LIST)
        return vox__pickle_fail(u, VOX_ERR_FORMAT, "APPEND to a non-list");
      if (pv_append(u, list, item))
        return u->err->code;
      break;
    }
    case 'e': case 'u': { /* APPENDS, SETITEMS */
      if (pop_mark(u, &at))
        return u->err->code;
      if (at == 0)
        return vox__pickle_fail(u, VOX_ERR_FORMAT, "stack underflow");
      pv *c = u->stack[at - 1];
      if (c->kind != (op == 'e' ? PV_LIST : PV_DICT) || (op == 'u' && (u->sp - at) % 2))
        return vox__pickle_fail(u, VOX_ERR_FORMAT, op == 'e' ? "APPENDS to a non-list" : "SETITEMS on a non-dict");
      for (size_t k = at; k < u->sp; k++)
        if (pv_append(u, c, u->stack[k]))
          return u->err->code;
      u->sp = at;
      break;
    }
    case 's': { /* SETITEM */
      pv *val = pop(u), *key = pop(u), *d = top(u);
      if (!val || !key || !d)
        return u->err->code;
      if (d->kind != PV_DICT)
        return vox__pickle_fail(u, VOX_ERR_FORMAT, "SETITEM on a non-dict");
      if (pv_append(u, d, key) || pv_append(u, d, val))
        return u->err->code;
      break;
    }
    case 'Q': { /* BINPERSID */
      pv *pid = pop(u);
      if (!pid)
        return u->err->code;
      v = load_storage(u, pid);
      if (!v || push(u, v))
        return u->err ? u->err->code : VOX_ERR_FORMAT;
      break;
    }
    case 'R': { /* REDUCE */
      vox_status st = reduce(u);
      if (st != VOX_OK)
        return st;
      break;
    }
    case 'b': { /* BUILD: only the _metadata state of an OrderedDict, which we ignore */
      pv *state = pop(u), *obj = top(u);
      if (!state || !obj)
        return u->err->code;
      if (obj->kind != PV_DICT)
        return vox__pickle_fail(u, VOX_ERR_UNSAFE, "BUILD on an object that is not a dict");
      break;
    }
    case '0': /* POP */
      if (u->sp && u->stack[u->sp - 1]->kind == PV_MARK)
        u->sp--;
      else if (!pop(u))
        return u->err->code;
      break;
    default: {
      char what[96];
      snprintf(what, sizeof what, "pickle opcode 0x%02x is not one a state dict uses; refusing", op);
      return vox__pickle_fail(u, op == 0x81 || op == 0x92 || op == 'i' || op == 'o' ? VOX_ERR_UNSAFE : VOX_ERR_UNSUPPORTED,
                  what);
    }
    }
  }
}
