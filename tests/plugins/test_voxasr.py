#!/usr/bin/python3
"""voxasr GStreamer element through gst-launch-1.0: inspection, any rate/channels in, results as
`voxasr` element messages equal to `voxpipe transcribe`, EOS flush, clean errors for bad models.
Skips when the plugin was not built (no GStreamer development files)."""
import json
import os
import re
import subprocess
import sys
import wave

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import testlib as T  # noqa: E402
import numpy as np  # noqa: E402

T.need_torch()
import torch  # noqa: E402
import quartznet as Q  # noqa: E402
from nemo_conv import save_nemo  # noqa: E402

d = T.tmpdir()
env = T.gst_env(d)
SAMPLE = os.path.join(T.SRCDIR, "share", "samples", "sample-en.wav")


def gst(*args, timeout=120):
    return subprocess.run(["gst-launch-1.0"] + list(args), capture_output=True, text=True, env=env, timeout=timeout)


def messages(out):
    """voxasr element messages printed by gst-launch-1.0 -m: (text, is_final, start, end)."""
    res = []
    for line in out.splitlines():
        if "(element): voxasr," not in line:
            continue
        m = re.search(r'text=\(string\)(?:"((?:[^"\\]|\\.)*)"|([^,]*))', line)
        text = (m.group(1) if m.group(1) is not None else m.group(2)) if m else ""
        text = re.sub(r"\\(.)", r"\1", text)
        final = "is-final=(boolean)true" in line
        start = int(re.search(r"start=\(guint64\)(\d+)", line).group(1))
        end = int(re.search(r"end=\(guint64\)(\d+)", line).group(1))
        res.append((text, final, start, end))
    return res


p = subprocess.run(["gst-inspect-1.0", "voxasr"], capture_output=True, text=True, env=env)
T.check(p.returncode == 0 and all(k in p.stdout for k in ("model", "partial-results", "endpoint-silence-ms",
                                                          "chunk-ms", "latency", "threads", "S16LE", "beam-size", "lm-alpha",
                                                          "hotwords")),
        "gst-inspect-1.0 voxasr: documented properties and caps")

torch.manual_seed(0)
model = Q.randomize(Q.EncDecCTCModel(Q.model_config("tiny", normalize="NA")), seed=6)
nemo = os.path.join(d, "tiny_stream.nemo")
save_nemo(nemo, model, model.config_yaml())
offline = json.loads(T.run([T.VOXPIPE, "transcribe", "-m", nemo, "-f", "json", SAMPLE]).stdout)["pred_text"]

p = gst("-m", "filesrc", "location=" + SAMPLE, "!", "decodebin", "!", "audioconvert", "!", "voxasr", "model=" + nemo,
        "endpoint-silence-ms=300", "!", "fakesink")
msgs = messages(p.stdout)
finals = [m for m in msgs if m[1]]
T.check(p.returncode == 0 and finals and " ".join(m[0] for m in finals) == offline,
        "filesrc ! decodebin ! audioconvert ! voxasr ! fakesink: %d final + %d partial messages, finals equal "
        "`voxpipe transcribe`" % (len(finals), len(msgs) - len(finals)))
T.check(all(m[2] <= m[3] <= 5.4e9 for m in msgs) and all(a[3] <= b[2] for a, b in zip(finals, finals[1:])),
        "message start/end are ordered stream times within the file")


# the text pad: one buffer per word (only words that can no longer change), GAP events between,
# the language tag, a final-transcript event per final, EOS; linked through a queue like a tee branch
def clock(t):
    h, m, sec = t.split(":")
    return round((int(h) * 3600 + int(m) * 60 + float(sec)) * 1e9)


text_file = os.path.join(d, "words.txt")
two = os.path.join(d, "two.wav")  # the sample, 1.5 s of silence, the sample: two finals
with wave.open(SAMPLE) as w:
    frames = w.readframes(w.getnframes())
    with wave.open(two, "wb") as o:
        o.setparams(w.getparams())
        o.writeframes(frames + b"\0\0" * 24000 + frames)
bundled = os.path.join(T.SRCDIR, "share", "models", "quartznet-stream-en.nemo")
p = gst("-m", "filesrc", "location=" + two, "!", "decodebin", "!", "audioconvert", "!", "voxasr", "name=a",
        "model=" + bundled, "endpoint-silence-ms=300", "!", "fakesink", "a.text", "!", "queue", "!", "fakesink",
        "name=t", "silent=false", "-v")
finals = [m for m in messages(p.stdout) if m[1]]
words = " ".join(m[0] for m in finals).split()
bufs = [(int(n), clock(pts), clock(dur)) for n, pts, dur in re.findall(
    r"t:sink\) \((\d+) bytes, dts: [^,]*, pts: ([\d:.]+), duration: ([\d:.]+)", p.stdout)]
events = re.findall(r"t:sink\) E \(type: ([a-z-]+)[^)]*\)(?:, ([A-Za-z/-]+))?", p.stdout)
T.check(p.returncode == 0 and len(finals) >= 2 and [b[0] for b in bufs] == [len(w.encode()) for w in words] and
        all(a[1] + a[2] <= b[1] for a, b in zip(bufs, bufs[1:])),
        "text pad: one buffer per word of the transcript (%d), in order, never overlapping" % len(bufs))
first_words = [sum(len(m[0].split()) for m in finals[:i]) for i in range(len(finals))]
T.check(finals and all(bufs[k][1] == m[2] for k, m in zip(first_words, finals) if k < len(bufs)),
        "text pad: each final's first word has the PTS of the message's start")
kinds = [e[0] for e in events]
T.check("gap" in kinds and kinds.count("custom-downstream") == len(finals) and "eos" in kinds and
        "language-code" in p.stdout, "text pad: GAP events, %d final-transcript events, language tag, EOS"
        % kinds.count("custom-downstream"))
p = gst("filesrc", "location=" + two, "!", "decodebin", "!", "audioconvert", "!", "voxasr", "name=a",
        "model=" + bundled, "endpoint-silence-ms=300", "!", "fakesink", "a.text", "!", "queue", "!", "filesink",
        "location=" + text_file)
T.check(p.returncode == 0 and open(text_file, encoding="utf-8").read() == "".join(words),
        "a.text ! queue ! filesink: prerolls (no deadlock) and writes the words")

# subtitles: the text pad drives textoverlay (gstreamer1.0-x); the audio branch holds more than the
# model's look-ahead, as any branch that must preroll beside a text consumer that waits for text
if subprocess.run(["gst-inspect-1.0", "textoverlay"], capture_output=True, env=env).returncode == 0:
    fdir = os.path.join(d, "frames")
    os.makedirs(fdir, exist_ok=True)
    video = ["videotestsrc", "num-buffers=350", "pattern=black", "!", "video/x-raw,width=160,height=120,framerate=25/1"]
    gray = ["videoconvert", "!", "video/x-raw,format=GRAY8", "!", "multifilesink"]
    p = gst("filesrc", "location=" + two, "!", "decodebin", "!", "audioconvert", "!", "voxasr", "name=a",
            "model=" + bundled, "endpoint-silence-ms=300", "!", "queue", "max-size-time=5000000000",
            "max-size-buffers=0", "max-size-bytes=0", "!", "fakesink", "a.text", "!", "queue", "!", "o.text_sink",
            *video, "!", "textoverlay", "name=o", "!", *gray, "location=" + os.path.join(fdir, "f%03d.raw"))
    lit = [i for i in range(350) if os.path.exists(os.path.join(fdir, "f%03d.raw" % i)) and
           np.fromfile(os.path.join(fdir, "f%03d.raw" % i), np.uint8).max() > 100]
    spoken = [(b[1] / 1e9, (b[1] + b[2]) / 1e9) for b in bufs]
    inside = all(any(s0 - 0.04 <= i / 25 < s1 + 0.04 for s0, s1 in spoken) for i in lit)
    T.check(p.returncode == 0 and len(lit) > 25 and inside,
            "asr.text ! textoverlay: captions on %d of 350 frames (14 s of video over 12 s of audio), each while its word is spoken" % len(lit))
else:
    print("skip textoverlay: not installed (gstreamer1.0-x)")

p = gst("-m", "filesrc", "location=" + SAMPLE, "!", "decodebin", "!", "audioconvert", "!", "audioresample", "!",
        "audio/x-raw,rate=44100,channels=2,format=S16LE", "!", "voxasr", "model=" + nemo, "partial-results=false",
        "!", "fakesink")
msgs = messages(p.stdout)
T.check(p.returncode == 0 and msgs and all(m[1] for m in msgs),
        "44.1 kHz stereo S16LE accepted (mixed down and resampled inside), finals only with partial-results=false")

# beam search with the bundled corpus LM: same text as `voxpipe transcribe --lm`
lm = os.path.join(T.SRCDIR, "share", "models", "english-corpus-3gram.arpa")
want = json.loads(T.run([T.VOXPIPE, "transcribe", "-m", nemo, "-f", "json", "--lm", lm, "--beam", "8", "--hotword",
                         "canoe:3", SAMPLE]).stdout)["pred_text"]
p = gst("-m", "filesrc", "location=" + SAMPLE, "!", "decodebin", "!", "audioconvert", "!", "voxasr", "model=" + nemo,
        "lm=" + lm, "beam-size=8", "hotwords=canoe:3", "endpoint-silence-ms=60000", "!", "fakesink")
finals = [m for m in messages(p.stdout) if m[1]]
T.check(p.returncode == 0 and len(finals) == 1 and finals[0][0] == want,
        "voxasr lm=... beam-size=8 hotwords=canoe:3: final equals `voxpipe transcribe --lm` (%r)" % want[:50])
p = gst("audiotestsrc", "num-buffers=10", "!", "voxasr", "model=" + nemo, "lm=" + os.path.join(d, "nolm.arpa"), "!",
        "fakesink")
T.check(p.returncode != 0 and "Could not load the language model" in p.stdout + p.stderr,
        "missing LM: GStreamer error naming it")

# hot words: a boost that is not a number was read as 0; one the labels cannot spell could never match
# (and the error blamed the model: "cannot be used for speech recognition")
for hot, words in (("dark:abc", "needs a number after ':'"), ("x-ray:3", "cannot spell it from '-ray'")):
    p = gst("audiotestsrc", "num-buffers=10", "!", "voxasr", "model=" + nemo, "hotwords=" + hot, "!", "fakesink")
    T.check(p.returncode != 0 and words in p.stdout + p.stderr,
            "hotwords=%s: GStreamer error saying why (%s)" % (hot, (p.stdout + p.stderr).strip()[-160:]))

p = gst("audiotestsrc", "num-buffers=10", "!", "voxasr", "model=" + os.path.join(d, "nope.nemo"), "!", "fakesink")
T.check(p.returncode != 0 and "Could not load the speech model" in p.stdout + p.stderr and "nope.nemo" in p.stdout + p.stderr,
        "missing model: GStreamer error naming the file")
p = gst("audiotestsrc", "num-buffers=10", "!", "voxasr", "model=" + SAMPLE, "!", "fakesink")
T.check(p.returncode != 0 and "neither a .nemo archive" in p.stdout + p.stderr, "an audio file given as model: error")
p = gst("videotestsrc", "num-buffers=2", "!", "voxasr", "model=" + nemo, "!", "fakesink")
T.check(p.returncode != 0, "video caps refused at negotiation")
harness = os.path.join(T.BUILDDIR, "tests", "voxasr_harness")
if os.path.exists(harness):
    import scipy.io.wavfile
    import numpy as np
    rate, x = scipy.io.wavfile.read(SAMPLE)
    f32 = os.path.join(d, "sample.f32")
    (x.astype(np.float32) / 32768.0).tofile(f32)
    p = subprocess.run([harness, nemo, f32, "1000"], capture_output=True, text=True, env=env, timeout=600)
    print(p.stdout, end="")
    T.check(p.returncode == 0, "GstHarness checks (pass-through, messages, EOS, flush, timestamps, latency, "
            "parallel pipelines, 1000 state cycles): exit %d %s" % (p.returncode, p.stderr.strip()[-200:]))
else:
    print("skip: GstHarness checks (gstreamer-check-1.0 not found at configure time)")
T.finish()
