/* cmd_info.c - `voxpipe info MODEL` and `voxpipe plugins`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *task_name(vox_model_task t) {
  switch (t) {
  case VOX_TASK_CTC_ASR: return "speech recognition (CTC)";
  case VOX_TASK_CLASSIFICATION: return "classification";
  case VOX_TASK_FRAME_CLASSIFICATION: return "frame classification";
  case VOX_TASK_ENHANCEMENT: return "speech enhancement";
  }
  return "unknown";
}

static int has_suffix(const char *s, const char *suf) {
  size_t n = strlen(s), k = strlen(suf);
  return n >= k && !strcmp(s + n - k, suf);
}

/* `voxpipe info` on a word LM: format, order, n-gram counts, memory. */
static int lm_info(const char *path) {
  vox_error err = {0};
  vox_lm *lm;
  if (vox_lm_load(path, &lm, &err) != VOX_OK) {
    cli_error("info", &err);
    return 1;
  }
  const vox_lm_info *in = vox_lm_get_info(lm);
  printf("language model: %s, %d-gram, %s vocabulary\n", in->format, in->order, in->has_unk ? "open (<unk>)" : "closed");
  for (int i = 0; i < in->order; i++)
    printf("%d-grams:       %zu\n", i + 1, in->counts[i]);
  printf("memory:        %.1f MB\n", in->memory_bytes / 1048576.0);
  vox_lm_free(lm);
  return 0;
}

static void print_shape(const vox_tensor *t) {
  printf("[");
  for (int d = 0; d < t->ndim; d++)
    printf(d ? ", %lld" : "%lld", (long long)t->shape[d]);
  printf("]");
}

int cmd_info(int argc, char **argv) {
  int tensors = 1, threads = 1;
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("usage: voxpipe info [--no-tensors] MODEL|LM\n"
             "Prints the architecture, sample rate, feature settings, labels, parameter count and the\n"
             "tensor list of a .nemo archive or PyTorch checkpoint; for a word LM (.arpa, .lm.bin, .DMP, .lm)\n"
             "its order, n-gram counts and memory.\n");
      return 0;
    } else if (!strcmp(argv[i], "--no-tensors"))
      tensors = 0;
    else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "voxpipe info: unknown option '%s'. Try 'voxpipe info --help'.\n", argv[i]);
      return 2;
    } else
      path = argv[i];
  }
  if (!path) {
    fprintf(stderr, "voxpipe info: no model file given. Try 'voxpipe info --help'.\n");
    return 2;
  }
  if (has_suffix(path, ".arpa") || has_suffix(path, ".lm.bin") || has_suffix(path, ".DMP") || has_suffix(path, ".lm"))
    return lm_info(path);
  vox_error err = {0};
  vox_model_params mp = vox_model_default_params();
  mp.threads = threads;
  vox_model *m = NULL;
  const vox_checkpoint *ck = NULL;
  vox_checkpoint *own = NULL;
  vox_status st = vox_model_load(path, &mp, &m, &err);
  if (st != VOX_OK) {
    /* still describe what the file holds when no plugin runs it */
    vox_error err2 = {0};
    if (vox_checkpoint_open(path, NULL, &own, &err2) != VOX_OK) {
      cli_error("info", &err);
      return 1;
    }
    ck = own;
    printf("file:          %s\n", path);
    printf("plugin:        none (%s)\n", err.message);
  } else {
    ck = vox_model_checkpoint(m);
    const vox_model_info *i = vox_model_get_info(m);
    printf("file:          %s\n", path);
    printf("plugin:        %s (%s)\n", vox_model_plugin_name(m), vox_model_plugin_path(m));
    printf("task:          %s\n", task_name(i->task));
    printf("architecture:  %s\n", i->architecture);
    printf("sample rate:   %d Hz\n", i->sample_rate_hz);
    if (i->input == VOX_INPUT_FEATURES) {
      const vox_feature_config *f = &i->features;
      printf("features:      %d log-mel, window %d samples (%.1f ms), hop %d (%.1f ms), n_fft %d, "
             "pre-emphasis %.2f, normalize %s%s%s\n",
             f->n_mels, f->win_length, 1000.0 * f->win_length / f->sample_rate_hz, f->hop_length,
             1000.0 * f->hop_length / f->sample_rate_hz, f->n_fft, f->preemph,
             f->normalize == VOX_NORMALIZE_PER_FEATURE ? "per_feature" : f->normalize == VOX_NORMALIZE_FIXED ? "fixed statistics" : "none",
             f->window ? ", window from checkpoint" : "", f->filterbank ? ", filterbank from checkpoint" : "");
    }
    if (i->input == VOX_INPUT_WAVEFORM) {
      printf("latency:       %d samples (%.0f ms)%s\n", i->lookahead_frames, 1000.0 * i->lookahead_frames / i->sample_rate_hz,
             i->full_context ? "; pools over the whole input: processed at once, not streamable" : "; streams");
    } else {
      printf("subsampling:   %d (one output frame per %.1f ms)\n", i->subsampling,
             1000.0 * i->features.hop_length * i->subsampling / i->sample_rate_hz);
      printf("look-ahead:    %d frames (%.0f ms)%s\n", i->lookahead_frames,
             1000.0 * i->lookahead_frames * i->features.hop_length / i->sample_rate_hz,
             i->full_context ? "; per-utterance normalization: offline or buffered streaming" : "; cache streaming");
    }
    printf("parameters:    %zu\n", i->n_params);
    printf("labels:        %d", i->n_labels);
    if (i->labels) {
      printf(" [");
      for (int k = 0; k < i->n_labels; k++)
        printf(k ? ", \"%s\"" : "\"%s\"", i->labels[k]);
      printf("]");
    }
    if (i->blank_index >= 0)
      printf(", blank %d", i->blank_index);
    printf("\n");
  }
  const vox_config_node *cfg = vox_checkpoint_config(ck);
  if (cfg)
    printf("target:        %s\n", vox_config_string(cfg, "target", vox_config_string(cfg, "_target_", "(none)")));
  size_t n = vox_checkpoint_tensor_count(ck), total = 0;
  for (size_t k = 0; k < n; k++)
    total += vox_checkpoint_tensor_at(ck, k)->numel;
  printf("tensors:       %zu (%zu values)\n", n, total);
  for (size_t k = 0; tensors && k < n; k++) {
    const vox_tensor *t = vox_checkpoint_tensor_at(ck, k);
    printf("  %-60s %-8s ", t->name, vox_dtype_name(t->dtype));
    print_shape(t);
    printf("\n");
  }
  vox_model_free(m);
  vox_checkpoint_free(own);
  return cli_flush(stdout, "info");
}

static void list_one(const char *name, const char *desc, const char *path, void *user) {
  (void)user;
  printf("%-12s %s\n             %s\n", name, path, desc);
}

int cmd_plugins(int argc, char **argv) {
  (void)argc;
  (void)argv;
  int n = vox_model_list_plugins(NULL, list_one, NULL);
  if (n == 0) {
    fprintf(stderr, "voxpipe plugins: no model plugins found (install voxpipe, or set VOXPIPE_MODEL_PATH)\n");
    return 1;
  }
  return 0;
}
