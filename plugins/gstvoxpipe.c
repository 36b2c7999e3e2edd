/* gstvoxpipe.c - the voxpipe GStreamer plugin: registers its elements. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "gstvoxasr.h"
#include "gstvoxvad.h"
#include "gstvoxdenoise.h"
#include "gstvoxkws.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ret = FALSE;

  ret |= GST_ELEMENT_REGISTER (voxasr, plugin);
  ret |= GST_ELEMENT_REGISTER (voxvad, plugin);
  ret |= GST_ELEMENT_REGISTER (voxdenoise, plugin);
  ret |= GST_ELEMENT_REGISTER (voxkws, plugin);
  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, voxpipe,
    "voxpipe speech elements: NeMo-style ASR (and VAD, enhancement, keywords) without Python",
    plugin_init, VERSION, "MIT/X11", PACKAGE_NAME, "https://voxpipe.invalid/")
