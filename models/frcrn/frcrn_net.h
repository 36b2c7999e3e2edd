/* frcrn_net.h - one FRCRN UNet (complex encoders, frequency/temporal FSMNs, SE, transposed-conv
 * decoders) as weights loaded once and a per-stream state that processes any number of STFT
 * frames per call (see ../shared/specs/frcrn.md sections 2 and 4.3).
 *
 * A "frame" at a level is [2][C][F] floats: real plane then imaginary plane, channel-major. Each
 * call consumes n input frames and returns the UNet output frames that became ready: every encoder
 * is causal (one past frame), every decoder needs one future frame, so output lags input by
 * 7 frames, and final=1 flushes them as the offline network does (zero frame at each encoder's end).
 */
#ifndef FRCRN_NET_H
#define FRCRN_NET_H

#include <stddef.h>

#include "voxpipe/vox_checkpoint.h"
#include "voxpipe/vox_error.h"

#define FR_LEVELS 7
#define FR_LORDER 20
#define FR_BINS 321

typedef struct fr_conv {
  int cin, cout, kf, fin, fout;
  float *w;    /* complex weights with BatchNorm folded, laid out for one GEMM (see frcrn_net.c) */
  float *bias; /* [2][cout] */
} fr_conv;

typedef struct fr_fsmn_block {
  float *w1, *b1, *w2; /* [C][C], [C], [C][C] */
  float *taps;         /* [C][FR_LORDER]; tap FR_LORDER-1 multiplies the current element */
} fr_fsmn_block;

typedef struct fr_cfsmn {
  fr_fsmn_block re, im;
} fr_cfsmn;

typedef struct fr_se {
  float *w1[2], *b1[2], *w2[2], *b2[2]; /* [0]: fc_r, [1]: fc_i; [H][C], [H], [C][H], [C] */
  int hidden;
} fr_se;

typedef struct fr_unet {
  int c;
  int cumulative_se; /* 0: SE means over the whole call (the release), 1: over the frames so far */
  fr_conv enc[FR_LEVELS], dec[FR_LEVELS];
  fr_cfsmn fenc[FR_LEVELS], fdec[FR_LEVELS], tfsmn[2];
  fr_se se_enc[6], se_dec[5];
  float lin[4]; /* conv_re weight, conv_re bias, conv_im weight, conv_im bias */
  size_t n_params;
  double macs_per_frame;
} fr_unet;

/* A queue of frames of fsz floats each (fsz fixed by its user); the frames [0, n) are queued. */
typedef struct fr_fifo {
  float *data; /* NULL until the first push */
  size_t n, cap; /* frames */
} fr_fifo;

/* Appends n frames; -1 when out of memory (the queue unchanged). */
int fr_fifo_push(fr_fifo *q, const float *frames, size_t n, size_t fsz);
/* Drops the first n frames (at most q->n). */
void fr_fifo_pop(fr_fifo *q, size_t n, size_t fsz);

typedef struct fr_unet_state fr_unet_state;

/* Loads `prefix`.* ("unet" or "unet2") of a checkpoint; names may carry a "module." prefix
 * (`key_prefix`). Shapes are checked against width c. */
vox_status fr_unet_load(fr_unet *u, const vox_checkpoint *ck, const char *key_prefix, const char *prefix, int c,
                        int cumulative_se, vox_error *err);
void fr_unet_release(fr_unet *u);

vox_status fr_unet_state_new(const fr_unet *u, fr_unet_state **out, vox_error *err);
void fr_unet_state_free(fr_unet_state *s);
void fr_unet_state_reset(fr_unet_state *s);
/* in: n frames of [2][1][321]; out: up to n + 7 frames of [2][1][321] (grown by the state, owned by
 * it, valid until the next call). Buffers grow to the largest call seen; nothing is allocated when
 * calls stay that size. */
vox_status fr_unet_process(fr_unet_state *s, const float *in, size_t n, int final, const float **out,
                           size_t *n_out, vox_error *err);

#endif
