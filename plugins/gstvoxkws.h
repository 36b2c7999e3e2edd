/* gstvoxkws.h - voxkws: command words spotted in an audio stream, as element messages. */
#ifndef GST_VOX_KWS_H
#define GST_VOX_KWS_H

#include "gstvoxanalyzer.h"

G_BEGIN_DECLS

#define GST_TYPE_VOX_KWS (gst_vox_kws_get_type ())
G_DECLARE_FINAL_TYPE (GstVoxKws, gst_vox_kws, GST, VOX_KWS, GstVoxAnalyzer)

GST_ELEMENT_REGISTER_DECLARE (voxkws);

G_END_DECLS

#endif
