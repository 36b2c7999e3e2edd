/* model.c - plugin discovery (dlopen), selection by checkpoint, and model/stream handles. */
#include "voxpipe/vox_model.h"

#include <cblas.h>
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

#ifndef VOX_MODEL_DIR
#define VOX_MODEL_DIR "/usr/local/lib/voxpipe/models"
#endif

/* OpenBLAS's own threads busy-wait between calls; with our small per-piece GEMMs and any other
 * load on the machine they stall for whole scheduler slices (seen: 35 s wall for 2 s of CPU).
 * voxpipe parallelises itself (vox_pool), so OpenBLAS runs single-threaded: set once per process,
 * the documented exception to "no global state", since OpenBLAS offers only a global setting. */
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_single_thread(void) { openblas_set_num_threads(1); }
void vox__blas_init(void) { pthread_once(&blas_once, blas_single_thread); }

struct vox_model {
  void *dl;
  const vox_model_plugin *plugin;
  void *impl;
  vox_checkpoint *ck;
  char *plugin_path;
};

struct vox_model_stream {
  const vox_model *model;
  void *impl;
};

vox_model_params vox_model_default_params(void) {
  vox_model_params p = {1, NULL, NULL};
  return p;
}

/* Calls fn for every directory to search, in order. */
static void for_each_dir(const vox_model_params *p, void (*fn)(const char *dir, void *user), void *user) {
  const char *env = getenv("VOXPIPE_MODEL_PATH");
  if (env && *env) {
    char *copy = strdup(env);
    if (copy) {
      char *save = NULL;
      for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save))
        fn(d, user);
      free(copy);
    }
  }
  if (p && p->plugin_dir)
    fn(p->plugin_dir, user);
  fn(VOX_MODEL_DIR, user);
}

typedef struct candidate_search {
  const vox_checkpoint *ck; /* NULL: listing only */
  void (*list_fn)(const char *, const char *, const char *, void *);
  void *list_user;
  int count;
  /* best so far */
  void *dl;
  const vox_model_plugin *plugin;
  char *path;
  int score;
  char abi_note[512];
  char searched[1024];
} candidate_search;

static int is_plugin_file(const char *name) {
  size_t n = strlen(name);
  return n > 3 && !strcmp(name + n - 3, ".so");
}

/* The plugin's entry point, if the library has one that is a function: a stray .so that happens to
 * define the name as data (or a stale build) would otherwise be called, and crash the process. */
static vox_model_plugin_entry_fn plugin_entry(void *dl) {
  void *sym = dlsym(dl, VOX_MODEL_PLUGIN_ENTRY);
  Dl_info info;
  const ElfW(Sym) *es = NULL;
  if (!sym || !dladdr1(sym, &info, (void **)&es, RTLD_DL_SYMENT) || !es ||
      (ELF64_ST_TYPE(es->st_info) != STT_FUNC && ELF64_ST_TYPE(es->st_info) != STT_GNU_IFUNC))
    return NULL;
  return (vox_model_plugin_entry_fn)(uintptr_t)sym;
}

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void visit_dir(const char *dir, void *user) {
  candidate_search *cs = user;
  size_t sl = strlen(cs->searched);
  if (sl + strlen(dir) + 3 < sizeof cs->searched)
    snprintf(cs->searched + sl, sizeof cs->searched - sl, "%s%s", sl ? ", " : "", dir);
  DIR *d = opendir(dir);
  if (!d)
    return;
  /* sorted order, so the same plugin wins on every machine (all names: a cap would keep whichever
   * the directory listed first) */
  char **names = NULL;
  int n = 0, cap = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (!is_plugin_file(e->d_name))
      continue;
    if (n == cap) {
      char **grown = cap < 4096 ? realloc(names, sizeof *names * (size_t)(cap ? 2 * cap : 16)) : NULL;
      if (!grown)
        break;
      names = grown;
      cap = cap ? 2 * cap : 16;
    }
    if ((names[n] = strdup(e->d_name)))
      n++;
  }
  closedir(d);
  if (n > 1)
    qsort(names, (size_t)n, sizeof *names, compare_names);
  for (int i = 0; i < n; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    free(names[i]);
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl)
      continue;
    vox_model_plugin_entry_fn entry = plugin_entry(dl);
    const vox_model_plugin *pl = entry ? entry() : NULL;
    if (!pl) {
      dlclose(dl);
      continue;
    }
    if (pl->abi_version != VOX_MODEL_PLUGIN_ABI_VERSION) {
      snprintf(cs->abi_note, sizeof cs->abi_note,
               "; plugin %s was built for model plugin ABI %u, this libvoxpipe has ABI %u: rebuild it", path,
               pl->abi_version, VOX_MODEL_PLUGIN_ABI_VERSION);
      dlclose(dl);
      continue;
    }
    cs->count++;
    if (cs->list_fn)
      cs->list_fn(pl->name, pl->description, path, cs->list_user);
    int score = cs->ck ? pl->accepts(cs->ck) : 0;
    if (score > cs->score) {
      char *p = strdup(path);
      if (p) {
        if (cs->dl)
          dlclose(cs->dl);
        free(cs->path);
        cs->dl = dl;
        cs->plugin = pl;
        cs->path = p;
        cs->score = score;
        continue;
      }
    }
    dlclose(dl);
  }
  free(names);
}

int vox_model_list_plugins(const vox_model_params *params,
                           void (*fn)(const char *, const char *, const char *, void *), void *user) {
  candidate_search cs;
  memset(&cs, 0, sizeof cs);
  cs.list_fn = fn;
  cs.list_user = user;
  for_each_dir(params, visit_dir, &cs);
  return cs.count;
}

void vox_model_free(vox_model *m) {
  if (!m)
    return;
  if (m->plugin && m->impl)
    m->plugin->destroy(m->impl);
  vox_checkpoint_free(m->ck);
  if (m->dl)
    dlclose(m->dl);
  free(m->plugin_path);
  free(m);
}

vox_status vox_model_load(const char *path, const vox_model_params *params, vox_model **out, vox_error *err) {
  *out = NULL;
  vox_model_params p = params ? *params : vox_model_default_params();
  if (p.threads < 1 || p.threads > 256)
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT, "threads must be 1 to 256, not %d", p.threads);
  vox__blas_init(); /* before any plugin's first GEMM (FRCRN calls OpenBLAS itself) */
  vox_model *m = calloc(1, sizeof *m);
  if (!m)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  vox_checkpoint_params cp = vox_checkpoint_default_params();
  cp.state_dict_key = p.state_dict_key;
  /* a ModelScope model directory: its weights file (configuration.json beside it is the plugin's) */
  char dir_bin[4096];
  struct stat sb;
  if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    snprintf(dir_bin, sizeof dir_bin, "%s/pytorch_model.bin", path);
    path = dir_bin;
  }
  vox_status st = vox_checkpoint_open(path, &cp, &m->ck, err);
  if (st != VOX_OK) {
    vox_model_free(m);
    return st;
  }
  candidate_search cs;
  memset(&cs, 0, sizeof cs);
  cs.ck = m->ck;
  for_each_dir(&p, visit_dir, &cs);
  if (!cs.plugin) {
    const vox_config_node *cfg = vox_checkpoint_config(m->ck);
    const char *target = vox_config_string(cfg, "target", vox_config_string(cfg, "_target_", "(none)"));
    const char *enc = vox_config_string(cfg, "encoder._target_", "(none)");
    st = vox_error_set(err, cs.count ? VOX_ERR_UNSUPPORTED : VOX_ERR_NOT_FOUND,
                       "%s: no model plugin accepts this model (target %s, encoder %s); %d plugin(s) found in %s%s",
                       path, target, enc, cs.count, cs.searched, cs.abi_note);
    vox_model_free(m);
    return st;
  }
  m->dl = cs.dl;
  m->plugin = cs.plugin;
  m->plugin_path = cs.path;
  vox_model_create_params cpar = {p.threads};
  st = m->plugin->create(m->ck, &cpar, &m->impl, err);
  if (st != VOX_OK) {
    m->impl = NULL;
    if (err && strncmp(err->message, path, strlen(path)))
      vox_error_prefix(err, "%s: ", path);
    vox_model_free(m);
    return st;
  }
  /* plugins copy (and fold) what they use; the feature tables stay borrowed from the checkpoint */
  vox__checkpoint_release_weights(m->ck, "preprocessor.");
  *out = m;
  return VOX_OK;
}

const vox_model_info *vox_model_get_info(const vox_model *m) { return m->plugin->info(m->impl); }
const char *vox_model_plugin_name(const vox_model *m) { return m->plugin->name; }
const char *vox_model_plugin_path(const vox_model *m) { return m->plugin_path; }
const vox_checkpoint *vox_model_checkpoint(const vox_model *m) { return m->ck; }

vox_status vox_model_stream_new(const vox_model *m, vox_model_stream **out, vox_error *err) {
  *out = NULL;
  vox_model_stream *s = calloc(1, sizeof *s);
  if (!s)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  s->model = m;
  vox_status st = m->plugin->stream_new(m->impl, &s->impl, err);
  if (st != VOX_OK) {
    free(s);
    return st;
  }
  *out = s;
  return VOX_OK;
}

void vox_model_stream_free(vox_model_stream *s) {
  if (!s)
    return;
  s->model->plugin->stream_free(s->impl);
  free(s);
}

void vox_model_stream_reset(vox_model_stream *s) { s->model->plugin->stream_reset(s->impl); }

size_t vox_model_stream_max_output(const vox_model_stream *s, size_t n_in) {
  return s->model->plugin->stream_max_output(s->impl, n_in);
}

vox_status vox_model_stream_process(vox_model_stream *s, const float *in, size_t in_stride, size_t n_in, int final,
                                    float *out, size_t out_stride, size_t out_cap, size_t *n_out, vox_error *err) {
  return s->model->plugin->stream_process(s->impl, in, in_stride, n_in, final, out, out_stride, out_cap, n_out, err);
}

int vox_softmax(float *x, int n) {
  int best = 0;
  for (int c = 1; c < n; c++)
    best = x[c] > x[best] ? c : best;
  double mx = x[best], sum = 0;
  for (int c = 0; c < n; c++)
    sum += exp((double)x[c] - mx);
  for (int c = 0; c < n; c++)
    x[c] = (float)(exp((double)x[c] - mx) / sum);
  return best;
}
