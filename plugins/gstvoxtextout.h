/* gstvoxtextout.h - voxasr's text pad: the transcript as timed word buffers (text/x-raw utf8),
 * only words no later audio can change, with GAP events that keep the pad's time up with the
 * audio so that overlays, muxers and sinks downstream never wait. */
#ifndef GST_VOX_TEXT_OUT_H
#define GST_VOX_TEXT_OUT_H

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>
#include <voxpipe/voxpipe.h>

G_BEGIN_DECLS

typedef struct
{
  GstPad *pad;                  /* the requested pad or NULL; set and cleared under the owner's object lock */
  gboolean started;             /* stream-start, caps, segment and tags sent */
  GstClockTime base_pts;        /* buffer time of the recognizer's sample 0 (NONE until the first buffer) */
  gsize words;                  /* words pushed */
  gsize final;                  /* words covered by a final-transcript event */
  GstClockTime pos;             /* buffer time up to which the pad is covered */
  gboolean gap;                 /* a GAP went out since the start */
} GstVoxTextOut;

/* Back to the start of a stream (after a flush, at start); the pad and `started` stay. */
void gst_vox_text_out_reset (GstVoxTextOut * t);
/* Buffer time of a time in the recognizer's stream (seconds since its sample 0). */
GstClockTime gst_vox_text_out_time (const GstVoxTextOut * t, double seconds);
/* Pushes the stable words of `stream` (and all of the first `committed`, which were posted as
 * final), then a GAP up to where the next such word can start, or up to `until` when valid (EOS).
 * An unlinked, flushing or finished text branch gives GST_FLOW_OK: it must not stop the audio. */
GstFlowReturn gst_vox_text_out_update (GstVoxTextOut * t, GstBaseTransform * owner,
    vox_asr_stream * stream, gsize committed, const gchar * language, GstClockTime until);
/* Sends a reference of a serialized or flush event on the text pad, if there is one. */
void gst_vox_text_out_forward (GstVoxTextOut * t, GstElement * owner, GstEvent * event);
/* The first `gone` words were forgotten by the recognizer: counts move down with them. */
void gst_vox_text_out_forget (GstVoxTextOut * t, gsize gone);
/* Whether a text pad was requested (words must then be pushed before they are forgotten). */
gboolean gst_vox_text_out_has_pad (GstVoxTextOut * t, GstElement * owner);

/* request_new_pad / release_pad of the owner: one text pad at most. */
GstPad *gst_vox_text_out_request (GstVoxTextOut * t, GstElement * owner, GstPadTemplate * templ,
    GstPadQueryFunction query);
void gst_vox_text_out_release (GstVoxTextOut * t, GstElement * owner, GstPad * pad);

G_END_DECLS

#endif
