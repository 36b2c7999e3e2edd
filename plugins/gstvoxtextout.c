/* gstvoxtextout.c - voxasr's text pad (see gstvoxtextout.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstvoxtextout.h"

#include <string.h>

static GstPad *
ref_pad (GstVoxTextOut * t, GstElement * owner)
{
  GstPad *pad;

  GST_OBJECT_LOCK (owner);
  pad = t->pad ? gst_object_ref (t->pad) : NULL;
  GST_OBJECT_UNLOCK (owner);
  return pad;
}

void
gst_vox_text_out_reset (GstVoxTextOut * t)
{
  t->base_pts = GST_CLOCK_TIME_NONE;
  t->words = t->final = 0;
  t->pos = 0;
  t->gap = FALSE;
}

GstClockTime
gst_vox_text_out_time (const GstVoxTextOut * t, double seconds)
{
  return t->base_pts + (GstClockTime) (seconds * GST_SECOND);
}

/* The sticky events a text stream starts with: stream-start (in upstream's group), caps, the
 * audio's segment, the language tag. */
static void
start (GstVoxTextOut * t, GstBaseTransform * owner, GstPad * pad, const gchar * language)
{
  gchar *id = gst_pad_create_stream_id (pad, GST_ELEMENT (owner), "text");
  GstEvent *ev = gst_event_new_stream_start (id), *up;
  guint group;

  g_free (id);
  up = gst_pad_get_sticky_event (owner->sinkpad, GST_EVENT_STREAM_START, 0);
  if (up && gst_event_parse_group_id (up, &group))
    gst_event_set_group_id (ev, group);
  if (up)
    gst_event_unref (up);
  gst_pad_push_event (pad, ev);
  GstCaps *caps = gst_caps_new_simple ("text/x-raw", "format", G_TYPE_STRING, "utf8", NULL);
  gst_pad_push_event (pad, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  gst_pad_push_event (pad, gst_event_new_segment (&owner->segment));
  GstTagList *tags = gst_tag_list_new (GST_TAG_LANGUAGE_CODE, language, NULL);
  gst_tag_list_set_scope (tags, GST_TAG_SCOPE_STREAM);
  gst_pad_push_event (pad, gst_event_new_tag (tags));
  t->started = TRUE;
}

GstFlowReturn
gst_vox_text_out_update (GstVoxTextOut * t, GstBaseTransform * owner, vox_asr_stream * stream,
    gsize committed, const gchar * language, GstClockTime until)
{
  GstPad *pad = ref_pad (t, GST_ELEMENT (owner));
  GstFlowReturn ret = GST_FLOW_OK;
  vox_transcript tr;

  if (!pad || !GST_CLOCK_TIME_IS_VALID (t->base_pts))
    goto out;
  if (!t->started)
    start (t, owner, pad, language);
  vox_asr_stream_result (stream, &tr);
  gsize upto = MAX (tr.n_stable_words, committed);
  upto = MIN (upto, tr.n_words);
  for (; t->words < upto && ret == GST_FLOW_OK; t->words++) {
    const vox_word *w = &tr.words[t->words];
    GstClockTime s = MAX (gst_vox_text_out_time (t, w->start_s), t->pos);
    GstClockTime e = MAX (gst_vox_text_out_time (t, w->end_s), s);
    GstBuffer *b = gst_buffer_new_memdup (w->text, strlen (w->text));
    GST_BUFFER_PTS (b) = s;
    GST_BUFFER_DURATION (b) = e - s;
    ret = gst_pad_push (pad, b);
    t->pos = e;
  }
  if (ret == GST_FLOW_OK && committed > t->final) {
    t->final = committed;
    gst_pad_push_event (pad, gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM,
            gst_structure_new_empty ("rstranscribe/final-transcript")));
  }
  GstClockTime safe = GST_CLOCK_TIME_IS_VALID (until) ? until
      : gst_vox_text_out_time (t, upto < tr.n_words ? tr.words[upto].start_s : tr.duration_s);
  if (ret == GST_FLOW_OK && (safe > t->pos || !t->gap)) {
    GstClockTime from = t->pos;
    t->pos = MAX (safe, from);
    t->gap = TRUE;              /* the first one, even empty, lets the text sink preroll */
    gst_pad_push_event (pad, gst_event_new_gap (from, t->pos - from));
  }
out:
  if (pad)
    gst_object_unref (pad);
  return ret == GST_FLOW_NOT_LINKED || ret == GST_FLOW_FLUSHING || ret == GST_FLOW_EOS ? GST_FLOW_OK : ret;
}

void
gst_vox_text_out_forward (GstVoxTextOut * t, GstElement * owner, GstEvent * event)
{
  GstPad *pad = ref_pad (t, owner);

  if (pad) {
    gst_pad_push_event (pad, gst_event_ref (event));
    gst_object_unref (pad);
  }
}

void
gst_vox_text_out_forget (GstVoxTextOut * t, gsize gone)
{
  t->words -= MIN (gone, t->words);
  t->final -= MIN (gone, t->final);
}

gboolean
gst_vox_text_out_has_pad (GstVoxTextOut * t, GstElement * owner)
{
  GST_OBJECT_LOCK (owner);
  gboolean has = t->pad != NULL;
  GST_OBJECT_UNLOCK (owner);
  return has;
}

GstPad *
gst_vox_text_out_request (GstVoxTextOut * t, GstElement * owner, GstPadTemplate * templ,
    GstPadQueryFunction query)
{
  GstPad *pad;

  GST_OBJECT_LOCK (owner);
  if (t->pad) {
    GST_OBJECT_UNLOCK (owner);
    GST_WARNING_OBJECT (owner, "%s has one text pad, already requested", GST_ELEMENT_NAME (owner));
    return NULL;
  }
  pad = gst_pad_new_from_template (templ, "text");
  gst_pad_use_fixed_caps (pad);
  gst_pad_set_query_function (pad, query);
  t->pad = pad;
  t->started = FALSE;
  gboolean running = GST_STATE (owner) >= GST_STATE_PAUSED;
  GST_OBJECT_UNLOCK (owner);
  if (running)
    gst_pad_set_active (pad, TRUE);
  gst_element_add_pad (owner, pad);
  return pad;
}

void
gst_vox_text_out_release (GstVoxTextOut * t, GstElement * owner, GstPad * pad)
{
  GST_OBJECT_LOCK (owner);
  if (pad == t->pad)
    t->pad = NULL;
  GST_OBJECT_UNLOCK (owner);
  gst_pad_set_active (pad, FALSE);
  gst_element_remove_pad (owner, pad);
}
