#!/usr/bin/python3
"""Soak: long speech streamed through voxvad ! voxasr ! voxdenoise in one gst-launch-1.0 (faster
than real time, no sync) and through several recognizer streams of one shared model in parallel
threads (tests/tools/voxsoak.c), with RSS sampled: after warm-up (the first 20 % of the run) it may
grow by less than 1 MB. VOX_SOAK_SECONDS of audio (default 300 in `make check`; `make soak` runs
3600, the hour the README quotes). Skips when the plugin was not built."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import testlib as T  # noqa: E402
import numpy as np  # noqa: E402
import scipy.io.wavfile  # noqa: E402

SECONDS = float(os.environ.get("VOX_SOAK_SECONDS", "300"))
GROWTH_KB = 1024
d = T.tmpdir()
env = T.gst_env(d)
if os.environ.get("VOX_SANITIZE"):
    print("SKIP: RSS means nothing under ASan (its quarantine keeps freed memory); `make check` runs this")
    sys.exit(T.SKIP)

# speech with pauses: the sample, 3 s of silence, again and again (finals at every pause)
rate, x = scipy.io.wavfile.read(os.path.join(T.SRCDIR, "share", "samples", "sample-en.wav"))
loop = np.concatenate([x, np.zeros(48000, x.dtype)])
reps = int(np.ceil(SECONDS * 16000 / len(loop)))
raw = os.path.join(d, "soak.raw")
with open(raw, "wb") as f:
    for _ in range(reps):
        f.write(loop.astype("<i2").tobytes())
audio_s = reps * len(loop) / 16000


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# --- the elements in one pipeline, 100 ms buffers
cmd = ["gst-launch-1.0", "-m", "filesrc", "location=" + raw, "blocksize=3200", "!", "rawaudioparse",
       "use-sink-caps=false", "format=pcm", "pcm-format=s16le", "sample-rate=16000", "num-channels=1", "!",
       "audioconvert", "!", "audio/x-raw,format=F32LE", "!", "voxvad", "!", "voxasr", "partial-results=false",
       "endpoint-silence-ms=500", "!", "voxdenoise", "!", "fakesink", "sync=false"]
start = time.time()
log = os.path.join(d, "gst.log")
with open(log, "w") as f:  # a file, not a pipe: nobody reads a pipe while sampling, and a full one blocks
    proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, text=True, env=env)
    samples = []
    while proc.poll() is None:
        samples.append((time.time() - start, rss_kb(proc.pid)))
        time.sleep(0.2)
wall = time.time() - start
with open(log) as f:
    out = err = f.read()
finals = out.count("is-final=(boolean)true")
speech = out.count("speech=(boolean)true")
live = [r for t, r in samples if r]
warm_i = int(len(live) * 0.2)
warm, peak = (max(live[:warm_i + 1]), max(live[warm_i:])) if len(live) > 10 else (0, 1 << 30)
if os.environ.get("VOX_SOAK_TRACE"):
    with open(os.environ["VOX_SOAK_TRACE"], "w") as f:
        f.write("".join("%.1f %d\n" % s for s in samples))
print("gst soak: %.0f s of audio in %.0f s (%.0fx real time), %d finals, %d speech segments, RSS %d kB after "
      "warm-up, %d kB max after" % (audio_s, wall, audio_s / wall, finals, speech, warm, peak))
T.check(proc.returncode == 0 and finals >= reps - 1 and speech >= reps - 1,
        "voxvad ! voxasr ! voxdenoise over %.0f s of speech: a final and a speech segment per sentence (%d, %d of %d)"
        % (audio_s, finals, speech, reps) + ("" if proc.returncode == 0 else ": " + err[-300:]))
T.check(wall < audio_s, "faster than real time (%.1fx)" % (audio_s / wall))
T.check(peak - warm < GROWTH_KB, "RSS growth after warm-up %d kB < %d kB (%d -> %d kB)"
        % (peak - warm, GROWTH_KB, warm, peak))

# --- four recognizer streams of one model in parallel threads
f32 = os.path.join(d, "loop.f32")
(loop.astype(np.float32) / 32768).tofile(f32)
model = os.path.join(T.SRCDIR, "share", "models", "quartznet-stream-en.nemo")
p = T.run([os.path.join(T.BUILDDIR, "tests", "voxsoak"), model, f32, "4", "%.0f" % SECONDS], check=False)
print(p.stdout.strip(), p.stderr.strip()[-300:])
f = p.stdout.split()
ok = p.returncode == 0 and len(f) == 9
T.check(ok, "4 streams of one model in parallel threads, %.0f s each: the same text every loop" % SECONDS)
if ok:
    warm, peak, words = int(f[4]), int(f[6]), int(f[8])
    T.check(peak - warm < GROWTH_KB and words >= 4 * (reps - 2) * len("the birch canoe".split()),
            "parallel streams: RSS growth after warm-up %d kB < %d kB (%d words handed over and forgotten)"
            % (peak - warm, GROWTH_KB, words))
T.finish()
