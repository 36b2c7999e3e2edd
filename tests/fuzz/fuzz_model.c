/* libFuzzer target: model plugins given a hostile configuration with well-formed weights. An input is
 * one byte choosing the weights and the configuration text that goes with them; the model is built by
 * its plugin (quartznet, marblenet, frcrn, built with the same sanitizers and loaded from
 * VOX_FUZZ_PLUGINS) and, where it loads, runs a short input. The weights are written by make_seeds.py
 * into VOX_FUZZ_WEIGHTS: N.ckpt (a .nemo's model_weights.ckpt) or N.bin (a ModelScope
 * pytorch_model.bin, whose configuration.json is the fuzzed text). */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "voxpipe/vox_model.h"

#define N_WEIGHTS 5
#define MAX_OUTPUT_FLOATS (16u << 20)

static struct {
  unsigned char *data;
  size_t size;
  int modelscope;
} weights[N_WEIGHTS];

static unsigned char *slurp(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  unsigned char *b = n > 0 ? malloc((size_t)n) : NULL;
  if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  fclose(f);
  *size = b ? (size_t)n : 0;
  return b;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *dir = getenv("VOX_FUZZ_WEIGHTS");
  for (int i = 0; dir && i < N_WEIGHTS; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%d.ckpt", dir, i);
    weights[i].data = slurp(path, &weights[i].size);
    if (!weights[i].data) {
      snprintf(path, sizeof path, "%s/%d.bin", dir, i);
      weights[i].data = slurp(path, &weights[i].size);
      weights[i].modelscope = 1;
    }
  }
  const char *plugins = getenv("VOX_FUZZ_PLUGINS");
  if (!dir || !plugins) {
    fprintf(stderr, "fuzz_model: VOX_FUZZ_WEIGHTS and VOX_FUZZ_PLUGINS must name make_seeds.py's weights and "
                    "the sanitized plugins (run_fuzz.sh sets both)\n");
    exit(1);
  }
  /* loaded for good: each load would register the plugin's coverage counters once more */
  DIR *d = opendir(plugins);
  for (struct dirent *e; d && (e = readdir(d));) {
    char path[4096];
    size_t n = strlen(e->d_name);
    snprintf(path, sizeof path, "%s/%s", plugins, e->d_name);
    if (n > 3 && !strcmp(e->d_name + n - 3, ".so") && !dlopen(path, RTLD_NOW | RTLD_NODELETE))
      fprintf(stderr, "fuzz_model: %s\n", dlerror());
  }
  if (d)
    closedir(d);
  return 0;
}

static int write_file(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f)
    return 0;
  int ok = fwrite(data, 1, size, f) == size;
  return fclose(f) == 0 && ok;
}

static void add_member(struct archive *a, const char *name, const void *data, size_t size) {
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_pathname(e, name);
  archive_entry_set_size(e, (la_int64_t)size);
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_write_header(a, e);
  archive_write_data(a, data, size);
  archive_entry_free(e);
}

static int write_nemo(const char *path, const uint8_t *cfg, size_t cfg_size, int w) {
  struct archive *a = archive_write_new();
  archive_write_set_format_ustar(a);
  int ok = archive_write_open_filename(a, path) == ARCHIVE_OK;
  if (ok) {
    add_member(a, "./model_config.yaml", cfg, cfg_size);
    add_member(a, "./model_weights.ckpt", weights[w].data, weights[w].size);
  }
  ok = archive_write_close(a) == ARCHIVE_OK && ok;
  archive_write_free(a);
  return ok;
}

/* A stream of the model takes a short input in two calls (features or samples, a deterministic
 * pattern) and its final flush, as the programs do. */
static void run(const vox_model *m) {
  const vox_model_info *in = vox_model_get_info(m);
  size_t width = in->input == VOX_INPUT_FEATURES ? (size_t)(in->input_channels > 0 ? in->input_channels : 0) : 1;
  size_t n_in = in->input == VOX_INPUT_FEATURES ? 53 : 2345;
  vox_model_stream *s;
  vox_error err;
  if (!width || width > 4096 || vox_model_stream_new(m, &s, &err) != VOX_OK)
    return;
  size_t cap = vox_model_stream_max_output(s, n_in);
  size_t oc = in->output_channels > 0 ? (size_t)in->output_channels : 1;
  float *x = malloc(n_in * width * sizeof *x);
  float *y = cap && cap <= MAX_OUTPUT_FLOATS / oc ? malloc(cap * oc * sizeof *y) : NULL;
  if (x && y) {
    for (size_t i = 0; i < n_in * width; i++)
      x[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
    /* channel-major: input [width][n_in], output [oc][cap] */
    size_t half = n_in / 2, got = 0, more = 0;
    if (vox_model_stream_process(s, x, n_in, half, 0, y, cap, cap, &got, &err) == VOX_OK && got <= cap)
      (void)vox_model_stream_process(s, x + half, n_in, n_in - half, 1, y + got, cap, cap - got, &more, &err);
  }
  free(x);
  free(y);
  vox_model_stream_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || !weights[data[0] % N_WEIGHTS].data)
    return 0;
  int w = data[0] % N_WEIGHTS;
  char dir[64], path[128];
  snprintf(dir, sizeof dir, "/tmp/voxfuzz-model-%d", (int)getpid());
  mkdir(dir, 0700);
  int ok;
  if (weights[w].modelscope) {
    snprintf(path, sizeof path, "%s/pytorch_model.bin", dir);
    ok = write_file(path, weights[w].data, weights[w].size);
    snprintf(path, sizeof path, "%s/configuration.json", dir);
    ok = ok && write_file(path, data + 1, size - 1);
    snprintf(path, sizeof path, "%s", dir);
  } else {
    snprintf(path, sizeof path, "%s/m.nemo", dir);
    ok = write_nemo(path, data + 1, size - 1, w);
  }
  vox_model_params p = vox_model_default_params();
  p.plugin_dir = getenv("VOX_FUZZ_PLUGINS");
  vox_model *m;
  vox_error err;
  if (ok && vox_model_load(path, &p, &m, &err) == VOX_OK) {
    run(m);
    vox_model_free(m);
  }
  snprintf(path, sizeof path, "%s/pytorch_model.bin", dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/configuration.json", dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/m.nemo", dir);
  unlink(path);
  rmdir(dir);
  return 0;
}
