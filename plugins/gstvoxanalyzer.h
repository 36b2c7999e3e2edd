/* gstvoxanalyzer.h - GstVoxAnalyzer: the abstract base of the voxpipe elements that listen to audio
 * passing through and post what they find (voxvad, voxkws).
 *
 * It owns what they share: the `model` property (default: the subclass's bundled model), loading
 * the model when the element starts (a missing or unsuitable model fails the state change with an
 * element error naming the file), conversion of any rate, channel count, F32LE or S16LE to mono
 * samples at the model's rate, the buffer time of the stream's first sample, a restart at each
 * flush, the end of the stream at EOS, and the answer to latency queries (upstream's plus the
 * subclass's own when upstream is live). Audio passes through unchanged unless the subclass holds
 * buffers back (analyze returning GST_BASE_TRANSFORM_FLOW_DROPPED). */
#ifndef GST_VOX_ANALYZER_H
#define GST_VOX_ANALYZER_H

#include <gst/audio/audio.h>
#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>
#include <voxpipe/voxpipe.h>

G_BEGIN_DECLS

#define GST_TYPE_VOX_ANALYZER (gst_vox_analyzer_get_type ())
G_DECLARE_DERIVABLE_TYPE (GstVoxAnalyzer, gst_vox_analyzer, GST, VOX_ANALYZER, GstBaseTransform)

struct _GstVoxAnalyzerClass
{
  GstBaseTransformClass parent_class;

  const gchar *bundled_model;   /* file name under the data directory's models/ */
  const gchar *model_kind;      /* in "Could not load the <kind> model" */
  const gchar *task;            /* in "... cannot be used for <task>" */

  /* The model loaded: make the analysis state; *latency (ns) is what the element adds to a live
   * pipeline. FALSE with err set when the model does not suit. */
  gboolean (*open) (GstVoxAnalyzer * self, vox_model * model, GstClockTime * latency, vox_error * err);
  /* Frees the analysis state (also after a failed open). */
  void (*close) (GstVoxAnalyzer * self);
  /* One buffer's audio as mono samples at the model's rate. GST_FLOW_ERROR with err set on
   * failure; GST_BASE_TRANSFORM_FLOW_DROPPED when the subclass keeps the buffer to push later. */
  GstFlowReturn (*analyze) (GstVoxAnalyzer * self, GstBuffer * buf, const gfloat * samples, gsize n,
      vox_error * err);
  /* EOS: the end of the stream (results still pending are posted). */
  void (*finish) (GstVoxAnalyzer * self);
  /* FLUSH_STOP: forget the stream; the next buffer starts a new one. */
  void (*reset) (GstVoxAnalyzer * self);
};

/* Buffer time (ns) of the current stream's first sample; GST_CLOCK_TIME_NONE before it arrives. */
GstClockTime gst_vox_analyzer_base_ts (GstVoxAnalyzer * self);
/* The negotiated input format. */
const GstAudioInfo *gst_vox_analyzer_info (GstVoxAnalyzer * self);
/* Posts `s` (taking it) as an element message, with the stream-time and running-time (guint64 ns)
 * of buffer time `ts` added. */
void gst_vox_analyzer_post (GstVoxAnalyzer * self, GstStructure * s, GstClockTime ts);

G_END_DECLS

#endif
