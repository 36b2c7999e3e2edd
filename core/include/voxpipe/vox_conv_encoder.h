/* vox_conv_encoder.h - NeMo's ConvASREncoder (JasperBlocks) with cache-based streaming.
 *
 * Shared by the QuartzNet, MarbleNet and MatchboxNet model plugins. The encoder (weights with
 * BatchNorm folded into the convolutions) is immutable after vox_conv_encoder_new and may be shared
 * by any number of streams in any threads; a stream holds, for every convolution, the input frames
 * it still needs from earlier chunks, so a chunk of any size is computed once and the output of
 * a stream fed in pieces equals the output of one call on the whole input (frames past the end
 * are zeros, exactly as NeMo's conv_mask makes them).
 *
 * Frames are channel-major: value of channel c at frame t is buf[c * stride + t].
 */
#ifndef VOX_CONV_ENCODER_H
#define VOX_CONV_ENCODER_H

#include <stddef.h>

#include "voxpipe/vox_checkpoint.h"
#include "voxpipe/vox_config.h"
#include "voxpipe/vox_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vox_conv_encoder vox_conv_encoder;
typedef struct vox_conv_encoder_stream vox_conv_encoder_stream;

/* Builds the encoder described by `encoder_cfg` (the config's `encoder` map: feat_in, jasper list)
 * from tensors named `<prefix>.<block>.mconv.<i>...` (prefix "encoder.encoder" in NeMo files).
 * Refuses block types it does not implement (squeeze-excite, dense residual, grouped convolutions,
 * activations other than ReLU) naming the block and the key. */
VOX_API vox_status vox_conv_encoder_new(const vox_config_node *encoder_cfg, const vox_checkpoint *ck,
                                        const char *prefix, vox_conv_encoder **out, vox_error *err);
VOX_API void vox_conv_encoder_free(vox_conv_encoder *enc);

VOX_API int vox_conv_encoder_in_channels(const vox_conv_encoder *enc);
VOX_API int vox_conv_encoder_out_channels(const vox_conv_encoder *enc);
/* Input frames per output frame (product of strides). */
VOX_API int vox_conv_encoder_subsampling(const vox_conv_encoder *enc);
/* Input frames of look-ahead an output frame needs beyond its own position (algorithmic latency). */
VOX_API int vox_conv_encoder_lookahead_frames(const vox_conv_encoder *enc);
/* Output frames of a whole input of n_in frames. */
VOX_API size_t vox_conv_encoder_output_frames(const vox_conv_encoder *enc, size_t n_in);
/* Number of weights (after folding; BatchNorm counted as in the checkpoint). */
VOX_API size_t vox_conv_encoder_param_count(const vox_conv_encoder *enc);
/* Multiply-adds per output frame (for GFLOP/s figures). */
VOX_API double vox_conv_encoder_macs_per_output_frame(const vox_conv_encoder *enc);

/* A stream; threads > 1 splits each convolution across that many worker threads. */
VOX_API vox_status vox_conv_encoder_stream_new(const vox_conv_encoder *enc, int threads,
                                               vox_conv_encoder_stream **out, vox_error *err);
VOX_API void vox_conv_encoder_stream_free(vox_conv_encoder_stream *s);
VOX_API void vox_conv_encoder_stream_reset(vox_conv_encoder_stream *s);

/* Most output frames one call with n_in input frames can produce (final or not). */
VOX_API size_t vox_conv_encoder_stream_max_output(const vox_conv_encoder_stream *s, size_t n_in);

/* Feeds n_in frames (in_channels x n_in, stride in_stride) and writes every output frame that
 * became computable (out_channels rows, stride out_stride, at most out_cap frames). final=1 ends
 * the input and flushes the rest; reset before reuse. */
VOX_API vox_status vox_conv_encoder_stream_process(vox_conv_encoder_stream *s, const float *in,
                                                   size_t in_stride, size_t n_in, int final,
                                                   float *out, size_t out_stride, size_t out_cap,
                                                   size_t *n_out, vox_error *err);

#ifdef __cplusplus
}
#endif

#endif
