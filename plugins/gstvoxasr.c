/* gstvoxasr.c - voxasr element.
 *
 * SECTION:element-voxasr
 *
 * Recognises speech in the audio passing through (unchanged) and posts the results on the bus.
 * Any rate and channel count of F32LE or S16LE interleaved audio is accepted: the element mixes
 * down and resamples with voxpipe's resampler, so a rate mismatch is never a negotiation error.
 *
 * Element message `voxasr`, posted when the text changed (partial, with partial-results=true) and at
 * every endpoint and at EOS (final):
 * - `text` (string), `is-final` (boolean)
 * - `start`, `end` (guint64, stream time in ns of the first word's start and the last word's end)
 * - `words` (GstValueArray of GstStructure `word` with `word` (string), `start`, `end` (guint64 ns,
 *   stream time) and `confidence` (double 0..1))
 * - in partials, `stable-words` (guint): how many leading words of `words` no later audio can change
 *   (closed by a word boundary in greedy decoding; shared by every live hypothesis in beam search)
 *
 * Example launch line:
 * |[
 * gst-launch-1.0 -m filesrc location=talk.wav ! decodebin ! audioconvert ! voxasr ! fakesink
 * ]|
 *
 * Models trained with per-utterance normalization (NVIDIA QuartzNet) run in buffered mode
 * (chunk-ms / 4 s windows); streaming models run cache-based. The element's latency (reported in
 * latency queries when upstream is live) is the model's look-ahead or the buffered delay plus
 * chunk-ms.
 *
 * Text pad: request `text` (text/x-raw, format=utf8) to get the transcript as timed buffers, one
 * per word, with PTS and duration from the CTC alignment (in the audio's buffer time). Only words
 * no later audio can change are pushed (the stable words of a partial, then the rest at the
 * final), so nothing is ever retracted; time without words is covered by GAP events that follow
 * the audio, so subtitle overlays, muxers and sinks downstream never wait. A `language-code` tag
 * ("en") goes out before the first word, a custom `rstranscribe/final-transcript` event at every
 * final (textaccumulate drains on it), EOS after the last word. Link it through a queue, as any
 * branch of a tee:
 * |[
 * gst-launch-1.0 filesrc location=talk.wav ! decodebin ! audioconvert ! voxasr name=asr ! \
 *     autoaudiosink asr.text ! queue ! fakesink dump=true
 * ]|
 *
 * Decoding is greedy unless beam-size > 1, lm or hotwords is set: then CTC prefix beam search
 * with an ARPA or CMU Sphinx binary word LM (lm, lm-alpha, lm-beta) and boosted words
 * (hotwords="voxpipe:5,gstreamer:3"):
 * |[
 * gst-launch-1.0 -m filesrc location=talk.wav ! decodebin ! audioconvert ! \
 *     voxasr lm=/usr/share/pocketsphinx/model/en-us/en-us.lm.bin beam-size=16 ! fakesink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstvoxasr.h"
#include "gstvoxinput.h"
#include "gstvoxtextout.h"

#include <gst/audio/audio.h>
#include <math.h>
#include <string.h>
#include <voxpipe/voxpipe.h>

GST_DEBUG_CATEGORY_STATIC (vox_asr_debug);
#define GST_CAT_DEFAULT vox_asr_debug

#define DEFAULT_MODEL NULL
#define DEFAULT_THREADS 1
#define DEFAULT_PARTIAL_RESULTS TRUE
#define DEFAULT_ENDPOINT_SILENCE_MS 800
#define DEFAULT_CHUNK_MS 1600
#define DEFAULT_LATENCY_MS 0
#define DEFAULT_BEAM_SIZE 1
#define DEFAULT_LM_ALPHA 0.5
#define DEFAULT_LM_BETA 2.0
#define MAX_HOTWORDS 256
#define DEFAULT_LANGUAGE "en"

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_THREADS,
  PROP_PARTIAL_RESULTS,
  PROP_ENDPOINT_SILENCE_MS,
  PROP_CHUNK_MS,
  PROP_LATENCY,
  PROP_BEAM_SIZE,
  PROP_LM,
  PROP_LM_ALPHA,
  PROP_LM_BETA,
  PROP_HOTWORDS,
  PROP_LANGUAGE_CODE,
};

struct _GstVoxAsr
{
  GstBaseTransform parent;

  /* properties */
  gchar *model_path;
  gint threads;
  gboolean partial_results;
  guint endpoint_silence_ms;
  guint chunk_ms;
  guint latency_ms;
  guint beam_size;
  gchar *lm_path;
  gdouble lm_alpha, lm_beta;
  gchar *hotwords;

  /* state */
  vox_model *model;
  vox_lm *lm;
  vox_asr_stream *stream;
  GstVoxInput input;
  GstClockTime base_time;       /* stream time of sample 0 of the recognizer */
  gsize committed;              /* words already posted as final */
  gsize partial_len;

  GstVoxTextOut text;           /* the text pad (requested or not) and its position */
  GstClockTime audio_end;       /* buffer time of the end of the last audio buffer */
  gchar *language;
};

#define CAPS GST_VOX_INPUT_CAPS

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (CAPS));
static GstStaticPadTemplate text_template = GST_STATIC_PAD_TEMPLATE ("text",
    GST_PAD_SRC, GST_PAD_REQUEST, GST_STATIC_CAPS ("text/x-raw, format = (string) utf8"));

#define gst_vox_asr_parent_class parent_class
G_DEFINE_TYPE (GstVoxAsr, gst_vox_asr, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (voxasr, "voxasr", GST_RANK_NONE, GST_TYPE_VOX_ASR);

static void
gst_vox_asr_set_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  GstVoxAsr *self = GST_VOX_ASR (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      if (self->model) {
        /* the model is loaded when the element starts: a new path applies from the next start */
        GST_WARNING_OBJECT (self, "model changed while running: used after the next READY state");
      }
      g_free (self->model_path);
      self->model_path = g_value_dup_string (value);
      break;
    case PROP_THREADS:
      self->threads = g_value_get_int (value);
      break;
    case PROP_PARTIAL_RESULTS:
      self->partial_results = g_value_get_boolean (value);
      break;
    case PROP_ENDPOINT_SILENCE_MS:
      self->endpoint_silence_ms = g_value_get_uint (value);
      break;
    case PROP_CHUNK_MS:
      self->chunk_ms = g_value_get_uint (value);
      break;
    case PROP_LATENCY:
      self->latency_ms = g_value_get_uint (value);
      break;
    case PROP_BEAM_SIZE:
      self->beam_size = g_value_get_uint (value);
      break;
    case PROP_LM:
      g_free (self->lm_path);
      self->lm_path = g_value_dup_string (value);
      break;
    case PROP_LM_ALPHA:
      self->lm_alpha = g_value_get_double (value);
      break;
    case PROP_LM_BETA:
      self->lm_beta = g_value_get_double (value);
      break;
    case PROP_HOTWORDS:
      g_free (self->hotwords);
      self->hotwords = g_value_dup_string (value);
      break;
    case PROP_LANGUAGE_CODE:
      g_free (self->language);
      self->language = g_value_dup_string (value);
      if (!self->language)
        self->language = g_strdup (DEFAULT_LANGUAGE);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vox_asr_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstVoxAsr *self = GST_VOX_ASR (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model_path);
      break;
    case PROP_THREADS:
      g_value_set_int (value, self->threads);
      break;
    case PROP_PARTIAL_RESULTS:
      g_value_set_boolean (value, self->partial_results);
      break;
    case PROP_ENDPOINT_SILENCE_MS:
      g_value_set_uint (value, self->endpoint_silence_ms);
      break;
    case PROP_CHUNK_MS:
      g_value_set_uint (value, self->chunk_ms);
      break;
    case PROP_LATENCY:
      g_value_set_uint (value, self->latency_ms);
      break;
    case PROP_BEAM_SIZE:
      g_value_set_uint (value, self->beam_size);
      break;
    case PROP_LM:
      g_value_set_string (value, self->lm_path);
      break;
    case PROP_LM_ALPHA:
      g_value_set_double (value, self->lm_alpha);
      break;
    case PROP_LM_BETA:
      g_value_set_double (value, self->lm_beta);
      break;
    case PROP_HOTWORDS:
      g_value_set_string (value, self->hotwords);
      break;
    case PROP_LANGUAGE_CODE:
      g_value_set_string (value, self->language);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void text_reset (GstVoxAsr * self);

static void
release (GstVoxAsr * self)
{
  vox_asr_stream_free (self->stream);
  self->stream = NULL;
  vox_model_free (self->model);
  self->model = NULL;
  vox_lm_free (self->lm);
  self->lm = NULL;
  gst_vox_input_clear (&self->input);
}

static gboolean
gst_vox_asr_start (GstBaseTransform * trans)
{
  GstVoxAsr *self = GST_VOX_ASR (trans);
  vox_error err = { 0 };
  vox_model_params mp = vox_model_default_params ();
  g_autofree gchar *def = NULL;
  const gchar *path = self->model_path ? self->model_path : (def = gst_vox_bundled_model ("quartznet-stream-en.nemo"));

  mp.threads = self->threads;
  if (vox_model_load (path, &mp, &self->model, &err) != VOX_OK) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
        ("Could not load the speech model \"%s\".", path), ("%s", err.message));
    return FALSE;
  }
  const vox_model_info *info = vox_model_get_info (self->model);
  vox_asr_params ap = vox_asr_default_params ();
  if (info->full_context) {
    ap.buffered_chunk_s = self->chunk_ms / 1000.0;
    ap.buffered_buffer_s = MAX (4.0, ap.buffered_chunk_s);
  }
  vox_beam_params bp = vox_beam_default_params ();
  vox_hotword hot[MAX_HOTWORDS];
  gchar **hot_items = NULL;
  gboolean bad_boost = FALSE;
  if (self->beam_size > 1 || self->lm_path || (self->hotwords && *self->hotwords)) {
    bp.beam_size = self->beam_size > 1 ? (int) self->beam_size : 16;
    bp.alpha = (float) self->lm_alpha;
    bp.beta = (float) self->lm_beta;
    if (self->lm_path && vox_lm_load (self->lm_path, &self->lm, &err) != VOX_OK) {
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
          ("Could not load the language model \"%s\".", self->lm_path),
          ("%s", err.message));
      release (self);
      return FALSE;
    }
    bp.lm = self->lm;
    hot_items = g_strsplit (self->hotwords ? self->hotwords : "", ",", -1);
    for (gchar ** it = hot_items; *it && bp.n_hotwords < MAX_HOTWORDS; it++) {
      gchar *w = g_strstrip (*it), *colon = strrchr (w, ':');
      if (!*w)
        continue;
      gchar *end = NULL;
      gdouble boost = colon ? g_ascii_strtod (colon + 1, &end) : 5.0;
      if (colon && (end == colon + 1 || *end || !isfinite (boost))) {
        GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
            ("hotwords: \"%s\" needs a number after ':' (a boost in natural log).", w), (NULL));
        bad_boost = TRUE;
        break;
      }
      if (colon)
        *colon = '\0';
      hot[bp.n_hotwords].boost = (float) boost;
      hot[bp.n_hotwords++].word = g_ascii_strdown (w, -1);
    }
    bp.hotwords = hot;
    ap.beam = &bp;
  }
  vox_status st = bad_boost ? VOX_ERR_INVALID_ARGUMENT
      : vox_asr_stream_new (self->model, &ap, &self->stream, &err);
  for (gsize i = 0; i < bp.n_hotwords; i++)
    g_free ((gchar *) hot[i].word);
  g_strfreev (hot_items);
  if (bad_boost) {
    release (self);
    return FALSE;
  }
  if (st != VOX_OK) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Cannot recognise speech with \"%s\": %s", path, err.message),
        (NULL));
    release (self);
    return FALSE;
  }
  self->base_time = GST_CLOCK_TIME_NONE;
  self->committed = self->partial_len = 0;
  text_reset (self);
  self->text.started = FALSE;
  return TRUE;
}

static gboolean
gst_vox_asr_stop (GstBaseTransform * trans)
{
  release (GST_VOX_ASR (trans));
  return TRUE;
}

static gboolean
gst_vox_asr_set_caps (GstBaseTransform * trans, GstCaps * incaps,
    GstCaps * outcaps)
{
  GstVoxAsr *self = GST_VOX_ASR (trans);
  vox_error err = { 0 };

  int model_rate = vox_model_get_info (self->model)->sample_rate_hz;
  if (!gst_vox_input_set_caps (&self->input, incaps, model_rate, &err)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Cannot take this audio (%" GST_PTR_FORMAT ") to the model's %d Hz.", incaps, model_rate),
        ("%s", err.message));
    return FALSE;
  }
  gst_base_transform_set_passthrough (trans, TRUE);
  return TRUE;
}

static GstStructure *
words_structure (GstVoxAsr * self, const vox_transcript * t, gsize from,
    gboolean final)
{
  GValue words = G_VALUE_INIT;
  GString *text = g_string_new (NULL);

  gst_value_array_init (&words, t->n_words - from);
  for (gsize i = from; i < t->n_words; i++) {
    GValue v = G_VALUE_INIT;
    GstClockTime s = self->base_time + (GstClockTime) (t->words[i].start_s * GST_SECOND);
    GstClockTime e = self->base_time + (GstClockTime) (t->words[i].end_s * GST_SECOND);
    GstStructure *w = gst_structure_new ("word", "word", G_TYPE_STRING,
        t->words[i].text, "start", G_TYPE_UINT64, s, "end", G_TYPE_UINT64, e,
        "confidence", G_TYPE_DOUBLE, (gdouble) t->words[i].confidence, NULL);
    g_value_init (&v, GST_TYPE_STRUCTURE);
    gst_value_set_structure (&v, w);
    gst_structure_free (w);
    gst_value_array_append_and_take_value (&words, &v);
    g_string_append_printf (text, "%s%s", i > from ? " " : "", t->words[i].text);
  }
  GstStructure *st = gst_structure_new ("voxasr", "text", G_TYPE_STRING,
      text->str, "is-final", G_TYPE_BOOLEAN, final,
      "start", G_TYPE_UINT64,
      self->base_time + (GstClockTime) (t->words[from].start_s * GST_SECOND),
      "end", G_TYPE_UINT64,
      self->base_time + (GstClockTime) (t->words[t->n_words - 1].end_s * GST_SECOND), NULL);
  gst_structure_take_value (st, "words", &words);
  if (!final)
    gst_structure_set (st, "stable-words", G_TYPE_UINT,
        (guint) (t->n_stable_words > from ? t->n_stable_words - from : 0), NULL);
  g_string_free (text, TRUE);
  return st;
}

/* Posts a final for the pending words at an endpoint (or when flushing), else a changed partial. */
static void
post_results (GstVoxAsr * self, gboolean flush)
{
  vox_transcript t;

  vox_asr_stream_result (self->stream, &t);
  if (t.n_words <= self->committed)
    return;
  gdouble silence = t.duration_s - t.words[t.n_words - 1].end_s;
  gboolean final = flush || silence * 1000.0 >= self->endpoint_silence_ms;
  gsize len = strlen (t.text);
  if (!final && (!self->partial_results || len == self->partial_len))
    return;
  GstStructure *st = words_structure (self, &t, self->committed, final);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), st));
  if (final) {
    self->committed = t.n_words;
    self->partial_len = 0;
  } else {
    self->partial_len = len;
  }
}

static gboolean gst_vox_asr_text_query (GstPad * pad, GstObject * parent, GstQuery * query);

static GstFlowReturn
text_update (GstVoxAsr * self, GstClockTime until)
{
  return gst_vox_text_out_update (&self->text, GST_BASE_TRANSFORM (self), self->stream, self->committed,
      self->language, until);
}

static void
text_reset (GstVoxAsr * self)
{
  gst_vox_text_out_reset (&self->text);
  self->audio_end = 0;
}

static GstPad *
gst_vox_asr_request_new_pad (GstElement * element, GstPadTemplate * templ, const gchar * name,
    const GstCaps * caps)
{
  return gst_vox_text_out_request (&GST_VOX_ASR (element)->text, element, templ,
      GST_DEBUG_FUNCPTR (gst_vox_asr_text_query));
}

static void
gst_vox_asr_release_pad (GstElement * element, GstPad * pad)
{
  gst_vox_text_out_release (&GST_VOX_ASR (element)->text, element, pad);
}

/* Words posted as final (and pushed on the text pad, if there is one) are not needed any more: the
 * recognizer forgets them, so memory and the cost of a result stay bounded over days. */
static void
forget_delivered (GstVoxAsr * self)
{
  gsize n = gst_vox_text_out_has_pad (&self->text, GST_ELEMENT (self))
      ? MIN (self->committed, self->text.words) : self->committed;

  if (!n)
    return;
  gsize gone = vox_asr_stream_forget_words (self->stream, n);
  self->committed -= gone;
  gst_vox_text_out_forget (&self->text, gone);
}

static GstFlowReturn
gst_vox_asr_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstVoxAsr *self = GST_VOX_ASR (trans);
  vox_error err = { 0 };

  if (!self->stream)
    return GST_FLOW_NOT_NEGOTIATED;
  if (!GST_CLOCK_TIME_IS_VALID (self->base_time)) {
    GstClockTime pts = GST_BUFFER_PTS (buf);
    self->base_time = GST_CLOCK_TIME_IS_VALID (pts)
        ? gst_segment_to_stream_time (&trans->segment, GST_FORMAT_TIME, pts) : 0;
    if (!GST_CLOCK_TIME_IS_VALID (self->base_time))
      self->base_time = 0;
    self->text.base_pts = GST_CLOCK_TIME_IS_VALID (pts) ? pts : 0;
  }
  if (GST_BUFFER_PTS_IS_VALID (buf) && GST_BUFFER_DURATION_IS_VALID (buf))
    self->audio_end = GST_BUFFER_PTS (buf) + GST_BUFFER_DURATION (buf);
  const gfloat *samples;
  gsize n;
  if (!gst_vox_input_convert (&self->input, buf, &samples, &n, &err)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, (NULL), ("%s", err.message));
    return GST_FLOW_ERROR;
  }
  if (vox_asr_stream_accept (self->stream, samples, n, &err) != VOX_OK) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Speech recognition failed."),
        ("%s", err.message));
    return GST_FLOW_ERROR;
  }
  post_results (self, FALSE);
  GstFlowReturn ret = text_update (self, GST_CLOCK_TIME_NONE);
  forget_delivered (self);
  return ret;
}

static gboolean
gst_vox_asr_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstVoxAsr *self = GST_VOX_ASR (trans);
  vox_error err = { 0 };

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_EOS:
      if (self->stream) {
        if (vox_asr_stream_finish (self->stream, &err) != VOX_OK)
          GST_ELEMENT_WARNING (self, STREAM, FAILED, (NULL), ("%s", err.message));
        post_results (self, TRUE);
        vox_transcript t;
        vox_asr_stream_result (self->stream, &t);
        text_update (self, MAX (self->audio_end, gst_vox_text_out_time (&self->text, t.duration_s)));
      }
      gst_vox_text_out_forward (&self->text, GST_ELEMENT (self), event);
      break;
    case GST_EVENT_FLUSH_STOP:
      if (self->stream) {
        vox_asr_stream_reset (self->stream);
        gst_vox_input_reset (&self->input);
      }
      self->base_time = GST_CLOCK_TIME_NONE;
      self->committed = self->partial_len = 0;
      text_reset (self);
      gst_vox_text_out_forward (&self->text, GST_ELEMENT (self), event);
      break;
    case GST_EVENT_FLUSH_START:
      gst_vox_text_out_forward (&self->text, GST_ELEMENT (self), event);
      break;
    case GST_EVENT_SEGMENT:
      if (self->text.started)
        gst_vox_text_out_forward (&self->text, GST_ELEMENT (self), event);
      break;
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

static gboolean
gst_vox_asr_query (GstBaseTransform * trans, GstPadDirection direction,
    GstQuery * query)
{
  GstVoxAsr *self = GST_VOX_ASR (trans);
  gboolean ret = GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans,
      direction, query);

  if (ret && direction == GST_PAD_SRC) {
    GstClockTime own = self->latency_ms * GST_MSECOND;
    if (self->stream)
      own += (GstClockTime) (vox_asr_stream_latency_s (self->stream) * GST_SECOND);
    gst_vox_add_latency (query, own);
  }
  return ret;
}

/* The text pad answers a latency query as the audio pad does: upstream's plus the element's. */
static gboolean
gst_vox_asr_text_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstVoxAsr *self = GST_VOX_ASR (parent);

  if (GST_QUERY_TYPE (query) != GST_QUERY_LATENCY)
    return gst_pad_query_default (pad, parent, query);
  return gst_vox_asr_query (GST_BASE_TRANSFORM (self), GST_PAD_SRC, query);
}

static void
gst_vox_asr_finalize (GObject * object)
{
  GstVoxAsr *self = GST_VOX_ASR (object);

  release (self);
  g_free (self->model_path);
  g_free (self->lm_path);
  g_free (self->hotwords);
  g_free (self->language);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_vox_asr_class_init (GstVoxAsrClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (vox_asr_debug, "voxasr", 0, "voxpipe speech recognition");
  gobject_class->set_property = gst_vox_asr_set_property;
  gobject_class->get_property = gst_vox_asr_get_property;
  gobject_class->finalize = gst_vox_asr_finalize;

  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "Path of the .nemo or PyTorch checkpoint (default: the bundled English model)",
          DEFAULT_MODEL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_int ("threads", "Threads", "Worker threads of the recognizer",
          1, 64, DEFAULT_THREADS, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_PARTIAL_RESULTS,
      g_param_spec_boolean ("partial-results", "Partial results",
          "Post partial (is-final=false) messages whenever the text changes",
          DEFAULT_PARTIAL_RESULTS, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_ENDPOINT_SILENCE_MS,
      g_param_spec_uint ("endpoint-silence-ms", "Endpoint silence",
          "Milliseconds without a new word that end an utterance (final result)",
          50, 60000, DEFAULT_ENDPOINT_SILENCE_MS, G_PARAM_READWRITE |
          G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_CHUNK_MS,
      g_param_spec_uint ("chunk-ms", "Chunk",
          "Milliseconds per chunk in buffered mode (models with per-utterance normalization)",
          100, 60000, DEFAULT_CHUNK_MS, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_LATENCY,
      g_param_spec_uint ("latency", "Latency",
          "Extra milliseconds of processing budget added to the reported latency "
          "(transcriberbin sets it)", 0, G_MAXUINT, DEFAULT_LATENCY_MS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  g_object_class_install_property (gobject_class, PROP_BEAM_SIZE,
      g_param_spec_uint ("beam-size", "Beam size",
          "Prefixes kept by CTC prefix beam search; 1 = greedy decoding unless lm or "
          "hotwords is set (then 16)", 1, 4096, DEFAULT_BEAM_SIZE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_LM,
      g_param_spec_string ("lm", "Language model",
          "Word n-gram LM for beam search: ARPA file or CMU Sphinx binary (.lm.bin)",
          NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_LM_ALPHA,
      g_param_spec_double ("lm-alpha", "LM weight", "Weight of the LM's log-probability",
          0.0, 10.0, DEFAULT_LM_ALPHA, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_LM_BETA,
      g_param_spec_double ("lm-beta", "Word bonus", "Score added per word (natural log)",
          -20.0, 20.0, DEFAULT_LM_BETA, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_HOTWORDS,
      g_param_spec_string ("hotwords", "Hot words",
          "Comma-separated words to favour, each with an optional :boost (natural log, "
          "default 5), e.g. \"voxpipe:5,gstreamer\"", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_LANGUAGE_CODE,
      g_param_spec_string ("language-code", "Language code",
          "ISO 639 code of the model's language, sent as the text pad's language-code tag",
          DEFAULT_LANGUAGE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_add_static_pad_template (element_class, &text_template);
  element_class->request_new_pad = GST_DEBUG_FUNCPTR (gst_vox_asr_request_new_pad);
  element_class->release_pad = GST_DEBUG_FUNCPTR (gst_vox_asr_release_pad);
  gst_element_class_set_static_metadata (element_class, "voxpipe speech recognition",
      "Filter/Analyzer/Audio",
      "Speech to text with NeMo-style CTC models; audio passes through, results are "
      "posted as 'voxasr' element messages and, on the requested text pad, as timed words",
      "voxpipe developers");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_vox_asr_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_vox_asr_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_vox_asr_set_caps);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_vox_asr_transform_ip);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_vox_asr_sink_event);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_vox_asr_query);
  trans_class->passthrough_on_same_caps = TRUE;
  trans_class->transform_ip_on_passthrough = TRUE;
}

static void
gst_vox_asr_init (GstVoxAsr * self)
{
  self->threads = DEFAULT_THREADS;
  self->partial_results = DEFAULT_PARTIAL_RESULTS;
  self->endpoint_silence_ms = DEFAULT_ENDPOINT_SILENCE_MS;
  self->chunk_ms = DEFAULT_CHUNK_MS;
  self->latency_ms = DEFAULT_LATENCY_MS;
  self->beam_size = DEFAULT_BEAM_SIZE;
  self->lm_alpha = DEFAULT_LM_ALPHA;
  self->lm_beta = DEFAULT_LM_BETA;
  self->base_time = GST_CLOCK_TIME_NONE;
  self->language = g_strdup (DEFAULT_LANGUAGE);
  text_reset (self);
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
}
