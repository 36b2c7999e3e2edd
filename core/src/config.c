/* config.c - YAML configuration tree built from libyaml's event stream.
 *
 * Every node is allocated through the document's node list so aliases can share nodes and a
 * single walk frees everything; limits on depth, node count and size keep hostile YAML cheap. */
#include "voxpipe/vox_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct vox_config_node {
  vox_config_kind kind;
  char *text;          /* scalar */
  char **keys;         /* map */
  vox_config_node **items;
  size_t n, cap;
  vox_config_node *next_alloc;
};

typedef struct anchor {
  char *name;
  vox_config_node *node;
} anchor;

struct vox_config {
  vox_config_node *root;
  vox_config_node *all;
  size_t n_nodes;
  anchor *anchors;
  size_t n_anchors, cap_anchors;
};

static void node_free(vox_config_node *n) {
  if (n->keys) {
    for (size_t i = 0; i < n->n; i++)
      free(n->keys[i]);
  }
  free(n->keys);
  free(n->items);
  free(n->text);
  free(n);
}

void vox_config_free(vox_config *c) {
  if (!c)
    return;
  for (vox_config_node *n = c->all; n;) {
    vox_config_node *next = n->next_alloc;
    node_free(n);
    n = next;
  }
  for (size_t i = 0; i < c->n_anchors; i++)
    free(c->anchors[i].name);
  free(c->anchors);
  free(c);
}

static vox_config_node *node_new(vox_config *c, vox_config_kind kind) {
  if (c->n_nodes >= VOX_CONFIG_MAX_NODES)
    return NULL;
  vox_config_node *n = calloc(1, sizeof *n);
  if (!n)
    return NULL;
  n->kind = kind;
  n->next_alloc = c->all;
  c->all = n;
  c->n_nodes++;
  return n;
}

static int node_append(vox_config_node *parent, char *key, vox_config_node *child) {
  if (parent->n == parent->cap) {
    size_t cap = parent->cap ? parent->cap * 2 : 8;
    vox_config_node **items = realloc(parent->items, cap * sizeof *items);
    if (!items)
      return -1;
    parent->items = items;
    if (parent->kind == VOX_CONFIG_MAP) {
      char **keys = realloc(parent->keys, cap * sizeof *keys);
      if (!keys)
        return -1;
      parent->keys = keys;
    }
    parent->cap = cap;
  }
  if (parent->kind == VOX_CONFIG_MAP)
    parent->keys[parent->n] = key;
  parent->items[parent->n++] = child;
  return 0;
}

static int add_anchor(vox_config *c, const char *name, vox_config_node *node) {
  if (!name)
    return 0;
  if (c->n_anchors == c->cap_anchors) {
    size_t cap = c->cap_anchors ? c->cap_anchors * 2 : 8;
    anchor *a = realloc(c->anchors, cap * sizeof *a);
    if (!a)
      return -1;
    c->anchors = a;
    c->cap_anchors = cap;
  }
  char *dup = strdup(name);
  if (!dup)
    return -1;
  c->anchors[c->n_anchors].name = dup;
  c->anchors[c->n_anchors++].node = node;
  return 0;
}

static vox_config_node *find_anchor(vox_config *c, const char *name) {
  for (size_t i = c->n_anchors; i-- > 0;)
    if (strcmp(c->anchors[i].name, name) == 0)
      return c->anchors[i].node;
  return NULL;
}

/* Parser stack frame: a collection being filled, and for maps the key awaiting its value. */
typedef struct frame {
  vox_config_node *node;
  char *pending_key;
} frame;

static vox_status attach(vox_config *c, frame *stack, int depth, vox_config_node *node,
                         const char *name, vox_error *err) {
  if (depth == 0) {
    if (c->root)
      return vox_error_set(err, VOX_ERR_FORMAT, "%s: more than one YAML document", name);
    c->root = node;
    return VOX_OK;
  }
  frame *f = &stack[depth - 1];
  if (f->node->kind == VOX_CONFIG_SEQUENCE)
    return node_append(f->node, NULL, node) ? vox_error_set(err, VOX_ERR_NO_MEMORY, "%s: out of memory", name) : VOX_OK;
  if (!f->pending_key) {
    /* this node is a key: only scalar keys are meaningful for us */
    if (node->kind != VOX_CONFIG_SCALAR)
      return vox_error_set(err, VOX_ERR_UNSUPPORTED, "%s: map keys must be scalars", name);
    f->pending_key = strdup(node->text);
    return f->pending_key ? VOX_OK : vox_error_set(err, VOX_ERR_NO_MEMORY, "%s: out of memory", name);
  }
  if (node_append(f->node, f->pending_key, node)) {
    free(f->pending_key);
    f->pending_key = NULL;
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "%s: out of memory", name);
  }
  f->pending_key = NULL;
  return VOX_OK;
}

vox_status vox_config_parse(const char *text, size_t size, const char *name, vox_config **out,
                            vox_error *err) {
  *out = NULL;
  if (!name)
    name = "config";
  if (size > VOX_CONFIG_MAX_BYTES)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "%s: YAML of %zu bytes is larger than the %u byte limit",
                         name, size, VOX_CONFIG_MAX_BYTES);
  vox_config *c = calloc(1, sizeof *c);
  if (!c)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "%s: out of memory", name);
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) {
    free(c);
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "%s: cannot initialise the YAML parser", name);
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, size);
  frame stack[VOX_CONFIG_MAX_DEPTH];
  int depth = 0;
  vox_status st = VOX_OK;
  int done = 0;
  while (!done && st == VOX_OK) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) {
      st = vox_error_set(err, VOX_ERR_FORMAT, "%s: YAML error at line %zu: %s", name,
                         parser.problem_mark.line + 1, parser.problem ? parser.problem : "unknown");
      break;
    }
    vox_config_node *node = NULL;
    const char *anchor_name = NULL;
    switch (ev.type) {
    case YAML_STREAM_END_EVENT:
      done = 1;
      break;
    case YAML_SCALAR_EVENT:
      node = node_new(c, VOX_CONFIG_SCALAR);
      if (node) {
        node->text = malloc(ev.data.scalar.length + 1);
        if (node->text) {
          memcpy(node->text, ev.data.scalar.value, ev.data.scalar.length);
          node->text[ev.data.scalar.length] = '\0';
          if (ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
              (!strcmp(node->text, "~") || !strcmp(node->text, "null")))
            node->text[0] = '\0';
        }
      }
      if (!node || !node->text)
        st = vox_error_set(err, VOX_ERR_NO_MEMORY, "%s: too many YAML nodes or out of memory", name);
      else {
        anchor_name = (const char *)ev.data.scalar.anchor;
        st = attach(c, stack, depth, node, name, err);
      }
      break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
      if (depth >= VOX_CONFIG_MAX_DEPTH) {
        st = vox_error_set(err, VOX_ERR_UNSUPPORTED, "%s: YAML nested deeper than %d levels", name,
                           VOX_CONFIG_MAX_DEPTH);
        break;
      }
      node = node_new(c, ev.type == YAML_MAPPING_START_EVENT ? VOX_CONFIG_MAP : VOX_CONFIG_SEQUENCE);
      if (!node) {
        st = vox_error_set(err, VOX_ERR_NO_MEMORY, "%s: too many YAML nodes or out of memory", name);
        break;
      }
      anchor_name = (const char *)(ev.type == YAML_MAPPING_START_EVENT ? ev.data.mapping_start.anchor
                                                                       : ev.data.sequence_start.anchor);
      st = attach(c, stack, depth, node, name, err);
      if (st == VOX_OK) {
        stack[depth].node = node;
        stack[depth].pending_key = NULL;
        depth++;
      }
      break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
      if (depth > 0) {
        depth--;
        free(stack[depth].pending_key);
        stack[depth].pending_key = NULL;
      }
      break;
    case YAML_ALIAS_EVENT:
      node = find_anchor(c, (const char *)ev.data.alias.anchor);
      if (!node)
        st = vox_error_set(err, VOX_ERR_FORMAT, "%s: YAML alias *%s names no anchor", name,
                           (const char *)ev.data.alias.anchor);
      else
        st = attach(c, stack, depth, node, name, err);
      node = NULL; /* aliases share the anchored node: no new anchor */
      break;
    default:
      break;
    }
    if (st == VOX_OK && node && anchor_name && add_anchor(c, anchor_name, node))
      st = vox_error_set(err, VOX_ERR_NO_MEMORY, "%s: out of memory", name);
    yaml_event_delete(&ev);
  }
  while (depth > 0) {
    depth--;
    free(stack[depth].pending_key);
  }
  yaml_parser_delete(&parser);
  if (st != VOX_OK) {
    vox_config_free(c);
    return st;
  }
  *out = c;
  return VOX_OK;
}

const vox_config_node *vox_config_root(const vox_config *c) { return c ? c->root : NULL; }

vox_config_kind vox_config_node_kind(const vox_config_node *n) { return n->kind; }

size_t vox_config_size(const vox_config_node *n) {
  return n && n->kind != VOX_CONFIG_SCALAR ? n->n : 0;
}

const vox_config_node *vox_config_at(const vox_config_node *n, size_t i) {
  return n && n->kind != VOX_CONFIG_SCALAR && i < n->n ? n->items[i] : NULL;
}

const char *vox_config_key_at(const vox_config_node *n, size_t i) {
  return n && n->kind == VOX_CONFIG_MAP && i < n->n ? n->keys[i] : NULL;
}

const char *vox_config_scalar(const vox_config_node *n) {
  return n && n->kind == VOX_CONFIG_SCALAR ? n->text : NULL;
}

const vox_config_node *vox_config_get(const vox_config_node *n, const char *path) {
  if (!n || !path)
    return NULL;
  while (*path) {
    const char *dot = strchr(path, '.');
    size_t len = dot ? (size_t)(dot - path) : strlen(path);
    const vox_config_node *next = NULL;
    if (n->kind == VOX_CONFIG_MAP) {
      for (size_t i = 0; i < n->n; i++)
        if (strlen(n->keys[i]) == len && !memcmp(n->keys[i], path, len)) {
          next = n->items[i];
          break;
        }
    } else if (n->kind == VOX_CONFIG_SEQUENCE) {
      char *end;
      errno = 0;
      unsigned long idx = strtoul(path, &end, 10);
      if (end == path + len && !errno && idx < n->n)
        next = n->items[idx];
    }
    if (!next)
      return NULL;
    n = next;
    path += len;
    if (*path == '.')
      path++;
  }
  return n;
}

/* A one-element sequence reads as its element (NeMo writes kernel: [33]). */
static const vox_config_node *unwrap(const vox_config_node *n) {
  if (n && n->kind == VOX_CONFIG_SEQUENCE && n->n == 1)
    return n->items[0];
  return n;
}

/* The typed getters' errors: a key that is absent with no default, and a value not of the type. */
static vox_status missing_key(const char *path, vox_error *err) {
  return vox_error_set(err, VOX_ERR_NOT_FOUND, "config key '%s' is missing", path);
}

static vox_status bad_value(const char *path, const char *s, const char *expected, vox_error *err) {
  return vox_error_set(err, VOX_ERR_FORMAT, "config key '%s' is '%s', expected %s", path, s ? s : "(a collection)",
                       expected);
}

vox_status vox_config_int(const vox_config_node *node, const char *path, const long *def, long *out,
                          vox_error *err) {
  const vox_config_node *n = unwrap(vox_config_get(node, path));
  if (!n) {
    if (def)
      *out = *def;
    return def ? VOX_OK : missing_key(path, err);
  }
  const char *s = vox_config_scalar(n);
  char *end;
  errno = 0;
  long v = s ? strtol(s, &end, 0) : 0;
  if (!s || !*s || *end || errno)
    return bad_value(path, s, "an integer", err);
  *out = v;
  return VOX_OK;
}

vox_status vox_config_double(const vox_config_node *node, const char *path, const double *def,
                             double *out, vox_error *err) {
  const vox_config_node *n = unwrap(vox_config_get(node, path));
  if (!n) {
    if (def)
      *out = *def;
    return def ? VOX_OK : missing_key(path, err);
  }
  const char *s = vox_config_scalar(n);
  char *end;
  errno = 0;
  double v = s ? strtod(s, &end) : 0;
  if (!s || !*s || *end || errno)
    return bad_value(path, s, "a number", err);
  *out = v;
  return VOX_OK;
}

vox_status vox_config_bool(const vox_config_node *node, const char *path, const int *def, int *out,
                           vox_error *err) {
  const vox_config_node *n = vox_config_get(node, path);
  if (!n) {
    if (def)
      *out = *def;
    return def ? VOX_OK : missing_key(path, err);
  }
  const char *s = vox_config_scalar(n);
  static const char *yes[] = {"true", "True", "TRUE", "yes", "on", "1"};
  static const char *no[] = {"false", "False", "FALSE", "no", "off", "0"};
  for (size_t i = 0; s && i < sizeof yes / sizeof *yes; i++) {
    if (!strcmp(s, yes[i])) {
      *out = 1;
      return VOX_OK;
    }
    if (!strcmp(s, no[i])) {
      *out = 0;
      return VOX_OK;
    }
  }
  return bad_value(path, s, "true or false", err);
}

const char *vox_config_string(const vox_config_node *node, const char *path, const char *def) {
  const char *s = vox_config_scalar(vox_config_get(node, path));
  return s ? s : def;
}
