/* gstvoxasr.h - voxasr: speech recognition on an audio stream, results as element messages. */
#ifndef GST_VOX_ASR_H
#define GST_VOX_ASR_H

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_VOX_ASR (gst_vox_asr_get_type ())
G_DECLARE_FINAL_TYPE (GstVoxAsr, gst_vox_asr, GST, VOX_ASR, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (voxasr);

G_END_DECLS

#endif
