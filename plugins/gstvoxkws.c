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
#include "gstvoxinput.h"

#include <voxpipe/voxpipe.h>

GST_DEBUG_CATEGORY_STATIC (vox_kws_debug);
#define GST_CAT_DEFAULT vox_kws_debug

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_THRESHOLD,
  PROP_WINDOW_MS,
  PROP_SHIFT_MS,
};

struct _GstVoxKws
{
  GstBaseTransform parent;

  gchar *model_path;
  gdouble threshold;
  guint window_ms, shift_ms;

  vox_model *model;
  vox_kws_stream *stream;
  GstVoxInput input;
  GstClockTime base_ts;         /* buffer timestamp of the stream's first sample */
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_VOX_INPUT_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_VOX_INPUT_CAPS));

#define gst_vox_kws_parent_class parent_class
G_DEFINE_TYPE (GstVoxKws, gst_vox_kws, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (voxkws, "voxkws", GST_RANK_NONE, GST_TYPE_VOX_KWS);

static void
gst_vox_kws_set_property (GObject * object, guint prop_id, const GValue * value, GParamSpec * pspec)
{
  GstVoxKws *self = GST_VOX_KWS (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free (self->model_path);
      self->model_path = g_value_dup_string (value);
      break;
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
    case PROP_MODEL:
      g_value_set_string (value, self->model_path);
      break;
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

static void
release (GstVoxKws * self)
{
  vox_kws_stream_free (self->stream);
  self->stream = NULL;
  vox_model_free (self->model);
  self->model = NULL;
  gst_vox_input_clear (&self->input);
}

static gboolean
gst_vox_kws_start (GstBaseTransform * trans)
{
  GstVoxKws *self = GST_VOX_KWS (trans);
  vox_error err = { 0 };
  g_autofree gchar *def = NULL;
  const gchar *path = self->model_path ? self->model_path : (def = gst_vox_bundled_model ("matchboxnet-commands.nemo"));

  if (vox_model_load (path, NULL, &self->model, &err) != VOX_OK) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("Could not load the command model \"%s\".", path),
        ("%s", err.message));
    return FALSE;
  }
  if (vox_kws_stream_new (self->model, self->window_ms / 1000.0, self->shift_ms / 1000.0, (float) self->threshold,
          &self->stream, &err) != VOX_OK) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("\"%s\" cannot be used for command words.", path),
        ("%s", err.message));
    release (self);
    return FALSE;
  }
  self->base_ts = GST_CLOCK_TIME_NONE;
  return TRUE;
}

static gboolean
gst_vox_kws_stop (GstBaseTransform * trans)
{
  release (GST_VOX_KWS (trans));
  return TRUE;
}

static gboolean
gst_vox_kws_set_caps (GstBaseTransform * trans, GstCaps * incaps, GstCaps * outcaps)
{
  GstVoxKws *self = GST_VOX_KWS (trans);
  vox_error err = { 0 };
  int rate = vox_model_get_info (self->model)->sample_rate_hz;

  if (!gst_vox_input_set_caps (&self->input, incaps, rate, &err)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Cannot take this audio to the model's %d Hz.", rate),
        ("%s", err.message));
    return FALSE;
  }
  return TRUE;
}

static void
post_detections (GstVoxKws * self)
{
  vox_kws_detection d[8];
  size_t n;
  GstSegment *seg = &GST_BASE_TRANSFORM (self)->segment;

  while ((n = vox_kws_stream_detections (self->stream, d, G_N_ELEMENTS (d))) > 0) {
    for (size_t i = 0; i < n; i++) {
      GstClockTime s = self->base_ts + (GstClockTime) (d[i].start_s * GST_SECOND);
      GstClockTime e = self->base_ts + (GstClockTime) (d[i].end_s * GST_SECOND);
      GstStructure *st = gst_structure_new ("voxkws", "word", G_TYPE_STRING, d[i].word,
          "score", G_TYPE_DOUBLE, (gdouble) d[i].score, "start", G_TYPE_UINT64, s, "end", G_TYPE_UINT64, e,
          "stream-time", G_TYPE_UINT64, gst_segment_to_stream_time (seg, GST_FORMAT_TIME, s),
          "running-time", G_TYPE_UINT64, gst_segment_to_running_time (seg, GST_FORMAT_TIME, s), NULL);
      gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), st));
    }
  }
}

static GstFlowReturn
gst_vox_kws_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstVoxKws *self = GST_VOX_KWS (trans);
  vox_error err = { 0 };
  const gfloat *samples;
  gsize n;

  if (!self->stream)
    return GST_FLOW_NOT_NEGOTIATED;
  if (!GST_CLOCK_TIME_IS_VALID (self->base_ts))
    self->base_ts = GST_CLOCK_TIME_IS_VALID (GST_BUFFER_PTS (buf)) ? GST_BUFFER_PTS (buf) : 0;
  if (!gst_vox_input_convert (&self->input, buf, &samples, &n, &err)
      || vox_kws_stream_accept (self->stream, samples, n, &err) != VOX_OK) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Command-word spotting failed."), ("%s", err.message));
    return GST_FLOW_ERROR;
  }
  post_detections (self);
  return GST_FLOW_OK;
}

static gboolean
gst_vox_kws_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstVoxKws *self = GST_VOX_KWS (trans);
  vox_error err = { 0 };

  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS && self->stream) {
    if (vox_kws_stream_finish (self->stream, &err) != VOX_OK)
      GST_ELEMENT_WARNING (self, STREAM, FAILED, (NULL), ("%s", err.message));
    post_detections (self);
  } else if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP && self->stream) {
    vox_kws_stream_reset (self->stream);
    gst_vox_input_reset (&self->input);
    self->base_ts = GST_CLOCK_TIME_NONE;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

static gboolean
gst_vox_kws_query (GstBaseTransform * trans, GstPadDirection direction, GstQuery * query)
{
  GstVoxKws *self = GST_VOX_KWS (trans);
  gboolean ret = GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction, query);

  if (ret && direction == GST_PAD_SRC && self->stream)
    gst_vox_add_latency (query, (GstClockTime) (vox_kws_stream_latency_s (self->stream) * GST_SECOND));
  return ret;
}

static void
gst_vox_kws_finalize (GObject * object)
{
  GstVoxKws *self = GST_VOX_KWS (object);

  release (self);
  g_free (self->model_path);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_vox_kws_class_init (GstVoxKwsClass * klass)
{
  GObjectClass *gc = G_OBJECT_CLASS (klass);
  GstElementClass *ec = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *tc = GST_BASE_TRANSFORM_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (vox_kws_debug, "voxkws", 0, "voxpipe command-word spotting");
  gc->set_property = gst_vox_kws_set_property;
  gc->get_property = gst_vox_kws_get_property;
  gc->finalize = gst_vox_kws_finalize;

  g_object_class_install_property (gc, PROP_MODEL,
      g_param_spec_string ("model", "Model", "Path of the commands .nemo (a MatchboxNet-style classifier; "
          "default: the bundled one)", NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gc, PROP_THRESHOLD,
      g_param_spec_double ("threshold", "Threshold", "Minimum window probability of a detection", 0.0, 1.0, 0.8,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gc, PROP_WINDOW_MS,
      g_param_spec_uint ("window-ms", "Window", "Milliseconds of audio classified at a time", 100, 10000, 1000,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gc, PROP_SHIFT_MS,
      g_param_spec_uint ("shift-ms", "Shift", "Milliseconds between windows (at most window-ms)", 10, 10000, 250,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  gst_element_class_add_static_pad_template (ec, &sink_template);
  gst_element_class_add_static_pad_template (ec, &src_template);
  gst_element_class_set_static_metadata (ec, "voxpipe command words", "Filter/Analyzer/Audio",
      "Spots command words with a MatchboxNet-style model; audio passes through, detections are posted as "
      "'voxkws' element messages", "voxpipe developers");

  tc->start = GST_DEBUG_FUNCPTR (gst_vox_kws_start);
  tc->stop = GST_DEBUG_FUNCPTR (gst_vox_kws_stop);
  tc->set_caps = GST_DEBUG_FUNCPTR (gst_vox_kws_set_caps);
  tc->transform_ip = GST_DEBUG_FUNCPTR (gst_vox_kws_transform_ip);
  tc->sink_event = GST_DEBUG_FUNCPTR (gst_vox_kws_sink_event);
  tc->query = GST_DEBUG_FUNCPTR (gst_vox_kws_query);
  tc->passthrough_on_same_caps = TRUE;
  tc->transform_ip_on_passthrough = TRUE;
}

static void
gst_vox_kws_init (GstVoxKws * self)
{
  self->threshold = 0.8;
  self->window_ms = 1000;
  self->shift_ms = 250;
  self->base_ts = GST_CLOCK_TIME_NONE;
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
}
