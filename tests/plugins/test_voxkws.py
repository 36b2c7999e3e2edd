#!/usr/bin/python3
"""voxkws GStreamer element through gst-launch-1.0: documented properties; detections posted as
`voxkws` element messages equal `voxpipe commands` on the same audio (both use vox_kws_stream),
also from 44.1 kHz stereo; clean errors for a missing model and a model that is not a classifier; GstHarness checks
(tests/plugins/voxkws_harness.c: pass-through, message times against the segment, EOS, flushing seek,
latency query, properties, errors). Skips when the plugin was not built or espeak-ng is missing."""
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import testlib as T  # noqa: E402

d = T.tmpdir()
env = T.gst_env(d)
if not shutil.which("espeak-ng") or not shutil.which("sox"):
    print("SKIP: espeak-ng or sox missing")
    sys.exit(T.SKIP)
MODEL = os.path.join(T.SRCDIR, "share", "models", "matchboxnet-commands.nemo")


def gst(*args):
    return subprocess.run(["gst-launch-1.0", "-m"] + list(args), capture_output=True, text=True, env=env, timeout=300)


def detections(out):
    res = []
    for line in out.splitlines():
        m = re.search(r"voxkws, word=\(string\)(\w+), score=\(double\)([0-9.e-]+), start=\(guint64\)(\d+), "
                      r"end=\(guint64\)(\d+)", line)
        if m:
            res.append((m.group(1), int(m.group(3)) / 1e9, int(m.group(4)) / 1e9, float(m.group(2))))
    return res


p = subprocess.run(["gst-inspect-1.0", "voxkws"], capture_output=True, text=True, env=env)
T.check(p.returncode == 0 and all(k in p.stdout for k in ("model", "threshold", "window-ms", "shift-ms")),
        "gst-inspect-1.0 voxkws documents model, threshold, window-ms, shift-ms")

parts = []
for i, w in enumerate(("yes", "stop", "left")):
    part = os.path.join(d, "w%d.wav" % i)
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", part, w], check=True)
    padded = os.path.join(d, "p%d.wav" % i)
    subprocess.run(["sox", part, "-r", "16000", "-c", "1", padded, "pad", "0.8", "0.8"], check=True)
    parts.append(padded)
clip = os.path.join(d, "commands.wav")
subprocess.run(["sox"] + parts + [clip], check=True)
p = T.run([T.VOXPIPE, "commands", "-m", MODEL, "-f", "json", clip])
want = [(r["command"], r["start"], r["end"], r["score"]) for r in map(json.loads, p.stdout.splitlines())]
got = detections(gst("filesrc", "location=" + clip, "!", "decodebin", "!", "audioconvert", "!",
                     "voxkws", "model=" + MODEL, "!", "fakesink").stdout)
same = len(got) == len(want) and all(g[0] == w[0] and abs(g[1] - w[1]) < 0.011 and abs(g[2] - w[2]) < 0.011
                                     and abs(g[3] - w[3]) < 0.002 for g, w in zip(got, want))
T.check(same and len(want) >= 2, "voxkws messages == voxpipe commands: %s vs %s" % (got, want))

stereo = os.path.join(d, "stereo.wav")
subprocess.run(["sox", clip, "-r", "44100", "-c", "2", stereo], check=True)
got44 = detections(gst("filesrc", "location=" + stereo, "!", "decodebin", "!", "audioconvert", "!",
                       "voxkws", "model=" + MODEL, "!", "fakesink").stdout)
T.check([g[0] for g in got44] == [w[0] for w in want] and
        all(abs(g[1] - w[1]) < 0.3 for g, w in zip(got44, want)),
        "44.1 kHz stereo in: the same words at the same times (%s)" % got44)

# GstHarness: the clip cut at 6.6 s ends inside the run of windows that detect "left", so EOS posts it
harness = os.path.join(T.BUILDDIR, "tests", "voxkws_harness")
if os.path.exists(harness):
    cut, cutf32 = os.path.join(d, "cut.wav"), os.path.join(d, "cut.f32")
    subprocess.run(["sox", clip, cut, "trim", "0", "6.6"], check=True)
    subprocess.run(["sox", cut, "-t", "raw", "-e", "floating-point", "-b", "32", "-L", cutf32], check=True)
    p = T.run([T.VOXPIPE, "commands", "-m", MODEL, "-f", "json", cut])
    args = []
    for r in map(json.loads, p.stdout.splitlines()):
        args += [r["command"], "%.3f" % r["start"], "%.3f" % r["end"]]
    p = subprocess.run([harness, MODEL, cutf32] + args, capture_output=True, text=True, env=env, timeout=300)
    print(p.stdout, end="")
    T.check(p.returncode == 0 and len(args) >= 6, "GstHarness checks (pass-through, detections, EOS, flush, latency, "
            "properties, errors): exit %d %s" % (p.returncode, p.stderr.strip()[-300:]))
else:
    print("skip GstHarness checks: built without gst-check")

for path, needle, what in ((os.path.join(d, "absent.nemo"), "Could not load", "missing model"),
                           (os.path.join(T.SRCDIR, "share", "models", "quartznet-stream-en.nemo"),
                            "cannot be used for command words", "ASR model")):
    p = gst("filesrc", "location=" + clip, "!", "decodebin", "!", "audioconvert", "!", "voxkws", "model=" + path,
            "!", "fakesink")
    T.check(p.returncode != 0 and needle in (p.stdout + p.stderr), "%s: element error naming the problem" % what)
T.finish()
