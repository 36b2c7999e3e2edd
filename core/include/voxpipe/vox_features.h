/* vox_features.h - NeMo's log-mel front end (AudioToMelSpectrogramPreprocessor), streaming.
 *
 * Frames are centred like torch.stft(center=True, pad_mode="constant"): frame t covers samples
 * [t*hop - n_fft/2, t*hop + n_fft/2) of the pre-emphasised signal, zeros outside it, and a signal
 * of N samples has N/hop + 1 frames (integer division). The FFTW plan, window, filterbank and
 * buffers are made once by vox_features_new; vox_features_process allocates nothing, and feeding
 * a signal in pieces of any size gives exactly the frames of feeding it at once.
 *
 * Feature buffers are channel-major: value of feature f at frame t is out[f * stride + t].
 * With n_mfcc > 0 the features are MFCCs (AudioToMFCCPreprocessor): n_mfcc rows instead of n_mels.
 */
#ifndef VOX_FEATURES_H
#define VOX_FEATURES_H

#include <stddef.h>

#include "voxpipe/vox_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vox_normalize {
  VOX_NORMALIZE_NONE,        /* NeMo normalize: NA (streaming models) */
  VOX_NORMALIZE_PER_FEATURE, /* per mel bin over the utterance: (x - mean) / (std + 1e-5) */
  VOX_NORMALIZE_FIXED        /* per mel bin with stored statistics, NeMo normalize: {fixed_mean:
                              * [..], fixed_std: [..]}: (x - fixed_mean) / fixed_std; streamable */
} vox_normalize;

#define VOX_FIXED_NORM_MAX 256

typedef struct vox_feature_config {
  int sample_rate_hz;   /* 16000 */
  int win_length;       /* samples (320 = 20 ms) */
  int hop_length;       /* samples (160 = 10 ms) */
  int n_fft;            /* 512; >= win_length */
  int n_mels;           /* 64 */
  double lowfreq_hz;    /* 0 */
  double highfreq_hz;   /* 0 = sample_rate / 2 */
  float preemph;        /* 0.97; 0 disables */
  float mag_power;      /* 2: power spectrum, 1: magnitude */
  float log_zero_guard; /* added before the natural log (2^-24) */
  int log;              /* 1: natural log of the mel energies */
  int log_clamp;        /* 1: log(max(x, guard)) instead of log(x + guard) */
  vox_normalize normalize;
  float fixed_mean[VOX_FIXED_NORM_MAX]; /* VOX_NORMALIZE_FIXED: n_mels values each */
  float fixed_std[VOX_FIXED_NORM_MAX];
  int n_mfcc;           /* > 0: output that many MFCCs (DCT-II, ortho) of the log mel instead */
  int htk_mel;          /* 1: HTK mel scale, triangles of height 1 (torchaudio's MelSpectrogram
                         * default, NeMo's AudioToMFCCPreprocessor); 0: Slaney scale + area norm */
  int periodic_window;  /* 1: periodic Hann (torch.hann_window default); 0: symmetric */
  int reflect_pad;      /* 1: centred frames pad by reflection (torchaudio default); 0: zeros.
                         * Signals shorter than n_fft/2 + 1 samples fall back to zeros. */
  int pad_to;           /* NeMo pads the time axis to a multiple of this (16); informational */
  /* Optional tables from the checkpoint (borrowed during vox_features_new only): the window,
   * win_length values, and the filterbank, n_mels x (n_fft/2 + 1). NULL: computed (symmetric Hann,
   * Slaney mel scale with Slaney area normalisation). */
  const float *window;
  const float *filterbank;
} vox_feature_config;

typedef struct vox_features vox_features;

struct vox_checkpoint;
struct vox_config_node;
/* Reads NeMo's `preprocessor` section (AudioToMelSpectrogramPreprocessor) of a model config and
 * takes the window and filterbank from the checkpoint's buffers (preprocessor.featurizer.window /
 * .fb) when present; the table pointers then borrow the checkpoint's memory. Settings voxpipe
 * does not implement (frame_splicing > 1, exact_pad, other windows without a stored table...)
 * are refused naming the key. */
VOX_API vox_status vox_feature_config_from_nemo(const struct vox_config_node *root,
                                                const struct vox_checkpoint *ck,
                                                vox_feature_config *out, vox_error *err);

/* Rows of output per frame: n_mfcc when set, else n_mels. */
VOX_API int vox_feature_config_channels(const vox_feature_config *config);

/* QuartzNet's settings (the table in shared/specs/nemo-conv-asr.md). */
VOX_API vox_feature_config vox_feature_config_default(void);

VOX_API vox_status vox_features_new(const vox_feature_config *config, vox_features **out,
                                    vox_error *err);
VOX_API void vox_features_free(vox_features *f);
/* Forgets all input: the next sample is sample 0 of a new signal. */
VOX_API void vox_features_reset(vox_features *f);
VOX_API const vox_feature_config *vox_features_config(const vox_features *f);

/* Frames of a whole signal of n_samples samples: n_samples / hop + 1. */
VOX_API size_t vox_features_frame_count(const vox_features *f, size_t n_samples);
/* Most frames one call with n_samples new samples can produce (final or not). */
VOX_API size_t vox_features_max_frames(const vox_features *f, size_t n_samples);
/* Samples needed after frame t's hop position before frame t can be computed (n_fft / 2). */
VOX_API size_t vox_features_lookahead_samples(const vox_features *f);

/* Feeds samples (float in [-1, 1]) and writes every frame that became computable to out (at most
 * out_cap frames, stride out_stride >= out_cap). final=1 ends the signal and flushes its last
 * frames; the stream must then be reset before reuse. Normalization is not applied here. NaN and
 * infinite samples are taken as 0: one would spoil whole frames and, through a model's context,
 * seconds of its output. */
VOX_API vox_status vox_features_process(vox_features *f, const float *samples, size_t n_samples,
                                        int final, float *out, size_t out_stride, size_t out_cap,
                                        size_t *n_frames, vox_error *err);

/* Per-feature statistics, accumulated over frames in double precision. */
VOX_API void vox_features_stats_add(const float *feats, size_t stride, int n_feat, size_t n_frames,
                                    double *sum, double *sumsq);
/* mean and 1 / (std + 1e-5) with NeMo's n-1 denominator (std 0 for fewer than 2 frames). */
VOX_API void vox_features_stats_finish(const double *sum, const double *sumsq, size_t count,
                                       int n_feat, float *mean, float *inv_std);
VOX_API void vox_features_normalize(float *feats, size_t stride, int n_feat, size_t n_frames,
                                    const float *mean, const float *inv_std);

#ifdef __cplusplus
}
#endif

#endif
