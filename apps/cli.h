/* cli.h - pieces shared by the voxpipe subcommands. */
#ifndef VOX_CLI_H
#define VOX_CLI_H

#include <stdio.h>

#include "voxpipe/voxpipe.h"

/* Each subcommand: returns the process exit status (0 ok, 1 failure, 2 usage). */
int cmd_info(int argc, char **argv);
int cmd_transcribe(int argc, char **argv);
int cmd_plugins(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_live(int argc, char **argv);
int cmd_vad(int argc, char **argv);
int cmd_commands(int argc, char **argv);
int cmd_denoise(int argc, char **argv);

/* Path of the bundled default model of a kind ("asr"), honouring VOXPIPE_DATA_DIR. */
const char *cli_default_model(const char *kind);

/* Loads `path` (NULL: the bundled model of `kind`) with `threads` workers; prints the error as
 * "voxpipe <cmd>: ..." and returns NULL on failure. */
vox_model *cli_load_model(const char *cmd, const char *path, const char *kind, int threads);

/* Classifies n feature frames (nf rows of buf, row stride bstride) with a fresh run of a
 * classification stream: copies them into win (nf x window), writes softmax probabilities to probs
 * (classes values, logits used as scratch) and returns the best class, or -1 with err set. */
int cli_classify_window(vox_model_stream *ms, const float *buf, size_t bstride, size_t n, int nf, float *win,
                        size_t window, int classes, float *probs, vox_error *err);

/* An option's value as a number: NAN (cli_atof) or INT_MIN (cli_atoi) unless the whole string is
 * one finite number, so that the range checks after them refuse "2x", "nan" and "" instead of
 * reading 2, NaN or 0 as atof/atoi did. */
double cli_atof(const char *s);
int cli_atoi(const char *s);

/* Monotonic clock, seconds (for elapsed times only). */
double cli_now_s(void);

/* Prints "voxpipe <cmd>: <message>" to stderr. */
void cli_error(const char *cmd, const vox_error *err);
/* Flushes f; on a write error (full disk, closed pipe) says so for `voxpipe cmd` and returns 1. */
int cli_flush(FILE *f, const char *cmd);

/* JSON string output with escapes. */
void json_string(FILE *f, const char *s);
/* Extracts the string value of "key" from one JSON object line into buf (unescaped); 0 if absent. */
int json_get_string(const char *line, const char *key, char *buf, size_t n);
/* The number value of "key": 1 and *out set; 0 if absent or null; -1 if its value is not a finite JSON
 * number (a string, true, 1e400, ...). */
int json_get_number(const char *line, const char *key, double *out);

/* One JSON line: audio_filepath, text (ref, when given), pred_text, duration, processing_time, words
 * of t[0]; with scores, also "nbest": the n hypotheses t[0..n) with their scores; "offset" when
 * offset_s >= 0 (a manifest line's part of the file: times are from its start). */
void cli_write_json(FILE *f, const char *path, double offset_s, const char *ref, const vox_transcript *t, size_t n,
                    const float *scores, double proc_s);

#define CLI_MAX_HOTWORDS 256

/* Decoding options shared by transcribe and live (cli_decoder.c). */
typedef struct cli_decoder {
  int wanted;          /* a decoding option was given: beam search */
  const char *lm_path;
  vox_lm *lm;
  vox_beam_params bp;
  vox_hotword hot[CLI_MAX_HOTWORDS];
  size_t n_hot;
  int nbest;
} cli_decoder;

extern const char *const CLI_DECODER_HELP;
void cli_decoder_init(cli_decoder *d);
/* Consumes argv[*i] (and its value) when it is a decoding option: 1; not one: 0; bad value: -1
 * (message printed). */
int cli_decoder_option(cli_decoder *d, const char *cmd, int argc, char **argv, int *i);
/* Loads the LM and points ap->beam at the options; -1 (message printed) on failure. */
int cli_decoder_setup(cli_decoder *d, const char *cmd, vox_asr_params *ap);
void cli_decoder_free(cli_decoder *d);

/* The VAD pass shared by vad and transcribe --vad (cli_vad.c). */
typedef struct cli_vad_options {
  vox_vad_params q;
  double window_ms, shift_ms;
  int median, thresholds_given;
} cli_vad_options;
typedef struct cli_vad cli_vad;
extern const char *const CLI_VAD_HELP;
void cli_vad_options_init(cli_vad_options *o);
/* 0 if the options are in range, else prints why for `voxpipe cmd` and returns 2 (usage). */
int cli_vad_options_check(const char *cmd, const cli_vad_options *o);
/* Consumes a VAD option (and its value) at argv[*i]: 1, else 0. */
int cli_vad_option(cli_vad_options *o, int argc, char **argv, int *i);
/* Loads the VAD model (NULL: bundled); prints the error and returns NULL on failure. */
cli_vad *cli_vad_new(const char *cmd, const char *model, const cli_vad_options *o);
void cli_vad_free(cli_vad *v);
/* Speech segments of a file (caller frees *seg); -1 with err set on failure. */
int cli_vad_file(cli_vad *v, const char *path, vox_segment **seg, size_t *ns, vox_error *err);

/* The last file's frame probabilities (valid until the next cli_vad_file) and the thresholds used. */
const float *cli_vad_frames(const cli_vad *v, size_t *n, double *frame_s, double *onset, double *offset);
/* Draws waveform, frame probabilities, thresholds and segments of an audio file into a PNG (cairo). */
int cli_plot_vad(const char *png, const char *audio, const float *probs, size_t n, double frame_s,
                 const vox_segment *seg, size_t ns, double onset, double offset, vox_error *err);

/* Words of several segments on one time line (cli_segments.c); owns its strings. */
typedef struct cli_joined {
  char *text;
  size_t text_len, text_cap;
  vox_word *words;
  size_t n_words, cap_words;
  double duration_s;
} cli_joined;
/* Recognises the speech segments `vad` finds in path with asr (rate: the model's); -1 with err set. */
int cli_transcribe_segments(cli_vad *vad, vox_asr_stream *asr, int rate, const char *path, cli_joined *out,
                            vox_error *err);
void cli_joined_view(const cli_joined *j, vox_transcript *t);
void cli_joined_free(cli_joined *j);

/* Writes a transcript in a format: "text", "json", "srt", "vtt". */
int cli_write_transcript(FILE *f, const char *format, const char *path, const vox_transcript *t,
                         double processing_s, int index);

#endif
