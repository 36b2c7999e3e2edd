/* main.c - the voxpipe command: dispatches to subcommands. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: voxpipe COMMAND [OPTIONS] ...\n"
          "\n"
          "commands:\n"
          "  transcribe FILE...   speech to text with a CTC model (default: the bundled English model)\n"
          "  live --input FILE|-  streaming recognition: partial and final results as audio arrives\n"
          "  vad FILE...          speech segments (text, JSON, RTTM, TSV) with a MarbleNet-style model\n"
          "  commands FILE...     command words heard (MatchboxNet-style model), with times and scores\n"
          "  denoise IN OUT       speech enhancement (FRCRN): noisy audio in, the same format out\n"
          "  info MODEL           architecture, features, labels, parameters and tensors of a model file\n"
          "  plugins              the model plugins found and where\n"
          "  bench                features and model throughput (see also `make bench`)\n"
          "\n"
          "'voxpipe COMMAND --help' describes a command's options. voxpipe %s\n",
          VOXPIPE_VERSION);
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
  /* a closed stdout becomes a write error each command reports (and denoise cleans up after), not a
   * silent death */
  signal(SIGPIPE, SIG_IGN);
  int rc;
  if (!strcmp(cmd, "info"))
    rc = cmd_info(argc - 1, argv + 1);
  else if (!strcmp(cmd, "transcribe"))
    rc = cmd_transcribe(argc - 1, argv + 1);
  else if (!strcmp(cmd, "commands"))
    rc = cmd_commands(argc - 1, argv + 1);
  else if (!strcmp(cmd, "denoise"))
    rc = cmd_denoise(argc - 1, argv + 1);
  else if (!strcmp(cmd, "vad"))
    rc = cmd_vad(argc - 1, argv + 1);
  else if (!strcmp(cmd, "live"))
    rc = cmd_live(argc - 1, argv + 1);
  else if (!strcmp(cmd, "bench"))
    rc = cmd_bench(argc - 1, argv + 1);
  else if (!strcmp(cmd, "plugins"))
    rc = cmd_plugins(argc - 1, argv + 1);
  else {
    fprintf(stderr, "voxpipe: unknown command '%s'. Try 'voxpipe --help'.\n", cmd);
    return 2;
  }
  /* a full disk or a closed pipe on stdout must not pass for success */
  if (rc == 0 && cli_flush(stdout, cmd))
    rc = 1;
  return rc;
}
