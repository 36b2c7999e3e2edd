/* gstvoxkws.c - voxkws element.
 *
 * SECTION:element-voxkws
 *
 * Spots command words in the audio passing through (unchanged) with a MatchboxNet-style classifier
 * (default: the bundled one: yes, no, up, down, left, right, on, off, stop, go, the digits) and posts
 * one element message per detection:
 *
 * `voxkws`: `word` (string), `score` (double, best window probability), `start`, `end` (guint64 ns,
 * buffer time), `stream-time` and `running-time` (guint64 ns, of the start).
 *
 * Windows of window-ms are classified every shift-ms; consecutive windows over the threshold with
 * the same word make one detection, posted when the run ends (the latency query reports the
 * window + shift delay on live pipelines). EOS posts a detection still running. The same detections
 * as `voxpipe commands` on the same audio (both use vox_kws_stream).
 *
 * Example launch line:
 * |[
 * gst-launch-1.0 -m autoaudiosrc ! audioconvert ! voxkws threshold=0.9 ! fakesink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstvoxkws.h"

GST_DEBUG_CATEGORY_STATIC (vox_kws_debug);
#define GST_CAT_DEFAULT vox_kws_debug

enum
{
  PROP_0,
  PROP_THRESHOLD,
  PROP_WINDOW_MS,
  PROP_SHIFT_MS,
};

struct _GstVoxKws
{
  GstVoxAnalyzer parent;

  gdouble threshold;
  guint window_ms, shift_ms;

  vox_kws_stream *stream;
};

#define gst_vox_kws_parent_class parent_class
G_DEFINE_TYPE (GstVoxKws, gst_vox_kws, GST_TYPE_VOX_ANALYZER);
GST_ELEMENT_REGISTER_DEFINE (voxkws, "voxkws", GST_RANK_NONE, GST_TYPE_VOX_KWS);

static void
gst_vox_kws_set_property (GObject * object, guint prop_id, const GValue * value, GParamSpec * pspec)
{
  GstVoxKws *self = GST_VOX_KWS (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_THRESHOLD:
      self->threshold = g_value_get_double (value);
      break;
    case PROP_WINDOW_MS:
      self->window_ms = g_value_get_uint (value);
      break;
    case PROP_SHIFT_MS:
      self->shift_ms = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vox_kws_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstVoxKws *self = GST_VOX_KWS (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_THRESHOLD:
      g_value_set_double (value, self->threshold);
      break;
    case PROP_WINDOW_MS:
      g_value_set_uint (value, self->window_ms);
      break;
    case PROP_SHIFT_MS:
      g_value_set_uint (value, self->shift_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
  GST_OBJECT_UNLOCK (self);
}

static gboolean
gst_vox_kws_open (GstVoxAnalyzer * a, vox_model * model, GstClockTime * latency, vox_error * err)
{
  GstVoxKws *self = GST_VOX_KWS (a);

  if (vox_kws_stream_new (model, self->window_ms / 1000.0, self->shift_ms / 1000.0, (float) self->threshold,
          &self->stream, err) != VOX_OK)
    return FALSE;
  *latency = (GstClockTime) (vox_kws_stream_latency_s (self->stream) * GST_SECOND);
  return TRUE;
}

static void
gst_vox_kws_close (GstVoxAnalyzer * a)
{
  GstVoxKws *self = GST_VOX_KWS (a);

  vox_kws_stream_free (self->stream);
  self->stream = NULL;
}

static void
post_detections (GstVoxKws * self)
{
  GstVoxAnalyzer *a = GST_VOX_ANALYZER (self);
  GstClockTime base = gst_vox_analyzer_base_ts (a);
  vox_kws_detection d[8];
  size_t n;

  while ((n = vox_kws_stream_detections (self->stream, d, G_N_ELEMENTS (d))) > 0)
    for (size_t i = 0; i < n; i++) {
      GstClockTime s = base + (GstClockTime) (d[i].start_s * GST_SECOND);
      GstClockTime e = base + (GstClockTime) (d[i].end_s * GST_SECOND);
      gst_vox_analyzer_post (a, gst_structure_new ("voxkws", "word", G_TYPE_STRING, d[i].word,
              "score", G_TYPE_DOUBLE, (gdouble) d[i].score, "start", G_TYPE_UINT64, s, "end", G_TYPE_UINT64, e,
              NULL), s);
    }
}

static GstFlowReturn
gst_vox_kws_analyze (GstVoxAnalyzer * a, GstBuffer * buf, const gfloat * samples, gsize n, vox_error * err)
{
  GstVoxKws *self = GST_VOX_KWS (a);

  if (vox_kws_stream_accept (self->stream, samples, n, err) != VOX_OK)
    return GST_FLOW_ERROR;
  post_detections (self);
  return GST_FLOW_OK;
}

static void
gst_vox_kws_finish (GstVoxAnalyzer * a)
{
  GstVoxKws *self = GST_VOX_KWS (a);
  vox_error err = { 0 };

  if (vox_kws_stream_finish (self->stream, &err) != VOX_OK)
    GST_ELEMENT_WARNING (self, STREAM, FAILED, (NULL), ("%s", err.message));
  post_detections (self);
}

static void
gst_vox_kws_reset (GstVoxAnalyzer * a)
{
  vox_kws_stream_reset (GST_VOX_KWS (a)->stream);
}

static void
gst_vox_kws_class_init (GstVoxKwsClass * klass)
{
  GObjectClass *gc = G_OBJECT_CLASS (klass);
  GstElementClass *ec = GST_ELEMENT_CLASS (klass);
  GstVoxAnalyzerClass *ac = GST_VOX_ANALYZER_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (vox_kws_debug, "voxkws", 0, "voxpipe command-word spotting");
  gc->set_property = gst_vox_kws_set_property;
  gc->get_property = gst_vox_kws_get_property;

  g_object_class_install_property (gc, PROP_THRESHOLD,
      g_param_spec_double ("threshold", "Threshold", "Minimum window probability of a detection", 0.0, 1.0, 0.8,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gc, PROP_WINDOW_MS,
      g_param_spec_uint ("window-ms", "Window", "Milliseconds of audio classified at a time", 100, 10000, 1000,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gc, PROP_SHIFT_MS,
      g_param_spec_uint ("shift-ms", "Shift", "Milliseconds between windows (at most window-ms)", 10, 10000, 250,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  gst_element_class_set_static_metadata (ec, "voxpipe command words", "Filter/Analyzer/Audio",
      "Spots command words with a MatchboxNet-style model (default: the bundled matchboxnet-commands.nemo); audio "
      "passes through, detections are posted as 'voxkws' element messages", "voxpipe developers");

  ac->bundled_model = "matchboxnet-commands.nemo";
  ac->model_kind = "command";
  ac->task = "command words";
  ac->open = gst_vox_kws_open;
  ac->close = gst_vox_kws_close;
  ac->analyze = gst_vox_kws_analyze;
  ac->finish = gst_vox_kws_finish;
  ac->reset = gst_vox_kws_reset;
}

static void
gst_vox_kws_init (GstVoxKws * self)
{
  self->threshold = 0.8;
  self->window_ms = 1000;
  self->shift_ms = 250;
}
