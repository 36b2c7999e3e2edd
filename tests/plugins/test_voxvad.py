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
                                                          "min-duration-on", "min-duration-off", "post-messages",
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
p = gst("audiotestsrc", "num-buffers=10", "!", "voxvad", "model=" + os.path.join(d, "nope.nemo"), "!", "fakesink")
T.check(p.returncode != 0 and "Could not load the VAD model" in p.stdout + p.stderr, "missing model: GStreamer error")
asr = os.path.join(T.SRCDIR, "share", "models", "quartznet-stream-en.nemo")
p = gst("audiotestsrc", "num-buffers=10", "!", "voxvad", "model=" + asr, "!", "fakesink")
T.check(p.returncode != 0 and "cannot be used for voice activity detection" in p.stdout + p.stderr,
        "an ASR model given to voxvad: GStreamer error")
T.finish()
