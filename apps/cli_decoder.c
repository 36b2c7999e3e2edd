/* cli_decoder.c - the decoding options transcribe and live share: greedy, or beam search with an
 * n-gram LM and hot words. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char *const CLI_DECODER_HELP =
    "Decoding (greedy unless one of these is given):\n"
    "      --beam N          CTC prefix beam search keeping N prefixes (16 with --lm/--hotword)\n"
    "      --lm FILE         word n-gram LM: ARPA, or a CMU Sphinx .lm.bin (pocketsphinx-en-us's\n"
    "                        /usr/share/pocketsphinx/model/en-us/en-us.lm.bin); 'default' = the bundled\n"
    "                        LM made from the training corpus' text\n"
    "      --alpha A         LM weight (default 0.5)\n"
    "      --beta B          bonus per word, natural log (default 2.0)\n"
    "      --unk-penalty U   score of a word the LM lacks, natural log (default -10)\n"
    "      --prune P         skip letters more than P (natural log) below a frame's best (default 10)\n"
    "      --hotword W:B     favour the word W by boost B (natural log; default 5); repeatable\n"
    "      --nbest K         JSON output lists the K best hypotheses with their scores\n";

void cli_decoder_init(cli_decoder *d) {
  memset(d, 0, sizeof *d);
  d->bp = vox_beam_default_params();
  d->nbest = 1;
}

static int parse_float(const char *cmd, const char *opt, const char *s, float *out) {
  double v = cli_atof(s);
  if (isnan(v)) {
    fprintf(stderr, "voxpipe %s: %s takes a number, not '%s'\n", cmd, opt, s);
    return -1;
  }
  *out = (float)v;
  return 0;
}

int cli_decoder_option(cli_decoder *d, const char *cmd, int argc, char **argv, int *i) {
  const char *a = argv[*i];
  if (strcmp(a, "--beam") && strcmp(a, "--lm") && strcmp(a, "--alpha") && strcmp(a, "--beta") &&
      strcmp(a, "--unk-penalty") && strcmp(a, "--prune") && strcmp(a, "--hotword") && strcmp(a, "--nbest"))
    return 0;
  if (*i + 1 >= argc) {
    fprintf(stderr, "voxpipe %s: %s needs a value\n", cmd, a);
    return -1;
  }
  const char *v = argv[++*i];
  d->wanted = 1;
  if (!strcmp(a, "--lm")) {
    d->lm_path = v;
    return 1;
  }
  if (!strcmp(a, "--beam") || !strcmp(a, "--nbest")) {
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || *end || n < 1 || n > 4096) {
      fprintf(stderr, "voxpipe %s: %s takes a count from 1 to 4096, not '%s'\n", cmd, a, v);
      return -1;
    }
    if (!strcmp(a, "--beam"))
      d->bp.beam_size = (int)n;
    else
      d->nbest = (int)n;
    return 1;
  }
  if (!strcmp(a, "--hotword")) {
    if (d->n_hot == CLI_MAX_HOTWORDS) {
      fprintf(stderr, "voxpipe %s: at most %d hot words\n", cmd, CLI_MAX_HOTWORDS);
      return -1;
    }
    char *w = strdup(v);
    if (!w)
      return -1;
    float boost = 5.0f;
    char *colon = strrchr(w, ':');
    if (colon) {
      *colon = '\0';
      if (parse_float(cmd, "--hotword W:B", colon + 1, &boost)) {
        free(w);
        return -1;
      }
    }
    for (char *p = w; *p; p++)
      *p = (char)tolower((unsigned char)*p);
    if (!*w || strchr(w, ' ')) {
      fprintf(stderr, "voxpipe %s: --hotword takes one word, not '%s'\n", cmd, v);
      free(w);
      return -1;
    }
    d->hot[d->n_hot].word = w;
    d->hot[d->n_hot++].boost = boost;
    return 1;
  }
  float *dst = !strcmp(a, "--alpha") ? &d->bp.alpha : !strcmp(a, "--beta") ? &d->bp.beta
               : !strcmp(a, "--unk-penalty") ? &d->bp.unk_penalty : &d->bp.prune_logp;
  if (parse_float(cmd, a, v, dst))
    return -1;
  if (!strcmp(a, "--prune") && !(*dst > 0)) {
    fprintf(stderr, "voxpipe %s: --prune must be > 0\n", cmd);
    return -1;
  }
  return 1;
}

int cli_decoder_setup(cli_decoder *d, const char *cmd, vox_asr_params *ap) {
  if (!d->wanted)
    return 0;
  if (d->lm_path) {
    vox_error err = {0};
    const char *path = !strcmp(d->lm_path, "default") ? cli_default_model("lm") : d->lm_path;
    if (vox_lm_load(path, &d->lm, &err) != VOX_OK) {
      cli_error(cmd, &err);
      return -1;
    }
    d->bp.lm = d->lm;
  }
  d->bp.hotwords = d->hot;
  d->bp.n_hotwords = d->n_hot;
  ap->beam = &d->bp;
  return 0;
}

void cli_decoder_free(cli_decoder *d) {
  for (size_t i = 0; i < d->n_hot; i++)
    free((char *)d->hot[i].word);
  vox_lm_free(d->lm);
  d->n_hot = 0;
  d->lm = NULL;
}
