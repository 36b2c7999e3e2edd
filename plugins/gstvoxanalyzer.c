/* gstvoxanalyzer.c - GstVoxAnalyzer, the base of voxvad and voxkws (see gstvoxanalyzer.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstvoxanalyzer.h"
#include "gstvoxinput.h"

GST_DEBUG_CATEGORY_STATIC (vox_analyzer_debug);
#define GST_CAT_DEFAULT vox_analyzer_debug

enum
{
  PROP_0,
  PROP_MODEL,
};

typedef struct
{
  gchar *model_path;
  vox_model *model;
  gboolean open;
  GstVoxInput input;
  GstClockTime base_ts;
  GstClockTime latency;
} GstVoxAnalyzerPrivate;

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_VOX_INPUT_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_VOX_INPUT_CAPS));

#define gst_vox_analyzer_parent_class parent_class
G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (GstVoxAnalyzer, gst_vox_analyzer, GST_TYPE_BASE_TRANSFORM);

#define PRIV(self) ((GstVoxAnalyzerPrivate *) gst_vox_analyzer_get_instance_private (GST_VOX_ANALYZER (self)))

GstClockTime
gst_vox_analyzer_base_ts (GstVoxAnalyzer * self)
{
  return PRIV (self)->base_ts;
}

const GstAudioInfo *
gst_vox_analyzer_info (GstVoxAnalyzer * self)
{
  return &PRIV (self)->input.info;
}

void
gst_vox_analyzer_post (GstVoxAnalyzer * self, GstStructure * s, GstClockTime ts)
{
  GstSegment *seg = &GST_BASE_TRANSFORM (self)->segment;

  gst_structure_set (s, "stream-time", G_TYPE_UINT64, gst_segment_to_stream_time (seg, GST_FORMAT_TIME, ts),
      "running-time", G_TYPE_UINT64, gst_segment_to_running_time (seg, GST_FORMAT_TIME, ts), NULL);
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
}

static void
gst_vox_analyzer_set_property (GObject * object, guint prop_id, const GValue * value, GParamSpec * pspec)
{
  GstVoxAnalyzerPrivate *p = PRIV (object);

  GST_OBJECT_LOCK (object);
  if (prop_id == PROP_MODEL) {
    g_free (p->model_path);
    p->model_path = g_value_dup_string (value);
  } else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  GST_OBJECT_UNLOCK (object);
}

static void
gst_vox_analyzer_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstVoxAnalyzerPrivate *p = PRIV (object);

  GST_OBJECT_LOCK (object);
  if (prop_id == PROP_MODEL)
    g_value_set_string (value, p->model_path);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  GST_OBJECT_UNLOCK (object);
}

static void
release (GstVoxAnalyzer * self)
{
  GstVoxAnalyzerPrivate *p = PRIV (self);

  if (p->open)
    GST_VOX_ANALYZER_GET_CLASS (self)->close (self);
  p->open = FALSE;
  vox_model_free (p->model);
  p->model = NULL;
  gst_vox_input_clear (&p->input);
}

static gboolean
gst_vox_analyzer_start (GstBaseTransform * trans)
{
  GstVoxAnalyzer *self = GST_VOX_ANALYZER (trans);
  GstVoxAnalyzerClass *klass = GST_VOX_ANALYZER_GET_CLASS (self);
  GstVoxAnalyzerPrivate *p = PRIV (self);
  vox_error err = { 0 };
  g_autofree gchar *def = NULL;
  const gchar *path = p->model_path ? p->model_path : (def = gst_vox_bundled_model (klass->bundled_model));

  if (vox_model_load (path, NULL, &p->model, &err) != VOX_OK) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("Could not load the %s model \"%s\".", klass->model_kind, path),
        ("%s", err.message));
    return FALSE;
  }
  p->latency = 0;
  p->open = TRUE;
  if (!klass->open (self, p->model, &p->latency, &err)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("\"%s\" cannot be used for %s.", path, klass->task),
        ("%s", err.message));
    release (self);
    return FALSE;
  }
  p->base_ts = GST_CLOCK_TIME_NONE;
  return TRUE;
}

static gboolean
gst_vox_analyzer_stop (GstBaseTransform * trans)
{
  release (GST_VOX_ANALYZER (trans));
  return TRUE;
}

static gboolean
gst_vox_analyzer_set_caps (GstBaseTransform * trans, GstCaps * incaps, GstCaps * outcaps)
{
  GstVoxAnalyzerPrivate *p = PRIV (trans);
  vox_error err = { 0 };
  int rate = vox_model_get_info (p->model)->sample_rate_hz;

  if (!gst_vox_input_set_caps (&p->input, incaps, rate, &err)) {
    GST_ELEMENT_ERROR (trans, STREAM, FORMAT, ("Cannot take this audio to the model's %d Hz.", rate),
        ("%s", err.message));
    return FALSE;
  }
  return TRUE;
}

static GstFlowReturn
gst_vox_analyzer_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstVoxAnalyzer *self = GST_VOX_ANALYZER (trans);
  GstVoxAnalyzerPrivate *p = PRIV (self);
  vox_error err = { 0 };
  const gfloat *samples;
  gsize n;

  if (!p->open)
    return GST_FLOW_NOT_NEGOTIATED;
  if (!GST_CLOCK_TIME_IS_VALID (p->base_ts))
    p->base_ts = GST_CLOCK_TIME_IS_VALID (GST_BUFFER_PTS (buf)) ? GST_BUFFER_PTS (buf) : 0;
  GstFlowReturn ret = gst_vox_input_convert (&p->input, buf, &samples, &n, &err)
      ? GST_VOX_ANALYZER_GET_CLASS (self)->analyze (self, buf, samples, n, &err) : GST_FLOW_ERROR;
  if (ret == GST_FLOW_ERROR && err.message[0])
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Could not analyse the audio (%s).",
            GST_VOX_ANALYZER_GET_CLASS (self)->task), ("%s", err.message));
  return ret;
}

static gboolean
gst_vox_analyzer_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstVoxAnalyzer *self = GST_VOX_ANALYZER (trans);
  GstVoxAnalyzerPrivate *p = PRIV (self);

  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS && p->open)
    GST_VOX_ANALYZER_GET_CLASS (self)->finish (self);
  else if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP && p->open) {
    GST_VOX_ANALYZER_GET_CLASS (self)->reset (self);
    gst_vox_input_reset (&p->input);
    p->base_ts = GST_CLOCK_TIME_NONE;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

static gboolean
gst_vox_analyzer_query (GstBaseTransform * trans, GstPadDirection direction, GstQuery * query)
{
  GstVoxAnalyzerPrivate *p = PRIV (trans);
  gboolean ret = GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction, query);

  if (ret && direction == GST_PAD_SRC && p->open)
    gst_vox_add_latency (query, p->latency);
  return ret;
}

static void
gst_vox_analyzer_finalize (GObject * object)
{
  release (GST_VOX_ANALYZER (object));
  g_free (PRIV (object)->model_path);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_vox_analyzer_class_init (GstVoxAnalyzerClass * klass)
{
  GObjectClass *gc = G_OBJECT_CLASS (klass);
  GstElementClass *ec = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *tc = GST_BASE_TRANSFORM_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (vox_analyzer_debug, "voxanalyzer", 0, "voxpipe audio analyzers");
  gc->set_property = gst_vox_analyzer_set_property;
  gc->get_property = gst_vox_analyzer_get_property;
  gc->finalize = gst_vox_analyzer_finalize;
  g_object_class_install_property (gc, PROP_MODEL,
      g_param_spec_string ("model", "Model", "Path of the model (.nemo); default: the element's bundled model "
          "(see its description)", NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  gst_element_class_add_static_pad_template (ec, &sink_template);
  gst_element_class_add_static_pad_template (ec, &src_template);
  gst_type_mark_as_plugin_api (GST_TYPE_VOX_ANALYZER, 0);

  tc->start = GST_DEBUG_FUNCPTR (gst_vox_analyzer_start);
  tc->stop = GST_DEBUG_FUNCPTR (gst_vox_analyzer_stop);
  tc->set_caps = GST_DEBUG_FUNCPTR (gst_vox_analyzer_set_caps);
  tc->transform_ip = GST_DEBUG_FUNCPTR (gst_vox_analyzer_transform_ip);
  tc->sink_event = GST_DEBUG_FUNCPTR (gst_vox_analyzer_sink_event);
  tc->query = GST_DEBUG_FUNCPTR (gst_vox_analyzer_query);
  tc->passthrough_on_same_caps = TRUE;
  tc->transform_ip_on_passthrough = TRUE;
}

static void
gst_vox_analyzer_init (GstVoxAnalyzer * self)
{
  PRIV (self)->base_ts = GST_CLOCK_TIME_NONE;
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
}
