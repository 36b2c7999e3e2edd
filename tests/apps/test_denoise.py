#!/usr/bin/python3
"""`voxpipe denoise`: the output keeps the input's format, rate, channels and length (stereo 44.1 kHz
FLAC, 8 kHz WAV, stdin/stdout); at the model's rate the output is the model's own, sample for sample;
a streaming model runs block by block, so memory does not grow with the input's length; failures (truncated or non-audio input, unwritable output
directory, a model that is not an enhancement model, a closed stdout) exit 1 with a message and
leave no file behind; under valgrind. Uses a small random-weight FRCRN (quality is `make
eval-denoise`'s business) and, when present, the bundled model."""
import os
import stat
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import testlib as T  # noqa: E402

T.need_torch()
import numpy as np  # noqa: E402
import scipy.io.wavfile  # noqa: E402

sys.path.insert(0, os.path.join(T.SRCDIR, "models", "frcrn"))
import frcrn as FR  # noqa: E402

d = T.tmpdir()
model = os.path.join(d, "frcrn")
FR.save_modelscope(model, FR.randomize(FR.FRCRN(16, "cumulative"), 2))
SAMPLE = os.path.join(T.SRCDIR, "share", "samples", "sample-en.wav")


def soxi(path, opt):
    return subprocess.run(["soxi", opt, path], capture_output=True, text=True).stdout.strip()


def listing():
    return sorted(os.listdir(d))


# short inputs (valgrind runs them); in these 1.2 s the random model's output passes full scale,
# which the 24-bit FLAC must take clipped (libsndfile's FLAC writer refused it unclipped)
stereo = os.path.join(d, "stereo.flac")
subprocess.run(["sox", SAMPLE, "-r", "44100", "-c", "2", "-b", "24", stereo, "trim", "0", "1.2"], check=True)
narrow = os.path.join(d, "narrow.wav")
subprocess.run(["sox", SAMPLE, "-r", "8000", "-c", "1", narrow, "trim", "0", "1"], check=True)
for src, what in ((stereo, "stereo 44.1 kHz 24-bit FLAC"), (narrow, "8 kHz mono WAV")):
    out = os.path.join(d, "out" + os.path.splitext(src)[1])
    p = T.run_checked([T.VOXPIPE, "denoise", "-m", model, src, out])
    same = all(soxi(src, o) == soxi(out, o) for o in ("-t", "-r", "-c", "-s", "-b")) if p.returncode == 0 else False
    T.check(p.returncode == 0 and same, "%s in: same type, rate, channels, samples and bits out, no memory errors %s" %
            (what, p.stderr.strip()[:200]))
    if src == stereo and same:
        a = subprocess.run(["sox", out, "-t", "f32", "-"], capture_output=True).stdout
        y = np.frombuffer(a, dtype=np.float32).reshape(-1, 2)
        T.check(np.abs(y).max() > 0 and np.array_equal(y[:, 0], y[:, 1]),
                "stereo of two equal channels: each enhanced on its own, equal and not silent (%d frames)" % len(y))

# a whole-input model (global pooling, ClearerVoice's level normalisation) on the same 8 kHz file
whole_model = os.path.join(d, "frcrn-global")
FR.save_modelscope(whole_model, FR.randomize(FR.FRCRN(16, "global"), 3))
out = os.path.join(d, "whole.wav")
p = T.run_checked([T.VOXPIPE, "denoise", "-m", whole_model, narrow, out])
T.check(p.returncode == 0 and soxi(out, "-s") == soxi(narrow, "-s") and soxi(out, "-r") == "8000",
        "whole-input model: 8 kHz in, the same length at 8 kHz out, no memory errors %s" % p.stderr.strip()[:200])

# 16 kHz float input: no resampling, the output is what the model stream gives (voxtest_tool enhance)
f16, f16raw, tool_out = os.path.join(d, "f16.wav"), os.path.join(d, "f16.f32"), os.path.join(d, "tool.f32")
subprocess.run(["sox", SAMPLE, "-e", "floating-point", "-b", "32", f16], check=True)
subprocess.run(["sox", f16, "-t", "raw", f16raw], check=True)
out = os.path.join(d, "f16-out.wav")
p = T.run([T.VOXPIPE, "denoise", "-m", model, f16, out], check=False)
T.run([T.TOOL, "enhance", model, f16raw, tool_out, "1600"])
if p.returncode == 0:
    y = np.frombuffer(subprocess.run(["sox", out, "-t", "f32", "-"], capture_output=True).stdout, dtype=np.float32)
    ref = T.read_f32(tool_out)
    diff = np.abs(y - ref).max() if len(y) == len(ref) else np.inf
else:
    diff = np.inf
T.check(diff <= 1e-6, "16 kHz float WAV: output == the model stream's own output (max diff %.1e), no resampler "
        "in the way" % diff)

# many channels (more than are streamed side by side): enhanced one after the other, each as alone
mono16, many = os.path.join(d, "mono16.wav"), os.path.join(d, "many.wav")
subprocess.run(["sox", SAMPLE, mono16, "trim", "0", "1"], check=True)
subprocess.run(["sox", "-M"] + [mono16] * 12 + [many], check=True)
outs = [os.path.join(d, "mono16-out.wav"), os.path.join(d, "many-out.wav")]
ok = all(T.run([T.VOXPIPE, "denoise", "-m", model, a, b], check=False).returncode == 0
         for a, b in zip((mono16, many), outs))
if ok:
    one = np.frombuffer(subprocess.run(["sox", outs[0], "-t", "f32", "-"], capture_output=True).stdout, np.float32)
    twelve = np.frombuffer(subprocess.run(["sox", outs[1], "-t", "f32", "-"], capture_output=True).stdout,
                           np.float32).reshape(-1, 12)
    diff = max(np.abs(twelve[:, c] - one).max() for c in range(12)) if twelve.shape[0] == len(one) else np.inf
    ok = diff <= 1e-4  # whole channel vs 4096-sample blocks: the last window is flushed differently
T.check(ok, "12 channels of the same audio (enhanced one after the other): each channel's output equals the "
        "mono file's (streamed) within 1e-4")

# bounded memory: a minute of 48 kHz audio takes no more memory than 4 seconds
def peak_rss_kb(args):
    code = ("import resource, subprocess, sys\n"
            "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n"
            "print(r, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    p = subprocess.run([sys.executable, "-c", code] + args, capture_output=True, text=True, env=T.env())
    rc, kb = p.stdout.split()
    return int(rc), int(kb)


short, long_ = os.path.join(d, "short48.wav"), os.path.join(d, "long48.wav")
subprocess.run(["sox", SAMPLE, "-r", "48000", short, "trim", "0", "4"], check=True)
subprocess.run(["sox", SAMPLE, "-r", "48000", long_, "repeat", "11"], check=True)
rc1, kb1 = peak_rss_kb([T.VOXPIPE, "denoise", "-m", model, short, os.path.join(d, "short-out.wav")])
rc2, kb2 = peak_rss_kb([T.VOXPIPE, "denoise", "-m", model, long_, os.path.join(d, "long-out.wav")])
same_len = rc2 == 0 and soxi(long_, "-s") == soxi(os.path.join(d, "long-out.wav"), "-s")
what = ("%s s of 48 kHz audio: peak RSS %d kB, 4 s: %d kB (the whole input would be %d kB as floats)" %
        (soxi(long_, "-D")[:5], kb2, kb1, int(float(soxi(long_, "-s")) * 4 / 1024)))
if os.environ.get("VOX_SANITIZE"):  # ASan's quarantine makes RSS meaningless
    T.check(rc1 == 0 and same_len, "long input denoised, same length (RSS not measured under ASan)")
else:
    T.check(rc1 == 0 and same_len and kb2 - kb1 < 4096, what)

# stdin to stdout
with open(SAMPLE, "rb") as f:
    p = subprocess.run([T.VOXPIPE, "denoise", "-m", model, "-", "-"], stdin=f, capture_output=True, env=T.env())
ok = p.returncode == 0 and p.stdout[:4] == b"RIFF"
if ok:
    piped = os.path.join(d, "piped.wav")
    open(piped, "wb").write(p.stdout)
    ok = soxi(piped, "-s") == soxi(SAMPLE, "-s")
T.check(ok, "stdin -> stdout: a WAV with the input's length")
flac = os.path.join(d, "in.flac")
subprocess.run(["sox", SAMPLE, flac], check=True)
p = subprocess.run([T.VOXPIPE, "denoise", "-m", model, "-", "-"], input=open(flac, "rb").read(), capture_output=True,
                   env=T.env())
ok = p.returncode == 0 and p.stdout[:4] == b"fLaC"
if ok:
    piped = os.path.join(d, "piped.flac")
    open(piped, "wb").write(p.stdout)
    ok = soxi(piped, "-s") == soxi(SAMPLE, "-s")
T.check(ok, "FLAC through a pipe -> stdout: a FLAC with the input's length (%s)" % p.stderr.decode().strip()[:100])
p = subprocess.run([T.VOXPIPE, "denoise", "-m", model, "-", os.path.join(d, "cut-out.flac")],
                   input=open(flac, "rb").read()[:20000], capture_output=True, env=T.env())
T.check(p.returncode == 1 and b"truncated" in p.stderr and not os.path.exists(os.path.join(d, "cut-out.flac")),
        "FLAC cut short through a pipe: exit 1, no output file (%s)" % p.stderr.decode().strip()[:100])

# failures: message, exit 1, nothing left behind
trunc = os.path.join(d, "trunc.wav")
open(trunc, "wb").write(open(SAMPLE, "rb").read()[:20000])
notaudio = os.path.join(d, "notaudio.wav")
open(notaudio, "w").write("hello, not audio\n" * 20)
before = listing()
for args, needle, what in (
        ([trunc, os.path.join(d, "o1.wav")], "truncated", "truncated input"),
        ([notaudio, os.path.join(d, "o2.wav")], "notaudio.wav", "text file as audio"),
        ([SAMPLE, os.path.join(d, "no", "such", "dir", "o3.wav")], "o3.wav", "output directory missing"),
        ([os.path.join(d, "missing.wav"), os.path.join(d, "o4.wav")], "missing.wav", "missing input"),
):
    p = T.run_checked([T.VOXPIPE, "denoise", "-m", model] + args)
    T.check(p.returncode == 1 and needle in p.stderr and listing() == before,
            "%s: exit 1, message names it, no file left, no memory errors (%s)" % (what, p.stderr.strip()[:160]))
asr = os.path.join(T.SRCDIR, "share", "models", "quartznet-stream-en.nemo")
p = T.run([T.VOXPIPE, "denoise", "-m", asr, SAMPLE, os.path.join(d, "o5.wav")], check=False)
T.check(p.returncode == 1 and "not a speech enhancement model" in p.stderr and listing() == before,
        "ASR model given to denoise: refused (%s)" % p.stderr.strip())
p = subprocess.run("%s denoise -m %s %s - | head -c 10 > /dev/null; echo ${PIPESTATUS[0]}" % (T.VOXPIPE, model, SAMPLE),
                   shell=True, executable="/bin/bash", capture_output=True, text=True, env=T.env())
T.check(p.stdout.strip() == "1" and "standard output" in p.stderr,
        "stdout closed early: exit 1 with a message, not killed by SIGPIPE (%s)" % p.stderr.strip())

# OUT that is not a regular file is written through, not renamed over: a FIFO (and, as root,
# /dev/null or /dev/full) was replaced by a regular file; a symbolic link keeps pointing at its file
fifo, got = os.path.join(d, "out.fifo"), os.path.join(d, "from-fifo.wav")
os.mkfifo(fifo)
with open(got, "wb") as sink:
    reader = subprocess.Popen(["cat", fifo], stdout=sink)
p = T.run([T.VOXPIPE, "denoise", "-m", model, narrow, fifo], check=False)
if stat.S_ISFIFO(os.lstat(fifo).st_mode) and reader.poll() is None:  # the reader still waits for a writer
    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    os.close(fd)
try:
    reader.wait(timeout=30)
except subprocess.TimeoutExpired:  # its FIFO was renamed over: nothing can reach it any more
    reader.kill()
T.check(p.returncode == 0 and stat.S_ISFIFO(os.lstat(fifo).st_mode) and soxi(got, "-s") == soxi(narrow, "-s"),
        "OUT a FIFO: the WAV goes through it, the FIFO stays a FIFO (%s)" % p.stderr.strip()[:200])
target, link = os.path.join(d, "target.wav"), os.path.join(d, "link.wav")
with open(target, "w") as f:
    f.write("old")
os.symlink(target, link)
p = T.run([T.VOXPIPE, "denoise", "-m", model, narrow, link], check=False)
T.check(p.returncode == 0 and os.path.islink(link) and soxi(target, "-s") == soxi(narrow, "-s"),
        "OUT a symbolic link: its file is written, the link stays (%s)" % p.stderr.strip()[:200])
for name in ("out.fifo", "link.wav", "target.wav", "from-fifo.wav"):
    os.unlink(os.path.join(d, name))

# NaN and infinite samples in a float file are taken as silence: in the STFT they spoiled whole
# frames (100 NaN samples made 9920 NaN output samples, written as they were)
rate, x = scipy.io.wavfile.read(SAMPLE)
x = x[:20000].astype(np.float32) / 32768.0
bad, zeroed = x.copy(), x.copy()
bad[5000:5050], bad[9000:9050], zeroed[5000:5050], zeroed[9000:9050] = np.nan, np.inf, 0.0, 0.0
outs = []
for name, sig in (("nonfinite", bad), ("zeroed", zeroed)):
    scipy.io.wavfile.write(os.path.join(d, name + ".wav"), rate, sig)
    p = T.run_checked([T.VOXPIPE, "denoise", "-m", model, os.path.join(d, name + ".wav"), os.path.join(d, "o-" + name + ".wav")])
    outs.append(scipy.io.wavfile.read(os.path.join(d, "o-" + name + ".wav"))[1] if p.returncode == 0 else None)
T.check(outs[0] is not None and np.isfinite(outs[0]).all() and np.array_equal(outs[0], outs[1]),
        "NaN and infinite input samples denoised as silence: every output sample finite, as for the zeroed input")

# enhanced speech beyond full scale is clipped by 16-bit output, and said (the random model
# amplifies: peak 1.76 from a full-scale input); a float output keeps it and says so too
full, fullf = os.path.join(d, "full.wav"), os.path.join(d, "full-float.wav")
subprocess.run(["sox", SAMPLE, full, "norm", "-0.1"], check=True)
subprocess.run(["sox", full, "-e", "float", "-b", "32", fullf], check=True)
for src, word in ((full, "were clipped"), (fullf, "kept: float format")):
    p = T.run([T.VOXPIPE, "denoise", "-m", model, src, os.path.join(d, "o-full.wav")], check=False)
    T.check(p.returncode == 0 and "exceed full scale" in p.stderr and word in p.stderr and "lower the input by" in p.stderr,
            "output beyond full scale: a warning with the level to take off (%s)" % p.stderr.strip())


def rms(path):
    return float(np.sqrt(np.mean(np.square(scipy.io.wavfile.read(path)[1].astype(np.float64)))))


bundled = os.path.join(T.SRCDIR, "share", "models", "frcrn-se-16k")
if os.path.isdir(bundled):
    out = os.path.join(d, "bundled.wav")
    p = T.run([T.VOXPIPE, "denoise", SAMPLE, out], check=False)
    T.check(p.returncode == 0 and soxi(out, "-s") == soxi(SAMPLE, "-s"), "bundled model denoises the bundled sample")
    # a model trained on SI-SNR alone is free to scale its output: the first one doubled it (+5.8 dB)
    gain = 20 * np.log10(rms(out) / rms(SAMPLE)) if p.returncode == 0 else float("nan")
    T.check(abs(gain) <= 3.0 and "exceed full scale" not in p.stderr,
            "bundled model keeps the level of clean speech: %+.1f dB (within 3 dB)" % gain)
    # clean speech with real speech's strong sibilants (the sample 12 dB brighter above 4 kHz): the
    # first model, trained on synthetic voices and 8 kHz recordings, took 8 dB off that band
    bright, bright_out = os.path.join(d, "bright.wav"), os.path.join(d, "bright-out.wav")
    subprocess.run(["sox", SAMPLE, bright, "gain", "-8", "treble", "+12", "4000"], check=True)
    p = T.run([T.VOXPIPE, "denoise", bright, bright_out], check=False)

    def bands(path):
        x = scipy.io.wavfile.read(path)[1].astype(np.float64)[: int(soxi(bright, "-s"))]
        e = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(len(x), 1.0 / 16000)
        return e[(f >= 300) & (f < 2000)].sum(), e[f >= 4000].sum()
    if p.returncode == 0:
        (vi, hi), (vo, ho) = bands(bright), bands(bright_out)
        tilt = 10 * np.log10(ho / hi) - 10 * np.log10(vo / vi)
    else:
        tilt = float("nan")
    T.check(abs(tilt) <= 3.0, "bundled model keeps strong sibilants: 4-8 kHz vs 0.3-2 kHz change %+.1f dB (within 3 dB)"
            % tilt)
T.finish()
