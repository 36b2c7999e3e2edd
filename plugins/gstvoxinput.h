/* gstvoxinput.h - audio buffers of any rate, channel count, F32LE or S16LE -> mono float samples at
 * a model's rate: the conversion the voxpipe elements share (they never fail negotiation on rate),
 * and their latency-query answer. */
#ifndef GST_VOX_INPUT_H
#define GST_VOX_INPUT_H

#include <gst/audio/audio.h>
#include <voxpipe/voxpipe.h>

G_BEGIN_DECLS

#define GST_VOX_INPUT_CAPS "audio/x-raw, format = (string) { F32LE, S16LE }, " \
  "layout = (string) interleaved, rate = (int) [ 1000, 768000 ], channels = (int) [ 1, 256 ]"

typedef struct
{
  GstAudioInfo info;
  vox_resampler *resampler;     /* NULL when the rates match */
  gfloat *mono, *resampled;
  gsize mono_cap, resampled_cap;
} GstVoxInput;

/* Reads the caps and plans the resampling to model_rate; FALSE with err set on failure. */
gboolean gst_vox_input_set_caps (GstVoxInput * in, GstCaps * caps, int model_rate, vox_error * err);
/* Converts a buffer; *samples stays valid until the next call. FALSE with err set on failure. */
gboolean gst_vox_input_convert (GstVoxInput * in, GstBuffer * buf, const gfloat ** samples, gsize * n,
    vox_error * err);
/* Forgets the resampler's history (after a flush). */
void gst_vox_input_reset (GstVoxInput * in);
/* Frees the buffers and the resampler. */
void gst_vox_input_clear (GstVoxInput * in);

/* Path of the bundled model `name` (under VOXPIPE_DATA_DIR's models/, else the installed data
 * directory's); g_free it. */
gchar *gst_vox_bundled_model (const gchar * name);

/* Adds an element's own latency to an answered latency query when upstream is live (any other
 * query is left alone). */
void gst_vox_add_latency (GstQuery * query, GstClockTime own);

G_END_DECLS

#endif
