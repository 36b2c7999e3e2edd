/* voxpipe.h - umbrella header of libvoxpipe.
 *
 * voxpipe runs NeMo-style speech models (QuartzNet ASR, MarbleNet VAD, MatchboxNet commands,
 * FRCRN enhancement) from C, loading `.nemo` / PyTorch checkpoints directly.
 *
 * Typical flow (see vox_asr.h):
 *   vox_model_load(path) -> vox_asr_stream_new(model) -> accept samples / transcribe a file ->
 *   vox_asr_stream_result -> vox_asr_stream_free -> vox_model_free.
 *
 * Threads: a model is read-only after loading and may be shared by any number of threads; every
 * other handle (streams, readers, decoders) is used by one thread at a time, and different handles
 * run in parallel. Errors are returned as vox_status with a vox_error message (vox_error.h).
 */
#ifndef VOXPIPE_H
#define VOXPIPE_H

#include "voxpipe/vox_asr.h"
#include "voxpipe/vox_audio.h"
#include "voxpipe/vox_checkpoint.h"
#include "voxpipe/vox_config.h"
#include "voxpipe/vox_conv_encoder.h"
#include "voxpipe/vox_ctc.h"
#include "voxpipe/vox_ctc_beam.h"
#include "voxpipe/vox_error.h"
#include "voxpipe/vox_features.h"
#include "voxpipe/vox_fft.h"
#include "voxpipe/vox_kws_stream.h"
#include "voxpipe/vox_lm.h"
#include "voxpipe/vox_model.h"
#include "voxpipe/vox_model_plugin.h"
#include "voxpipe/vox_vad.h"
#include "voxpipe/vox_vad_stream.h"

#define VOXPIPE_VERSION "0.1.0"

#endif
