/* gstvoxdenoise.c - voxdenoise element.
 *
 * SECTION:element-voxdenoise
 *
 * Removes noise from speech with an FRCRN-style enhancement model (default: the bundled one,
 * share/models/frcrn-se-16k). Mono F32LE at the model's rate (16 kHz) in and out: put
 * audioconvert ! audioresample before it. Every input sample comes out once, enhanced, with the
 * same timestamps; a streaming model (cumulative SE pooling, the bundled one) holds back its
 * algorithmic latency (320 ms), which the latency query adds when upstream is live, and EOS flushes
 * the rest. A model that pools over its whole input (the released FRCRN checkpoint) only produces
 * output at EOS: use it for files, not live audio. A flush (seek) starts a new stream.
 *
 * Example launch line:
 * |[
 * gst-launch-1.0 filesrc location=noisy.wav ! decodebin ! audioconvert ! audioresample ! voxdenoise ! \
 *     audioconvert ! wavenc ! filesink location=clean.wav
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstvoxdenoise.h"
#include "gstvoxinput.h"

#include <voxpipe/voxpipe.h>

GST_DEBUG_CATEGORY_STATIC (vox_denoise_debug);
#define GST_CAT_DEFAULT vox_denoise_debug

#define CAPS "audio/x-raw, format = (string) F32LE, layout = (string) interleaved, rate = (int) 16000, " \
  "channels = (int) 1"

enum
{
  PROP_0,
  PROP_MODEL,
};

struct _GstVoxDenoise
{
  GstBaseTransform parent;

  gchar *model_path;

  vox_model *model;
  vox_model_stream *stream;
  gint rate;
  GstClockTime base_ts;         /* timestamp of the stream's first sample */
  guint64 samples_out;
  gfloat *out;
  gsize out_cap;
  GstBuffer *pending;           /* made by submit_input_buffer, handed out by generate_output */
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (CAPS));

#define gst_vox_denoise_parent_class parent_class
G_DEFINE_TYPE (GstVoxDenoise, gst_vox_denoise, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (voxdenoise, "voxdenoise", GST_RANK_NONE, GST_TYPE_VOX_DENOISE);

static void
gst_vox_denoise_set_property (GObject * object, guint prop_id, const GValue * value, GParamSpec * pspec)
{
  GstVoxDenoise *self = GST_VOX_DENOISE (object);

  GST_OBJECT_LOCK (self);
  if (prop_id == PROP_MODEL) {
    g_free (self->model_path);
    self->model_path = g_value_dup_string (value);
  } else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vox_denoise_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstVoxDenoise *self = GST_VOX_DENOISE (object);

  GST_OBJECT_LOCK (self);
  if (prop_id == PROP_MODEL)
    g_value_set_string (value, self->model_path);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  GST_OBJECT_UNLOCK (self);
}

static void
release (GstVoxDenoise * self)
{
  vox_model_stream_free (self->stream);
  self->stream = NULL;
  vox_model_free (self->model);
  self->model = NULL;
  g_free (self->out);
  self->out = NULL;
  self->out_cap = 0;
  gst_clear_buffer (&self->pending);
}

static gboolean
gst_vox_denoise_start (GstBaseTransform * trans)
{
  GstVoxDenoise *self = GST_VOX_DENOISE (trans);
  vox_error err = { 0 };
  g_autofree gchar *def = NULL;
  const gchar *path = self->model_path ? self->model_path : (def = gst_vox_bundled_model ("frcrn-se-16k"));

  if (vox_model_load (path, NULL, &self->model, &err) != VOX_OK) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("Could not load the enhancement model \"%s\".", path),
        ("%s", err.message));
    return FALSE;
  }
  const vox_model_info *mi = vox_model_get_info (self->model);
  if (mi->task != VOX_TASK_ENHANCEMENT || mi->input != VOX_INPUT_WAVEFORM || mi->sample_rate_hz != 16000) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("\"%s\" is not a 16 kHz speech enhancement model.", path),
        ("architecture: %s", mi->architecture));
    release (self);
    return FALSE;
  }
  if (vox_model_stream_new (self->model, &self->stream, &err) != VOX_OK) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Could not start \"%s\".", path), ("%s", err.message));
    release (self);
    return FALSE;
  }
  self->rate = mi->sample_rate_hz;
  self->base_ts = GST_CLOCK_TIME_NONE;
  self->samples_out = 0;
  return TRUE;
}

static gboolean
gst_vox_denoise_stop (GstBaseTransform * trans)
{
  release (GST_VOX_DENOISE (trans));
  return TRUE;
}

/* Runs n samples (final: flush) and returns a buffer of what came out, or NULL when nothing did. */
static GstBuffer *
process (GstVoxDenoise * self, const gfloat * in, gsize n, gboolean final, GstFlowReturn * ret)
{
  vox_error err = { 0 };
  gsize cap = vox_model_stream_max_output (self->stream, n), got = 0;

  *ret = GST_FLOW_OK;
  if (cap > self->out_cap) {
    self->out = g_renew (gfloat, self->out, cap);
    self->out_cap = cap;
  }
  if (vox_model_stream_process (self->stream, in, 1, n, final, self->out, 1, self->out_cap, &got, &err) != VOX_OK) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Speech enhancement failed."), ("%s", err.message));
    *ret = GST_FLOW_ERROR;
    return NULL;
  }
  if (!got)
    return NULL;
  GstBuffer *buf = gst_buffer_new_memdup (self->out, got * sizeof (gfloat));
  GstClockTime base = GST_CLOCK_TIME_IS_VALID (self->base_ts) ? self->base_ts : 0;
  GST_BUFFER_PTS (buf) = base + gst_util_uint64_scale (self->samples_out, GST_SECOND, self->rate);
  GST_BUFFER_DURATION (buf) = base + gst_util_uint64_scale (self->samples_out + got, GST_SECOND, self->rate)
      - GST_BUFFER_PTS (buf);
  GST_BUFFER_OFFSET (buf) = self->samples_out;
  GST_BUFFER_OFFSET_END (buf) = self->samples_out + got;
  self->samples_out += got;
  return buf;
}

static GstFlowReturn
gst_vox_denoise_submit_input_buffer (GstBaseTransform * trans, gboolean discont, GstBuffer * inbuf)
{
  GstVoxDenoise *self = GST_VOX_DENOISE (trans);
  GstMapInfo map;
  GstFlowReturn ret;

  if (!self->stream) {
    gst_buffer_unref (inbuf);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  if (!GST_CLOCK_TIME_IS_VALID (self->base_ts))
    self->base_ts = GST_CLOCK_TIME_IS_VALID (GST_BUFFER_PTS (inbuf)) ? GST_BUFFER_PTS (inbuf) : 0;
  if (!gst_buffer_map (inbuf, &map, GST_MAP_READ)) {
    gst_buffer_unref (inbuf);
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Could not read an input buffer."), (NULL));
    return GST_FLOW_ERROR;
  }
  GstBuffer *out = process (self, (const gfloat *) map.data, map.size / sizeof (gfloat), FALSE, &ret);
  gst_buffer_unmap (inbuf, &map);
  gst_buffer_unref (inbuf);
  if (out) {
    if (self->pending)          /* not collected yet: keep one buffer with both */
      out = gst_buffer_append (self->pending, out);
    self->pending = out;
  }
  return ret;
}

static GstFlowReturn
gst_vox_denoise_generate_output (GstBaseTransform * trans, GstBuffer ** outbuf)
{
  GstVoxDenoise *self = GST_VOX_DENOISE (trans);

  *outbuf = self->pending;
  self->pending = NULL;
  return GST_FLOW_OK;
}

static gboolean
gst_vox_denoise_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstVoxDenoise *self = GST_VOX_DENOISE (trans);

  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS && self->stream) {
    GstFlowReturn ret;
    GstBuffer *rest = process (self, NULL, 0, TRUE, &ret);
    if (rest)
      gst_pad_push (GST_BASE_TRANSFORM_SRC_PAD (trans), rest);
  } else if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP && self->stream) {
    vox_model_stream_reset (self->stream);
    gst_clear_buffer (&self->pending);
    self->base_ts = GST_CLOCK_TIME_NONE;
    self->samples_out = 0;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

static gboolean
gst_vox_denoise_query (GstBaseTransform * trans, GstPadDirection direction, GstQuery * query)
{
  GstVoxDenoise *self = GST_VOX_DENOISE (trans);
  gboolean ret = GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction, query);

  if (ret && direction == GST_PAD_SRC && self->model) {
    const vox_model_info *mi = vox_model_get_info (self->model);
    gst_vox_add_latency (query, gst_util_uint64_scale (mi->lookahead_frames, GST_SECOND, mi->sample_rate_hz));
  }
  return ret;
}

static void
gst_vox_denoise_finalize (GObject * object)
{
  GstVoxDenoise *self = GST_VOX_DENOISE (object);

  release (self);
  g_free (self->model_path);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_vox_denoise_class_init (GstVoxDenoiseClass * klass)
{
  GObjectClass *gc = G_OBJECT_CLASS (klass);
  GstElementClass *ec = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *tc = GST_BASE_TRANSFORM_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (vox_denoise_debug, "voxdenoise", 0, "voxpipe speech enhancement");
  gc->set_property = gst_vox_denoise_set_property;
  gc->get_property = gst_vox_denoise_get_property;
  gc->finalize = gst_vox_denoise_finalize;

  g_object_class_install_property (gc, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "FRCRN model: a ModelScope directory (configuration.json + pytorch_model.bin) or checkpoint file "
          "(default: the bundled streaming model)", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  gst_element_class_add_static_pad_template (ec, &sink_template);
  gst_element_class_add_static_pad_template (ec, &src_template);
  gst_element_class_set_static_metadata (ec, "voxpipe speech enhancement", "Filter/Effect/Audio",
      "Removes noise from speech with an FRCRN-style model (16 kHz mono); reports its latency",
      "voxpipe developers");

  tc->start = GST_DEBUG_FUNCPTR (gst_vox_denoise_start);
  tc->stop = GST_DEBUG_FUNCPTR (gst_vox_denoise_stop);
  tc->submit_input_buffer = GST_DEBUG_FUNCPTR (gst_vox_denoise_submit_input_buffer);
  tc->generate_output = GST_DEBUG_FUNCPTR (gst_vox_denoise_generate_output);
  tc->sink_event = GST_DEBUG_FUNCPTR (gst_vox_denoise_sink_event);
  tc->query = GST_DEBUG_FUNCPTR (gst_vox_denoise_query);
}

static void
gst_vox_denoise_init (GstVoxDenoise * self)
{
  self->base_ts = GST_CLOCK_TIME_NONE;
}
