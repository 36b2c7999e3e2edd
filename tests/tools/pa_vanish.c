/* pa_vanish.so - LD_PRELOAD shim for tests/apps/test_transcribe.py: the capture device "vanishes"
 * after VOX_PA_VANISH_AFTER reads (Pa_ReadStream answers paDeviceUnavailable from then on), which
 * no ALSA test device can do on cue. A test fixture, so its call counter is a plain global. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif
#include <dlfcn.h>
#include <portaudio.h>
#include <stdlib.h>

__attribute__((visibility("default"))) PaError Pa_ReadStream(PaStream *stream, void *buffer, unsigned long frames);

static long reads;

PaError Pa_ReadStream(PaStream *stream, void *buffer, unsigned long frames) {
  PaError (*real)(PaStream *, void *, unsigned long) =
      (PaError(*)(PaStream *, void *, unsigned long))dlsym(RTLD_NEXT, "Pa_ReadStream");
  const char *after = getenv("VOX_PA_VANISH_AFTER");
  if (!real || (after && ++reads > atol(after)))
    return paDeviceUnavailable;
  return real(stream, buffer, frames);
}
