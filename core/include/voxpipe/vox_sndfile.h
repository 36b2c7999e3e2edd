/* vox_sndfile.h - standard input for programs that read audio through libsndfile themselves.
 *
 * libsndfile reads WAV, AIFF, AU and Ogg from a pipe with sf_open_fd, but not the rest well: it
 * consumes the pipe's first bytes to recognise the format and never hands them to its FLAC decoder
 * (`cat x.flac | prog -` fails with "flac decoder lost sync"; libsndfile pull request 1097), and its
 * MPEG reader over-reads its header buffer on a malformed stream (found by our fuzzing; libsndfile
 * 1.2.0). These functions open standard input so that such pipes are read through virtual I/O that
 * replays the first bytes instead. voxpipe's own reader (vox_audio_open with "-") uses them. */
#ifndef VOX_SNDFILE_H
#define VOX_SNDFILE_H

#include <sndfile.h>

#include "vox_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What an open standard input keeps beside its SNDFILE (the bytes it replays). */
typedef struct vox_sndfile_stdin vox_sndfile_stdin;

/* Opens standard input for reading, as sf_open_fd(0, SFM_READ, info, 0) does (info->format set for
 * raw input, else zeroed), except that a pipe or socket that does not start like WAV, AIFF, AU or
 * Ogg is read through virtual I/O that replays the bytes libsndfile looks at first.
 * info->seekable is 0 whenever standard input is a pipe or a socket; info->frames is then
 * SF_COUNT_MAX (unknown: a WAV written to a pipe declares a placeholder, an MP3's is an estimate)
 * except for FLAC, whose header declares it (a stream that ends before it is truncated).
 * Returns NULL where libsndfile
 * cannot open it (sf_strerror(NULL) says why) or memory runs out; else the SNDFILE, with *state to
 * pass to vox_sndfile_stdin_close. Blocks until the first bytes arrive. */
VOX_API SNDFILE *vox_sndfile_open_stdin(SF_INFO *info, vox_sndfile_stdin **state);

/* Closes what vox_sndfile_open_stdin opened (sf may be NULL; state may be NULL). */
VOX_API void vox_sndfile_stdin_close(SNDFILE *sf, vox_sndfile_stdin *state);

#ifdef __cplusplus
}
#endif

#endif
