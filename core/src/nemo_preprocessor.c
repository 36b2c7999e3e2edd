/* nemo_preprocessor.c - NeMo AudioToMelSpectrogramPreprocessor settings -> vox_feature_config. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "voxpipe/vox_checkpoint.h"
#include "voxpipe/vox_config.h"
#include "voxpipe/vox_features.h"

static vox_status guard_value(const vox_config_node *p, float *out, vox_error *err) {
  const char *s = vox_config_string(p, "log_zero_guard_value", NULL);
  if (s && !strcmp(s, "tiny")) {
    *out = FLT_MIN;
    return VOX_OK;
  }
  if (s && !strcmp(s, "eps")) {
    *out = FLT_EPSILON;
    return VOX_OK;
  }
  double def = ldexp(1.0, -24), v;
  vox_status st = vox_config_double(p, "log_zero_guard_value", &def, &v, err);
  *out = (float)v;
  return st;
}

/* AudioToMFCCPreprocessor is torchaudio.transforms.MFCC: periodic Hann, reflect-padded centred
 * frames, HTK mel filters without normalisation, log(mel + 1e-6), DCT-II ortho; no pre-emphasis,
 * no normalization. Window and hop in samples are truncated (int(window_size * sample_rate)). */
static vox_status mfcc_config(const vox_config_node *p, vox_feature_config *out, vox_error *err) {
  double sr, ws, hs, lo, hi, d16000 = 16000, d002 = 0.02, d001 = 0.01, d0 = 0;
  long n_fft, n_mels, n_mfcc, dct_type, l0 = 0, l64 = 64, l2 = 2;
  int log, yes = 1;
  vox_status st;
  if ((st = vox_config_double(p, "sample_rate", &d16000, &sr, err)) ||
      (st = vox_config_double(p, "window_size", &d002, &ws, err)) ||
      (st = vox_config_double(p, "window_stride", &d001, &hs, err)) ||
      (st = vox_config_int(p, "n_fft", &l0, &n_fft, err)) || (st = vox_config_int(p, "n_mels", &l64, &n_mels, err)) ||
      (st = vox_config_int(p, "n_mfcc", &l64, &n_mfcc, err)) ||
      (st = vox_config_int(p, "dct_type", &l2, &dct_type, err)) || (st = vox_config_bool(p, "log", &yes, &log, err)))
    return vox_error_prefix(err, "preprocessor: ");
  lo = hi = 0;
  if (*vox_config_string(p, "lowfreq", "") && (st = vox_config_double(p, "lowfreq", &d0, &lo, err)))
    return vox_error_prefix(err, "preprocessor: ");
  if (*vox_config_string(p, "highfreq", "") && (st = vox_config_double(p, "highfreq", &d0, &hi, err)))
    return vox_error_prefix(err, "preprocessor: ");
  const char *norm = vox_config_string(p, "norm", "ortho"), *window = vox_config_string(p, "window", "hann");
  if (dct_type != 2 || strcmp(norm, "ortho"))
    return vox_error_set(err, VOX_ERR_UNSUPPORTED, "preprocessor: only dct_type 2 with norm 'ortho' is supported");
  if (!log)
    return vox_error_set(err, VOX_ERR_UNSUPPORTED,
                         "preprocessor.log: false (dB scale clipped to the utterance's peak) is not supported");
  if (strcmp(window, "hann"))
    return vox_error_set(err, VOX_ERR_UNSUPPORTED, "preprocessor.window '%s' is not supported (hann)", window);
  if (!(sr >= 1000 && sr <= 192000) || !(ws > 0 && ws < 1) || !(hs > 0 && hs < 1) || n_mels < 1 || n_mels > 1024 ||
      n_mfcc < 1 || n_mfcc > n_mels)
    return vox_error_set(err, VOX_ERR_FORMAT, "preprocessor: out-of-range MFCC settings");
  out->sample_rate_hz = (int)sr;
  out->win_length = (int)(ws * sr);
  out->hop_length = (int)(hs * sr);
  if (!n_fft) {
    n_fft = 1;
    while (n_fft < out->win_length)
      n_fft *= 2;
  }
  out->n_fft = (int)n_fft;
  out->n_mels = (int)n_mels;
  out->n_mfcc = (int)n_mfcc;
  out->lowfreq_hz = lo;
  out->highfreq_hz = hi;
  out->preemph = 0;
  out->mag_power = 2;
  out->log = 1;
  out->log_zero_guard = 1e-6f;
  out->normalize = VOX_NORMALIZE_NONE;
  out->htk_mel = 1;
  out->periodic_window = 1;
  out->reflect_pad = 1;
  out->pad_to = 0;
  return VOX_OK;
}

/* NeMo's normalize: {fixed_mean: [n_mels], fixed_std: [n_mels]} (global statistics). */
static vox_status fixed_normalization(const vox_config_node *nn, vox_feature_config *out, vox_error *err) {
  const char *names[2] = {"fixed_mean", "fixed_std"};
  float *dst[2] = {out->fixed_mean, out->fixed_std};
  if (out->n_mels > VOX_FIXED_NORM_MAX)
    return vox_error_set(err, VOX_ERR_UNSUPPORTED, "preprocessor.normalize: fixed statistics for %d mel bins (at "
                         "most %d)", out->n_mels, VOX_FIXED_NORM_MAX);
  for (int k = 0; k < 2; k++) {
    const vox_config_node *seq = vox_config_get(nn, names[k]);
    if (!seq || vox_config_node_kind(seq) != VOX_CONFIG_SEQUENCE || vox_config_size(seq) != (size_t)out->n_mels)
      return vox_error_set(err, VOX_ERR_FORMAT, "preprocessor.normalize.%s must list %d numbers (one per mel bin)",
                           names[k], out->n_mels);
    for (int i = 0; i < out->n_mels; i++) {
      const char *t = vox_config_scalar(vox_config_at(seq, (size_t)i));
      char *end;
      double v = t ? strtod(t, &end) : 0;
      if (!t || end == t || *end || !isfinite(v) || (k == 1 && !(v > 0)))
        return vox_error_set(err, VOX_ERR_FORMAT, "preprocessor.normalize.%s[%d] is not a %s", names[k], i,
                             k ? "positive number" : "number");
      dst[k][i] = (float)v;
    }
  }
  out->normalize = VOX_NORMALIZE_FIXED;
  return VOX_OK;
}

vox_status vox_feature_config_from_nemo(const vox_config_node *root, const vox_checkpoint *ck,
                                        vox_feature_config *out, vox_error *err) {
  *out = vox_feature_config_default();
  const vox_config_node *p = vox_config_get(root, "preprocessor");
  if (!p)
    return vox_error_set(err, VOX_ERR_FORMAT, "the config has no preprocessor section");
  const char *target = vox_config_string(p, "_target_", "");
  if (strstr(target, "AudioToMFCCPreprocessor"))
    return mfcc_config(p, out, err);
  if (!strstr(target, "AudioToMelSpectrogramPreprocessor"))
    return vox_error_set(err, VOX_ERR_UNSUPPORTED,
                         "preprocessor '%s' is not supported (AudioToMelSpectrogramPreprocessor, AudioToMFCCPreprocessor)",
                         target);
  double sr, ws, hs, lo, hi, preemph, power, d16000 = 16000, d002 = 0.02, d001 = 0.01, d0 = 0, d097 = 0.97, d2 = 2;
  long n_fft, nfilt, pad_to, splicing, l0 = 0, l64 = 64, l16 = 16, l1 = 1;
  int log, exact, yes = 1, no = 0;
  vox_status st;
  if ((st = vox_config_double(p, "sample_rate", &d16000, &sr, err)) ||
      (st = vox_config_double(p, "window_size", &d002, &ws, err)) ||
      (st = vox_config_double(p, "window_stride", &d001, &hs, err)) ||
      (st = vox_config_int(p, "n_fft", &l0, &n_fft, err)) ||
      (st = vox_config_int(p, "features", &l64, &nfilt, err)) ||
      (st = vox_config_int(p, "pad_to", &l16, &pad_to, err)) ||
      (st = vox_config_int(p, "frame_splicing", &l1, &splicing, err)) ||
      (st = vox_config_double(p, "preemph", &d097, &preemph, err)) ||
      (st = vox_config_double(p, "mag_power", &d2, &power, err)) ||
      (st = vox_config_bool(p, "log", &yes, &log, err)) ||
      (st = vox_config_bool(p, "exact_pad", &no, &exact, err)) ||
      (st = guard_value(p, &out->log_zero_guard, err)))
    return vox_error_prefix(err, "preprocessor: ");
  /* lowfreq/highfreq may be null */
  const char *s = vox_config_string(p, "lowfreq", "");
  lo = 0;
  if (*s && (st = vox_config_double(p, "lowfreq", &d0, &lo, err)))
    return vox_error_prefix(err, "preprocessor: ");
  s = vox_config_string(p, "highfreq", "");
  hi = 0;
  if (*s && (st = vox_config_double(p, "highfreq", &d0, &hi, err)))
    return vox_error_prefix(err, "preprocessor: ");
  if (vox_config_get(p, "preemph") && !*vox_config_string(p, "preemph", ""))
    preemph = 0; /* preemph: null disables it */
  if (splicing != 1)
    return vox_error_set(err, VOX_ERR_UNSUPPORTED, "preprocessor.frame_splicing %ld is not supported (only 1)", splicing);
  if (exact)
    return vox_error_set(err, VOX_ERR_UNSUPPORTED, "preprocessor.exact_pad: true is not supported");
  if (!(sr >= 1000 && sr <= 192000) || !(ws > 0 && ws < 1) || !(hs > 0 && hs < 1) || nfilt < 1 || nfilt > 1024)
    return vox_error_set(err, VOX_ERR_FORMAT, "preprocessor: out-of-range settings (sample_rate %g, window_size %g, "
                         "window_stride %g, features %ld)", sr, ws, hs, nfilt);
  out->sample_rate_hz = (int)sr;
  out->win_length = (int)lround(ws * sr);
  out->hop_length = (int)lround(hs * sr);
  if (!n_fft) {
    n_fft = 1;
    while (n_fft < out->win_length)
      n_fft *= 2;
  }
  out->n_fft = (int)n_fft;
  out->n_mels = (int)nfilt;
  out->lowfreq_hz = lo;
  out->highfreq_hz = hi;
  out->preemph = (float)preemph;
  out->mag_power = (float)power;
  out->log = log;
  out->pad_to = (int)pad_to;
  const char *gtype = vox_config_string(p, "log_zero_guard_type", "add");
  if (!strcmp(gtype, "clamp"))
    out->log_clamp = 1;
  else if (strcmp(gtype, "add"))
    return vox_error_set(err, VOX_ERR_UNSUPPORTED, "preprocessor.log_zero_guard_type '%s' is not supported", gtype);
  const vox_config_node *nn = vox_config_get(p, "normalize");
  const char *norm = nn && vox_config_node_kind(nn) == VOX_CONFIG_MAP ? NULL : vox_config_string(p, "normalize", "per_feature");
  vox_status nst = VOX_OK;
  if (!norm && nn && vox_config_node_kind(nn) == VOX_CONFIG_MAP)
    nst = fixed_normalization(nn, out, err);
  else if (!norm)
    nst = vox_error_set(err, VOX_ERR_FORMAT, "preprocessor.normalize must be a name or {fixed_mean, fixed_std}");
  else if (!strcmp(norm, "per_feature"))
    out->normalize = VOX_NORMALIZE_PER_FEATURE;
  else if (!strcmp(norm, "NA") || !strcmp(norm, "none") || !*norm)
    out->normalize = VOX_NORMALIZE_NONE;
  else
    nst = vox_error_set(err, VOX_ERR_UNSUPPORTED,
                        "preprocessor.normalize '%s' is not supported (per_feature, NA or fixed statistics)", norm);
  if (nst != VOX_OK)
    return nst;
  int64_t wshape[1] = {out->win_length}, fbshape[3] = {1, out->n_mels, out->n_fft / 2 + 1};
  const vox_tensor *w = ck ? vox_checkpoint_tensor(ck, "preprocessor.featurizer.window") : NULL;
  const vox_tensor *fb = ck ? vox_checkpoint_tensor(ck, "preprocessor.featurizer.fb") : NULL;
  if (w && !vox_checkpoint_expect(ck, "preprocessor.featurizer.window", 1, wshape, err))
    return err ? err->code : VOX_ERR_FORMAT;
  if (fb && !vox_checkpoint_expect(ck, "preprocessor.featurizer.fb", 3, fbshape, err))
    return err ? err->code : VOX_ERR_FORMAT;
  out->window = w ? w->data : NULL;
  out->filterbank = fb ? fb->data : NULL;
  const char *window = vox_config_string(p, "window", "hann");
  if (!w && strcmp(window, "hann"))
    return vox_error_set(err, VOX_ERR_UNSUPPORTED,
                         "preprocessor.window '%s' without a stored window tensor is not supported (hann)", window);
  const char *mel_norm = vox_config_string(p, "mel_norm", "slaney");
  if (!fb && strcmp(mel_norm, "slaney"))
    return vox_error_set(err, VOX_ERR_UNSUPPORTED,
                         "preprocessor.mel_norm '%s' without a stored filterbank is not supported (slaney)", mel_norm);
  return VOX_OK;
}
