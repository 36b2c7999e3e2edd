/* fft.c - real FFT plans (FFTW, double precision inside) for plugins. */
#include "voxpipe/vox_fft.h"

#include <fftw3.h>
#include <stdlib.h>

#include "internal.h"

struct vox_rfft {
  int n;
  double *time;
  fftw_complex *freq;
  fftw_plan fwd, inv;
};

void vox_rfft_free(vox_rfft *p) {
  if (!p)
    return;
  vox__fftw_planner_lock();
  if (p->fwd)
    fftw_destroy_plan(p->fwd);
  if (p->inv)
    fftw_destroy_plan(p->inv);
  vox__fftw_planner_unlock();
  fftw_free(p->time);
  fftw_free(p->freq);
  free(p);
}

vox_status vox_rfft_new(int n, vox_rfft **out, vox_error *err) {
  *out = NULL;
  if (n < 2 || n > (1 << 24))
    return vox_error_set(err, VOX_ERR_INVALID_ARGUMENT, "FFT size %d out of range (2 .. 16777216)", n);
  vox_rfft *p = calloc(1, sizeof *p);
  if (!p)
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
  p->n = n;
  p->time = fftw_alloc_real((size_t)n);
  p->freq = fftw_alloc_complex((size_t)(n / 2 + 1));
  if (p->time && p->freq) {
    vox__fftw_planner_lock();
    p->fwd = fftw_plan_dft_r2c_1d(n, p->time, p->freq, FFTW_ESTIMATE);
    p->inv = fftw_plan_dft_c2r_1d(n, p->freq, p->time, FFTW_ESTIMATE);
    vox__fftw_planner_unlock();
  }
  if (!p->fwd || !p->inv) {
    vox_rfft_free(p);
    return vox_error_set(err, VOX_ERR_NO_MEMORY, "FFTW could not plan a %d-point transform", n);
  }
  *out = p;
  return VOX_OK;
}

int vox_rfft_size(const vox_rfft *p) { return p->n; }

void vox_rfft_forward(vox_rfft *p, const float *in, float *re, float *im) {
  for (int i = 0; i < p->n; i++)
    p->time[i] = in[i];
  fftw_execute(p->fwd);
  for (int k = 0; k <= p->n / 2; k++) {
    re[k] = (float)p->freq[k][0];
    im[k] = (float)p->freq[k][1];
  }
}

void vox_rfft_inverse(vox_rfft *p, const float *re, const float *im, float *out) {
  int h = p->n / 2;
  for (int k = 0; k <= h; k++) {
    p->freq[k][0] = re[k];
    p->freq[k][1] = im[k];
  }
  p->freq[0][1] = 0.0;
  if (p->n % 2 == 0)
    p->freq[h][1] = 0.0;
  fftw_execute(p->inv); /* c2r overwrites its input; it is refilled on every call */
  double s = 1.0 / p->n;
  for (int i = 0; i < p->n; i++)
    out[i] = (float)(p->time[i] * s);
}
