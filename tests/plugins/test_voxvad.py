#!/usr/bin/python3
"""voxvad GStreamer element through gst-launch-1.0: documented properties, boundaries as `voxvad`
element messages equal to the streaming VAD of libvoxpipe and to offline `voxpipe vad`, any rate and
channel count in, clean errors for a missing or wrong model. Skips when the plugin was not built."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import testlib as T  # noqa: E402
import numpy as np  # noqa: E402
import scipy.io.wavfile  # noqa: E402

d = T.tmpdir()
env = T.gst_env(d)


def gst(*args):
    return subprocess.run(["gst-launch-1.0"] + list(args), capture_output=True, text=True, env=env, timeout=120)


def boundaries(out):
    res = []
    for line in out.splitlines():
        if "(element): voxvad," in line:
            speech = "speech=(boolean)true" in line
            ts = int(re.search(r"timestamp=\(guint64\)(\d+)", line).group(1)) / 1e9
            res.append((speech, round(ts, 3)))
    return res


p = subprocess.run(["gst-inspect-1.0", "voxvad"], capture_output=True, text=True, env=env)
T.check(p.returncode == 0 and all(k in p.stdout for k in ("onset", "offset", "pad-onset", "pad-offset",
                                                          "min-duration-on", "min-duration-off", "post-messages", "drop-non-speech",
                                                          "model")),
        "gst-inspect-1.0 voxvad: NeMo's post-processing vocabulary as properties")

rate, x = scipy.io.wavfile.read(os.path.join(T.SRCDIR, "share", "samples", "sample-en.wav"))
sig = np.concatenate([np.zeros(24000, x.dtype), x, np.zeros(12000, x.dtype), x[:30000], np.zeros(20000, x.dtype)])
wav = os.path.join(d, "sig.wav")
scipy.io.wavfile.write(wav, 16000, sig)
model = os.path.join(T.SRCDIR, "share", "models", "marblenet-vad.nemo")
want = [float(v) for v in T.run([T.VOXPIPE, "vad", "-m", model, "--no-filter-speech-first", wav]).stdout.split()]
p = gst("-m", "filesrc", "location=" + wav, "!", "decodebin", "!", "audioconvert", "!", "voxvad", "!", "fakesink")
b = boundaries(p.stdout)
ok = p.returncode == 0 and [s for s, _ in b] == [i % 2 == 0 for i in range(len(b))] and len(b) == len(want) and \
    all(abs(t - w) <= 0.011 for (_, t), w in zip(b, want))
T.check(ok, "voxvad messages (start, end, ...) %s = offline voxpipe vad %s" % (b, want))
p = gst("-m", "filesrc", "location=" + wav, "!", "decodebin", "!", "audioconvert", "!", "audioresample", "!",
        "audio/x-raw,rate=48000,channels=2,format=S16LE", "!", "voxvad", "!", "fakesink")
b2 = boundaries(p.stdout)
T.check(p.returncode == 0 and len(b2) == len(b) and all(abs(s[1] - t[1]) <= 0.03 for s, t in zip(b, b2)),
        "48 kHz stereo S16LE in: the same boundaries within 30 ms %s" % b2)
p = gst("-m", "filesrc", "location=" + wav, "!", "decodebin", "!", "audioconvert", "!", "voxvad",
        "post-messages=false", "!", "fakesink")
T.check(p.returncode == 0 and not boundaries(p.stdout), "post-messages=false: no messages")

# drop-non-speech: speech passes unchanged, non-speech becomes GAP events (audiorate fills them with
# silence, so the output lines up with the input; without it only the speech samples remain)
def gated(caps, fill, props=()):
    out = os.path.join(d, "gated.wav")
    chain = ["filesrc", "location=" + wav, "!", "decodebin", "!", "audioconvert", "!", "audioresample", "!",
             caps, "!", "voxvad", "drop-non-speech=true"] + list(props) + ["!"] + (["audiorate", "!"] if fill else []) + \
        ["audioconvert", "!", "audioresample", "!", "audio/x-raw,rate=16000,channels=1,format=S16LE", "!",
         "wavenc", "!", "filesink", "location=" + out]
    p = gst("-m", *chain)
    return p, boundaries(p.stdout), (scipy.io.wavfile.read(out)[1] if p.returncode == 0 else np.zeros(0))


def speech_mask(bd):
    mask = np.zeros(len(sig), bool)
    for (s0, t0), (s1, t1) in zip(bd[::2], bd[1::2]):
        mask[int(round(t0 * 16000)):int(round(t1 * 16000))] = True
    return mask


for props in ([], ["pad-onset=0.2", "pad-offset=0.3", "min-duration-on=0.5", "min-duration-off=1.5"]):
    p, bd, y = gated("audio/x-raw,rate=16000,channels=1", True, props)
    mask = speech_mask(bd)
    T.check(p.returncode == 0 and len(bd) >= 2 and len(y) == len(sig) and np.array_equal(y[mask], sig[mask]) and
            not y[~mask].any(), "drop-non-speech %s: speech samples unchanged, the rest a GAP (%d of %d samples "
            "kept, boundaries %s)" % (" ".join(props), mask.sum(), len(sig), bd))
mask = speech_mask(b)
p, bd, y = gated("audio/x-raw,rate=16000,channels=1", False)
T.check(p.returncode == 0 and np.array_equal(y, sig[mask]), "drop-non-speech without audiorate: exactly the "
        "speech samples (%d)" % len(y))
p, bd2, y = gated("audio/x-raw,rate=48000,channels=2,format=S16LE", False)
T.check(p.returncode == 0 and abs(len(y) - mask.sum()) <= 0.03 * 16000 * len(bd2),
        "drop-non-speech at 48 kHz stereo: the same speech within 30 ms a boundary (%d vs %d samples)" %
        (len(y), mask.sum()))
# GstHarness (tests/plugins/voxvad_harness.c): pass-through, message timestamps, EOS closing the open
# segment, flushing seek, latency queries, the gate's buffers and GAP events, errors
harness = os.path.join(T.BUILDDIR, "tests", "voxvad_harness")
if os.path.exists(harness):
    open_end = np.concatenate([np.zeros(24000, x.dtype), x, np.zeros(12000, x.dtype), x[:30000]])
    hwav, hf32 = os.path.join(d, "open.wav"), os.path.join(d, "open.f32")
    scipy.io.wavfile.write(hwav, 16000, open_end)
    T.write_f32(hf32, open_end.astype(np.float32) / 32768)
    hb = T.run([T.VOXPIPE, "vad", "-m", model, "--no-filter-speech-first", hwav]).stdout.split()
    p = subprocess.run([harness, model, hf32] + hb, capture_output=True, text=True, env=env, timeout=300)
    print(p.stdout, end="")
    T.check(p.returncode == 0, "GstHarness checks (pass-through, boundaries, EOS, flush, latency, gate, errors): "
            "exit %d %s" % (p.returncode, p.stderr.strip()[-300:]))
else:
    print("skip GstHarness checks: built without gst-check")
p = gst("audiotestsrc", "num-buffers=10", "!", "voxvad", "model=" + os.path.join(d, "nope.nemo"), "!", "fakesink")
T.check(p.returncode != 0 and "Could not load the VAD model" in p.stdout + p.stderr, "missing model: GStreamer error")
asr = os.path.join(T.SRCDIR, "share", "models", "quartznet-stream-en.nemo")
p = gst("audiotestsrc", "num-buffers=10", "!", "voxvad", "model=" + asr, "!", "fakesink")
T.check(p.returncode != 0 and "cannot be used for voice activity detection" in p.stdout + p.stderr,
        "an ASR model given to voxvad: GStreamer error")
T.finish()
