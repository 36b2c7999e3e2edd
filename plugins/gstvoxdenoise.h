/* gstvoxdenoise.h - voxdenoise: speech enhancement of an audio stream with an FRCRN-style model. */
#ifndef GST_VOX_DENOISE_H
#define GST_VOX_DENOISE_H

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_VOX_DENOISE (gst_vox_denoise_get_type ())
G_DECLARE_FINAL_TYPE (GstVoxDenoise, gst_vox_denoise, GST, VOX_DENOISE, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (voxdenoise);

G_END_DECLS

#endif
