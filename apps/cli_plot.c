/* cli_plot.c - `voxpipe vad --plot`: waveform, speech probability and segments as a PNG (cairo). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"

#ifdef HAVE_CAIRO
#include <cairo.h>

#define W 1400
#define H 460
#define LEFT 60
#define RIGHT 20
#define WAVE_TOP 40
#define WAVE_H 180
#define PROB_TOP 250
#define PROB_H 150

/* Per-pixel-column min/max of the waveform, read once through vox_audio. */
static int envelope(const char *path, int cols, double total_s, float *lo, float *hi, vox_error *err) {
  vox_audio_params ap = vox_audio_default_params();
  ap.target_rate_hz = 16000;
  vox_audio_reader *r;
  if (vox_audio_open(path, &ap, &r, err))
    return -1;
  float buf[4096];
  size_t got, pos = 0;
  for (int c = 0; c < cols; c++)
    lo[c] = hi[c] = 0;
  while (!vox_audio_read(r, buf, 4096, &got, err) && got) {
    for (size_t i = 0; i < got; i++, pos++) {
      int c = (int)((double)pos / 16000.0 / total_s * cols);
      if (c >= cols)
        c = cols - 1;
      lo[c] = buf[i] < lo[c] ? buf[i] : lo[c];
      hi[c] = buf[i] > hi[c] ? buf[i] : hi[c];
    }
  }
  vox_audio_close(r);
  return err->code ? -1 : 0;
}

int cli_plot_vad(const char *png, const char *audio, const float *p, size_t n, double frame_s, const vox_segment *seg,
                 size_t ns, double onset, double offset, vox_error *err) {
  int cols = W - LEFT - RIGHT;
  double total = n ? (double)n * frame_s : 1.0;
  float *lo = malloc(sizeof(float) * (size_t)cols), *hi = malloc(sizeof(float) * (size_t)cols);
  if (!lo || !hi || envelope(audio, cols, total, lo, hi, err)) {
    if (!lo || !hi)
      vox_error_set(err, VOX_ERR_NO_MEMORY, "out of memory");
    free(lo);
    free(hi);
    return -1;
  }
  cairo_surface_t *sf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
  cairo_t *cr = cairo_create(sf);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  /* speech segments shaded across both panels */
  cairo_set_source_rgb(cr, 0.85, 0.93, 0.85);
  for (size_t k = 0; k < ns; k++) {
    double x0 = LEFT + seg[k].start_s / total * cols, x1 = LEFT + seg[k].end_s / total * cols;
    cairo_rectangle(cr, x0, WAVE_TOP, x1 - x0, PROB_TOP + PROB_H - WAVE_TOP);
  }
  cairo_fill(cr);
  /* waveform */
  cairo_set_source_rgb(cr, 0.2, 0.3, 0.6);
  cairo_set_line_width(cr, 1);
  for (int c = 0; c < cols; c++) {
    double mid = WAVE_TOP + WAVE_H / 2.0;
    cairo_move_to(cr, LEFT + c + 0.5, mid - hi[c] * WAVE_H / 2.0);
    cairo_line_to(cr, LEFT + c + 0.5, mid - lo[c] * WAVE_H / 2.0 + 0.5);
  }
  cairo_stroke(cr);
  /* probability and thresholds */
  double th[2] = {onset, offset};
  cairo_set_source_rgb(cr, 0.7, 0.2, 0.2);
  for (int t = 0; t < 2; t++) {
    double dash = 4;
    cairo_set_dash(cr, &dash, 1, 0);
    cairo_move_to(cr, LEFT, PROB_TOP + (1 - th[t]) * PROB_H);
    cairo_line_to(cr, LEFT + cols, PROB_TOP + (1 - th[t]) * PROB_H);
    cairo_stroke(cr);
  }
  cairo_set_dash(cr, NULL, 0, 0);
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  cairo_set_line_width(cr, 1.5);
  for (size_t i = 0; i < n; i++) {
    double x = LEFT + ((double)i + 0.5) * frame_s / total * cols, y = PROB_TOP + (1 - p[i]) * PROB_H;
    if (i)
      cairo_line_to(cr, x, y);
    else
      cairo_move_to(cr, x, y);
  }
  cairo_stroke(cr);
  /* frames, axis and labels */
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, LEFT, WAVE_TOP, cols, WAVE_H);
  cairo_rectangle(cr, LEFT, PROB_TOP, cols, PROB_H);
  cairo_stroke(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, 12);
  double step = pow(10, floor(log10(total / 4)));
  if (total / step > 20)
    step *= 5;
  else if (total / step > 10)
    step *= 2;
  char lab[64];
  for (double t = 0; t <= total + 1e-9; t += step) {
    double x = LEFT + t / total * cols;
    cairo_move_to(cr, x, PROB_TOP + PROB_H);
    cairo_line_to(cr, x, PROB_TOP + PROB_H + 5);
    cairo_stroke(cr);
    snprintf(lab, sizeof lab, "%g s", t);
    cairo_move_to(cr, x - 10, PROB_TOP + PROB_H + 20);
    cairo_show_text(cr, lab);
  }
  cairo_move_to(cr, 8, PROB_TOP + 12);
  cairo_show_text(cr, "P=1");
  cairo_move_to(cr, 8, PROB_TOP + PROB_H);
  cairo_show_text(cr, "P=0");
  snprintf(lab, sizeof lab, "%zu speech segment%s; onset %.2f, offset %.2f (dashed)", ns, ns == 1 ? "" : "s",
           onset, offset);
  cairo_set_font_size(cr, 14);
  cairo_move_to(cr, LEFT, 25);
  const char *base = strrchr(audio, '/') ? strrchr(audio, '/') + 1 : audio;
  char title[600];
  snprintf(title, sizeof title, "%s: %s", base, lab);
  cairo_show_text(cr, title);
  cairo_destroy(cr);
  cairo_status_t cs = cairo_surface_write_to_png(sf, png);
  cairo_surface_destroy(sf);
  /* a CLI draws and exits: drop cairo's font caches so leak checkers see only our memory */
  cairo_debug_reset_static_data();
  free(lo);
  free(hi);
  if (cs != CAIRO_STATUS_SUCCESS)
    return vox_error_set(err, VOX_ERR_IO, "%s: cannot write the plot (%s)", png, cairo_status_to_string(cs)), -1;
  return 0;
}
#else
int cli_plot_vad(const char *png, const char *audio, const float *p, size_t n, double frame_s, const vox_segment *seg,
                 size_t ns, double onset, double offset, vox_error *err) {
  (void)audio, (void)p, (void)n, (void)frame_s, (void)seg, (void)ns, (void)onset, (void)offset;
  vox_error_set(err, VOX_ERR_UNSUPPORTED, "%s: voxpipe was built without cairo (install libcairo2-dev and rebuild)",
                png);
  return -1;
}
#endif
