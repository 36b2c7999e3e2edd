/* gstvoxinput.c - mix-down and resampling of element input to a model's rate (see the header). */
#include "gstvoxinput.h"

#include <string.h>

static void
ensure (gfloat ** buf, gsize * cap, gsize n)
{
  if (n <= *cap)
    return;
  *buf = g_realloc_n (*buf, n, sizeof (gfloat));
  *cap = n;
}

gboolean
gst_vox_input_set_caps (GstVoxInput * in, GstCaps * caps, int model_rate, vox_error * err)
{
  if (!gst_audio_info_from_caps (&in->info, caps)) {
    vox_error_set (err, VOX_ERR_FORMAT, "invalid audio caps");
    return FALSE;
  }
  vox_resampler_free (in->resampler);
  in->resampler = NULL;
  return GST_AUDIO_INFO_RATE (&in->info) == model_rate
      || vox_resampler_new (GST_AUDIO_INFO_RATE (&in->info), model_rate, &in->resampler, err) == VOX_OK;
}

gboolean
gst_vox_input_convert (GstVoxInput * in, GstBuffer * buf, const gfloat ** samples, gsize * n, vox_error * err)
{
  GstMapInfo map;
  int ch = GST_AUDIO_INFO_CHANNELS (&in->info);
  gboolean s16 = GST_AUDIO_INFO_FORMAT (&in->info) == GST_AUDIO_FORMAT_S16LE;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
    vox_error_set (err, VOX_ERR_IO, "cannot map an input buffer");
    return FALSE;
  }
  gsize frames = map.size / GST_AUDIO_INFO_BPF (&in->info);
  ensure (&in->mono, &in->mono_cap, frames ? frames : 1);
  for (gsize i = 0; i < frames; i++) {
    gfloat s = 0;
    for (int c = 0; c < ch; c++)
      s += s16 ? ((const gint16 *) map.data)[i * ch + c] / 32768.0f : ((const gfloat *) map.data)[i * ch + c];
    in->mono[i] = s / ch;
  }
  gst_buffer_unmap (buf, &map);
  *samples = in->mono;
  *n = frames;
  if (in->resampler) {
    gsize used, out;
    ensure (&in->resampled, &in->resampled_cap, vox_resampler_max_output (in->resampler, frames) + 1);
    if (vox_resampler_process (in->resampler, in->mono, frames, &used, in->resampled, in->resampled_cap, &out, 0,
            err) != VOX_OK)
      return FALSE;
    *samples = in->resampled;
    *n = out;
  }
  return TRUE;
}

void
gst_vox_input_reset (GstVoxInput * in)
{
  if (in->resampler)
    vox_resampler_reset (in->resampler);
}

void
gst_vox_input_clear (GstVoxInput * in)
{
  vox_resampler_free (in->resampler);
  g_free (in->mono);
  g_free (in->resampled);
  memset (in, 0, sizeof *in);
}

void
gst_vox_add_latency (GstQuery * query, GstClockTime own)
{
  gboolean live;
  GstClockTime min, max;

  if (GST_QUERY_TYPE (query) != GST_QUERY_LATENCY)
    return;
  gst_query_parse_latency (query, &live, &min, &max);
  if (!live)
    return;
  min += own;
  if (GST_CLOCK_TIME_IS_VALID (max))
    max += own;
  gst_query_set_latency (query, live, min, max);
}

gchar *
gst_vox_bundled_model (const gchar * name)
{
  const gchar *dir = g_getenv ("VOXPIPE_DATA_DIR");
  return g_strdup_printf ("%s/models/%s", dir && *dir ? dir : VOX_DATA_DIR, name);
}
