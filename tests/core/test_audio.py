#!/usr/bin/python3
"""Audio input: WAV (16-bit, 24-bit, float, 8-bit), FLAC, OGG/Vorbis, AIFF and raw PCM, at 8, 16,
22.05, 44.1 and 48 kHz, mono and stereo, read, mixed down and resampled to 16 kHz; corrupt, truncated,
empty and missing files give a clean error naming the file. Needs sox (Debian package sox)."""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import testlib as T  # noqa: E402
import numpy as np  # noqa: E402
import scipy.io.wavfile  # noqa: E402
import scipy.signal  # noqa: E402

if not shutil.which("sox"):
    print("SKIP: sox not installed")
    sys.exit(T.SKIP)

d = T.tmpdir()


def tone(rate, seconds=1.3, channels=1):
    t = np.arange(int(rate * seconds)) / rate
    left = 0.4 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1500 * t)
    if channels == 1:
        return left[:, None]
    right = 0.3 * np.sin(2 * np.pi * 700 * t)
    return np.stack([left, right], axis=1)


def read_ours(path, extra=(), checked=False):
    """checked: under valgrind (used for the bad inputs, where memory errors would hide)."""
    out = os.path.join(d, "out.f32")
    args = [T.TOOL, "audio", path, out, "16000"] + list(extra)
    p = T.run_checked(args) if checked else T.run(args, check=False)
    if p.returncode == 99:  # valgrind's: a memory error or leak, even where the tool's error is expected
        return None, "VALGRIND: " + p.stderr.strip()
    if p.returncode != 0:
        return None, p.stderr.strip()
    return T.read_f32(out), ""


def snr_db(ref, got):
    n = min(len(ref), len(got))
    ref, got = ref[200: n - 200], got[200: n - 200]  # resampler edges
    return 10 * np.log10(np.sum(ref ** 2) / max(np.sum((ref - got) ** 2), 1e-20))


for rate in (8000, 16000, 22050, 44100, 48000):
    for ch in (1, 2):
        x = tone(rate, channels=ch)
        src = os.path.join(d, "src.wav")
        scipy.io.wavfile.write(src, rate, x.astype(np.float32))
        mono = x.mean(axis=1)
        ref = scipy.signal.resample_poly(mono, 16000, rate) if rate != 16000 else mono
        if rate == 8000:
            ref = scipy.signal.resample_poly(mono, 2, 1)
        for fmt, args in (("wav16", ["-b", "16", "-e", "signed"]), ("wav24", ["-b", "24"]), ("wav8", ["-b", "8", "-e", "unsigned"]),
                          ("flac", []), ("ogg", []), ("aiff", ["-b", "16"])):
            if fmt == "ogg" and rate == 8000:
                continue  # Vorbis at 8 kHz is too lossy for a waveform comparison
            ext = {"wav16": "wav", "wav24": "wav", "wav8": "wav"}.get(fmt, fmt)
            path = os.path.join(d, "in.%s" % ext)
            subprocess.run(["sox", src] + args + [path], check=True)
            got, err = read_ours(path)
            if got is None:
                T.check(False, "%s %d Hz %d ch: read (%s)" % (fmt, rate, ch, err))
                continue
            want_len = int(round(len(mono) * 16000 / rate))
            s = snr_db(ref, got)
            need = {"wav8": 30, "ogg": 12}.get(fmt, 40)
            T.check(abs(len(got) - want_len) <= 2 and s >= need,
                    "%s %d Hz %d ch: %d samples at 16 kHz (expected %d), SNR vs reference %.1f dB >= %d" %
                    (fmt, rate, ch, len(got), want_len, s, need))

# raw PCM with a given layout
x = (tone(16000, channels=2) * 32767).astype("<i2")
raw = os.path.join(d, "in.raw")
x.tofile(raw)
got, err = read_ours(raw, ["s16le", "16000", "2"])
T.check(got is not None and np.abs(got - x.mean(axis=1) / 32768.0).max() < 1e-4,
        "raw s16le stereo 16 kHz read and mixed down %s" % err)
got, err = read_ours(raw, ["s17le", "16000", "2"])
T.check(got is None and "unknown raw format" in err, "unknown raw format refused: " + err)

# the streaming resampler the apps and elements use: at equal rates the samples come back
# untouched (libsamplerate at ratio 1 still filtered them), and at 48 -> 16 kHz in odd blocks it
# matches a polyphase reference
x = np.random.default_rng(3).standard_normal(48000 * 2 + 777).astype(np.float32) * 0.3
raw = os.path.join(d, "noise.f32")
x.tofile(raw)
res = os.path.join(d, "res.f32")
for block in (1, 333, 4096):
    p = T.run([T.TOOL, "resample", raw, res, "16000", "16000", str(block)], check=False)
    got = T.read_f32(res) if p.returncode == 0 else np.zeros(0, np.float32)
    T.check(len(got) == len(x) and np.array_equal(got, x),
            "resampler at 16 -> 16 kHz, blocks of %d: samples unchanged (%d of %d, %s)" % (block, len(got), len(x), p.stderr.strip()))
t = tone(48000, seconds=2.1)[:, 0].astype(np.float32)
t.tofile(raw)
p = T.run([T.TOOL, "resample", raw, res, "48000", "16000", "333"], check=False)
got = T.read_f32(res) if p.returncode == 0 else np.zeros(0, np.float32)
s = snr_db(scipy.signal.resample_poly(t, 1, 3), got)
T.check(abs(len(got) - len(t) // 3) <= 2 and s >= 40,
        "resampler at 48 -> 16 kHz in blocks of 333: %d samples (expected %d), SNR %.1f dB >= 40" % (len(got), len(t) // 3, s))

# a part of a file (a NeMo manifest's offset and duration), from a file and from a pipe (read and dropped up to
# the offset), at the file's rate and resampled
part = os.path.join(d, "part.wav")
x = tone(16000)[:, 0].astype(np.float32)
scipy.io.wavfile.write(part, 16000, x)
for offset, duration, want in (("0.5", "0.25", x[8000:12000]), ("0.75", "0", x[12000:]), ("0.75", "5", x[12000:])):
    e = dict(T.env(), VOXTEST_OFFSET_S=offset, VOXTEST_DURATION_S=duration)
    for src in ("file", "pipe"):
        out = os.path.join(d, "part.f32")
        cmd = [T.TOOL, "audio", part if src == "file" else "-", out, "16000"]
        with open(part, "rb") as f:
            p = subprocess.run(cmd, capture_output=True, text=True, env=e, stdin=f if src == "pipe" else None)
        got = T.read_f32(out) if p.returncode == 0 else None
        T.check(got is not None and np.array_equal(got, want), "offset %s s, duration %s s, from a %s: samples %d.. "
                "(%s)" % (offset, duration, src, int(float(offset) * 16000), p.stderr.strip()[:100]))
e = dict(T.env(), VOXTEST_OFFSET_S="0.5", VOXTEST_DURATION_S="0.25")
p = subprocess.run([T.TOOL, "audio", part, os.path.join(d, "part.f32"), "8000"], capture_output=True, env=e)
got = T.read_f32(os.path.join(d, "part.f32")) if p.returncode == 0 else np.zeros(0)
s = snr_db(scipy.signal.resample_poly(x[8000:12000], 1, 2), got)
T.check(abs(len(got) - 2000) <= 2 and s >= 30, "offset and duration resampled to 8 kHz: %d samples, SNR %.1f dB" % (len(got), s))
for offset, duration, words in (("2", "0", "beyond the end of the audio (1.300 s)"), ("-1", "0", "need 0 <= both"),
                                ("0", "nan", "need 0 <= both")):
    e = dict(T.env(), VOXTEST_OFFSET_S=offset, VOXTEST_DURATION_S=duration)
    p = subprocess.run([T.TOOL, "audio", part, os.path.join(d, "part.f32"), "16000"], capture_output=True, text=True, env=e)
    T.check(p.returncode != 0 and words in p.stderr, "offset %s, duration %s: refused (%s)" % (offset, duration, p.stderr.strip()))

# through a real pipe (above, stdin is the file itself): libsndfile cannot read FLAC from a pipe by
# itself ("flac decoder lost sync"), voxpipe replays the bytes it sniffs; a writer that sends the first
# bytes one at a time; a FLAC stream cut short is an error, as a cut file is
stereo = os.path.join(d, "pipe.wav")
scipy.io.wavfile.write(stereo, 44100, (tone(44100, channels=2) * 32767).astype(np.int16))
for fmt in ("flac", "wav", "ogg", "aiff", "mp3"):
    f = os.path.join(d, "pipe." + fmt)
    if fmt != "wav":
        subprocess.run(["sox", stereo, f], check=True)
    want, _ = read_ours(f)
    if want is None and fmt == "mp3":  # sox without its MP3 encoder (libsox-fmt-mp3)
        continue
    data = open(f, "rb").read()
    out = os.path.join(d, "piped.f32")
    for slow in (False, True):
        q = subprocess.Popen([T.TOOL, "audio", "-", out, "16000"], stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            if slow:
                for i in range(3):
                    q.stdin.write(data[i:i + 1])
                    q.stdin.flush()
                    time.sleep(0.05)
            q.stdin.write(data[3 if slow else 0:])
            q.stdin.close()
        except BrokenPipeError:
            pass
        err = q.stderr.read().decode()
        q.wait(timeout=60)
        got = T.read_f32(out) if q.returncode == 0 else None
        T.check(got is not None and want is not None and np.array_equal(got, want),
                "%s through a pipe%s: the same samples as from the file (%s)" %
                (fmt, ", its first bytes one at a time" if slow else "", err.strip()[:100]))
# an MP3 behind a 300 KB ID3 tag (cover art is that large): libsndfile goes back to the tag's start
# once it has read past it, so that much is replayed (it was 64 KB)
if os.path.exists(os.path.join(d, "pipe.mp3")):
    tagged = os.path.join(d, "tagged.mp3")
    size = 300000
    with open(tagged, "wb") as f:
        f.write(b"ID3\x03\x00\x00" + bytes((size >> s) & 127 for s in (21, 14, 7, 0)) + bytes(size) +
                open(os.path.join(d, "pipe.mp3"), "rb").read())
    want, _ = read_ours(tagged)
    out = os.path.join(d, "tagged.f32")
    p = subprocess.run([T.TOOL, "audio", "-", out, "16000"], input=open(tagged, "rb").read(), capture_output=True)
    got = T.read_f32(out) if p.returncode == 0 else None
    T.check(want is not None and got is not None and np.array_equal(got, want),
            "MP3 behind a 300 KB ID3 tag through a pipe: the same samples as from the file (%s)" %
            p.stderr.decode().strip()[:100])
cut = open(os.path.join(d, "pipe.flac"), "rb").read()
cut = cut[:len(cut) // 2]
p = subprocess.run([T.TOOL, "audio", "-", os.path.join(d, "cut.f32"), "16000"], input=cut, capture_output=True)
T.check(p.returncode != 0 and b"truncated: the stream declares 57330 frames" in p.stderr,
        "FLAC cut in half, through a pipe: refused (%s)" % p.stderr.decode().strip()[:120])
# an MPEG frame header and 400 bytes of garbage: libsndfile's own pipe reading over-read its header
# buffer (valgrind: invalid read in memmove; found by the audio fuzz target)
p = T.run_checked([T.TOOL, "audio", "-", os.path.join(d, "cut.f32"), "16000"],
                  input=(b"\xff\xfd\x00\x1a\x00\x01\xe7\x2b\xc4\xd9\x00\x00\x00\x10\x50\xeb" +
                         bytes(range(256)) * 2).decode("latin-1"), encoding="latin-1")
T.check(p.returncode == 1 and "not a readable audio file" in p.stderr,
        "MPEG-like garbage through a pipe: clean error, no memory error (exit %d: %s)" %
        (p.returncode, p.stderr.strip()[:120]))
p = subprocess.run([T.TOOL, "audio", "-", os.path.join(d, "cut.f32"), "16000"], input=b"fLa", capture_output=True)
T.check(p.returncode != 0 and b"not a readable audio file" in p.stderr,
        "3 bytes of a FLAC header through a pipe: refused (%s)" % p.stderr.decode().strip()[:120])

# bad input
good = os.path.join(d, "good.wav")
scipy.io.wavfile.write(good, 16000, (tone(16000)[:, 0] * 32767).astype(np.int16))
data = open(good, "rb").read()
cases = {
    "missing.wav": (None, "no such file"),
    "empty.wav": (b"", "empty file"),
    "garbage.wav": (b"\x13\x37" * 3000, "not a readable audio file"),
    "truncated.wav": (data[: len(data) // 2], "truncated"),
    "header_only.wav": (data[:44], "truncated"),
    "zero_rate.wav": (data[:24] + b"\x00\x00\x00\x00" + data[28:], "not a readable audio file"),
    "zero_channels.wav": (data[:22] + b"\x00\x00" + data[24:], ""),
}
# an Ogg Vorbis stream cut after its first page: libsndfile's reader returns "malformed" without
# freeing its vorbis_info (libsndfile 1.2.0 and upstream; suppressed in valgrind.supp and lsan.supp,
# found by the audio fuzz target)
ogg = open(os.path.join(d, "pipe.ogg"), "rb").read()
first_page = 27 + ogg[26] + sum(ogg[27:27 + ogg[26]])
cases["vorbis_headers_cut.ogg"] = (ogg[:first_page], "malformed")
for name, (content, words) in cases.items():
    path = os.path.join(d, name)
    if content is not None:
        with open(path, "wb") as f:
            f.write(content)
    got, err = read_ours(path, checked=True)
    T.check(got is None and name in err and words in err and not err.startswith("VALGRIND"),
            "%s: clean error, no memory error or leak: %s" % (name, err[:150]))
got, err = read_ours(d)
T.check(got is None and "directory" in err, "a directory: clean error: " + err[:120])
T.finish()
