/* gstvoxvad.h - voxvad: voice activity detection on an audio stream, boundaries as element messages. */
#ifndef GST_VOX_VAD_H
#define GST_VOX_VAD_H

#include "gstvoxanalyzer.h"

G_BEGIN_DECLS

#define GST_TYPE_VOX_VAD (gst_vox_vad_get_type ())
G_DECLARE_FINAL_TYPE (GstVoxVad, gst_vox_vad, GST, VOX_VAD, GstVoxAnalyzer)

GST_ELEMENT_REGISTER_DECLARE (voxvad);

G_END_DECLS

#endif
