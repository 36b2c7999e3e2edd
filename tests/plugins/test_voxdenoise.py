#!/usr/bin/python3
"""voxdenoise GStreamer element: documented property and caps; `filesrc ! decodebin ! audioconvert !
audioresample ! voxdenoise ! wavenc ! filesink` writes a valid file of the input's length whose
samples equal libvoxpipe's own enhancement; GstHarness checks (timestamps, EOS flush, flushing seek,
latency query, state cycles); clean errors for a missing or wrong model. Skips when the plugin was
not built."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import testlib as T  # noqa: E402

T.need_torch()
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(T.SRCDIR, "models", "frcrn"))
import frcrn as FR  # noqa: E402

d = T.tmpdir()
env = T.gst_env(d)
model = os.path.join(d, "frcrn")
FR.save_modelscope(model, FR.randomize(FR.FRCRN(16, "cumulative"), 9))
SAMPLE = os.path.join(T.SRCDIR, "share", "samples", "sample-en.wav")


def gst(*args):
    return subprocess.run(["gst-launch-1.0"] + list(args), capture_output=True, text=True, env=env, timeout=300)


p = subprocess.run(["gst-inspect-1.0", "voxdenoise"], capture_output=True, text=True, env=env)
T.check(p.returncode == 0 and "model" in p.stdout and "F32LE" in p.stdout and "16000" in p.stdout,
        "gst-inspect-1.0 voxdenoise: model property, F32LE 16 kHz mono caps")

raw = os.path.join(d, "in.f32")
subprocess.run(["sox", SAMPLE, "-t", "f32", raw], check=True)
ref = os.path.join(d, "ref.f32")
T.run([T.TOOL, "enhance", model, raw, ref, "1600"])
out = os.path.join(d, "out.wav")
p = gst("filesrc", "location=" + SAMPLE, "!", "decodebin", "!", "audioconvert", "!", "audioresample", "!",
        "voxdenoise", "model=" + model, "!", "wavenc", "!", "filesink", "location=" + out)
ok = p.returncode == 0 and os.path.exists(out)
if ok:
    got = np.frombuffer(subprocess.run(["sox", out, "-t", "f32", "-"], capture_output=True).stdout, dtype=np.float32)
    want = T.read_f32(ref)
    ok = len(got) == len(want) and float(np.abs(got - want).max()) <= 2e-4
T.check(ok, "decodebin ! audioconvert ! audioresample ! voxdenoise ! wavenc: a valid WAV, every sample, equal to "
        "libvoxpipe's enhancement %s" % p.stderr.strip()[-200:])

harness = os.path.join(T.BUILDDIR, "tests", "voxdenoise_harness")
if os.path.exists(harness):
    p = subprocess.run([harness, model, raw, ref, "200"], capture_output=True, text=True, env=env, timeout=600)
    print(p.stdout, end="")
    T.check(p.returncode == 0, "GstHarness checks (timestamps, EOS, flush, latency, 200 state cycles) %s" %
            p.stderr.strip()[-200:])

for path, needle, what in ((os.path.join(d, "nothing-here"), "Could not load", "missing model"),
                           (os.path.join(T.SRCDIR, "share", "models", "marblenet-vad.nemo"), "not a 16 kHz speech "
                            "enhancement model", "VAD model")):
    p = gst("filesrc", "location=" + SAMPLE, "!", "decodebin", "!", "audioconvert", "!", "audioresample", "!",
            "voxdenoise", "model=" + path, "!", "fakesink")
    T.check(p.returncode != 0 and needle in (p.stdout + p.stderr), "%s: the pipeline fails with an element error "
            "naming the problem" % what)
p = gst("audiotestsrc", "num-buffers=5", "!", "audio/x-raw,rate=44100,channels=2", "!", "voxdenoise", "model=" + model,
        "!", "fakesink")
T.check(p.returncode != 0 and "can't handle caps" in (p.stdout + p.stderr),
        "44.1 kHz stereo straight into voxdenoise: refused at negotiation (%s)" % (p.stdout + p.stderr).strip()[-120:])
T.finish()
