/* main.c - the voxpipe command: dispatches to subcommands. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct command {
  const char *name, *args, *summary;
  int (*run)(int argc, char **argv);
} commands[] = {
    {"transcribe", "FILE...", "speech to text with a CTC model (default: the bundled English model)", cmd_transcribe},
    {"live", "--input FILE|-", "streaming recognition: partial and final results as audio arrives", cmd_live},
    {"vad", "FILE...", "speech segments (text, JSON, RTTM, TSV) with a MarbleNet-style model", cmd_vad},
    {"commands", "FILE...", "command words heard (MatchboxNet-style model), with times and scores", cmd_commands},
    {"denoise", "IN OUT", "speech enhancement (FRCRN): noisy audio in, the same format out", cmd_denoise},
    {"info", "MODEL", "architecture, features, labels, parameters and tensors of a model file", cmd_info},
    {"plugins", "", "the model plugins found and where", cmd_plugins},
    {"bench", "", "features and model throughput (see also `make bench`)", cmd_bench},
};

static void usage(FILE *f) {
  fprintf(f, "usage: voxpipe COMMAND [OPTIONS] ...\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    int w = (int)strlen(commands[i].name) + 1 + (int)strlen(commands[i].args);
    fprintf(f, "  %s %s%*s%s\n", commands[i].name, commands[i].args, w < 21 ? 21 - w : 1, "", commands[i].summary);
  }
  fprintf(f, "\n'voxpipe COMMAND --help' describes a command's options. voxpipe %s\n", VOXPIPE_VERSION);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
    printf("voxpipe %s\n", VOXPIPE_VERSION);
    return 0;
  }
  const struct command *c = NULL;
  for (size_t i = 0; !c && i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(cmd, commands[i].name))
      c = &commands[i];
  if (!c) {
    fprintf(stderr, "voxpipe: unknown command '%s'. Try 'voxpipe --help'.\n", cmd);
    return 2;
  }
  /* a closed stdout becomes a write error each command reports (and denoise cleans up after), not a
   * silent death */
  signal(SIGPIPE, SIG_IGN);
  int rc = c->run(argc - 1, argv + 1);
  /* a full disk or a closed pipe on stdout must not pass for success */
  if (rc == 0 && cli_flush(stdout, cmd))
    rc = 1;
  return rc;
}
