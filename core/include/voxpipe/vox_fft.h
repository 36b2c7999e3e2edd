/* vox_fft.h - real FFT plans for model plugins (FFTW underneath, planned once per handle).
 *
 * FFTW's planner is not thread-safe; these calls take the same lock as the feature extractor, so
 * plugins never plan FFTW themselves. Executing a plan allocates nothing. A plan is used by one
 * thread at a time.
 */
#ifndef VOX_FFT_H
#define VOX_FFT_H

#include "voxpipe/vox_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vox_rfft vox_rfft;

/* An n-point real transform pair (n >= 2, any size FFTW handles: 640 = 2^7 * 5 is fine). */
VOX_API vox_status vox_rfft_new(int n, vox_rfft **out, vox_error *err);
VOX_API void vox_rfft_free(vox_rfft *p);
VOX_API int vox_rfft_size(const vox_rfft *p);
/* in: n samples -> re, im: n/2 + 1 bins each, X[k] = sum x[n] e^{-2 pi i k n / N} (no scaling). */
VOX_API void vox_rfft_forward(vox_rfft *p, const float *in, float *re, float *im);
/* re, im: n/2 + 1 bins -> out: n samples of the inverse DFT scaled by 1/n (so inverse(forward(x)) = x).
 * The imaginary parts of bin 0 and (for even n) bin n/2 are ignored. */
VOX_API void vox_rfft_inverse(vox_rfft *p, const float *re, const float *im, float *out);

#ifdef __cplusplus
}
#endif

#endif
