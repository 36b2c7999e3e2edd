/* gstvoxvad.c - voxvad element.
 *
 * SECTION:element-voxvad
 *
 * Finds speech in the audio passing through (unchanged) with a MarbleNet-style VAD model (default:
 * the bundled one) and posts one element message per boundary:
 *
 * `voxvad`: `speech` (boolean: TRUE at a start, FALSE at an end), `timestamp` (guint64 ns, buffer
 * time of the boundary), `stream-time` and `running-time` (guint64 ns), and at an end `duration`
 * (guint64 ns, the segment's length).
 *
 * Boundaries follow NeMo's VAD post-processing (vox_vad_stream.h): window probabilities averaged
 * per frame, onset/offset hysteresis, padding, minimum durations in seconds. They are announced
 * after the decision delay (the window, plus min-duration-on for a start and pad-offset +
 * min-duration-off + pad-onset for an end), which the latency query reports when upstream is live;
 * the timestamps themselves are exact. EOS closes an open segment.
 *
 * With `drop-non-speech=true` the element gates its output like a noise gate driven by the model:
 * audio is held until its segmentation is final (vox_vad_stream_settled_s), speech goes out
 * unchanged (buffers split at boundaries, sample-exact) and every stretch of non-speech becomes a
 * GAP event with its timestamp and duration, so downstream elements (an ASR, an encoder, a muxer)
 * see only speech and still know where time went. The hold time (at most the settle delay: decision
 * delay + paddings + minimum durations) is added to the latency query when upstream is live.
 *
 * Example launch line:
 * |[
 * gst-launch-1.0 -m filesrc location=meeting.wav ! decodebin ! audioconvert ! voxvad ! fakesink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstvoxvad.h"

GST_DEBUG_CATEGORY_STATIC (vox_vad_debug);
#define GST_CAT_DEFAULT vox_vad_debug

#define DEFAULT_THRESHOLD -1.0
#define DEFAULT_PAD 0.0
#define DEFAULT_MIN_ON 0.0
#define DEFAULT_MIN_OFF 0.0
#define DEFAULT_POST_MESSAGES TRUE
#define DEFAULT_DROP FALSE
#define WINDOW_S 0.63
#define SHIFT_S 0.01

enum
{
  PROP_0,
  PROP_ONSET,
  PROP_OFFSET,
  PROP_PAD_ONSET,
  PROP_PAD_OFFSET,
  PROP_MIN_DURATION_ON,
  PROP_MIN_DURATION_OFF,
  PROP_POST_MESSAGES,
  PROP_DROP_NON_SPEECH,
};

/* A buffer held by the gate: its first frame and length in input frames since the stream start. */
typedef struct
{
  GstBuffer *buf;
  guint64 first, frames;
} GstVoxHeld;

struct _GstVoxVad
{
  GstVoxAnalyzer parent;

  gdouble onset, offset, pad_onset, pad_offset, min_on, min_off;
  gboolean post_messages, drop;

  vox_vad_stream *stream;
  /* the gate (drop-non-speech): held buffers, boundaries not yet reached, state at the release point */
  GQueue held;
  GArray *boundaries;           /* vox_vad_event, oldest first */
  guint64 in_frames;            /* input frames received */
  gboolean speaking;
};

#define gst_vox_vad_parent_class parent_class
G_DEFINE_TYPE (GstVoxVad, gst_vox_vad, GST_TYPE_VOX_ANALYZER);
GST_ELEMENT_REGISTER_DEFINE (voxvad, "voxvad", GST_RANK_NONE, GST_TYPE_VOX_VAD);

static gdouble *
prop_double (GstVoxVad * self, guint prop_id)
{
  switch (prop_id) {
    case PROP_ONSET: return &self->onset;
    case PROP_OFFSET: return &self->offset;
    case PROP_PAD_ONSET: return &self->pad_onset;
    case PROP_PAD_OFFSET: return &self->pad_offset;
    case PROP_MIN_DURATION_ON: return &self->min_on;
    case PROP_MIN_DURATION_OFF: return &self->min_off;
    default: return NULL;
  }
}

static void
gst_vox_vad_set_property (GObject * object, guint prop_id, const GValue * value, GParamSpec * pspec)
{
  GstVoxVad *self = GST_VOX_VAD (object);
  gdouble *d = prop_double (self, prop_id);

  GST_OBJECT_LOCK (self);
  if (d)
    *d = g_value_get_double (value);
  else if (prop_id == PROP_POST_MESSAGES)
    self->post_messages = g_value_get_boolean (value);
  else if (prop_id == PROP_DROP_NON_SPEECH)
    self->drop = g_value_get_boolean (value);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vox_vad_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstVoxVad *self = GST_VOX_VAD (object);
  gdouble *d = prop_double (self, prop_id);

  GST_OBJECT_LOCK (self);
  if (d)
    g_value_set_double (value, *d);
  else if (prop_id == PROP_POST_MESSAGES)
    g_value_set_boolean (value, self->post_messages);
  else if (prop_id == PROP_DROP_NON_SPEECH)
    g_value_set_boolean (value, self->drop);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  GST_OBJECT_UNLOCK (self);
}

static void
gate_clear (GstVoxVad * self)
{
  GstVoxHeld *h;

  while ((h = g_queue_pop_head (&self->held))) {
    gst_buffer_unref (h->buf);
    g_free (h);
  }
  g_array_set_size (self->boundaries, 0);
  self->in_frames = 0;
  self->speaking = FALSE;
}

static gboolean
gst_vox_vad_open (GstVoxAnalyzer * a, vox_model * model, GstClockTime * latency, vox_error * err)
{
  GstVoxVad *self = GST_VOX_VAD (a);
  vox_vad_params q = vox_vad_default_params ();

  vox_vad_model_thresholds (model, &q);   /* as `voxpipe vad` reads them */
  if (self->onset >= 0)
    q.onset = self->onset;
  if (self->offset >= 0)
    q.offset = self->offset;
  q.pad_onset_s = self->pad_onset;
  q.pad_offset_s = self->pad_offset;
  q.min_duration_on_s = self->min_on;
  q.min_duration_off_s = self->min_off;
  q.filter_speech_first = 0;
  if (vox_vad_stream_new (model, &q, WINDOW_S, SHIFT_S, &self->stream, err) != VOX_OK)
    return FALSE;
  double s = self->drop ? vox_vad_stream_settle_delay_s (self->stream)
      : vox_vad_stream_latency_s (self->stream) + q.min_duration_on_s;
  *latency = (GstClockTime) (s * GST_SECOND);
  return TRUE;
}

static void
gst_vox_vad_close (GstVoxAnalyzer * a)
{
  GstVoxVad *self = GST_VOX_VAD (a);

  gate_clear (self);
  vox_vad_stream_free (self->stream);
  self->stream = NULL;
}

static void
post_events (GstVoxVad * self)
{
  vox_vad_event ev[16];
  size_t n;

  GstClockTime base = gst_vox_analyzer_base_ts (GST_VOX_ANALYZER (self));

  while ((n = vox_vad_stream_events (self->stream, ev, G_N_ELEMENTS (ev))) > 0) {
    if (self->drop)
      g_array_append_vals (self->boundaries, ev, n);
    for (size_t i = 0; i < n && self->post_messages; i++) {
      GstClockTime ts = base + (GstClockTime) (ev[i].time_s * GST_SECOND);
      GstStructure *st = gst_structure_new ("voxvad", "speech", G_TYPE_BOOLEAN, ev[i].speech,
          "timestamp", G_TYPE_UINT64, ts, NULL);
      if (!ev[i].speech)
        gst_structure_set (st, "duration", G_TYPE_UINT64, (guint64) (ev[i].duration_s * GST_SECOND), NULL);
      gst_vox_analyzer_post (GST_VOX_ANALYZER (self), st, ts);
    }
  }
}

static GstClockTime
frames_to_time (GstVoxVad * self, guint64 frames)
{
  return gst_util_uint64_scale_int (frames, GST_SECOND, GST_AUDIO_INFO_RATE (gst_vox_analyzer_info (GST_VOX_ANALYZER
              (self))));
}

/* Sends frames [a, b) of a held buffer on: the buffer itself, a part of it, or a GAP event. */
static GstFlowReturn
gate_push (GstVoxVad * self, GstVoxHeld * h, guint64 a, guint64 b, gboolean speech)
{
  GstBaseTransform *trans = GST_BASE_TRANSFORM (self);
  GstClockTime pts = GST_BUFFER_PTS_IS_VALID (h->buf) ? GST_BUFFER_PTS (h->buf)
      : gst_vox_analyzer_base_ts (GST_VOX_ANALYZER (self)) + frames_to_time (self, h->first);
  GstClockTime t0 = pts + frames_to_time (self, a - h->first), t1 = pts + frames_to_time (self, b - h->first);

  if (!speech)
    return gst_pad_push_event (trans->srcpad, gst_event_new_gap (t0, t1 - t0)) ? GST_FLOW_OK : GST_FLOW_FLUSHING;
  if (a == h->first && b == h->first + h->frames)
    return gst_pad_push (trans->srcpad, gst_buffer_ref (h->buf));
  gsize bpf = GST_AUDIO_INFO_BPF (gst_vox_analyzer_info (GST_VOX_ANALYZER (self)));
  GstBuffer *part = gst_buffer_copy_region (h->buf, GST_BUFFER_COPY_ALL, (a - h->first) * bpf, (b - a) * bpf);
  GST_BUFFER_PTS (part) = t0;
  GST_BUFFER_DURATION (part) = t1 - t0;
  if (a != h->first)
    GST_BUFFER_FLAG_UNSET (part, GST_BUFFER_FLAG_DISCONT);
  return gst_pad_push (trans->srcpad, part);
}

/* Releases every held buffer that ends before `settled_s` (seconds of stream time, -1: all). */
static GstFlowReturn
gate_release (GstVoxVad * self, double settled_s)
{
  int rate = GST_AUDIO_INFO_RATE (gst_vox_analyzer_info (GST_VOX_ANALYZER (self)));
  guint64 limit = settled_s < 0 ? G_MAXUINT64 : (guint64) (settled_s * rate);
  GstFlowReturn ret = GST_FLOW_OK;
  GstVoxHeld *h;

  while (ret == GST_FLOW_OK && (h = g_queue_peek_head (&self->held)) && h->first + h->frames <= limit) {
    guint64 a = h->first, end = h->first + h->frames;
    while (ret == GST_FLOW_OK && a < end) {
      guint64 b = end;
      gboolean speech = self->speaking;
      if (self->boundaries->len) {
        vox_vad_event *e = &g_array_index (self->boundaries, vox_vad_event, 0);
        guint64 at = (guint64) (e->time_s * rate + 0.5);
        if (at <= a) {          /* a boundary at or before this point: the state changes here */
          self->speaking = e->speech;
          g_array_remove_index (self->boundaries, 0);
          continue;
        }
        b = MIN (end, at);
      }
      ret = gate_push (self, h, a, b, speech);
      a = b;
    }
    g_queue_pop_head (&self->held);
    gst_buffer_unref (h->buf);
    g_free (h);
  }
  return ret;
}

static GstFlowReturn
gst_vox_vad_analyze (GstVoxAnalyzer * a, GstBuffer * buf, const gfloat * samples, gsize n, vox_error * err)
{
  GstVoxVad *self = GST_VOX_VAD (a);

  if (vox_vad_stream_accept (self->stream, samples, n, err) != VOX_OK)
    return GST_FLOW_ERROR;
  post_events (self);
  if (!self->drop)
    return GST_FLOW_OK;
  GstVoxHeld *h = g_new (GstVoxHeld, 1);
  h->buf = gst_buffer_ref (buf);
  h->first = self->in_frames;
  h->frames = gst_buffer_get_size (buf) / GST_AUDIO_INFO_BPF (gst_vox_analyzer_info (a));
  self->in_frames += h->frames;
  g_queue_push_tail (&self->held, h);
  GstFlowReturn ret = gate_release (self, vox_vad_stream_settled_s (self->stream));
  return ret == GST_FLOW_OK ? GST_BASE_TRANSFORM_FLOW_DROPPED : ret;
}

static void
gst_vox_vad_finish (GstVoxAnalyzer * a)
{
  GstVoxVad *self = GST_VOX_VAD (a);
  vox_error err = { 0 };

  if (vox_vad_stream_finish (self->stream, &err) != VOX_OK)
    GST_ELEMENT_WARNING (self, STREAM, FAILED, (NULL), ("%s", err.message));
  post_events (self);
  gate_release (self, -1);
}

static void
gst_vox_vad_reset (GstVoxAnalyzer * a)
{
  GstVoxVad *self = GST_VOX_VAD (a);

  vox_vad_stream_reset (self->stream);
  gate_clear (self);
}

static void
gst_vox_vad_finalize (GObject * object)
{
  GstVoxVad *self = GST_VOX_VAD (object);

  G_OBJECT_CLASS (parent_class)->finalize (object);     /* closes the stream, clearing the gate */
  g_array_free (self->boundaries, TRUE);
}

static void
install_seconds (GObjectClass * gc, guint id, const gchar * name, const gchar * nick, const gchar * blurb,
    gdouble def)
{
  g_object_class_install_property (gc, id, g_param_spec_double (name, nick, blurb, 0.0, 3600.0, def,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
}

static void
gst_vox_vad_class_init (GstVoxVadClass * klass)
{
  GObjectClass *gc = G_OBJECT_CLASS (klass);
  GstElementClass *ec = GST_ELEMENT_CLASS (klass);
  GstVoxAnalyzerClass *ac = GST_VOX_ANALYZER_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (vox_vad_debug, "voxvad", 0, "voxpipe voice activity detection");
  gc->set_property = gst_vox_vad_set_property;
  gc->get_property = gst_vox_vad_get_property;
  gc->finalize = gst_vox_vad_finalize;

  g_object_class_install_property (gc, PROP_ONSET,
      g_param_spec_double ("onset", "Onset", "Speech starts where the probability reaches this (-1: the "
          "model's vad_postprocessing, else 0.5)", -1.0, 1.0, DEFAULT_THRESHOLD,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gc, PROP_OFFSET,
      g_param_spec_double ("offset", "Offset", "Speech ends where the probability falls below this (-1: "
          "the model's vad_postprocessing, else 0.5)", -1.0, 1.0, DEFAULT_THRESHOLD,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  install_seconds (gc, PROP_PAD_ONSET, "pad-onset", "Pad onset", "Seconds added before each segment", DEFAULT_PAD);
  install_seconds (gc, PROP_PAD_OFFSET, "pad-offset", "Pad offset", "Seconds added after each segment",
      DEFAULT_PAD);
  install_seconds (gc, PROP_MIN_DURATION_ON, "min-duration-on", "Minimum speech",
      "Segments shorter than this many seconds are dropped", DEFAULT_MIN_ON);
  install_seconds (gc, PROP_MIN_DURATION_OFF, "min-duration-off", "Minimum silence",
      "Gaps shorter than this many seconds are filled", DEFAULT_MIN_OFF);
  g_object_class_install_property (gc, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages", "Post a 'voxvad' element message per boundary",
          DEFAULT_POST_MESSAGES, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gc, PROP_DROP_NON_SPEECH,
      g_param_spec_boolean ("drop-non-speech", "Drop non-speech",
          "Pass only speech: non-speech becomes GAP events (audio is held until the decision is final; the "
          "latency query says how long)", DEFAULT_DROP,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  gst_element_class_set_static_metadata (ec, "voxpipe voice activity detection", "Filter/Analyzer/Audio",
      "Finds speech with a MarbleNet-style VAD model (a classifier with a 'speech' label; default: the bundled "
      "marblenet-vad.nemo); audio passes through, boundaries are posted as 'voxvad' element messages",
      "voxpipe developers");

  ac->bundled_model = "marblenet-vad.nemo";
  ac->model_kind = "VAD";
  ac->task = "voice activity detection";
  ac->open = gst_vox_vad_open;
  ac->close = gst_vox_vad_close;
  ac->analyze = gst_vox_vad_analyze;
  ac->finish = gst_vox_vad_finish;
  ac->reset = gst_vox_vad_reset;
}

static void
gst_vox_vad_init (GstVoxVad * self)
{
  self->onset = self->offset = DEFAULT_THRESHOLD;
  self->pad_onset = self->pad_offset = DEFAULT_PAD;
  self->min_on = DEFAULT_MIN_ON;
  self->min_off = DEFAULT_MIN_OFF;
  self->post_messages = DEFAULT_POST_MESSAGES;
  self->drop = DEFAULT_DROP;
  g_queue_init (&self->held);
  self->boundaries = g_array_new (FALSE, FALSE, sizeof (vox_vad_event));
}
